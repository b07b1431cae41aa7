/**
 * One `scope run`: create the ring, launch the program with the agent preloaded,
 * drain the ring into the trace file while it runs, then finish the trace and
 * report. The program's exit status becomes scope's.
 */
import chalk, { Chalk } from "chalk";
import { UsageError } from "clipanion";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, statSync } from "node:fs";
import { constants, hostname } from "node:os";
import { resolve } from "node:path";
import type { Writable } from "node:stream";
import { prepareLaunch } from "../agent/inject";
import { ignoredAtStart, startIgnoring } from "./ignored-signals";
import { lingerForRun, lingerLines, waitingLine } from "./descendants";
import { forwardSignals, groupProbe } from "./forwarding";
import { assets, transformCacheDir } from "../core/assets";
import { traceOutProblem } from "../core/trace-out";
import { StopReason } from "../core/layout";
import { REDACTED, redactionOf, type RedactionSettings } from "../agent/shared/redact";
import { systemError } from "../core/system-error";
import { Output } from "../core/output";
import { inheritedStdio } from "../core/own-environment";
import { boundTransformCache } from "../instrument/cache";
import { Collector, type RunSummary } from "./collector";
import { signalNumberOf } from "./signals";
import { removeStaleRings } from "./stale";
import { selectionLines, unmatchedPatterns } from "./selection-report";
import { hooksThreadLines } from "./hooks-thread-report";
import { asyncLimitLines } from "./async-report";
import { bunColumnLines, endLines, formatSummary, stopNowLine } from "./summary";
import type { OtlpFormat } from "../export/otlp";
import { OtlpStream, streamLine } from "../export/stream";

export interface RunOptions {
  argv: string[];
  out: string;
  events?: string[];
  /** Function tracing settings (SCOPE_FUNCTIONS, JSON); off when absent. */
  functions?: string;
  ringBytes: number;
  mode: "discard" | "overwrite";
  print: boolean;
  stdout: Writable;
  stderr: Writable;
  colorEnabled: boolean;
  /** --max-events, --max-size (bytes), --duration (ms): recording stops, the program runs on. */
  maxEvents?: number;
  maxSizeBytes?: number;
  durationMs?: number;
  /** --flight-recorder (window, ms) and --flight-memory (bytes): records are written only when a trigger asks. */
  flight?: { windowMs: number; memoryBytes: number };
  /** What the agents redact beyond the defaults (SCOPE_REDACT); the defaults when absent. */
  redact?: RedactionSettings;
  /** --loop-interval, --long-task (ms), --long-task-immediates: SCOPE_LOOP; the defaults (1 s, 50 ms, off) when absent. */
  loop?: { intervalMs: number; thresholdMs: number; immediates?: boolean };
  /** When tracing cannot start (no ring, no trace file): run the program untraced instead of refusing. */
  failOpen?: boolean;
  /** --async: the async causality level (SCOPE_ASYNC); off when absent. */
  async?: "callbacks" | "promises";
  /** --propagate: outgoing HTTP requests get a `traceparent` header (SCOPE_PROPAGATE). */
  propagate?: boolean;
  /** --otlp: spans streamed to an OTLP/HTTP endpoint while the program runs (src/export/stream.ts). */
  otlp?: { endpoint: string; format: OtlpFormat; functions: boolean; serviceName?: string };
  /**
   * --linger (ms): how long, once the program (scope's direct child) has ended, scope waits for
   * the processes it started that are still in scope's process group; DEFAULT_LINGER_MS when
   * absent, 0 not at all. `lingerText` is the option as written, for the line that names them.
   */
  lingerMs?: number;
  lingerText?: string;
  /** Called once the program has ended and the trace is closed (used by `scope bench`). */
  onFinish?: (result: RunResult) => void;
}

export interface RunResult {
  summary: RunSummary;
  childPid: number;
  /** The program's own resource usage (peak RSS, CPU time), as the OS reported it. */
  usage: ReturnType<ReturnType<typeof Bun.spawn>["resourceUsage"]>;
  /** scope's own CPU (this process, µs) from the program's start to its end: what ran beside it. */
  ownCpuWhileRun: NodeJS.CpuUsage;
}

/**
 * A command line as `settings` record it: each argument with the patterns' matches replaced
 * (scope run's trace header, beside the agents' trace_start argv, which is the arguments
 * joined by spaces, redacted whole); a match that spans arguments makes it that one text.
 */
