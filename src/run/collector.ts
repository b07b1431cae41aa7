/**
 * The collector: owns the shared ring for one `scope run`, drains it in batches
 * (behind the producers, never polling the slot being written) into the trace
 * file, and keeps the counts the summary reports. The events only it can see (how
 * the top process ended, losses no producer reported) it appends to the trace file itself.
 *
 * Keeping up: a native drain thread (zig/collector.zig, through DrainThread) sleeps on
 * the ring's wake word, which producers bump when a lane passes half full, and drains
 * and writes without the event loop; the counts come back when it stops. With --print
 * (the live lines need each record here) the drain runs on the event loop instead:
 * while a drain finds records it drains again on the next turn (setImmediate), idle it
 * looks every `idleIntervalMs`. What a burst puts past a full lane waits in the
 * producer's overflow (zig/ring.zig, "Bursts").
 */
import type { ChalkInstance } from "chalk";
import { rmSync, statSync } from "node:fs";
import { EventKind, Offset, RECORD_SIZE, eventKindName, stopReasonName, type StopReasonName } from "../core/layout";
import { interpret, messageKey, type TraceEvent } from "../core/model";
import { DrainThread, monotonicNs, Ring, type FlightTotals, type RingStats } from "../core/ring";
import { decodeRecord, encodeRecord, StringTable } from "../core/events";
import { TraceFileError, TraceWriter, writeFailure } from "../core/trace-file";
import { formatEventLine } from "../dump/text";
import { signalNumberOf } from "./signals";
import { ProcessEndings, type EndingCounts, type EndingRecord } from "./endings";

export interface CollectorOptions {
  ringPath: string;
  ringBytes: number;
  mode: "discard" | "overwrite";
  out: string;
  host: string;
  argv: string[];
  /** Receives one formatted line per event while the program runs (`--print`). */
  live?: (line: string) => void;
  /** Where the drain runs: a native thread (default without `live`) or the event loop. */
  drain?: "thread" | "event-loop";
  color: ChalkInstance;
  /** --max-events, --max-size: past either, recording stops and the program runs on. */
  limits?: { maxRecords?: number; maxBytes?: number };
  /**
   * --flight-recorder: the drain thread holds about the last `windowMs` of records in at
   * most `memoryBytes` (zig/flight.zig) and writes them only when a trigger asks.
   */
  flight?: { windowMs: number; memoryBytes: number };
  /** Whether the processes' endings are watched for and written when they record none (default true; scope run --events without `process`: false). */
  endings?: boolean;
  /** Whether a worker that recorded no ending gets one with its process's (default true; --events without `thread`: false). */
  threadEndings?: boolean;
  /** The ring keeps the threads' function-event batches (zig/batches.zig), written if a process is killed by a signal: function tracing. */
  batches?: boolean;
}

/** The flight recorder's part of the summary. */
export interface FlightSummary extends FlightTotals {
  windowMs: number;
  memoryBytes: number;
}

/** Recording stopped before the program ended (a limit, `scope stop`, --duration, a failed write). */
export interface RecordingStop {
  reason: StopReasonName;
  /** Records in the trace when it stopped. */
  recordedBefore: number;
  /** Records drained after the stop and not kept. */
  refused: number;
  /** For a failed write: what failed (the file ends at the last whole chunk before it). */
  error?: string;
  /** For a failed write: the file still got its end chunk (room was kept for it). */
  closed?: boolean;
}

export interface RunSummary {
  out: string;
  durationNs: bigint;
  exitCode: number | null;
  signal: string | null;
  processes: number;
  threads: number;
  byKind: Record<string, number>;
  recorded: number;
  /** Records lost in discard mode: refused by a full lane and overflow, or held in the
   * overflow of a process that died. */
  dropped: number;
  overwritten: number;
  /** Losses by the process and thread that had them, as their producers reported them (overwrite
   * mode: as the collector found them, by the thread whose lane lost them, Ring.mark_losses). */
  losses: Loss[];
  /** Errors the agents caught in their own code (never passed to the program), by process and thread. */
  agentErrors: Loss[];
  /** Losses no one named a thread for (records overwritten in a shared lane; a process that ended or died first). */
  unattributed: number;
  mode: "discard" | "overwrite";
  /** The ring's lanes as made: --ring-size rounded down to a power of two a lane, at least 64 KiB (what the loss lines say it is now). */
  ringBytes: number;
  fileBytes: number;
  /**
   * The producers' highest rate, all together: records written (into lanes, overflows, or
   * dropped) per second over windows of at least `peakWindowMs`, sampled by the drain loop.
   */
  peakRecordsPerSecond: number;
  stopped?: RecordingStop;
  flight?: FlightSummary;
  /** The processes' endings and who recorded each (src/run/endings.ts). */
  endings: EndingCounts;
}

