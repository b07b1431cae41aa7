/**
 * Typed binding over libscope's ring C ABI (zig/c_abi.zig) through bun:ffi. The ring
 * itself (lanes, slot sequences, modes, accounting) lives in zig/ring.zig; this file only
 * moves arguments across and turns Status codes into Errors.
 *
 * Payload values cross as f64 (a 64-bit integer would cost a BigInt per argument):
 * integers up to 2^53 are exact, negative numbers are stored as two's complement.
 */
import { dlopen, FFIType, type Pointer } from "bun:ffi";
import { RECORD_SIZE } from "./layout";
import { libscopePath } from "./native";

const { u32, i32, f64, u64, ptr: pointer, void: none } = FFIType;

const symbols = {
  scope_ring_create_batches: { args: [pointer, u32, u32, u32, u32, pointer], returns: u32 },
  scope_ring_open: { args: [pointer, pointer], returns: u32 },
  scope_ring_close: { args: [pointer], returns: none },
  scope_ring_unlink: { args: [pointer], returns: u32 },
  scope_ring_size_bytes: { args: [u32, u32], returns: f64 },
  scope_ring_drain: { args: [pointer, pointer, u32], returns: u32 },
  scope_ring_drain_final: { args: [pointer, pointer, u32], returns: u32 },
  scope_ring_stats: { args: [pointer, pointer], returns: none },
  scope_ring_stop: { args: [pointer, u32], returns: none },
  scope_collector_settle_stop: { args: [pointer, pointer], returns: u32 },
  scope_producer_attach: { args: [pointer, u32, u32, pointer], returns: u32 },
  scope_producer_detach: { args: [pointer], returns: none },
  scope_producer_flush: { args: [pointer], returns: none },
  scope_producer_record: { args: [pointer, u32, u32, f64, f64, f64, f64, f64], returns: u32 },
  scope_producer_string: { args: [pointer, u32, pointer, u32], returns: u32 },
  scope_producer_write_batch: { args: [pointer, pointer, u32], returns: u32 },
  scope_producer_stats: { args: [pointer, pointer], returns: none },
  scope_producer_lane: { args: [pointer], returns: u32 },
  scope_collector_start: { args: [pointer, pointer, pointer], returns: u32 },
  scope_collector_start_flight: { args: [pointer, pointer, u32, f64, pointer], returns: u32 },
  scope_collector_flight_request: { args: [pointer], returns: none },
  scope_collector_flight_finish: { args: [pointer, u32], returns: u32 },
  scope_collector_flight_totals: { args: [pointer, pointer], returns: none },
  scope_collector_stop: { args: [pointer], returns: u32 },
  scope_collector_write_status: { args: [pointer], returns: u32 },
  scope_collector_stop_notices: { args: [pointer], returns: i32 },
  scope_collector_free: { args: [pointer], returns: none },
  scope_collector_totals: { args: [pointer, pointer], returns: none },
  scope_collector_kinds: { args: [pointer, pointer], returns: none },
  scope_collector_threads: { args: [pointer, pointer, u32], returns: u32 },
  scope_collector_set_root: { args: [pointer, u32], returns: none },
  scope_collector_endings_off: { args: [pointer], returns: none },
  scope_collector_thread_endings_off: { args: [pointer], returns: none },
  scope_collector_endings_totals: { args: [pointer, pointer], returns: none },
  scope_collector_processes: { args: [pointer, pointer, u32], returns: u32 },
  scope_collector_open_threads: { args: [pointer, pointer, u32], returns: u32 },
  scope_clock_monotonic_ns: { args: [], returns: u64 },
  scope_clock_realtime_ns: { args: [], returns: u64 },
} as const;

type Library = ReturnType<typeof dlopen<typeof symbols>>["symbols"];
let library: Library | undefined;

function native(): Library {
  library ??= dlopen(libscopePath(), symbols).symbols;
  return library;
}

