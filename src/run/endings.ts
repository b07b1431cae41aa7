/**
 * The collector's endings at the end of a run (ARCHITECTURE.md "The collector's endings"):
 * every process seen start whose ending the trace does not hold gets one written on its
 * behalf, marked as the collector's (process_exit flags ExitFlag). During the run the drain
 * thread does it for the processes it finds gone (zig/endings.zig); what is left here:
 *
 * - the top process, `scope run`'s own child: its real status is the wait status scope run
 *   reaped, so its ending is written with it when it recorded none, and a correction when
 *   the one it recorded says another (Bun: an unanswered Bun.serve throw exits 1 after
 *   'exit' saw 0);
 * - processes the thread had not found gone yet, or all of them when the event loop drains
 *   (--print: no thread): the status from /proc while a zombie, else unknown, stamped now;
 * - a process still running when the run ends (a daemon that left the process group) has
 *   no ending yet: none is written, the summary counts it;
 * - the workers of a process that recorded its own ending but not theirs (a worker still
 *   running at `process.exit()`): a thread_exit each, the collector's, with the process's
 *   status (the top process's real one), stamped at its own ending;
 * - a worker whose parent saw it end (`thread_exited`) and that recorded no ending of its own
 *   (terminate()): the collector's, with the parent's code and time (ExitFlag.parent), as
 *   zig/collector.zig settle_exited does during the run.
 */
import { readFileSync } from "node:fs";
import { EventKind, ExitFlag, ExitReason } from "../core/layout";
import type { EndingTotals, ProcessEnding } from "../core/ring";
import { signalNumberOf } from "./signals";

/** What the trace says of the processes' endings, for the summary's `ends:` line. */
export interface EndingCounts {
  /** Processes seen start. */
  processes: number;
  /** Ended by their own process_exit (corrected or not). */
  own: number;
  /** Their ending written by the collector with the status (scope run's wait, a zombie's). */
  byCollector: number;
  /** Their ending written by the collector, status unknown (gone, not its child). */
  unknown: number;
  /** Their own process_exit said another status; the collector's correction follows it. */
  corrected: number;
  /** Still running when the run ended: no ending yet. */
  running: number;
  /** Not watched: more than 4096 alive at once (zig/endings.zig); their ends are what they recorded. */
  unwatched: number;
  /** Workers that recorded no ending, given their process's by the collector. */
  threads: number;
  /** Workers that recorded no ending, given their parent's thread_exited by the collector (terminate()). */
  terminated: number;
}

/** An ending the collector writes: the process's pid, tid 0; or, with its status, each of its workers still open (tid, kind thread_exit). */
export interface EndingRecord {
  kind: number;
  flags: number;
  pid: number;
  tid: number;
  a: number | bigint;
  b: number;
  e: number;
  /** When it is known (a worker ended with its process's own ending: that ending's time); else the writer stamps it. */
  timestampNs?: bigint;
}

export class ProcessEndings {
  /** The processes whose ending is not settled yet; `fromThread`: counted in `base` already. */
  private readonly processes = new Map<number, ProcessEnding & { fromThread?: boolean }>();
  /** The drain thread's counts (none when the event loop drained). */
  private base: EndingTotals = { started: 0, status: 0, unknown: 0, corrections: 0, unwatched: 0, threads: 0, terminated: 0 };
  /** Traced parents' child_exit records: the status of a child gone without its own ending. */
  private readonly reaped = new Map<number, { code: number; signal: number } | null>();
  /** Worker threads seen start and not ended, by pid: the tids (their process's ending written by the collector ends them too). */
  private readonly openThreads = new Map<number, Set<number>>();
  /** Parents' thread_exited records by pid, then worker tid: the code and time a worker that recorded no ending ended with. */
  private readonly exited = new Map<number, Map<number, { code: number; timestampNs: bigint | undefined }>>();

