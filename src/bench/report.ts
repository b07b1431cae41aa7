/** The human-readable form of a bench report: a header, a table, details and the bars. */
import type { ChalkInstance } from "chalk";
import type { BenchReport, PairedFigure, WorkloadReport } from "./bench";
import type { Spread } from "./stats";

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "–";
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(0)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

function number(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function rateDigits(value: number): number {
  return value >= 100 ? 0 : value >= 10 ? 1 : 2;
}

function withRange(figure: Spread, digits: number): string {
  return `${number(figure.median, digits)} (${number(figure.min, digits)}–${number(figure.max, digits)})`;
}

export function percent(ratio: number, digits = 1): string {
  if (!Number.isFinite(ratio)) return "–";
  const value = ratio * 100;
  return `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(digits)}%`;
}

function pairedLine(label: string, figure: PairedFigure, digits: number, unit: string): string {
  return `${label} ${number(figure.untraced.median, digits)} → ${number(figure.traced.median, digits)}${unit} (${percent(figure.change.median)})`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ").trimEnd());
}

function checkCell(report: WorkloadReport): string {
  if (report.error) return "ERROR";
  const total = report.checks.passed + report.checks.failed;
  return report.checks.failed > 0 ? `${report.checks.failed}/${total} FAILED` : `${total}/${total} ok`;
}

function details(report: WorkloadReport, color: ChalkInstance): string[] {
  const lines: string[] = [];
  if (report.http) {
    lines.push(
      `  ${report.name}: ${pairedLine("p50", report.http.p50Ms, 3, " ms")}, ${pairedLine("p99", report.http.p99Ms, 3, " ms")}, ` +
        `${pairedLine("server CPU", report.http.serverCpuUsPerRequest, 2, " µs/request")}`,
    );
  }
  if (report.runs.length > 0) {
    lines.push(
      `  ${report.name}: ${pairedLine("program CPU", report.programCpuSeconds, 3, " s")}, ` +
        `scope's own CPU ${number(report.scopeCpuSeconds.untraced.median, 3)} → ${number(report.scopeCpuSeconds.traced.median, 3)} s (traced: the collector), ` +
        `${number(report.recordedPerRun)} records per traced run`,
    );
  }
  if (report.error) lines.push(color.red(`  ${report.name}: ${report.error}`));
  for (const problem of report.checks.problems) lines.push(color.red(`  ${report.name}: trace check: ${problem}`));
  for (const path of report.checks.keptTraces) lines.push(`  ${report.name}: trace kept at ${path}`);
  return lines;
}

export interface Bar {
  name: string;
  met: boolean;
  detail: string;
}

/** The bars of issue 5 that this report can judge. */
export function bars(report: BenchReport): Bar[] {
  const result: Bar[] = [];
  const http = report.workloads.find((workload) => workload.name === "http" && workload.http && !workload.error);
  if (http?.http) {
    const kept = http.rate.change.median + 1;
    result.push({ name: "http: traced throughput ≥ 98% of untraced", met: kept >= 0.98, detail: `${(kept * 100).toFixed(1)}% kept (median over pairs)` });
    const p99 = http.http.p99Ms.change.median;
    result.push({ name: "http: traced p99 latency within 5%", met: p99 <= 0.05, detail: `${percent(p99)} (median over pairs)` });
    // Requests/s swing by ±25% on a shared machine; the server's CPU per request does not.
    const cpu = http.http.serverCpuUsPerRequest.change.median;
    result.push({ name: "http: server CPU per request within 2% (the steadier figure)", met: cpu <= 0.02, detail: `${percent(cpu)} (median over pairs)` });
  }
  const control = report.workloads.find((workload) => workload.name === "control" && !workload.error);
  if (control) {
    const met = Math.abs(control.overhead.median) <= Math.max(control.noise, 0.01);
    result.push({
      name: "control: overhead within noise",
      met,
      detail: `${percent(control.overhead.median)} against untraced run-to-run noise ±${(control.noise * 100).toFixed(1)}% (floor ±1.0%)`,
    });
  }
  return result;
}

export function formatReport(report: BenchReport, color: ChalkInstance): string {
  const m = report.machine;
  const out: string[] = [
    color.bold(`scope bench ${report.scope}`) + `  ${report.startedAt}`,
    `machine: ${m.cores} cores (${m.cpuModel}), ${formatBytes(m.memoryBytes)}, Linux ${m.kernel}, node ${m.node}, bun ${m.bun}, load average ${m.loadAverage.toFixed(2)} → ${report.loadAverageAfter.toFixed(2)}`,
    `runs: ${report.options.runs} counted pairs per workload, untraced/traced alternated after a warm-up pair; scale ${report.options.scale}` +
      `; http ${report.options.httpDurationMs / 1000}s after ${report.options.httpWarmupMs / 1000}s warm-up per run; ring ${formatBytes(report.options.ringBytes)}`,
    `overhead: median over pairs of (untraced rate / traced rate) − 1; noise: half the min–max range of the untraced runs`,
    "",
  ];
  const rows = [["workload", "unit", "untraced median (min–max)", "traced median (min–max)", "overhead (pairs min…max)", "noise", "events/s", "dropped", "peak RSS untraced → traced", "trace check"]];
  for (const w of report.workloads) {
    const digits = rateDigits(w.rate.untraced.median);
    rows.push([
      w.name,
      `${w.unit}/s`,
      w.runs.length ? withRange(w.rate.untraced, digits) : "–",
      w.runs.length ? withRange(w.rate.traced, digits) : "–",
      w.runs.length ? `${percent(w.overhead.median)} (${percent(w.overhead.min)}…${percent(w.overhead.max)})` : "–",
      `±${(w.noise * 100).toFixed(1)}%`,
      number(w.eventsPerSecond),
      number(w.dropped),
      `${formatBytes(w.peakRssBytes.untraced.median)} → ${formatBytes(w.peakRssBytes.traced.median)}`,
      checkCell(w),
    ]);
  }
  if (report.workloads.length > 0) out.push(...table(rows), "");
  for (const w of report.workloads) out.push(...details(w, color));
  if (report.native) {
    out.push("", color.bold("native microbenchmarks"));
    if (report.native.note) out.push(`  ${report.native.note}`);
    for (const command of report.native.commands) out.push(`  $ ${command}`);
    out.push(...report.native.output.trimEnd().split("\n").filter(Boolean).map((line) => `  ${line}`));
  }
  const judged = bars(report);
  if (judged.length > 0) {
    out.push("", color.bold("bars (issue 5)"));
    for (const bar of judged) out.push(`  ${bar.met ? color.green("met    ") : color.red("NOT MET")} ${bar.name}: ${bar.detail}`);
  }
  return `${out.join("\n")}\n`;
}