/** Status codes of zig/c_abi.zig (append-only there). */
export const Status = {
  ok: 0,
  invalid_argument: 1,
  already_exists: 2,
  not_found: 3,
  access_denied: 4,
  not_a_ring: 5,
  wrong_layout_version: 6,
  size_mismatch: 7,
  system_resources: 8,
  unexpected: 9,
} as const;

const statusMessage: Record<number, string> = {
  [Status.invalid_argument]: "invalid argument (lane count 1..256, lane capacity a power of two 8..4194304, total at most 4 GiB)",
  [Status.already_exists]: "already exists",
  [Status.not_found]: "no such file",
  [Status.access_denied]: "permission denied",
  [Status.not_a_ring]: "not a scope ring (bad magic or header)",
  [Status.wrong_layout_version]: "written by a different scope version (ring or record layout version differs)",
  [Status.size_mismatch]: "file size does not match its ring header",
  [Status.system_resources]: "out of memory, shared-memory space or file descriptors",
  [Status.unexpected]: "unexpected system error",
};

export class RingError extends Error {
  constructor(
    readonly operation: string,
    readonly path: string,
    readonly status: number,
  ) {
    super(`ring ${operation} ${path}: ${statusMessage[status] ?? `status ${status}`}`);
    this.name = "RingError";
  }
}

export type RingMode = "discard" | "overwrite";
const modeNumber: Record<RingMode, number> = { discard: 0, overwrite: 1 };

export interface RingOptions {
  laneCount: number;
  /** A power of two, 8..2^22. */
  laneCapacitySlots: number;
  mode: RingMode;
  /**
   * The threads' function-event batches after the slots (zig/batches.zig: what a process
   * killed by a signal had buffered, written by the collector; ~2.75 MiB): function tracing's rings.
   */
  batches?: boolean;
}

/** Totals over all lanes; the order mirrors `RingStat` in zig/c_abi.zig. */
export interface RingStats {
  /** Records accepted into the ring. */
  written: number;
  /** Records refused by a full lane (discard mode). */
  dropped: number;
  /** Records lost to newer ones (overwrite mode). */
  overwritten: number;
  /** Positions claimed but never completed (a producer died mid-write); final drain only. */
  abandoned: number;
  /** Records the consumer has copied out. */
  received: number;
  /** Records written but not yet drained. */
  pending: number;
  producersAttached: number;
  laneCount: number;
  laneCapacitySlots: number;
  mode: RingMode;
  createdMonotonicNs: bigint;
  createdRealtimeNs: bigint;
  /**
   * Records producers hold in their overflows (a burst the lane could not take yet).
   * Once every producer has ended, what is left was lost with a process that died.
   */
  overflowPending: number;
  /** Records that went through an overflow. */
  overflowed: number;
  /**
   * Records the drain made beyond the slots it took: a function_calls pack (ring only) is
   * one slot written and one record per call drained. written + unpacked is what the ring
   * handed on.
   */
  unpacked: number;
  /** Why recording stopped (StopReason in layout.ts), 0 while recording. */
  stopReason: number;
}

const ringStatCount = 16;

function cString(text: string): Buffer {
  return Buffer.from(`${text}\0`, "utf8");
}

function check(operation: string, path: string, status: number): void {
  if (status !== Status.ok) throw new RingError(operation, path, status);
}

/** The consumer's (or a test's) handle on one mapped ring. */
export class Ring {
  private handle: Pointer | null;
  private readonly statsBuffer = new BigUint64Array(ringStatCount);

  private constructor(
    handle: Pointer,
    readonly path: string,
  ) {
    this.handle = handle;
  }

  /** Creates the ring file (it must not exist; mode 0600) and maps it. */
  static create(path: string, options: RingOptions): Ring {
    const out = new BigUint64Array(1);
    const status = native().scope_ring_create_batches(cString(path), options.laneCount, options.laneCapacitySlots, modeNumber[options.mode], options.batches ? 1 : 0, out);
    check("create", path, status);
    return new Ring(Number(out[0]) as Pointer, path);
  }

