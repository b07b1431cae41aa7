import { Command, Option, UsageError } from "clipanion";
import chalk, { Chalk } from "chalk";
import { parseRingSize, ringSizeError } from "../../run/options";
import { runBench } from "../../bench/bench";
import { defaultWarmupText, workloadNames } from "../../bench/catalogue";
import { progressLine } from "../../bench/progress";
import { formatReport } from "../../bench/report";
import { formatSoak, runSoak, soakTraffics } from "../../bench/soak";
import { parseDurationNs } from "../../core/duration";

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

      \`--soak <duration>\` instead runs one steady traced workload for that long (by default the HTTP service
      under a steady keep-alive load, \`--soak-rate\` requests per second; \`--soak-traffic messages\` for worker
      messages, children and threads), samples the RSS of the program and of the collector every second, and
      judges: both flat after the warm-up (slope over the second half ≤ 1 MiB/min and last-quarter median
      within 5% of the second quarter's), nothing lost, every completed request in the trace, the trace
      readable and complete. Exit code 1 when any of these fails.
    `,
    examples: [
      ["Run every workload, 5 counted pairs each", "scope bench"],
      ["Only HTTP and control, 10 pairs, JSON report", "scope bench --workload http,control --runs 10 --json"],
      ["A quick look at smaller workloads", "scope bench --runs 2 --scale 0.2 --duration 2"],
      ["A 30-minute memory soak of a traced HTTP service", "scope bench --soak 30m"],
      ["The message soak (workers, children), 10 minutes", "scope bench --soak 10m --soak-traffic messages"],
    ],
  });

  workload = Option.String("--workload", { description: `Workloads to run, comma-separated (default: all): ${workloadNames.join(",")}` });
  runs = Option.String("--runs", "5", { description: "Counted untraced/traced pairs per workload, after one warm-up pair" });
  scale = Option.String("--scale", "1", { description: "Multiplies the amount of work of the non-HTTP workloads (e.g. 0.2 for a quick look)" });
  duration = Option.String("--duration", "5", { description: "Seconds of measured HTTP load per run" });
  warmup = Option.String("--warmup", { description: `Seconds of HTTP load before each run's measured window (default ${defaultWarmupText()}: the web service's JIT tier-up)` });
  ringSize = Option.String("--ring-size", "16MiB", { description: "Shared ring size of traced runs, as for scope run" });
  keepTraces = Option.Boolean("--keep-traces", false, { description: "Keep every traced run's trace (traces of failed checks are always kept)" });
  soak = Option.String("--soak", { description: "Run the memory soak for this long instead (e.g. 90s, 10m)" });
  soakTraffic = Option.String("--soak-traffic", "http", { description: `What the soak runs: ${soakTraffics.join(" or ")}` });
  rate = Option.String("--soak-rate", "1000", { description: "Requests per second (http) or worker messages per second (messages) in the soak" });
  connections = Option.String("--soak-connections", "8", { description: "Keep-alive connections of the soak's HTTP load" });
  json = Option.Boolean("--json", false, { description: "Write the report as JSON to stdout (progress still goes to stderr)" });

  async execute(): Promise<number> {
    const ringBytes = parseRingSize(this.ringSize);
    if (ringBytes === undefined) throw new UsageError(ringSizeError(this.ringSize));
    const progress = progressLine(this.context.stderr);
    const color = this.context.colorDepth > 1 ? chalk : new Chalk({ level: 0 });
    if (this.soak !== undefined) {
      const ns = parseDurationNs(this.soak, "s");
      const seconds = ns === undefined ? undefined : Number(ns) / 1e9;
      if (seconds === undefined || seconds < 5) throw new UsageError(`--soak: expected a duration of at least 5s such as 90s or 10m, got "${this.soak}"`);
      const traffic = soakTraffics.find((name) => name === this.soakTraffic);
      if (traffic === undefined) throw new UsageError(`--soak-traffic: expected ${soakTraffics.join(" or ")}, got "${this.soakTraffic}"`);
      const connections = positive("--soak-connections", this.connections);
      if (!Number.isInteger(connections)) throw new UsageError(`--soak-connections: expected a whole number, got "${this.connections}"`);
      const report = await runSoak({ seconds, traffic, rate: positive("--soak-rate", this.rate), connections, ringBytes, progress: progress.update }).finally(
        progress.clear,
      );
      this.context.stdout.write(this.json ? `${JSON.stringify(report, null, 2)}\n` : formatSoak(report));
      return report.ok ? 0 : 1;
    }
    const report = await runBench({
      workloads: this.selectedWorkloads(),
      runs: Math.round(positive("--runs", this.runs)),
      scale: positive("--scale", this.scale),
      httpDurationMs: positive("--duration", this.duration) * 1000,
      httpWarmupMs: this.warmup === undefined ? undefined : positive("--warmup", this.warmup, true) * 1000,
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
