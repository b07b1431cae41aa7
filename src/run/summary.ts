/** The few lines `scope run` prints to stderr when the program ends. */
import type { ChalkInstance } from "chalk";
import type { RunSummary } from "./collector";

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

export function formatSummary(summary: RunSummary, color: ChalkInstance): string {
  const ended = summary.signal ? `killed by ${summary.signal}` : `exit code ${summary.exitCode}`;
  const kinds = Object.entries(summary.byKind)
    .filter(([kind]) => kind !== "string")
    .sort(([, x], [, y]) => y - x)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(", ");
  const lines = [
    `${color.bold("scope")}: ${summary.out} (${formatBytes(summary.fileBytes)}), ${(Number(summary.durationNs) / 1e9).toFixed(2)}s, program ${ended}`,
    `  ${summary.processes} processes, ${summary.threads} threads, ${summary.recorded} records`,
    `  events: ${kinds || "none"}`,
    ...stopLines(summary, color),
    ...governorLines(summary),
    ...lossLines(summary, color),
  ];
  return `${lines.join("\n")}\n`;
}

const stopCauses = {
  killSwitch: "scope stop (or SIGUSR2)",
  maxEvents: "--max-events reached",
  maxSize: "--max-size reached",
  duration: "--duration elapsed",
  writeError: "writing the trace failed",
} as const;

/** Why recording stopped before the program ended; nothing when it did not. */
function stopLines(summary: RunSummary, color: ChalkInstance): string[] {
  const stop = summary.stopped;
  if (!stop) return [];
  if (stop.error !== undefined) {
    return [color.red(`  recording stopped: writing the trace failed (${stop.error}) after ${stop.recordedBefore} records; the program ran on; the file holds every record written before, without its end chunk`)];
  }
  return [color.yellow(`  recording stopped: ${stopCauses[stop.reason]} after ${stop.recordedBefore} records; the program ran on (${stop.refused} later records not kept)`)];
}

/** The overhead governor's steps (function_level events), when it took any. */
function governorLines(summary: RunSummary): string[] {
  const steps = summary.byKind.function_level ?? 0;
  return steps === 0 ? [] : [`  overhead governor: ${steps} level changes (function_level events name each function and the overhead that decided it)`];
}

/** Threads named one by one in the loss lines; the rest are summed. */
const lossThreadsShown = 5;

/** How many events were lost, where, and which option would have kept them. */
function lossLines(summary: RunSummary, color: ChalkInstance): string[] {
  const lost = summary.dropped + summary.overwritten;
  if (lost === 0) return ["  lost: none"];
  const lines = [`  lost: ${summary.dropped} dropped, ${summary.overwritten} overwritten`];
  const thread = (tid: number) => (tid === 0 ? "main thread" : `thread ${tid}`);
  for (const loss of summary.losses.slice(0, lossThreadsShown)) lines.push(`    ${loss.count} in pid ${loss.pid} ${thread(loss.tid)}`);
  const others = summary.losses.slice(lossThreadsShown);
  if (others.length > 0) lines.push(`    ${others.reduce((sum, loss) => sum + loss.count, 0)} in ${others.length} more threads`);
  const now = formatBytes(summary.ringBytes);
  if (summary.mode === "overwrite") {
    if (summary.unattributed > 0) lines.push(`    ${summary.unattributed} overwritten by newer events`);
    lines.push(`    --mode overwrite keeps only the newest events; a bigger --ring-size (now ${now}) keeps more, --mode discard keeps all`);
  } else {
    if (summary.unattributed > 0) lines.push(`    ${summary.unattributed} held by threads that were killed or ended before they could hand them over`);
    if (summary.losses.length > 0) lines.push(`    lanes and overflows were full: a bigger --ring-size (now ${now}; each thread's overflow grows with it) would have kept them`);
  }
  return lines.map((line) => color.red(line));
}
