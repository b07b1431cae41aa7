import { Command, Option, UsageError } from "clipanion";
import chalk, { Chalk } from "chalk";
import { parseSize } from "../../run/options";
import { runBench } from "../../bench/bench";
import { workloadNames } from "../../bench/catalogue";
import { progressLine } from "../../bench/progress";
import { formatReport } from "../../bench/report";
import { formatSoak, runSoak } from "../../bench/soak";
import { parseDuration } from "../../bench/duration";

export class BenchCommand extends Command {
  static override paths = [["bench"]];

  static override usage = Command.Usage({
    description: "measure what tracing costs: built-in workloads untraced and traced, side by side",
    details: `
      Runs each built-in workload untraced (plain \`node\`) and traced (as \`scope run\` would), alternating
      untraced/traced after one warm-up pair, and prints per workload the median rates with their min–max,
      the overhead (median over pairs of untraced/traced rate − 1), events recorded per second, events
      dropped and the program's peak RSS with and without tracing; for HTTP also p50/p99 latency and the
      server's CPU time per request (from /proc). Every traced run decodes its own trace and checks that
      the events its workload caused are all there, each receive linked to its send; a failed check fails
      the bench (exit code 1).

      Workloads: ${workloadNames.join(", ")}.

      \`--soak <duration>\` instead runs one steady traced workload for that long, samples the RSS of the
      program and of the collector every second and reports their growth after the warm-up.
    `,
    examples: [
      ["Run every workload, 5 counted pairs each", "scope bench"],
      ["Only HTTP and control, 10 pairs, JSON report", "scope bench --workload http,control --runs 10 --json"],
      ["A quick look at smaller workloads", "scope bench --runs 2 --scale 0.2 --duration 2"],
      ["A 10-minute memory soak", "scope bench --soak 10m"],
    ],
  });

  workload = Option.String("--workload", { description: `Workloads to run, comma-separated (default: all): ${workloadNames.join(",")}` });
  runs = Option.String("--runs", "5", { description: "Counted untraced/traced pairs per workload, after one warm-up pair" });
  scale = Option.String("--scale", "1", { description: "Multiplies the amount of work of the non-HTTP workloads (e.g. 0.2 for a quick look)" });
  duration = Option.String("--duration", "5", { description: "Seconds of measured HTTP load per run" });
  warmup = Option.String("--warmup", "2", { description: "Seconds of HTTP load before each run's measured window" });
  ringSize = Option.String("--ring-size", "16MiB", { description: "Shared ring size of traced runs, as for scope run" });
  keepTraces = Option.Boolean("--keep-traces", false, { description: "Keep every traced run's trace (traces of failed checks are always kept)" });
  soak = Option.String("--soak", { description: "Run the memory soak for this long instead (e.g. 90s, 10m)" });
  rate = Option.String("--soak-rate", "1000", { description: "Worker messages per second in the soak" });
  json = Option.Boolean("--json", false, { description: "Write the report as JSON to stdout (progress still goes to stderr)" });

  async execute(): Promise<number> {
    const ringBytes = parseSize(this.ringSize);
    if (ringBytes === undefined) throw new UsageError(`--ring-size: expected a size such as 16MiB, got "${this.ringSize}"`);
    const progress = progressLine(this.context.stderr);
    const color = this.context.colorDepth > 1 ? chalk : new Chalk({ level: 0 });
    if (this.soak !== undefined) {
      const seconds = parseDuration(this.soak);
      if (seconds === undefined || seconds < 5) throw new UsageError(`--soak: expected a duration of at least 5s such as 90s or 10m, got "${this.soak}"`);
      const report = await runSoak({ seconds, rate: positive("--soak-rate", this.rate), ringBytes, progress: progress.update }).finally(progress.clear);
      this.context.stdout.write(this.json ? `${JSON.stringify(report, null, 2)}\n` : formatSoak(report));
      return report.ok ? 0 : 1;
    }
    const report = await runBench({
      workloads: this.selectedWorkloads(),
      runs: Math.round(positive("--runs", this.runs)),
      scale: positive("--scale", this.scale),
      httpDurationMs: positive("--duration", this.duration) * 1000,
      httpWarmupMs: positive("--warmup", this.warmup, true) * 1000,
      ringBytes,
      keepTraces: this.keepTraces,
      progress: progress.update,
    }).finally(progress.clear);
    this.context.stdout.write(this.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, color));
    return report.ok ? 0 : 1;
  }

  private selectedWorkloads(): string[] {
    if (this.workload === undefined) return [...workloadNames];
    const chosen = this.workload.split(",").map((name) => name.trim()).filter(Boolean);
    const unknown = chosen.filter((name) => !workloadNames.includes(name));
    if (unknown.length > 0 || chosen.length === 0) {
      throw new UsageError(`--workload: unknown workload "${unknown[0] ?? ""}"; choose from ${workloadNames.join(", ")}`);
    }
    return chosen;
  }
}

function positive(option: string, text: string, zeroAllowed = false): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !zeroAllowed)) throw new UsageError(`${option}: expected a positive number, got "${text}"`);
  return value;
}