  /**
   * `enabled` false: the program's process events are not recorded (--events), so neither are
   * their ends; `workers` false: the workers' own ends are not (--events without `thread`).
   */
  constructor(
    private readonly enabled = true,
    private readonly workers = true,
  ) {}

  /**
   * A drained record (not a string): takes the main threads' starts and own ends, and
   * parents' child_exit (a = child pid, b = code or null (-1 here), c = signal).
   */
  note(kind: number, pid: number, tid: number, flags: number, a: number, b: number, e: number, c = 0, timestampNs?: bigint): void {
    if (kind === EventKind.child_exit) {
      this.reaped.set(a, c !== 0 ? { code: 0, signal: c } : b === -1 ? null : { code: b & 0xff, signal: 0 });
      return;
    }
    if (!this.enabled) return;
    if (kind === EventKind.thread_exited) {
      let workers = this.exited.get(pid);
      if (!workers) this.exited.set(pid, (workers = new Map()));
      workers.set(a, { code: b, timestampNs });
      return;
    }
    if (tid !== 0) {
      // A worker's start and its own end (its process's lanes are drained in any order).
      if (kind === EventKind.trace_start) this.openThread(pid, tid);
      else if (kind === EventKind.thread_exit) this.openThreads.get(pid)?.delete(tid);
      return;
    }
    if (kind === EventKind.trace_start) {
      if (e === 1 && !this.processes.has(pid)) this.processes.set(pid, { pid, state: "open", code: 0, signal: 0, wrote: null });
    } else if (kind === EventKind.process_exit && (flags & ExitFlag.collector) === 0) {
      const entry = this.processes.get(pid);
      if (!entry || entry.state === "settled") return;
      entry.state = "own";
      entry.code = a | 0;
      entry.signal = b;
      entry.ownNs = timestampNs;
    }
  }

  private openThread(pid: number, tid: number): void {
    let tids = this.openThreads.get(pid);
    if (!tids) this.openThreads.set(pid, (tids = new Set()));
    tids.add(tid);
  }

  /** What the drain thread knew when it stopped (it drained before the event loop's last drains). */
  merge(processes: ProcessEnding[], totals: EndingTotals, openThreads: readonly { pid: number; tid: number }[] = []): void {
    this.base = totals;
    if (this.enabled) for (const { pid, tid } of openThreads) this.openThread(pid, tid);
    for (const entry of processes) {
      // Settled ones are in the thread's counts; a later start of the pid is a new process.
      if (entry.state !== "settled") this.processes.set(entry.pid, { ...entry, fromThread: true });
    }
  }