  /** Maps an existing ring file after validating its header. */
  static open(path: string): Ring {
    const out = new BigUint64Array(1);
    check("open", path, native().scope_ring_open(cString(path), out));
    return new Ring(Number(out[0]) as Pointer, path);
  }

  static unlink(path: string): void {
    check("unlink", path, native().scope_ring_unlink(cString(path)));
  }

  /** Bytes of a ring file of this geometry; 0 when the geometry is invalid. */
  static sizeBytes(laneCount: number, laneCapacitySlots: number): number {
    return native().scope_ring_size_bytes(laneCount, laneCapacitySlots);
  }

  private live(): Pointer {
    if (this.handle === null) throw new Error(`ring ${this.path}: already closed`);
    return this.handle;
  }

  /** @internal the native handle, for DrainThread.start */
  get nativeHandle(): Pointer {
    return this.live();
  }

  /**
   * Copies complete records into `buffer` (as many as fit, 64 bytes each, seq fields 0)
   * and returns how many. Reuse the buffer: the call allocates nothing.
   */
  drain(buffer: Uint8Array): number {
    return native().scope_ring_drain(this.live(), buffer, Math.floor(buffer.byteLength / RECORD_SIZE));
  }

  /**
   * As drain, and also passes (and counts as abandoned or overwritten) positions that
   * were claimed but never completed. Only once every producer has exited or detached.
   */
  drainFinal(buffer: Uint8Array): number {
    return native().scope_ring_drain_final(this.live(), buffer, Math.floor(buffer.byteLength / RECORD_SIZE));
  }

  /** Stops recording (a StopReason): producers refuse every record from now on. The first reason stays. */
  stop(reason: number): void {
    native().scope_ring_stop(this.live(), reason);
  }

  /**
   * After a drain on the event loop (the drain thread does this itself): makes the ring
   * and `writerHandle` agree on a stop and writes the `recording_stop` record once
   * (zig/collector.zig settle_stop). Returns the StopReason, 0 while recording.
   */
  settleStop(writerHandle: Pointer): number {
    return native().scope_collector_settle_stop(this.live(), writerHandle);
  }

  stats(): RingStats {
    const values = this.statsBuffer;
    native().scope_ring_stats(this.live(), values);
    return {
      written: Number(values[0]),
      dropped: Number(values[1]),
      overwritten: Number(values[2]),
      abandoned: Number(values[3]),
      received: Number(values[4]),
      pending: Number(values[5]),
      producersAttached: Number(values[6]),
      laneCount: Number(values[7]),
      laneCapacitySlots: Number(values[8]),
      mode: values[9] === 1n ? "overwrite" : "discard",
      createdMonotonicNs: values[10]!,
      createdRealtimeNs: values[11]!,
      overflowPending: Number(values[12]),
      overflowed: Number(values[13]),
      stopReason: Number(values[14]),
      unpacked: Number(values[15]),
    };
  }

  /** A producer on the next lane (round-robin); its records carry `pid` and `tid`. */
  attachProducer(pid: number, tid: number): Producer {
    const out = new BigUint64Array(1);
    check("attach", this.path, native().scope_producer_attach(this.live(), pid, tid, out));
    return new Producer(Number(out[0]) as Pointer);
  }

  /** Unmaps. Detach this process's producers first. The file stays until unlink. */
  close(): void {
    if (this.handle === null) return;
    native().scope_ring_close(this.handle);
    this.handle = null;
  }
}

const stringBytesMax = 4096;

/** Writes records into one lane of a ring. Never throws on the write path. */
export class Producer {
  private handle: Pointer | null;
  private readonly statsBuffer = new BigUint64Array(2);
  /** Worst case UTF-8 of stringBytesMax UTF-16 units; the native side cuts to 4096 bytes. */
  private readonly stringBuffer = new Uint8Array(stringBytesMax * 3);
  private readonly encoder = new TextEncoder();

  /** @internal use Ring.attachProducer */
  constructor(handle: Pointer) {
    this.handle = handle;
  }

  get lane(): number {
    return this.handle === null ? -1 : native().scope_producer_lane(this.handle);
  }