export interface Loss {
  pid: number;
  tid: number;
  count: number;
}

const laneCount = 16;
/** Records a lane holds for --ring-size `ringBytes`: its share, rounded down to a power of two, at least 64. */
const laneSlots = (ringBytes: number) => floorPowerOfTwo(Math.max(64, Math.floor(ringBytes / RECORD_SIZE / laneCount)));
const drainBatchRecords = 4096;
const idleIntervalMs = 5;
/** Batches drained per turn of the event loop while busy (signals and the exit stay timely). */
const busyBatchesPerTurn = 64;
/** The shortest window the producers' peak rate is measured over. */
const peakWindowMs = 10;
const U64_MAX = (1n << 64n) - 1n; // child_exit's "no exit code"
/** --print: sends remembered for their receives' live lines (oldest forgotten first). */
const liveSendsMax = 4096;
/**
 * --print formats records after they are in the file, at most this many a turn, so a slow
 * terminal never slows the drain (records printed late, never lost); past the backlog's
 * bound the oldest are not printed (said in a line; they are in the trace).
 */
const livePrintRecordsPerTurn = 4096;
const liveBacklogRecordsMax = 1 << 18;

export class Collector {
  private readonly buffer = new Uint8Array(drainBatchRecords * RECORD_SIZE);
  private readonly words16 = new Uint16Array(this.buffer.buffer);
  private readonly words32 = new Uint32Array(this.buffer.buffer);
  /** Records by kind (kinds are u16). */
  private readonly kindCounts = new Float64Array(1 << 16);
  private readonly threads = new Set<string>();
  private readonly pids = new Set<number>();
  /** Producers' own drop records, by "pid/tid". */
  private readonly reportedLosses = new Map<string, number>();
  /** Errors the agents caught in themselves (agent_error records), by "pid/tid". */
  private readonly agentErrors = new Map<string, number>();
  private reportedLost = 0;
  /** The processes seen start and their endings (src/run/endings.ts, zig/endings.zig). */
  private readonly endings: ProcessEndings;
  private endingCounts: EndingCounts = { processes: 0, own: 0, byCollector: 0, unknown: 0, corrected: 0, running: 0, unwatched: 0, threads: 0, terminated: 0 };
  // --print follows a run of any length: the oldest strings go when full, so new lines keep their names.
  private readonly strings = new StringTable({ maxStrings: 1_000_000, evictOldest: true });
  private readonly liveSends = new Map<string, TraceEvent["fields"]>();
  private readonly liveBacklog: Uint8Array[] = [];
  private liveBacklogRecords = 0;
  private liveSkipped = 0;
  private readonly ownRecord = new Uint8Array(RECORD_SIZE);
  private readonly startedNs = monotonicNs();
  private recorded = 0;
  /** Losses the collector's own drop markers counted so far. */
  private markedLost = 0;
  private timer: ReturnType<typeof setTimeout> | ReturnType<typeof setImmediate> | undefined;
  private finished = false;
  private lastStats: RingStats | undefined;
  private peakSampleNs = monotonicNs();
  private peakSampleProduced = 0;
  private peakRecordsPerSecond = 0;
  private drainThread: DrainThread | undefined;
  private stopped: RecordingStop | undefined;
  private flight: FlightSummary | undefined;
  /** The first failed write: from then on nothing more is written (the file stays readable). */
  private writeError: string | undefined;