function redactArgv(argv: string[], settings: RedactionSettings | undefined): string[] {
  const pattern = settings?.patterns?.length ? redactionOf(settings).pattern! : undefined;
  if (pattern === undefined) return argv;
  const each = argv.map((arg) => arg.replace(pattern, REDACTED));
  const joined = argv.join(" ").replace(pattern, REDACTED);
  return each.join(" ") === joined ? each : [joined];
}

/**
 * How long scope run waits by default for what the program left running in its group once the
 * program ended: a graceful shutdown (a server closing its connections, a dev server stopping
 * its workers, a child finishing its last write) mostly takes well under a second, a few
 * seconds at most; 5 s holds those and is short enough that a process meant to run on (a
 * leftover `cmd &`) costs a user little. A daemon that left the group is not waited for at all.
 */
export const DEFAULT_LINGER_MS = 5000;
const DEFAULT_LINGER_TEXT = "5s";

/** How often `scope run` looks whether recording stopped while the program runs (its one line), when the drain thread cannot tell it. */
const STOP_WATCH_MS = 200;

/**
 * Says once, as it happens, that recording stopped while the program runs (a limit, scope stop,
 * --duration, a full disk). The drain thread writes a byte to a pipe then (Collector.stopNotices),
 * which the event loop reads: no timer, so scope's JavaScript sleeps through the whole run (a look
 * every 200 ms cost ~1 ms of CPU a second beside the program, its wake-ups and mimalloc's purges:
 * BENCHMARKS.md "scope run's own CPU: the GC and the probe before the program"). Without that
 * pipe (the event loop drains, or none could be had), a look every STOP_WATCH_MS.
 * (node:net's Socket on a pipe's fd reads nothing in Bun 1.4.5; Bun.file(fd).stream() does.)
 */
function watchStop(collector: Collector, say: (reason: number) => void): { end(): void } {
  let watching = true;
  const look = () => {
    if (!watching) return;
    const reason = collector.stopReasonNow();
    if (reason === 0) return;
    watching = false;
    say(reason);
  };
  const fd = collector.stopNotices();
  if (fd === undefined) {
    const timer = setInterval(() => {
      look();
      if (!watching) clearInterval(timer);
    }, STOP_WATCH_MS);
    return { end: () => ((watching = false), clearInterval(timer)) };
  }
  // Read to the pipe's end (the thread's end closes at finish), then closed: Bun leaves it open.
  void (async () => {
    try {
      for await (const _ of Bun.file(fd).stream()) look();
    } catch {
      // A failed read: the summary still says why recording stopped.
    }
    closeSync(fd);
  })();
  return { end: () => void (watching = false) };
}

/**
 * A program that would not start: one line, and the status a shell gives: 127 when there is
 * no such command (or a script's #! interpreter is missing), 126 when the file is there but
 * cannot be run (not executable, a directory, neither a binary nor a #! script).
 */
function cannotStart(command: string, error: unknown, stderr: Output): number {
  const code = (error as NodeJS.ErrnoException).code;
  const file = command.includes("/") ? statSync(command, { throwIfNoEntry: false }) : undefined;
  let reason = (error as Error).message;
  let status = 127;
  if (code === "ENOENT") reason = file ? "its #! interpreter was not found" : command.includes("/") ? "no such file" : "command not found";
  else if (code === "EACCES" || code === "ENOEXEC") {
    status = 126;
    reason = file?.isDirectory() ? "is a directory" : code === "EACCES" ? "permission denied (not executable)" : "not an executable, nor a script with a #! line";
  }
  stderr.writeNow(`scope: cannot start ${command}: ${reason}\n`);
  return status;
}

/**
 * What cannot be started at all (no such command or file, a file that is not executable, a
 * directory), told before the trace file is opened: the spawn's own failure comes only after
 * that file was made, so an earlier trace at --out would be gone for a typo. Bun.which finds
 * only executable files, a path too (relative to the cwd), as Bun.spawn would; what it finds
 * and the spawn still refuses (no #! line, a missing interpreter) is told after the spawn.
 */
function unstartable(command: string): NodeJS.ErrnoException | undefined {
  if (Bun.which(command, { PATH: process.env.PATH ?? "" })) return undefined;
  const file = command.includes("/") ? statSync(command, { throwIfNoEntry: false }) : undefined;
  return Object.assign(new Error(`cannot start ${command}`), { code: file ? "EACCES" : "ENOENT" });
}

type OwnSignal = "SIGUSR1" | "SIGUSR2";
type OwnSignalHandlers = Record<OwnSignal, () => void>;

/**
 * scope's own signals (SIGUSR2 from `scope stop`, SIGUSR1 for the flight recorder) caught from
 * the start of a run: their default action would end `scope run`, and `scope stop` finds a run
 * by its ring, which exists before the program is launched. What arrives before the run's own
 * handlers are in place is kept and handed to them (handOver), so it acts as if it came after.
 */