  /**
   * One record stamped now (CLOCK_MONOTONIC). False when dropped (lane and overflow full)
   * or detached; a full lane alone keeps it in the producer's overflow (true).
   */
  record(kind: number, flags: number, a: number, b: number, c: number, d: number, e: number): boolean {
    if (this.handle === null) return false;
    return native().scope_producer_record(this.handle, kind, flags, a, b, c, d, e) === 1;
  }

  /** A string-table entry: `string` fragment records, all or nothing. False when dropped. */
  string(id: number, text: string): boolean {
    if (this.handle === null) return false;
    const { written } = this.encoder.encodeInto(text.length > stringBytesMax ? text.slice(0, stringBytesMax) : text, this.stringBuffer);
    return native().scope_producer_string(this.handle, id, this.stringBuffer, written) > 0;
  }

  /**
   * Writes `count` 64-byte records from `records` (default: all that fit) as one claim;
   * zero timestamps are stamped now; pid and tid are the producer's. Returns how many
   * were written; the rest were dropped (counted).
   */
  writeBatch(records: Uint8Array, count = Math.floor(records.byteLength / RECORD_SIZE)): number {
    if (this.handle === null) return 0;
    const limit = Math.min(count, Math.floor(records.byteLength / RECORD_SIZE));
    return native().scope_producer_write_batch(this.handle, records, limit);
  }

  /** Moves what this producer's overflow holds into its lane, as far as there is room now. */
  flush(): void {
    if (this.handle !== null) native().scope_producer_flush(this.handle);
  }

  /** This producer's own totals. */
  stats(): { written: number; dropped: number } {
    if (this.handle === null) return { written: 0, dropped: 0 };
    native().scope_producer_stats(this.handle, this.statsBuffer);
    return { written: Number(this.statsBuffer[0]), dropped: Number(this.statsBuffer[1]) };
  }

  detach(): void {
    if (this.handle === null) return;
    native().scope_producer_detach(this.handle);
    this.handle = null;
  }
}

/**
 * A process seen start (its main thread's trace_start) and how far its ending is: `open`, none
 * in the trace yet; `own`, its own process_exit (code, signal as it said); `settled`, the
 * collector wrote one on its behalf (or a correction) during the run (zig/endings.zig).
 */
export interface ProcessEnding {
  pid: number;
  state: "open" | "own" | "settled";
  code: number;
  signal: number;
  /** What the collector wrote for it: its ending with the status, with none (unknown), a correction of its own. */
  wrote: "status" | "unknown" | "correction" | null;
  /** Its own process_exit's time, when it recorded one. */
  ownNs?: bigint;
}

const collectorWrote = [null, "status", "unknown", "correction"] as const;

export interface EndingTotals {
  started: number;
  status: number;
  unknown: number;
  corrections: number;
  unwatched: number;
  /** Workers' endings the collector wrote (ended with their process). */
  threads: number;
  /** Workers' endings the collector wrote from their parent's thread_exited (terminate()). */
  terminated: number;
}

/** A worker thread seen start (its trace_start at `startNs`) whose end is not in the trace yet. */
export interface OpenThread {
  pid: number;
  tid: number;
  startNs: number;
}

/** zig/endings.zig State → ProcessEnding's. */
const endingStates = ["open", "own", "open", "own", "settled"] as const;

/** What a DrainThread counted, read once it stopped. */
export interface DrainTotals {
  recorded: number;
  /** Losses the producers reported in their own `drop` records. */
  reportedLost: number;
  /** Overwritten records the thread marked with its own `drop` records. */
  markedLost: number;
  peakRecordsPerSecond: number;
  /** Records by kind (index = kind). */
  kinds: Float64Array;
  /** The threads seen (string records aside) and the losses each reported. */
  threads: { pid: number; tid: number; reportedLost: number; agentErrors: number }[];
  /** The processes watched at the end (zig/endings.zig): how far each one's ending is. */
  processes: ProcessEnding[];
  /** The worker threads seen start with no end in the trace yet (zig/collector.zig open_start_ns). */
  openThreads: OpenThread[];
  /** The watch's counts: processes seen start, endings it wrote (with a status, unknown, corrections), processes not watched (no room). */
  endingTotals: EndingTotals;
  /** The TraceStatus of the thread's first failed write (0: none). */
  writeStatus: number;
  /** With a flight recorder: what its window held, dropped and wrote. */
  flight?: FlightTotals;
}