  private constructor(
    private readonly options: CollectorOptions,
    private readonly ring: Ring,
    private readonly writer: TraceWriter,
  ) {
    this.endings = new ProcessEndings(options.endings ?? true, options.threadEndings ?? true);
  }

  static start(options: CollectorOptions): Collector {
    const laneCapacitySlots = laneSlots(options.ringBytes);
    const ring = Ring.create(options.ringPath, { laneCount, laneCapacitySlots, mode: options.mode, batches: options.batches });
    let writer: TraceWriter;
    try {
      writer = TraceWriter.open(options.out, { host: options.host, argv: options.argv, realtimeShiftNs: testClockShiftNs() });
    } catch (error) {
      ring.close();
      Ring.unlink(options.ringPath);
      throw error;
    }
    if (options.limits) writer.limit(options.limits);
    const collector = new Collector(options, ring, writer);
    const drain = options.drain ?? (options.live ? "event-loop" : "thread");
    if (options.flight) {
      // The window lives in the drain thread: without one there is no flight recorder.
      try {
        collector.drainThread = DrainThread.start(ring, writer.nativeHandle, options.flight);
      } catch (error) {
        writer.abandon();
        rmSync(options.out, { force: true });
        ring.close();
        Ring.unlink(options.ringPath);
        throw new Error(`no flight recorder: ${(error as Error).message}`);
      }
    } else if (drain === "thread") {
      try {
        collector.drainThread = DrainThread.start(ring, writer.nativeHandle);
      } catch {
        // No thread to be had (out of resources): the event loop drains instead.
      }
    }
    if (options.endings === false) collector.drainThread?.endingsOff();
    if (options.threadEndings === false) collector.drainThread?.threadEndingsOff();
    if (!collector.drainThread) collector.schedule(idleIntervalMs);
    return collector;
  }

  /**
   * Stops recording now, the program running on (`scope stop`, --duration): producers
   * refuse every record from here, the agents turn their hooks off, and the drain keeps
   * nothing more but the collector's `recording_stop` record. The first reason stays.
   */
  stopRecording(reason: number): void {
    if (!this.finished) this.ring.stop(reason);
  }

  /**
   * Why recording has stopped while the program runs (a StopReason: a limit, `scope stop`,
   * --duration, a failed write), read from the ring's header; 0 while it records, and once finished.
   */
  stopReasonNow(): number {
    return this.finished ? 0 : this.ring.stats().stopReason;
  }

  /** What failed when a trace write failed (either drain path), so far; undefined: nothing. */
  writeErrorNow(): string | undefined {
    if (this.writeError !== undefined) return this.writeError;
    const status = this.drainThread?.writeStatus() ?? 0;
    return status === 0 ? undefined : writeFailure(status);
  }

  /**
   * A pipe's read end that gets a byte once recording has stopped while the program runs, and
   * its end at finish (the caller closes it then); undefined without the drain thread (the
   * event loop drains, and looks itself) or a pipe.
   */
  stopNotices(): number | undefined {
    return this.finished ? undefined : this.drainThread?.stopNotices();
  }

  /** The top process (scope run's child): its ending is written at finish from its real status, not watched for. */
  setRoot(pid: number): void {
    this.drainThread?.setRoot(pid);
  }

  /** Flight recorder: writes the window now (SIGUSR1); the program and the recorder run on. */
  requestFlightDump(): void {
    if (!this.finished && this.options.flight) this.drainThread?.requestDump();
  }

  /**
   * Stops the drain thread (it drains what the ring holds first) and takes its counts. A
   * flight recorder drains finally and dumps when `exitStatus` is not 0.
   */
  private stopDrainThread(exitStatus = 0): void {
    const thread = this.drainThread;
    if (!thread) return;
    this.drainThread = undefined;
    const totals = thread.stop(exitStatus);
    if (totals.flight && this.options.flight) this.flight = { ...totals.flight, ...this.options.flight };
    this.recorded += totals.recorded;
    this.reportedLost += totals.reportedLost;
    this.markedLost += totals.markedLost;
    this.peakRecordsPerSecond = Math.max(this.peakRecordsPerSecond, totals.peakRecordsPerSecond);
    if (totals.writeStatus !== 0) this.writeError ??= writeFailure(totals.writeStatus);
    for (let kind = 0; kind < totals.kinds.length; kind++) this.kindCounts[kind]! += totals.kinds[kind]!;
    this.endings.merge(totals.processes, totals.endingTotals, totals.openThreads);
    for (const { pid, tid, reportedLost, agentErrors } of totals.threads) {
      this.pids.add(pid);
      const key = `${pid}/${tid}`;
      this.threads.add(key);
      if (reportedLost > 0) this.reportedLosses.set(key, (this.reportedLosses.get(key) ?? 0) + reportedLost);
      if (agentErrors > 0) this.agentErrors.set(key, (this.agentErrors.get(key) ?? 0) + agentErrors);
    }
  }