  /**
   * The endings left to write, and the counts: `root` is scope run's child with its real
   * status (none for scope attach, which has no child).
   */
  settle(root: { pid: number; exitCode: number | null; signal: string | null } | undefined, writeRecord: (record: EndingRecord) => void): EndingCounts {
    const base = this.base;
    const counts: EndingCounts = { processes: base.started, own: 0, byCollector: base.status, unknown: base.unknown, corrected: base.corrections, running: 0, unwatched: base.unwatched, threads: base.threads, terminated: base.terminated };
    // After the collector's ending of a process (not a correction), one for each of its workers
    // still open, with the same status and flags (zig/collector.zig end_threads).
    const endWorkers = (record: EndingRecord) => {
      if (this.workers) {
        for (const tid of this.openThreads.get(record.pid) ?? []) {
          writeRecord({ ...record, kind: EventKind.thread_exit, tid });
          counts.threads++;
        }
      }
      this.openThreads.delete(record.pid);
    };
    const write = (record: EndingRecord) => {
      writeRecord(record);
      if ((record.flags & ExitFlag.corrects) === 0) endWorkers(record);
    };
    // Workers their parent saw end that recorded no ending (terminate()): the parent's code and time.
    if (this.workers) {
      for (const [pid, workers] of this.exited) {
        const open = this.openThreads.get(pid);
        for (const [tid, { code, timestampNs }] of workers) {
          if (!open?.delete(tid)) continue;
          writeRecord({ kind: EventKind.thread_exit, flags: ExitFlag.collector | ExitFlag.parent, pid, tid, a: Math.max(code, 0), b: 0, e: ExitReason.normal, timestampNs });
          counts.terminated++;
        }
      }
    }
    for (const entry of this.processes.values()) {
      if (!entry.fromThread) counts.processes++;
      if (root && entry.pid === root.pid) this.settleRoot(entry, root, write, endWorkers);
      else if (entry.state === "own") {
        // Its workers that recorded no ending ended with it (zig/endings.zig does it during the run).
        endWorkers({ ...endingRecord(entry.pid, { code: entry.code & 0xff, signal: entry.signal }), timestampNs: entry.ownNs });
      } else if (entry.state === "open") {
        const status = goneStatus(entry.pid) ?? this.reaped.get(entry.pid) ?? null;
        if (status === "running") {
          counts.running++;
          continue;
        }
        entry.wrote = status === null ? "unknown" : "status";
        write(endingRecord(entry.pid, status));
      }
      if (entry.wrote === "status") counts.byCollector++;
      else if (entry.wrote === "unknown") counts.unknown++;
      else if (entry.wrote === "correction") counts.corrected++;
    }
    counts.own = counts.processes - counts.byCollector - counts.unknown - counts.running;
    return counts;
  }

  private settleRoot(
    entry: ProcessEnding,
    root: { exitCode: number | null; signal: string | null },
    write: (record: EndingRecord) => void,
    endWorkers: (record: EndingRecord) => void,
  ): void {
    const signal = signalNumberOf(root.signal);
    const status = signal !== 0 ? { code: 0, signal } : { code: root.exitCode ?? 0, signal: 0 };
    if (entry.state === "open") {
      entry.wrote = "status";
      write(endingRecord(entry.pid, status));
      return;
    }
    if (entry.state !== "own") return;
    if (!agrees(entry, status)) {
      entry.wrote = "correction";
      const record = endingRecord(entry.pid, status);
      record.flags |= ExitFlag.corrects;
      write(record);
    }
    // Its workers that recorded no ending ended with it, as it really ended.
    endWorkers({ ...endingRecord(entry.pid, status), timestampNs: entry.ownNs });
  }
}

function agrees(entry: ProcessEnding, status: { code: number; signal: number }): boolean {
  if (status.signal !== 0) return entry.signal === status.signal;
  return entry.signal === 0 && (entry.code & 0xff) === status.code;
}

function endingRecord(pid: number, status: { code: number; signal: number } | null): EndingRecord {
  if (status === null) return { kind: EventKind.process_exit, flags: ExitFlag.collector | ExitFlag.unknown, pid, tid: 0, a: 0, b: 0, e: ExitReason.normal };
  if (status.signal !== 0) return { kind: EventKind.process_exit, flags: ExitFlag.collector, pid, tid: 0, a: 0, b: status.signal, e: ExitReason.signal };
  return { kind: EventKind.process_exit, flags: ExitFlag.collector, pid, tid: 0, a: status.code, b: 0, e: ExitReason.normal };
}

/**
 * A process with no ending at the run's end: still running, gone as a zombie (its wait
 * status from /proc/<pid>/stat), or gone (null: unknown). A pid alive again under another
 * process is taken for running: rare, and nothing wrong is written.
 */
function goneStatus(pid: number): { code: number; signal: number } | null | "running" {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).trim().split(" ");
  if (fields[0] !== "Z") return "running";
  // Field 52 (exit_code) is the 50th after the state (field 3).
  const wait = Number(fields[49]);
  if (!Number.isInteger(wait)) return null;
  return (wait & 0x7f) !== 0 ? { code: 0, signal: wait & 0x7f } : { code: (wait >> 8) & 0xff, signal: 0 };
}
