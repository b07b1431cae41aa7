/** The few lines `scope run` prints to stderr when the program ends. */
import type { ChalkInstance } from "chalk";
import { stopReasonName } from "../core/layout";
import { counted } from "../core/counted";
import type { RunSummary } from "./collector";

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/**
 * The records by kind, most first. The steps a response ends (the handler and the routers
 * around it) have no `http_step_end` record of their own (ARCHITECTURE.md "The steps still
 * open at a response's 'finish' end with the request"): said where the counts differ, or a
 * reader takes every request's handler for a step that never ended.
 */
export function eventsLine(byKind: Record<string, number>): string {
  const kinds = Object.entries(byKind)
    .filter(([kind]) => kind !== "string")
    .sort(([, x], [, y]) => y - x)
    .map(([kind, count]) => `${kind} ${count}`);
  const steps = byKind.http_step_start ?? 0;
  const ends = byKind.http_step_end ?? 0;
  if (steps > ends) {
    const at = kinds.indexOf(`http_step_end ${ends}`);
    const note = "(steps still open when their response is sent end with it)";
    if (at >= 0) kinds[at] += ` ${note}`;
    else kinds.push(`http_step_end 0 ${note}`);
  }
  return `events: ${kinds.join(", ") || "none"}`;
}

export function formatSummary(summary: RunSummary, color: ChalkInstance): string {
  const ended = summary.signal ? `killed by ${summary.signal}` : `exit code ${summary.exitCode}`;
  const lines = [
    `${color.bold("scope")}: ${summary.out} (${formatBytes(summary.fileBytes)}), ${(Number(summary.durationNs) / 1e9).toFixed(2)}s, program ${ended}`,
    `  ${counted(summary.processes, "process", "processes")}, ${counted(summary.threads, "thread")}, ${counted(summary.recorded, "record")}`,
    `  ${eventsLine(summary.byKind)}`,
    ...flightLines(summary, color),
    ...stopLines(summary, color),
    ...governorLines(summary),
    ...monitorLines(summary),
    ...agentErrorLines(summary, color),
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
  collectorGone: "the collector was gone",
} as const;

/** Why recording stopped, in words (StopReason). */
export function stopCause(reason: number): string {
  return stopCauses[stopReasonName[reason] ?? "killSwitch"];
}

/**
 * The line `scope run` says as soon as recording stops while the program runs on (session.ts
 * watches the ring), so a long-running service's operator learns it then, not at its end.
 */
export function stopNowLine(reason: number, color: ChalkInstance, writeError?: string): string {
  const name = stopReasonName[reason] ?? "killSwitch";
  if (name === "writeError") return `${color.red(`scope: recording stopped: writing the trace failed (${writeError ?? "the summary says why"}); the program runs on; the file keeps every record written before`)}\n`;
  return `${color.yellow(`scope: recording stopped: ${stopCauses[name]}; the program runs on, unrecorded; the trace is closed when it ends`)}\n`;
}

/** Why recording stopped before the program ended; nothing when it did not. */
function stopLines(summary: RunSummary, color: ChalkInstance): string[] {
  const stop = summary.stopped;
  if (!stop) return [];
  if (stop.error !== undefined) {
    const ending = stop.closed ? "and its end chunk (room was kept for it)" : "without its end chunk (the file system kept no room for it)";
    return [color.red(`  recording stopped: writing the trace failed (${stop.error}) after ${stop.recordedBefore} records; the program ran on; the file holds every record written before, ${ending}`)];
  }
  return [color.yellow(`  recording stopped: ${stopCauses[stop.reason]} after ${stop.recordedBefore} records; the program ran on, unrecorded (${stop.refused} records under way at the stop dropped)`)];
}

/**
 * Bun under `--functions`: Bun applies no plugin's source map, so its own error text (an
 * `error.stack` the program did not format, `bun test`'s failure report) shows the columns of
 * the instrumented code (ARCHITECTURE.md "Audited on Bun-native programs"): said, never
 * silent (auditbun). Told from the command scope started (`bun`, `bunx`, a path to one), when
 * function tables were recorded; a Bun started by a script or another program is not told.
 */
export function bunColumnLines(argv: readonly string[], functions: boolean, byKind: Record<string, number>): string[] {
  if (!functions || (byKind.function_table ?? 0) === 0) return [];
  const program = (argv[0] ?? "").split(/[\\/]/).pop() ?? "";
  if (!/^bunx?(?:\.exe)?$/.test(program)) return [];
  return ["  --functions in Bun: Bun's own error text (an error.stack the program does not format, bun test's failures) shows the instrumented code's columns (Bun applies no plugin's source map); lines are the program's"];
}

/** Threads whose runtime cannot give all of the loop and memory groups (Bun): said, never silent. */
function monitorLines(summary: RunSummary): string[] {
  const threads = summary.byKind.monitor_missing ?? 0;
  return threads === 0 ? [] : [`  loop/memory: ${threads} ${threads === 1 ? "thread" : "threads"} (Bun) without GC events or loop utilisation; their loop delay is scope's own timer's (monitor_missing events say what each lacks)`];
}

/**
 * Which processes' endings the trace holds from whom, when any came from elsewhere than the
 * process itself (src/run/endings.ts): never silent (auditbun). `scope run` only, with the
 * process group recorded, and not when recording stopped early or under the flight
 * recorder, whose trace holds part of the run.
 */
export function endLines(summary: RunSummary, processGroup: boolean, color: ChalkInstance): string[] {
  const ends = summary.endings;
  // A terminated worker is ordinary: counted on the line, not a reason for it.
  const others = ends.byCollector + ends.unknown + ends.corrected + ends.running + ends.unwatched + ends.threads;
  if (!processGroup || others === 0 || summary.stopped || summary.flight) return [];
  const parts = [`${ends.own} by the process itself${ends.corrected > 0 ? ` (${ends.corrected} of them corrected by scope: the process ended with another status than its 'exit' saw)` : ""}`];
  // An ending is a record like any other: a process's own, lost with the records above (a
  // collector stopped while the program ended), is one scope wrote in its place.
  const lost = summary.dropped + summary.overwritten > 0 ? "; or its own lost with the records above" : "";
  if (ends.byCollector > 0) parts.push(`${ends.byCollector} by scope from the process's exit status (killed by a signal, or ended by a runtime that does not tell: bun test, a bun --watch restart${lost})`);
  if (ends.unknown > 0) parts.push(`${ends.unknown} by scope with the status unknown (gone, reaped by an untraced parent${lost}: stamped when scope noticed)`);
  if (ends.running > 0) parts.push(`${ends.running} still running: no ending yet`);
  if (ends.unwatched > 0) parts.push(`${ends.unwatched} not watched (over 4096 alive at once): only what they recorded`);
  const processes = counted(ends.processes, "traced process", "traced processes");
  // Workers still running when their process ended (process.exit(), a kill): ended with it by scope.
  const workers = (count: number) => counted(count, "worker thread");
  let threads = ends.threads === 0 ? "" : `; ${workers(ends.threads)} ended with ${ends.threads === 1 ? "its" : "their"} process (thread_exit recorded by scope)`;
  // Workers that ran no JavaScript at their end (terminate()): their parent's 'exit' says it.
  if (ends.terminated > 0) threads += `; ${workers(ends.terminated)} ended as ${ends.terminated === 1 ? "its" : "their"} parent saw (terminate(): thread_exit recorded by scope)`;
  return [color.yellow(`  ends: ${processes}, process_exit recorded ${parts.join("; ")}${threads}`)];
}

/** The overhead governor's steps (function_level events), when it took any. */
function governorLines(summary: RunSummary): string[] {
  const steps = summary.byKind.function_level ?? 0;
  return steps === 0 ? [] : [`  overhead governor: ${steps} level changes (function_level events name each function and the overhead that decided it)`];
}

const triggerText = {
  signal: "SIGUSR1",
  uncaughtException: "uncaught exception",
  unhandledRejection: "unhandled rejection",
  nonzeroExit: "non-zero exit",
} as const;

function formatWindow(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The flight recorder: what triggered a write and what each wrote, or that nothing did. */
function flightLines(summary: RunSummary, color: ChalkInstance): string[] {
  const flight = summary.flight;
  if (!flight) return [];
  const head = `  flight recorder (${formatWindow(flight.windowMs)} window, at most ${formatBytes(flight.memoryBytes)}):`;
  const passed = `${flight.received} records passed through the window (at most ${formatBytes(flight.peakBytes)} held)`;
  const lines =
    flight.dumps === 0
      ? [`${head} nothing triggered, no records written; ${passed}`]
      : [
          `${head} ${flight.dumps} ${flight.dumps === 1 ? "write" : "writes"}, ${flight.dumped} records: ` +
            flight.byTrigger
              .filter((entry) => entry.dumps > 0)
              .map((entry) => `${triggerText[entry.trigger]} ×${entry.dumps} (${entry.records} records)`)
              .join(", ") +
            `; ${passed}`,
        ];
  if (flight.cutByLimit > 0) {
    const limit = summary.stopped?.reason === "maxEvents" ? "--max-events" : "--max-size";
    lines.push(color.yellow(`  flight recorder: the window did not fit ${limit}: its oldest ${flight.cutByLimit} events were left out of the write, its newest kept`));
  }
  if (flight.evictedByCap > 0) {
    lines.push(color.yellow(`  flight recorder: ${flight.evictedByCap} records left the window early, at the memory cap; a larger --flight-memory holds the whole window`));
  }
  if (flight.namesEvicted > 0) {
    lines.push(color.yellow(`  flight recorder: the names pool (a quarter of --flight-memory) let ${flight.namesEvicted} older strings go unwritten; a write may lack some of its events' strings`));
  }
  if (flight.noMemory > 0) lines.push(color.red(`  flight recorder: ${flight.noMemory} records not held: no memory could be had`));
  return lines;
}

/** Threads named one by one in the loss and error lines; the rest are summed. */
const lossThreadsShown = 5;

const threadName = (tid: number) => (tid === 0 ? "main thread" : `thread ${tid}`);

/** Errors the agents caught in themselves: where, and that the program never saw them. */
function agentErrorLines(summary: RunSummary, color: ChalkInstance): string[] {
  const errors = summary.agentErrors;
  if (errors.length === 0) return [];
  const total = errors.reduce((sum, error) => sum + error.count, 0);
  const lines = [`  agent errors: ${total}, caught inside scope (the program never saw them; agent_error events say what failed)`];
  for (const error of errors.slice(0, lossThreadsShown)) lines.push(`    ${error.count} in pid ${error.pid} ${threadName(error.tid)}`);
  const others = errors.slice(lossThreadsShown);
  if (others.length > 0) lines.push(`    ${others.reduce((sum, error) => sum + error.count, 0)} in ${others.length} more threads`);
  return lines.map((line) => color.yellow(line));
}

/** How many events were lost, where, and which option would have kept them. */
function lossLines(summary: RunSummary, color: ChalkInstance): string[] {
  const lost = summary.dropped + summary.overwritten;
  if (lost === 0) return ["  lost: none"];
  const lines = [`  lost: ${summary.dropped} dropped, ${summary.overwritten} overwritten`];
  for (const loss of summary.losses.slice(0, lossThreadsShown)) lines.push(`    ${loss.count} in pid ${loss.pid} ${threadName(loss.tid)}`);
  const others = summary.losses.slice(lossThreadsShown);
  if (others.length > 0) lines.push(`    ${others.reduce((sum, loss) => sum + loss.count, 0)} in ${others.length} more threads`);
  const now = formatBytes(summary.ringBytes);
  if (summary.mode === "overwrite") {
    if (summary.unattributed > 0) lines.push(`    ${summary.unattributed} overwritten by newer events`);
    lines.push(`    --mode overwrite keeps only the newest events; a bigger --ring-size (now ${now}) keeps more, --mode discard keeps all`);
  } else {
    if (summary.unattributed > 0) lines.push(`    ${summary.unattributed} held by threads that were killed or ended before they could hand them over`);
    if (summary.losses.length > 0) lines.push(`    lanes and overflows were full: a bigger --ring-size (now ${now}; each process's overflow budget, 4x the ring, grows with it) would have kept them`);
  }
  return lines.map((line) => color.red(line));
}