  private schedule(afterMs: number): void {
    const tick = () => {
      this.timer = undefined;
      if (this.finished) return;
      const moved = this.drain(false, busyBatchesPerTurn);
      this.samplePeak();
      this.printBacklog(livePrintRecordsPerTurn);
      if (!this.finished) this.schedule(moved > 0 ? 0 : idleIntervalMs);
    };
    this.timer = afterMs === 0 ? setImmediate(tick) : setTimeout(tick, afterMs);
  }

  /**
   * Moves what the ring holds now into the trace file (at most `batchesMax` batches);
   * returns how many records it moved.
   */
  drain(final = false, batchesMax = Infinity): number {
    if (this.drainThread) throw new Error("the drain thread owns the ring while it runs");
    let moved = 0;
    for (let batches = 0; batches < batchesMax; batches++) {
      // The final drain also passes slots claimed by producers that died mid-write.
      const count = final ? this.ring.drainFinal(this.buffer) : this.ring.drain(this.buffer);
      if (count === 0) break;
      moved += count;
      const before = this.writer.state().records;
      this.append(this.buffer.subarray(0, count * RECORD_SIZE), count);
      // A limit or a stop keeps a prefix (or nothing): only that is counted and printed.
      const kept = this.writer.state().records - before;
      this.account(kept);
      if (this.options.live && kept > 0) this.queueLive(this.buffer.slice(0, kept * RECORD_SIZE));
    }
    this.markOverwritten();
    this.ring.settleStop(this.writer.nativeHandle);
    return moved;
  }

  /** Counts by kind, the processes and threads seen, and the losses producers reported. */
  private account(count: number): void {
    const words16 = this.words16;
    const words32 = this.words32;
    const kindCounts = this.kindCounts;
    // Records come in runs from one lane, so (pid, tid) mostly repeats: look it up on change.
    let lastPid = -1;
    let lastTid = -1;
    for (let i = 0; i < count; i++) {
      const w32 = i * (RECORD_SIZE / 4);
      const kind = words16[w32 * 2 + Offset.kind / 2]!;
      kindCounts[kind]!++;
      if (kind === EventKind.string) continue;
      const pid = words32[w32 + Offset.pid / 4]!;
      const tid = words32[w32 + Offset.tid / 4]!;
      if (kind === EventKind.drop) this.accountDrop(pid, tid, words32[w32 + Offset.a / 4]! + words32[w32 + Offset.a / 4 + 1]! * 2 ** 32);
      if (kind === EventKind.agent_error) this.agentErrors.set(`${pid}/${tid}`, (this.agentErrors.get(`${pid}/${tid}`) ?? 0) + 1);
      if (kind === EventKind.trace_start || kind === EventKind.process_exit || kind === EventKind.child_exit || kind === EventKind.thread_exit || kind === EventKind.thread_exited) {
        const flags = words16[w32 * 2 + Offset.flags / 2]!;
        // child_exit b: u64 max for "no code", taken as -1 (its high word all ones).
        const b = words32[w32 + Offset.b / 4 + 1] === 0xffffffff ? -1 : words32[w32 + Offset.b / 4]!;
        const timestampNs = kind === EventKind.process_exit || kind === EventKind.thread_exited ? BigInt(words32[w32 + Offset.timestampNs / 4]!) + BigInt(words32[w32 + Offset.timestampNs / 4 + 1]!) * 0x1_0000_0000n : undefined;
        this.endings.note(kind, pid, tid, flags, words32[w32 + Offset.a / 4]!, b, words32[w32 + Offset.e / 4]!, words32[w32 + Offset.c / 4]!, timestampNs);
      }
      if (pid === lastPid && tid === lastTid) continue;
      lastPid = pid;
      lastTid = tid;
      this.pids.add(pid);
      this.threads.add(`${pid}/${tid}`);
    }
    this.recorded += count;
  }