/** The flight recorder's counts (zig/flight.zig, zig/c_abi.zig scope_collector_flight_totals). */
export interface FlightTotals {
  /** Records drained into the window. */
  received: number;
  /** Records written by dumps (flight_dump markers not included). */
  dumped: number;
  dumps: number;
  /** Records older than the window when they left it (never written). */
  agedOut: number;
  /** Records the memory cap evicted while younger than the window. */
  evictedByCap: number;
  /** Strings and definitions the names pool let go before any dump wanted them. */
  namesEvicted: number;
  /** Records dropped because no memory could be had for the window. */
  noMemory: number;
  /** Events a write left out, the window's oldest, to fit --max-size or --max-events (its newest kept). */
  cutByLimit: number;
  /** Records still held at the end (never written). */
  held: number;
  /** The most memory the window's blocks took, in bytes. */
  peakBytes: number;
  /** Dumps and records written, by trigger. */
  byTrigger: { trigger: "signal" | "uncaughtException" | "unhandledRejection" | "nonzeroExit"; dumps: number; records: number }[];
}

const flightTriggers = ["signal", "uncaughtException", "unhandledRejection", "nonzeroExit"] as const;

const drainThreadsMax = 1 << 14;
/** zig/endings.zig processes_max. */
const drainProcessesMax = 4096;

/**
 * The collector's native drain thread (zig/collector.zig): sleeps on the ring's wake word,
 * drains into the trace writer. Between start and stop the caller must neither drain the
 * ring nor append to the writer.
 */
export class DrainThread {
  private constructor(
    private handle: Pointer | null,
    private readonly flight: boolean,
  ) {}

  /**
   * With `flight`, a flight recorder (zig/flight.zig): what the thread drains is held for
   * about `windowMs` in at most `memoryBytes` and written only by a dump (request(), an
   * exception exit it drains, stop() with a non-zero exit status).
   */
  static start(ring: Ring, writerHandle: Pointer, flight?: { windowMs: number; memoryBytes: number }): DrainThread {
    const out = new BigUint64Array(1);
    const lib = native();
    const status = flight
      ? lib.scope_collector_start_flight(ring.nativeHandle, writerHandle, flight.windowMs, flight.memoryBytes, out)
      : lib.scope_collector_start(ring.nativeHandle, writerHandle, out);
    check("drain thread start", ring.path, status);
    return new DrainThread(Number(out[0]) as Pointer, flight !== undefined);
  }

  /** The top process (scope run's child, whose ending scope run writes): the thread does not watch it. */
  setRoot(pid: number): void {
    if (this.handle !== null) native().scope_collector_set_root(this.handle, pid);
  }

  /** The program's process events are not recorded: no process is watched for an ending (before the program starts). */
  endingsOff(): void {
    if (this.handle !== null) native().scope_collector_endings_off(this.handle);
  }

  /** The workers' own ends are not recorded: none is written for a worker that recorded none (before the program starts). */
  threadEndingsOff(): void {
    if (this.handle !== null) native().scope_collector_thread_endings_off(this.handle);
  }

  /** Flight recorder: asks for a dump (SIGUSR1); the thread writes it after its next drain. */
  requestDump(): void {
    if (this.handle !== null) native().scope_collector_flight_request(this.handle);
  }

  /**
   * A pipe's read end that gets one byte once recording has stopped while the thread runs (a
   * limit, a failed write, a stop asked of the ring), and its end when the thread is freed
   * (stop()); the caller closes it after reading that end. Undefined when no pipe can be had.
   */
  stopNotices(): number | undefined {
    const fd = this.handle === null ? -1 : native().scope_collector_stop_notices(this.handle);
    return fd < 0 ? undefined : fd;
  }

