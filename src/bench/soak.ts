/**
 * `scope bench --soak <duration>`: one long traced run of a steady workload (worker
 * messages at a fixed rate, a short-lived worker every second, a child process every
 * 5 seconds). Every second it samples the resident memory of the program (/proc) and
 * of the collector (this process), then reports growth after the warm-up. Memory
 * must stay flat: the ring is fixed and the collector streams to disk.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { VERSION } from "../version";
import { describeMachine, type Machine } from "./machine";
import { memory } from "./proc";
import { launch, waitForReady, type RunContext } from "./runner";
import type { Expectation, TraceCheck } from "./check";
import { growth, type Growth } from "./stats";
import { extractWorkloads } from "./workloads";
import { existsSync, readFileSync } from "node:fs";

export interface SoakOptions {
  seconds: number;
  rate: number;
  ringBytes: number;
  progress: (line: string) => void;
}

export interface SoakReport {
  scope: string;
  startedAt: string;
  machine: Machine;
  seconds: number;
  warmupSeconds: number;
  rate: number;
  samples: { t: number; programRssBytes: number; collectorRssBytes: number }[];
  program: Growth;
  collector: Growth;
  recorded: number;
  dropped: number;
  traceBytes: number;
  check: TraceCheck;
  /** The trace, kept when its check failed. */
  keptTrace: string | null;
  ok: boolean;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const machine = describeMachine();
  const startedAt = new Date().toISOString();
  const dir = await extractWorkloads();
  const context: RunContext = { dir, ringBytes: options.ringBytes, keepTraces: false, sequence: 0 };
  const paths = { result: join(dir.dir, "soak.result.json"), ready: join(dir.dir, "soak.ready.json"), trace: join(dir.dir, "soak.trace.bin") };
  const params = { seconds: options.seconds, rate: options.rate, ready: paths.ready };
  const warmupSeconds = Math.min(60, Math.max(1, Math.floor(options.seconds / 5)));
  const samples: SoakReport["samples"] = [];
  let keep = false;
  try {
    const run = launch(context, ["node", dir.path("soak.cjs"), paths.result, JSON.stringify(params)], paths.trace);
    const { pid } = await waitForReady<{ pid: number }>(paths.ready, run, "the soak workload");
    const started = performance.now();
    while (!run.ended()) {
      const t = (performance.now() - started) / 1000;
      const program = memory(pid);
      if (program) samples.push({ t, programRssBytes: program.rssBytes, collectorRssBytes: process.memoryUsage.rss() });
      if (samples.length % 10 === 1) options.progress(`soak: ${Math.floor(t)}/${options.seconds}s, program ${mib(program?.rssBytes)}, collector ${mib(process.memoryUsage.rss())}`);
      await Promise.race([run.exited, Bun.sleep(1000)]);
    }
    const ended = await run.exited;
    if (ended.exitCode !== 0 || !existsSync(paths.result)) throw new Error(`the soak workload exited with code ${ended.exitCode}`);
    const result = JSON.parse(readFileSync(paths.result, "utf8")) as { expect: Expectation };
    const summary = ended.summary!;
    const { checkTrace } = await import("./check");
    const check = checkTrace(paths.trace, result.expect, summary);
    keep = !check.ok;
    const after = samples.filter((sample) => sample.t >= warmupSeconds);
    const program = growth(after.map((s) => ({ t: s.t, value: s.programRssBytes })));
    const collector = growth(after.map((s) => ({ t: s.t, value: s.collectorRssBytes })));
    return {
      scope: VERSION,
      startedAt,
      machine,
      seconds: options.seconds,
      warmupSeconds,
      rate: options.rate,
      samples,
      program,
      collector,
      recorded: summary.recorded,
      dropped: summary.dropped + summary.overwritten,
      traceBytes: summary.fileBytes,
      check,
      keptTrace: keep ? paths.trace : null,
      ok: check.ok && program.flat && collector.flat,
    };
  } finally {
    if (keep) rmSync(paths.result, { force: true });
    else dir.remove();
  }
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? "–" : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

export function formatSoak(report: SoakReport): string {
  const line = (name: string, g: Growth) =>
    `  ${name}: ${mib(g.startBytes)} → ${mib(g.endBytes)} (${g.growthBytes >= 0 ? "+" : "−"}${mib(Math.abs(g.growthBytes))}, ` +
    `slope ${(g.slopeBytesPerMinute / 1024).toFixed(1)} KiB/min) ${g.flat ? "flat" : "GROWING"}`;
  const m = report.machine;
  return [
    `scope bench --soak ${report.seconds}s  ${report.startedAt}`,
    `machine: ${m.cores} cores (${m.cpuModel}), node ${m.node}, bun ${m.bun}, load average ${m.loadAverage.toFixed(2)}`,
    `workload: ${report.rate} worker messages/s, a worker every second, a child process every 5 s; RSS sampled every second, warm-up ${report.warmupSeconds}s`,
    `resident memory after the warm-up (median of the first and last ${Math.max(1, Math.min(60, Math.floor(report.samples.length / 10)))} samples; flat = under max(2%, 4 MiB)):`,
    line("program  ", report.program),
    line("collector", report.collector),
    `trace: ${report.recorded.toLocaleString("en-US")} records, ${report.dropped} dropped, ${mib(report.traceBytes)}; check ${report.check.ok ? "ok" : `FAILED: ${report.check.problems.join("; ")}`}`,
    ...(report.keptTrace ? [`trace kept at ${report.keptTrace}`] : []),
    "",
  ].join("\n");
}