  /** The producers' rate since the last sample, once the window is long enough. */
  private samplePeak(): void {
    const now = monotonicNs();
    const elapsedNs = Number(now - this.peakSampleNs);
    if (elapsedNs < peakWindowMs * 1e6) return;
    const stats = this.ring.stats();
    const produced = stats.written + stats.overflowPending + stats.dropped;
    const rate = ((produced - this.peakSampleProduced) * 1e9) / elapsedNs;
    if (rate > this.peakRecordsPerSecond) this.peakRecordsPerSecond = rate;
    this.peakSampleNs = now;
    this.peakSampleProduced = produced;
  }

  private accountDrop(pid: number, tid: number, count: number): void {
    const key = `${pid}/${tid}`;
    this.reportedLosses.set(key, (this.reportedLosses.get(key) ?? 0) + count);
    this.reportedLost += count;
  }

  /** Keeps a drained batch for --print; past the bound the oldest go unprinted (strings kept). */
  private queueLive(batch: Uint8Array): void {
    this.liveBacklog.push(batch);
    this.liveBacklogRecords += batch.byteLength / RECORD_SIZE;
    while (this.liveBacklogRecords > liveBacklogRecordsMax && this.liveBacklog.length > 1) {
      const skipped = this.liveBacklog.shift()!;
      const count = skipped.byteLength / RECORD_SIZE;
      this.liveBacklogRecords -= count;
      this.liveSkipped += count;
      for (let i = 0; i < count; i++) {
        const raw = decodeRecord(skipped, i * RECORD_SIZE);
        if (raw.kind === "string") this.strings.add(raw);
      }
    }
  }

  /** Prints queued batches, about `recordsMax` records (whole batches). */
  private printBacklog(recordsMax: number): void {
    let printed = 0;
    while (printed < recordsMax && this.liveBacklog.length > 0) {
      if (this.liveSkipped > 0) {
        this.options.live!(`scope: --print fell behind: ${this.liveSkipped} records not printed (they are in the trace)`);
        this.liveSkipped = 0;
      }
      const batch = this.liveBacklog.shift()!;
      const count = batch.byteLength / RECORD_SIZE;
      this.liveBacklogRecords -= count;
      printed += count;
      this.printLive(batch, count);
    }
  }

  private printLive(batch: Uint8Array, count: number): void {
    const raws = [];
    for (let i = 0; i < count; i++) {
      const raw = decodeRecord(batch, i * RECORD_SIZE);
      this.strings.add(raw);
      raws.push(raw);
    }
    const events = interpret(raws, (pid, tid, id) => this.strings.get(pid, tid, id));
    for (const event of events) {
      this.shareSendPreview(event);
      this.options.live!(formatEventLine(event, this.startedNs, events, this.options.color));
    }
  }

  /**
   * Receives carry no preview (the decoder copies their send's); a send drained in an
   * earlier batch is remembered here, bounded, so the live line shows it too.
   */
  private shareSendPreview(event: TraceEvent): void {
    if (event.kind === "message_send") {
      if (this.liveSends.size >= liveSendsMax) this.liveSends.delete(this.liveSends.keys().next().value!);
      this.liveSends.set(messageKey(event), event.fields);
    } else if (event.kind === "message_receive" && event.fields.preview === null) {
      const key = messageKey(event);
      const sent = this.liveSends.get(key);
      if (!sent) return;
      this.liveSends.delete(key);
      event.fields.sizeBytes = sent.sizeBytes ?? 0;
      event.fields.preview = sent.preview ?? null;
    }
  }