function catchOwnSignals(): { handOver(handlers: OwnSignalHandlers): void; release(): void } {
  const arrived = new Set<OwnSignal>();
  const early = { SIGUSR1: () => void arrived.add("SIGUSR1"), SIGUSR2: () => void arrived.add("SIGUSR2") };
  let held = true;
  process.on("SIGUSR1", early.SIGUSR1);
  process.on("SIGUSR2", early.SIGUSR2);
  const release = () => {
    if (!held) return;
    held = false;
    process.off("SIGUSR1", early.SIGUSR1);
    process.off("SIGUSR2", early.SIGUSR2);
  };
  return {
    handOver(handlers) {
      // The run's own are added first: no moment without a handler.
      for (const signal of ["SIGUSR1", "SIGUSR2"] as const) process.on(signal, handlers[signal]);
      release();
      for (const signal of arrived) handlers[signal]();
      arrived.clear();
    },
    release,
  };
}

/**
 * The program's command: with the signals scope was started with ignored still ignored
 * (ignored-signals.ts), as it is when none were. Where this system cannot keep them, one line
 * says so.
 */
function programCommand(argv: string[], env: Record<string, string | undefined>, stderr: Output): string[] {
  if (ignoredAtStart.length === 0) return argv;
  // Bun.which finds only executable files, a path too (relative to the cwd), as Bun.spawn would.
  const started = startIgnoring(argv, Bun.which(argv[0]!, { PATH: env.PATH ?? "" }));
  if (started.unkept.length > 0) {
    const names = started.unkept.map((signal) => Object.entries(constants.signals).find(([, number]) => number === signal)?.[0] ?? String(signal));
    stderr.writeNow(`scope: ${names.join(", ")} ignored when scope started (nohup, a background job): the program starts with ${started.unkept.length === 1 ? "it" : "them"} at the default (this system's env has no --ignore-signal to keep ${started.unkept.length === 1 ? "it" : "them"})\n`);
  }
  return started.argv;
}

/** --fail-open: the program as if scope were not there (no agent, no trace); its exit status. */
async function runUntraced(argv: string[], stderr: Output, early: ReturnType<typeof catchOwnSignals>): Promise<number> {
  let child: ReturnType<typeof Bun.spawn>;
  try {
    child = Bun.spawn(programCommand(argv, process.env, stderr), { stdio: inheritedStdio() });
  } catch (error) {
    return cannotStart(argv[0]!, error, stderr);
  }
  const forwarding = forwardSignals(child);
  // scope's own signals (scope stop's SIGUSR2, the flight recorder's SIGUSR1) have nothing to
  // act on; their default action would end scope run, the program left on its own.
  const ignored = (["SIGUSR1", "SIGUSR2"] as const).map((signal) => {
    const handler = () => void stderr.writeNow(`scope: ${signal}: nothing is recording (--fail-open runs the program untraced): ignored\n`);
    return [signal, handler] as const;
  });
  early.handOver(Object.fromEntries(ignored) as OwnSignalHandlers);
  const exitCode = await child.exited;
  forwarding.release();
  for (const [signal, handler] of ignored) process.off(signal, handler);
  return typeof child.signalCode === "string" ? 128 + signalNumberOf(child.signalCode) : exitCode;
}

/** The transform cache, or none (one line said) when the private cache cannot be made. */
function transformCacheOrNone(stderr: Output): string | undefined {
  try {
    return boundTransformCache(transformCacheDir(), (line) => stderr.writeNow(line));
  } catch (error) {
    stderr.writeNow(`scope: no transform cache (${(error as Error).message}); every start transforms\n`);
    return undefined;
  }
}

/** The OTLP stream, or none (one line said): streaming never stops a run. */
function startStream(otlp: NonNullable<RunOptions["otlp"]>, trace: string, stderr: Output): OtlpStream | undefined {
  try {
    return OtlpStream.start({ ...otlp, trace });
  } catch (error) {
    stderr.writeNow(`scope: otlp: cannot follow ${trace} (${(error as Error).message}); nothing is streamed, the trace is written\n`);
    return undefined;
  }
}

export async function runTraced(options: RunOptions): Promise<number> {
  const early = catchOwnSignals();
  try {
    return await runWith(options, early);
  } finally {
    early.release();
  }
}

