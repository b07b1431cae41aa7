/**
 * The collector: owns the shared ring for one `scope run`, drains it in batches
 * (behind the producers, never polling the slot being written) into the trace
 * file, and keeps the counts the summary reports. The events only it can see (how
 * the top process ended, events lost) it appends to the trace file itself.
 */
import type { ChalkInstance } from "chalk";
import { rmSync, statSync } from "node:fs";
import { EventKind, Offset, RECORD_SIZE, eventKindName } from "../core/layout";
import { interpret, type TraceEvent } from "../core/model";
import { monotonicNs, Ring, type RingStats } from "../core/ring";
import { decodeRecord, encodeRecord, StringTable } from "../core/events";
import { TraceWriter } from "../core/trace-file";
import { formatEventLine } from "../dump/text";
import { signalNumberOf } from "./signals";

export interface CollectorOptions {
  ringPath: string;
  ringBytes: number;
  mode: "discard" | "overwrite";
  out: string;
  host: string;
  argv: string[];
  /** Receives one formatted line per event while the program runs (`--print`). */
  live?: (line: string) => void;
  color: ChalkInstance;
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
  dropped: number;
  overwritten: number;
  fileBytes: number;
}

const laneCount = 16;
const drainBatchRecords = 4096;
const drainIntervalMs = 10;
const U64_MAX = (1n << 64n) - 1n; // child_exit's "no exit code"

export class Collector {
  private readonly buffer = new Uint8Array(drainBatchRecords * RECORD_SIZE);
  private readonly view = new DataView(this.buffer.buffer);
  private readonly byKind = new Map<number, number>();
  private readonly threads = new Set<string>();
  private readonly pids = new Set<number>();
  private readonly strings = new StringTable();
  private readonly ownRecord = new Uint8Array(RECORD_SIZE);
  private readonly startedNs = monotonicNs();
  private recorded = 0;
  private droppedReported = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private finished = false;
  private lastStats: RingStats | undefined;

  private constructor(
    private readonly options: CollectorOptions,
    private readonly ring: Ring,
    private readonly writer: TraceWriter,
  ) {}

  static start(options: CollectorOptions): Collector {
    const laneCapacitySlots = floorPowerOfTwo(Math.max(64, Math.floor(options.ringBytes / RECORD_SIZE / laneCount)));
    const ring = Ring.create(options.ringPath, { laneCount, laneCapacitySlots, mode: options.mode });
    let writer: TraceWriter;
    try {
      writer = TraceWriter.open(options.out, { host: options.host, argv: options.argv });
    } catch (error) {
      ring.close();
      Ring.unlink(options.ringPath);
      throw error;
    }
    const collector = new Collector(options, ring, writer);
    collector.timer = setInterval(() => collector.drain(), drainIntervalMs);
    return collector;
  }

  /** Moves everything the ring holds now into the trace file. */
  drain(final = false): void {
    for (;;) {
      // The final drain also passes slots claimed by producers that died mid-write.
      const count = final ? this.ring.drainFinal(this.buffer) : this.ring.drain(this.buffer);
      if (count === 0) break;
      this.account(count);
      this.writer.append(this.buffer.subarray(0, count * RECORD_SIZE), count);
      if (this.options.live) this.printLive(count);
    }
    this.reportDrops();
  }

  private account(count: number): void {
    for (let i = 0; i < count; i++) {
      const base = i * RECORD_SIZE;
      const kind = this.view.getUint16(base + Offset.kind, true);
      this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
      if (kind === EventKind.string) continue;
      const pid = this.view.getUint32(base + Offset.pid, true);
      this.pids.add(pid);
      this.threads.add(`${pid}/${this.view.getUint32(base + Offset.tid, true)}`);
    }
    this.recorded += count;
  }

  private printLive(count: number): void {
    const raws = [];
    for (let i = 0; i < count; i++) {
      const raw = decodeRecord(this.buffer, i * RECORD_SIZE);
      this.strings.add(raw);
      raws.push(raw);
    }
    const events = interpret(raws, (pid, tid, id) => this.strings.get(pid, tid, id));
    for (const event of events) this.options.live!(formatEventLine(event, this.startedNs, events, this.options.color));
  }

  private appendOwn(kind: number, a: number | bigint, b: number | bigint = 0, c: number | bigint = 0): void {
    encodeRecord({ kind, timestampNs: monotonicNs(), pid: process.pid, tid: 0, a, b, c }, this.ownRecord);
    this.writer.append(this.ownRecord, 1);
  }

  /** Lost events are themselves events: a `drop` marker whenever the count grew. */
  private reportDrops(): void {
    const stats = this.ring.stats();
    const lost = stats.dropped + stats.overwritten;
    if (lost > this.droppedReported) {
      this.appendOwn(EventKind.drop, lost - this.droppedReported);
      this.droppedReported = lost;
    }
  }

  /** Final drain, the top process's end, the end chunk; removes the ring. */
  finish(end: { exitCode: number | null; signal: string | null; childPid?: number }): RunSummary {
    if (this.timer) clearInterval(this.timer);
    if (!this.finished) {
      this.finished = true;
      this.drain();
      this.drain(true);
      if (end.childPid !== undefined) {
        this.appendOwn(EventKind.child_exit, end.childPid, end.exitCode === null ? U64_MAX : BigInt(end.exitCode), signalNumberOf(end.signal));
      }
      this.lastStats = this.ring.stats();
      this.writer.close({ written: this.lastStats.written, dropped: this.lastStats.dropped, overwritten: this.lastStats.overwritten, recorded: this.recorded });
      this.ring.close();
      Ring.unlink(this.options.ringPath);
    }
    const byKind: Record<string, number> = {};
    for (const [kind, count] of this.byKind) byKind[eventKindName[kind] ?? `kind_${kind}`] = count;
    return {
      out: this.options.out,
      durationNs: monotonicNs() - this.startedNs,
      exitCode: end.exitCode,
      signal: end.signal,
      processes: this.pids.size,
      threads: this.threads.size,
      byKind,
      recorded: this.recorded,
      dropped: this.lastStats?.dropped ?? 0,
      overwritten: this.lastStats?.overwritten ?? 0,
      fileBytes: statSync(this.options.out, { throwIfNoEntry: false })?.size ?? 0,
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