  private appendOwn(kind: number, a: number | bigint, b: number | bigint = 0, c: number | bigint = 0): void {
    encodeRecord({ kind, timestampNs: monotonicNs(), pid: process.pid, tid: 0, a, b, c }, this.ownRecord);
    // Past the limits too: the size limit keeps room for these.
    this.append(this.ownRecord, 1, true);
  }

  /** The time of the last process ending appendEnding wrote: its workers' endings that follow carry it too. */
  private endingNs = 0n;

  private appendEnding(record: EndingRecord): void {
    if (record.tid === 0 || this.endingNs === 0n) this.endingNs = monotonicNs();
    encodeRecord({ kind: record.kind, flags: record.flags, timestampNs: record.timestampNs ?? this.endingNs, pid: record.pid, tid: record.tid, a: record.a, b: record.b, e: record.e }, this.ownRecord);
    this.append(this.ownRecord, 1, true);
  }

  /**
   * Appends, and survives a failed write (a full disk, a file size limit): the first
   * failure is kept for the summary, the native writer takes nothing more (the file ends
   * at its last whole chunk), settleStop stops recording, and the program runs on.
   */
  private append(records: Uint8Array, count: number, unlimited = false): void {
    // After a failure only the collector's own records (unlimited), into the room the
    // native writer kept for the end: it refuses them when there is none.
    if (this.writeError !== undefined && !unlimited) return;
    try {
      this.writer.append(records, count, unlimited);
    } catch (error) {
      if (!(error instanceof TraceFileError)) throw error;
      this.writeError ??= writeFailure(error.status);
    }
  }

  /**
   * Lost events are themselves events. Producers report their own drops (a `drop` record
   * with their pid and tid); overwritten records only the collector sees, so it marks
   * them whenever their count grew: the drain thread with the pid and tid of the thread
   * whose lane lost them where it can (zig/collector.zig with_loss_markers; counted as
   * reported: in overwrite mode no producer reports a loss of its own), and here with
   * its own. The rest (a producer that ended or died before it could report) gets one
   * marker at the end (finish).
   */
  private markOverwritten(): void {
    if (this.options.mode !== "overwrite") return;
    const { overwritten } = this.ring.stats();
    const unmarked = overwritten - this.markedLost - this.reportedLost;
    if (unmarked > 0) {
      this.appendOwn(EventKind.drop, unmarked);
      this.markedLost += unmarked;
    }
  }