async function runWith(options: RunOptions, early: ReturnType<typeof catchOwnSignals>): Promise<number> {
  const out = resolve(options.out);
  const outProblem = traceOutProblem(out);
  if (outProblem) throw new UsageError(`--out: ${outProblem}`);
  // scope's own lines (--print, the summary): a closed stderr pipe stops them, never the run.
  const stderr = new Output(options.stderr);
  let files: Awaited<ReturnType<typeof assets>>;
  try {
    files = await assets();
  } catch (error) {
    // The compiled executable extracts the agents into the cache directory: unusable there
    // (not a directory, not writable, full), as for no ring below: one line, or --fail-open.
    const reason = systemError(error as Error) ?? (error as Error).message;
    if (!options.failOpen) throw new Error(`cannot trace: ${reason} (--fail-open runs the program untraced instead)`);
    stderr.writeNow(`scope: cannot trace (${reason}); --fail-open: the program runs untraced, no trace is written\n`);
    return runUntraced(options.argv, stderr, early);
  }
  removeStaleRings();
  const ringPath = `/dev/shm/scope-${process.pid}-${randomBytes(6).toString("hex")}`;
  const color = options.colorEnabled ? chalk : new Chalk({ level: 0 });

  const disableFile = process.env.SCOPE_DISABLE_FILE;
  if (disableFile && existsSync(disableFile)) {
    stderr.writeNow(`scope: ${disableFile} (SCOPE_DISABLE_FILE) exists: the agent installs nothing, the program runs untraced\n`);
  }

  const refused = unstartable(options.argv[0]!);
  if (refused) return cannotStart(options.argv[0]!, refused, stderr);

  let collector: Collector;
  try {
    collector = Collector.start({
      ringPath,
      ringBytes: options.ringBytes,
      mode: options.mode,
      out,
      host: hostname(),
      argv: redactArgv(options.argv, options.redact),
      live: options.print ? (line) => stderr.writeNow(`${line}\n`) : undefined,
      color,
      limits: { maxRecords: options.maxEvents, maxBytes: options.maxSizeBytes },
      flight: options.flight,
      // The processes' endings are watched for only when their process events are recorded.
      endings: options.events === undefined || options.events.includes("process"),
      threadEndings: options.events === undefined || options.events.includes("thread"),
      // What a process killed by a signal had buffered of its function calls (zig/batches.zig).
      batches: options.functions !== undefined,
    });
  } catch (error) {
    // No ring (/dev/shm full or read-only) or no trace file: refuse in one line, or with
    // --fail-open run the program untraced (its exit status is scope's either way).
    const reason = (error as Error).message;
    if (!options.failOpen) throw new Error(`cannot trace: ${reason} (--fail-open runs the program untraced instead)`);
    stderr.writeNow(`scope: cannot trace (${reason}); --fail-open: the program runs untraced, no trace is written\n`);
    return runUntraced(options.argv, stderr, early);
  }

  const launch = prepareLaunch({
    argv: options.argv,
    env: { ...process.env },
    ringPath,
    assets: files,
    events: options.events,
    functions: options.functions,
    redact: options.redact,
    async: options.async,
    propagate: options.propagate,
    loop: options.loop,
    transformCache: options.functions === undefined ? undefined : transformCacheOrNone(stderr),
  });

  // Both before the program starts, so that neither runs beside it (BENCHMARKS.md "scope run's
  // own CPU: the GC and the probe before the program"): the group probe's spawn (signals,
  // forwarding.ts), and a full collection of what scope's own start allocated (bundling the
  // agents, reading assets), which JavaScriptCore would otherwise collect a moment later, in
  // the program's first second, on this thread and its helpers (~6–12 ms of CPU taken from
  // the program on 2 cores); with nothing left to collect, an idle scope run costs its
  // timers only. Bun has no way to turn its GC timers off from inside the process
  // (BUN_GC_TIMER_DISABLE is read at its start only, and with it set a collection still came).
  const probe = groupProbe();
  Bun.gc(true);
  let child: ReturnType<typeof Bun.spawn>;
  try {
    child = Bun.spawn(programCommand(launch.argv, launch.env, stderr), { env: launch.env, stdio: inheritedStdio() });
  } catch (error) {
    probe?.stop();
    collector.finish({ exitCode: 127, signal: null });
    collector.discard();
    return cannotStart(options.argv[0]!, error, stderr);
  }

  const ownCpuAtStart = process.cpuUsage();
  collector.setRoot(child.pid);
  // What marks the run's processes (src/run/descendants.ts): the ring, and the agents a node or bun starts with.
  const marks = { ring: ringPath, agents: { node: files.nodeAgent, bun: files.bunAgent } };
  const forwarding = forwardSignals(child, marks, probe);
  const stream = options.otlp ? startStream(options.otlp, out, stderr) : undefined;
  // The kill switch (`scope stop` sends it): recording stops, the program runs on.
  const killSwitch = () => collector.stopRecording(StopReason.killSwitch);
  // The flight recorder's manual trigger: the window is written, program and recorder run on.
  // Without one, SIGUSR1 is still scope's: its default action would end scope run, leaving
  // the trace unclosed and the program on its own.
  const flightDump = options.flight
    ? () => collector.requestFlightDump()
    : () => void stderr.writeNow("scope: SIGUSR1 asks for a flight recorder write; this run has none (--flight-recorder): ignored\n");
  early.handOver({ SIGUSR1: flightDump, SIGUSR2: killSwitch });
  const durationTimer = options.durationMs === undefined ? undefined : setTimeout(() => collector.stopRecording(StopReason.duration), options.durationMs);
  // Recording that stops while the program runs on (a limit, scope stop, --duration, a full
  // disk) is said at once in one line; the summary says it again with the counts.
  const stopWatch = watchStop(collector, (reason) => stderr.writeNow(stopNowLine(reason, color, collector.writeErrorNow())));

  const exitCode = await child.exited;
  const ownCpuWhileRun = process.cpuUsage(ownCpuAtStart);
  forwarding.childEnded();
  // What the program started and left running in scope's group (an npx whose `next dev` is
  // still shutting down, a script's `node worker.js &`): drained on until it ends or the
  // grace passes, signals still passed on (src/run/descendants.ts).
  const lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
  const lingerText = options.lingerText ?? DEFAULT_LINGER_TEXT;
  // A Ctrl-C while it waits stops the wait (forwarding.stoppedBy): the user asked not to wait.
  const left = await lingerForRun(
    marks,
    lingerMs,
    child.pid,
    () => collector.stopReasonNow() === 0,
    (held) => stderr.writeNow(`${color.yellow(waitingLine(held, lingerText, forwarding.interrupted()))}\n`),
    forwarding.stoppedBy,
    forwarding.waitBegins,
  );
  stopWatch.end();
  clearTimeout(durationTimer);
  process.off("SIGUSR2", killSwitch);
  process.off("SIGUSR1", flightDump);
  const signal = typeof child.signalCode === "string" ? child.signalCode : null;
  const summary = collector.finish({ exitCode: signal ? null : exitCode, signal, childPid: child.pid });
  // Released only once the trace is closed: a second Ctrl-C during finish ended scope run at its
  // default action, the trace unclosed. After it `scope run` lets them go until it exits with
  // the program's status; not `scope bench`, which runs on (onFinish), nor while --otlp's flush
  // (at most 5 s) runs, which a Ctrl-C still cuts short, as before.
  forwarding.release(options.onFinish === undefined && stream === undefined);
  // Function-tracing patterns that matched nothing (read back from the trace; only when the program reported on them).
  // Not when records were lost, recording stopped early or only a window was kept (a match record may be what is missing).
  const whole = summary.dropped + summary.overwritten === 0 && summary.flight === undefined && summary.stopped === undefined;
  const unmatched = whole && options.functions !== undefined && (summary.byKind.function_selection ?? 0) > 0 ? unmatchedPatterns(out, options.functions) : [];
  // --async: what a runtime could not record (Bun), one line, read back from the trace's async_tracking records.
  const asyncLines = options.async !== undefined && (summary.byKind.async_tracking ?? 0) > 0 ? asyncLimitLines(out, color) : [];
  const ends = endLines(summary, options.events === undefined || options.events.includes("process"), color);
  const bunColumns = bunColumnLines(options.argv, options.functions !== undefined, summary.byKind);
  // --functions on a Node without module.registerHooks: workers' threadIds one higher than untraced, read back from the trace's thread_spawn flags.
  const hooksThread = options.functions !== undefined && (summary.byKind.thread_spawn ?? 0) > 0 ? hooksThreadLines(out, color) : [];
  // Not when recording stopped early: the trace holds part of the run, and the summary says so.
  if (summary.stopped === undefined) for (const line of lingerLines(left, lingerText)) stderr.writeNow(`${color.yellow(line)}\n`);
  stderr.writeNow(formatSummary(summary, color) + [...ends, ...selectionLines(unmatched, color), ...asyncLines, ...bunColumns, ...hooksThread].map((line) => `${line}\n`).join(""));
  if (stream && options.otlp) stderr.writeNow(streamLine(options.otlp.endpoint, await stream.finish()));
  options.onFinish?.({ summary, childPid: child.pid, usage: child.resourceUsage(), ownCpuWhileRun });
  return signal ? 128 + signalNumberOf(signal) : exitCode;
}