  /** The TraceStatus of the thread's first failed write so far (0: none). */
  writeStatus(): number {
    return this.handle === null ? 0 : native().scope_collector_write_status(this.handle);
  }

  /**
   * Drains what the ring holds now, ends the thread, returns what it counted, frees it. A
   * flight recorder also drains finally (every producer must have ended) and dumps when
   * `exitStatus` is not 0.
   */
  stop(exitStatus = 0): DrainTotals {
    const handle = this.handle;
    if (handle === null) throw new Error("drain thread already stopped");
    this.handle = null;
    const lib = native();
    if (this.flight) lib.scope_collector_flight_finish(handle, exitStatus);
    const writeStatus = lib.scope_collector_stop(handle);
    let flight: FlightTotals | undefined;
    if (this.flight) {
      const values = new Float64Array(19);
      lib.scope_collector_flight_totals(handle, values);
      flight = {
        received: values[0]!,
        dumped: values[1]!,
        dumps: values[2]!,
        agedOut: values[3]!,
        evictedByCap: values[4]!,
        namesEvicted: values[5]!,
        noMemory: values[6]!,
        cutByLimit: values[18]!,
        held: values[7]!,
        peakBytes: values[8]! * values[9]!,
        byTrigger: flightTriggers.map((trigger, i) => ({ trigger, dumps: values[10 + i * 2]!, records: values[11 + i * 2]! })),
      };
    }
    const totals = new Float64Array(5);
    lib.scope_collector_totals(handle, totals);
    const kinds = new Float64Array(1 << 16);
    lib.scope_collector_kinds(handle, kinds);
    const quads = new Float64Array(drainThreadsMax * 4);
    const count = lib.scope_collector_threads(handle, quads, drainThreadsMax);
    const processQuads = new Float64Array(drainProcessesMax * 6);
    const processCount = lib.scope_collector_processes(handle, processQuads, drainProcessesMax);
    const openValues = new Float64Array(drainThreadsMax * 3);
    const openCount = lib.scope_collector_open_threads(handle, openValues, drainThreadsMax);
    const openThreads = Array.from({ length: openCount }, (_, i) => ({ pid: openValues[i * 3]!, tid: openValues[i * 3 + 1]!, startNs: openValues[i * 3 + 2]! }));
    const endingValues = new Float64Array(7);
    lib.scope_collector_endings_totals(handle, endingValues);
    const endingTotals = { started: endingValues[0]!, status: endingValues[1]!, unknown: endingValues[2]!, corrections: endingValues[3]!, unwatched: endingValues[4]!, threads: endingValues[5]!, terminated: endingValues[6]! };
    lib.scope_collector_free(handle);
    const processes = Array.from({ length: processCount }, (_, i) => ({
      pid: processQuads[i * 6]!,
      state: endingStates[processQuads[i * 6 + 1]!] ?? "open",
      code: processQuads[i * 6 + 2]!,
      signal: processQuads[i * 6 + 3]!,
      wrote: collectorWrote[processQuads[i * 6 + 4]!] ?? null,
      ...(processQuads[i * 6 + 5]! > 0 ? { ownNs: BigInt(processQuads[i * 6 + 5]!) } : {}),
    }));
    const threads = Array.from({ length: count }, (_, i) => ({ pid: quads[i * 4]!, tid: quads[i * 4 + 1]!, reportedLost: quads[i * 4 + 2]!, agentErrors: quads[i * 4 + 3]! }));
    return { recorded: totals[0]!, reportedLost: totals[1]!, markedLost: totals[2]!, peakRecordsPerSecond: totals[3]!, kinds, threads, processes, openThreads, endingTotals, writeStatus, flight };
  }
}

export function monotonicNs(): bigint {
  return BigInt(native().scope_clock_monotonic_ns());
}

export function realtimeNs(): bigint {
  return BigInt(native().scope_clock_realtime_ns());
}