  /** Final drain, the top process's end, the end chunk; removes the ring. */
  finish(end: { exitCode: number | null; signal: string | null; childPid?: number; markers?: { kind: number; a: number; b?: number }[] }): RunSummary {
    if (this.timer) {
      clearTimeout(this.timer as ReturnType<typeof setTimeout>);
      clearImmediate(this.timer as ReturnType<typeof setImmediate>);
      this.timer = undefined;
    }
    let dropped = 0;
    if (!this.finished) {
      this.finished = true;
      // A non-zero exit (or a signal) of a program that ran triggers the flight recorder.
      const exitStatus = end.childPid === undefined ? 0 : end.signal ? 128 + signalNumberOf(end.signal) : (end.exitCode ?? 0);
      this.stopDrainThread(exitStatus);
      // A flight recorder's thread drained finally into its window; nothing is left to drain.
      if (!this.options.flight) {
        this.drain();
        this.drain(true);
      }
      if (this.options.live) this.printBacklog(Infinity);
      const state = this.writer.state();
      if (state.stopReason !== 0 || this.writeError !== undefined) {
        const reason = this.writeError !== undefined ? "writeError" : (stopReasonName[state.stopReason] ?? "killSwitch");
        this.stopped = { reason, recordedBefore: this.recorded, refused: state.refused, error: this.writeError };
      }
      if (end.childPid !== undefined) {
        this.appendOwn(EventKind.child_exit, end.childPid, end.exitCode === null ? U64_MAX : BigInt(end.exitCode), signalNumberOf(end.signal));
      }
      // Endings the processes did not record (the top process's from its real status).
      // Not after an early stop or under the flight recorder: that trace holds part of the run.
      const root = end.childPid === undefined ? undefined : { pid: end.childPid, exitCode: end.exitCode, signal: end.signal };
      const whole = this.stopped === undefined && !this.options.flight;
      this.endingCounts = this.endings.settle(root, (record) => {
        if (whole) this.appendEnding(record);
      });
      // What only the collector saw (scope attach: the attached process ended first).
      for (const marker of end.markers ?? []) this.appendOwn(marker.kind, marker.a, marker.b ?? 0);
      this.lastStats = this.ring.stats();
      // Every producer has ended: what their overflows still hold died with them.
      dropped = this.lastStats.dropped + this.lastStats.overflowPending;
      const unmarked = dropped + this.lastStats.overwritten - this.reportedLost - this.markedLost;
      if (unmarked > 0) {
        this.appendOwn(EventKind.drop, unmarked);
        this.markedLost += unmarked;
      }
      // After a failed write too: the native writer kept room for the end chunk where the
      // file system could reserve it (zig/trace_file.zig write_chunk), and refuses otherwise.
      try {
        // Records as the ring handed them on (a pack's slot is as many records as calls).
        this.writer.close({ written: this.lastStats.written + this.lastStats.unpacked, dropped, overwritten: this.lastStats.overwritten, recorded: this.recorded });
        if (this.stopped?.error !== undefined) this.stopped.closed = true;
      } catch (error) {
        if (!(error instanceof TraceFileError)) throw error;
        this.writeError ??= writeFailure(error.status);
        this.stopped ??= { reason: "writeError", recordedBefore: this.recorded, refused: 0, error: this.writeError };
      }
      this.ring.close();
      Ring.unlink(this.options.ringPath);
    } else if (this.lastStats) {
      dropped = this.lastStats.dropped + this.lastStats.overflowPending;
    }
    const byKind: Record<string, number> = {};
    for (let kind = 0; kind < this.kindCounts.length; kind++) {
      const count = this.kindCounts[kind]!;
      if (count > 0) byKind[eventKindName[kind] ?? `kind_${kind}`] = count;
    }
    const losses = [...this.reportedLosses].map(([key, count]) => {
      const [pid, tid] = key.split("/").map(Number) as [number, number];
      return { pid, tid, count };
    });
    losses.sort((x, y) => y.count - x.count);
    const agentErrors = [...this.agentErrors].map(([key, count]) => {
      const [pid, tid] = key.split("/").map(Number) as [number, number];
      return { pid, tid, count };
    });
    agentErrors.sort((x, y) => y.count - x.count);
    const overwritten = this.lastStats?.overwritten ?? 0;
    return {
      out: this.options.out,
      durationNs: monotonicNs() - this.startedNs,
      exitCode: end.exitCode,
      signal: end.signal,
      processes: this.pids.size,
      threads: this.threads.size,
      byKind,
      recorded: this.recorded,
      dropped,
      overwritten,
      losses,
      unattributed: Math.max(0, dropped + overwritten - this.reportedLost),
      mode: this.options.mode,
      ringBytes: laneCount * laneSlots(this.options.ringBytes) * RECORD_SIZE,
      peakRecordsPerSecond: Math.round(this.peakRecordsPerSecond),
      fileBytes: statSync(this.options.out, { throwIfNoEntry: false })?.size ?? 0,
      stopped: this.stopped,
      agentErrors,
      flight: this.flight,
      endings: this.endingCounts,
    };
  }

  /** For a program that never started: no trace is left behind. */
  discard(): void {
    rmSync(this.options.out, { force: true });
  }
}

function floorPowerOfTwo(value: number): number {
  return 2 ** Math.floor(Math.log2(value));
}


export type { TraceEvent };

/**
 * TEST ONLY: SCOPE_TEST_CLOCK_SHIFT_NS (whole ns, may be negative) is added to the wall-clock
 * anchor of the trace header, so the recording's wall clock looks off by a known amount; the
 * proof that `scope merge` recovers a host's clock offset (spec/merge.test.ts) uses it. Record
 * timestamps are untouched. Anything but a whole number is ignored.
 */
function testClockShiftNs(): bigint | undefined {
  const text = process.env.SCOPE_TEST_CLOCK_SHIFT_NS;
  if (!text || !/^-?\d{1,18}$/.test(text.trim())) return undefined;
  return BigInt(text.trim());
}
