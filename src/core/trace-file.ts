/**
 * Typed binding over libscope's trace-file C ABI (zig/trace_abi.zig) through bun:ffi.
 * The format (header, checksummed chunks, end chunk) and all validation live in
 * zig/trace_file.zig; this file moves bytes across and turns statuses into Errors.
 *
 * Writing: `TraceWriter.open(path, { host, argv })`, `append(records)`, `close(totals)`.
 * Reading: `readTrace(path)` checks the header at once (a bad one throws a
 * TraceFileError saying why), then yields the records in batches; `end` and `error`
 * tell how the file ended (closed cleanly, not closed, or damaged at a byte offset).
 */
import { dlopen, FFIType, type Pointer } from "bun:ffi";
import { type Stats, statSync } from "node:fs";
import { decodeRecord, type DecodedRecord } from "./events";
import { RECORD_SIZE } from "./layout";
import { libscopePath } from "./native";

const { u32, f64, ptr: pointer, void: none } = FFIType;

const symbols = {
  scope_trace_writer_open: { args: [pointer, pointer, u32, pointer, u32, pointer], returns: u32 },
  scope_trace_writer_open_anchored: { args: [pointer, pointer, u32, pointer, u32, pointer, pointer], returns: u32 },
  scope_trace_writer_append: { args: [pointer, pointer, u32], returns: u32 },
  scope_trace_writer_size_bytes: { args: [pointer], returns: f64 },
  scope_trace_writer_append_unlimited: { args: [pointer, pointer, u32], returns: u32 },
  scope_trace_writer_limits: { args: [pointer, f64, f64], returns: none },
  scope_trace_writer_state: { args: [pointer, pointer], returns: none },
  scope_trace_writer_close: { args: [pointer, pointer], returns: u32 },
  scope_trace_writer_abandon: { args: [pointer], returns: none },
  scope_trace_reader_open: { args: [pointer, pointer], returns: u32 },
  scope_trace_reader_open_memory: { args: [pointer, u32, pointer], returns: u32 },
  scope_trace_reader_close: { args: [pointer], returns: none },
  scope_trace_header_field_count: { args: [], returns: u32 },
  scope_trace_reader_header: { args: [pointer, pointer], returns: u32 },
  scope_trace_reader_host: { args: [pointer, pointer, u32], returns: u32 },
  scope_trace_reader_argv: { args: [pointer, pointer, u32], returns: u32 },
  scope_trace_reader_next: { args: [pointer, pointer, u32], returns: u32 },
  scope_trace_reader_state: { args: [pointer], returns: u32 },
  scope_trace_reader_end: { args: [pointer, pointer], returns: u32 },
  scope_trace_reader_error: { args: [pointer, pointer], returns: u32 },
  scope_trace_reader_error_message: { args: [pointer, pointer, u32], returns: u32 },
  scope_trace_last_error: { args: [pointer, u32], returns: u32 },
  scope_record_size_bytes: { args: [], returns: u32 },
  scope_record_field_count: { args: [], returns: u32 },
  scope_record_field: { args: [u32, pointer], returns: u32 },
  scope_record_field_name: { args: [u32, pointer, u32], returns: u32 },
  scope_event_kind_count: { args: [], returns: u32 },
  scope_event_kind_name: { args: [u32, pointer, u32], returns: u32 },
  scope_record_encode: { args: [pointer, pointer], returns: u32 },
  scope_record_decode: { args: [pointer, pointer], returns: u32 },
  scope_codec_benchmark: { args: [u32, u32, pointer], returns: u32 },
} as const;

type Library = ReturnType<typeof dlopen<typeof symbols>>["symbols"];
let library: Library | undefined;

/** The native symbols (exported for spec/layout.test.ts and scripts/bench-trace.ts). */
export function traceNative(): Library {
  library ??= dlopen(libscopePath(), symbols).symbols;
  return library;
}

/** TraceStatus of zig/trace_abi.zig (append-only there). */
export const TraceStatus = {
  ok: 0,
  invalid_argument: 1,
  out_of_memory: 2,
  not_found: 3,
  access_denied: 4,
  is_directory: 5,
  no_space: 6,
  io_error: 7,
  writer_failed: 8,
  empty_file: 9,
  not_a_trace: 10,
  header_truncated: 11,
  unsupported_format_version: 12,
  unsupported_record_layout: 13,
  header_checksum_mismatch: 14,
  header_invalid: 15,
  read_only: 16,
  quota_exceeded: 17,
  file_too_big: 18,
} as const;
export type TraceStatusName = keyof typeof TraceStatus;
const statusName = Object.fromEntries(Object.entries(TraceStatus).map(([name, value]) => [value, name])) as Record<number, TraceStatusName>;

/** Why reading stopped early: trace_file.Reason (values cross the ABI). */
export const TraceErrorReason = [
  "none",
  "truncated_chunk_header",
  "bad_chunk_magic",
  "bad_chunk_kind",
  "bad_chunk_sequence",
  "bad_chunk_header",
  "truncated_chunk_payload",
  "checksum_mismatch",
  "bad_record",
  "bad_end_totals",
  "data_after_end",
  "read_failed",
] as const;
export type TraceErrorReasonName = (typeof TraceErrorReason)[number];

const reasonText: Record<TraceErrorReasonName, string> = {
  none: "no error",
  truncated_chunk_header: "truncated chunk header",
  bad_chunk_magic: "bad chunk magic",
  bad_chunk_kind: "unknown chunk kind",
  bad_chunk_sequence: "chunk out of sequence",
  bad_chunk_header: "invalid chunk header",
  truncated_chunk_payload: "truncated chunk",
  checksum_mismatch: "chunk checksum mismatch",
  bad_record: "invalid record in a chunk whose checksum matched",
  bad_end_totals: "end chunk totals disagree with the file",
  data_after_end: "data after the end chunk",
  read_failed: "read failed",
};

const fallbackMessage: Record<number, string> = {
  [TraceStatus.invalid_argument]: "invalid argument",
  [TraceStatus.out_of_memory]: "out of memory",
  [TraceStatus.writer_failed]: "an earlier write failed; the trace ends at the last whole chunk",
  [TraceStatus.no_space]: "no space left on the device: the disk is full",
  [TraceStatus.quota_exceeded]: "disk quota exceeded",
  [TraceStatus.file_too_big]: "the file size limit (ulimit -f) reached",
  [TraceStatus.io_error]: "input/output error",
  [TraceStatus.access_denied]: "permission denied",
  [TraceStatus.read_only]: "read-only file system",
};

/** A write failure's TraceStatus in words. */
export function writeFailure(status: number): string {
  return fallbackMessage[status] ?? statusName[status] ?? `status ${status}`;
}

export class TraceFileError extends Error {
  readonly code: TraceStatusName | `status_${number}`;
  constructor(
    readonly operation: "open" | "append" | "close" | "read",
    readonly path: string,
    readonly status: number,
    detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = "TraceFileError";
    this.code = statusName[status] ?? `status_${status}`;
  }
}

const utf8 = new TextDecoder();
const encoder = new TextEncoder();

function nulTerminated(text: string, what: string): string {
  if (text.includes("\0")) throw new TypeError(`${what} contains a NUL character`);
  return `${text}\0`;
}

function cString(text: string, what: string): Uint8Array {
  return encoder.encode(nulTerminated(text, what));
}

function readString(fill: (out: Uint8Array | null, capacity: number) => number): string {
  const size = fill(null, 0);
  if (size === 0) return "";
  const bytes = new Uint8Array(size);
  fill(bytes, size);
  return utf8.decode(bytes);
}

function lastError(status: number): string {
  const message = readString((out, capacity) => traceNative().scope_trace_last_error(out, capacity));
  return message || fallbackMessage[status] || `status ${status}`;
}

function pointerOf(out: BigUint64Array): Pointer {
  return Number(out[0]) as Pointer;
}

// ---------------------------------------------------------------------------------------

export interface TraceWriterOptions {
  /** Host name for the header (cut at 256 bytes). */
  host?: string;
  /** The traced command line (arguments past 32 KiB in all are dropped, flagged). */
  argv?: string[];
  /** The header's clock anchors and collector pid as given (`scope merge`), instead of read now. */
  anchors?: { monotonicNs: bigint; realtimeNs: bigint; collectorPid: number };
  /**
   * Test-only: added to the realtime anchor read now (SCOPE_TEST_CLOCK_SHIFT_NS of `scope
   * run`), so a recording's wall clock looks off by a known amount.
   */
  realtimeShiftNs?: bigint;
}

/** The end chunk's totals from the collector: the ring's counts and a free value. */
export interface WriterTotals {
  written: bigint | number;
  dropped: bigint | number;
  overwritten: bigint | number;
  /** Free for the collector (it stores how many records it drained). */
  recorded?: bigint | number;
}

export class TraceWriter {
  private handle: Pointer | null;

  private constructor(
    readonly path: string,
    handle: Pointer,
  ) {
    this.handle = handle;
  }

  /** Creates (or truncates) `path`, mode 0600, and writes the header. */
  static open(path: string, options: TraceWriterOptions = {}): TraceWriter {
    const host = encoder.encode(options.host ?? "");
    const argv = encoder.encode((options.argv ?? []).map((arg) => nulTerminated(arg, "an argument")).join(""));
    const out = new BigUint64Array(1);
    const lib = traceNative();
    let status: number;
    if (options.anchors || options.realtimeShiftNs) {
      const given = options.anchors;
      const anchors = given
        ? new BigUint64Array([1n, given.monotonicNs, given.realtimeNs, BigInt(given.collectorPid)])
        : new BigUint64Array([0n, 0n, BigInt.asUintN(64, options.realtimeShiftNs ?? 0n), 0n]);
      status = lib.scope_trace_writer_open_anchored(cString(path, "the path"), host, host.byteLength, argv, argv.byteLength, anchors, out);
    } else {
      status = lib.scope_trace_writer_open(cString(path, "the path"), host, host.byteLength, argv, argv.byteLength, out);
    }
    if (status !== TraceStatus.ok) throw new TraceFileError("open", path, status, `cannot create trace: ${lastError(status)}`);
    return new TraceWriter(path, pointerOf(out));
  }

  private live(): Pointer {
    if (this.handle === null) throw new Error(`${this.path}: trace writer already closed`);
    return this.handle;
  }

  /** @internal the native handle, for the collector's drain thread (src/core/ring.ts DrainThread) */
  get nativeHandle(): Pointer {
    return this.live();
  }

  /**
   * Appends `count` 64-byte records from the start of `records` (all of it by default), as
   * far as the limits allow (see `limit`); `unlimited` for the collector's own records.
   */
  append(records: Uint8Array, count = records.byteLength / RECORD_SIZE, unlimited = false): void {
    if (!Number.isInteger(count) || count < 0 || count * RECORD_SIZE > records.byteLength || count > 0xffff_ffff) {
      throw new RangeError(`cannot append ${count} records from ${records.byteLength} bytes`);
    }
    if (count === 0) return;
    const lib = traceNative();
    const status = (unlimited ? lib.scope_trace_writer_append_unlimited : lib.scope_trace_writer_append)(this.live(), records, count);
    if (status !== TraceStatus.ok) throw new TraceFileError("append", this.path, status, `write failed: ${writeFailure(status)}`);
  }

  /**
   * Recording limits (undefined: none): past either the writer keeps what fits, takes no
   * more records (`state().stopReason`) and counts the rest as refused; the size limit
   * keeps room for the collector's last records and the end chunk.
   */
  limit(limits: { maxRecords?: number; maxBytes?: number }): void {
    traceNative().scope_trace_writer_limits(this.live(), limits.maxRecords ?? 0, limits.maxBytes ?? 0);
  }

  /** Records in the file, why it takes no more (a StopReason, 0: recording), records refused since. */
  state(): { records: number; stopReason: number; refused: number } {
    const values = new Float64Array(3);
    traceNative().scope_trace_writer_state(this.live(), values);
    return { records: values[0]!, stopReason: values[1]!, refused: values[2]! };
  }

  /** Bytes in the file so far (header and whole chunks). */
  get sizeBytes(): number {
    return traceNative().scope_trace_writer_size_bytes(this.live());
  }

  /** Writes the end chunk, syncs and closes the file. The writer is gone afterwards. */
  close(totals: WriterTotals): void {
    const handle = this.live();
    this.handle = null;
    const values = new BigUint64Array([totals.written, totals.dropped, totals.overwritten, totals.recorded ?? 0].map((v) => BigInt.asUintN(64, BigInt(v))));
    const status = traceNative().scope_trace_writer_close(handle, values);
    if (status !== TraceStatus.ok) throw new TraceFileError("close", this.path, status, `close failed: ${writeFailure(status)}`);
  }

  /** Closes the file without an end chunk: it reads as "not closed", like after a crash. */
  abandon(): void {
    if (this.handle === null) return;
    traceNative().scope_trace_writer_abandon(this.handle);
    this.handle = null;
  }
}

// ---------------------------------------------------------------------------------------

export interface TraceHeader {
  formatVersion: number;
  recordLayoutVersion: number;
  headerSizeBytes: number;
  chunkRecordsMax: number;
  /** CLOCK_MONOTONIC and CLOCK_REALTIME (ns since the epoch), read together at open. */
  monotonicAnchorNs: bigint;
  realtimeAnchorNs: bigint;
  /** The realtime anchor as a Date (millisecond precision). */
  startTime: Date;
  collectorPid: number;
  hostName: string;
  argv: string[];
  /** Arguments were dropped to fit the header's limit. */
  argvTruncated: boolean;
}

export interface TraceEnd {
  written: bigint;
  dropped: bigint;
  overwritten: bigint;
  recorded: bigint;
  recordsInFile: bigint;
  recordChunks: bigint;
  closedMonotonicNs: bigint;
}

export interface TraceReadError {
  /** Byte offset of the chunk where reading stopped. */
  offset: number;
  reason: string;
  code: TraceErrorReasonName | `reason_${number}`;
  /** The whole sentence, with found/expected numbers where the reason has them. */
  message: string;
}

export type TraceState = "reading" | "closed" | "not_closed" | "failed";
const stateName: TraceState[] = ["reading", "closed", "not_closed", "failed"];

/** Wall-clock time of a monotonic timestamp, in ns since the epoch. */
export function wallTimeNs(header: TraceHeader, timestampNs: bigint): bigint {
  return header.realtimeAnchorNs + (timestampNs - header.monotonicAnchorNs);
}

interface NativeReader {
  handle: Pointer | null;
}

// A reader dropped before it was read to the end still frees its file and buffers.
const readerCleanup = new FinalizationRegistry<NativeReader>((held) => {
  if (held.handle !== null) traceNative().scope_trace_reader_close(held.handle);
  held.handle = null;
});

export class TraceRead {
  readonly header: TraceHeader;
  private readonly native: NativeReader;
  private finalState: TraceState = "reading";
  private finalEnd: TraceEnd | null = null;
  private finalError: TraceReadError | null = null;
  private started = false;

  /** @internal use readTrace / readTraceBytes */
  constructor(
    readonly path: string,
    handle: Pointer,
  ) {
    this.native = { handle };
    readerCleanup.register(this, this.native, this);
    try {
      this.header = readHeader(handle);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Records in file order, `batchRecords` at a time (fresh arrays: safe to keep). */
  *batches(batchRecords = 4096, reuse = false): Generator<Uint8Array> {
    if (this.started) throw new Error(`${this.path}: the records of a trace can be read once`);
    if (!Number.isInteger(batchRecords) || batchRecords < 1 || batchRecords > 1 << 20) throw new RangeError(`batch of ${batchRecords} records`);
    this.started = true;
    // reuse: one buffer for every batch (a batch is gone once the next is asked for), not a fresh zeroed one each time.
    const reused = reuse ? new Uint8Array(batchRecords * RECORD_SIZE) : null;
    while (this.native.handle !== null) {
      const batch = reused ?? new Uint8Array(batchRecords * RECORD_SIZE);
      const count = traceNative().scope_trace_reader_next(this.native.handle, batch, batchRecords);
      if (count === 0) {
        this.finish();
        return;
      }
      yield batch.subarray(0, count * RECORD_SIZE);
    }
  }

  /** Every record, decoded. */
  *records(): Generator<DecodedRecord> {
    for (const batch of this.batches()) {
      for (let offset = 0; offset < batch.byteLength; offset += RECORD_SIZE) yield decodeRecord(batch, offset);
    }
  }

  /** The end chunk's totals; null when the trace was not closed (or is damaged before it). */
  get end(): TraceEnd | null {
    this.settle();
    return this.finalEnd;
  }

  /** Where and why reading stopped early; null when every chunk was whole. */
  get error(): TraceReadError | null {
    this.settle();
    return this.finalError;
  }

  get state(): TraceState {
    this.settle();
    return this.finalState;
  }

  /** Frees the native reader (done by itself once the records are read to the end). */
  close(): void {
    if (this.native.handle === null) return;
    traceNative().scope_trace_reader_close(this.native.handle);
    this.native.handle = null;
    readerCleanup.unregister(this);
  }

  /** Asked how the file ended before reading it all: read (and skip) the rest first. */
  private settle(): void {
    if (this.native.handle === null) return;
    if (this.started) {
      const scratch = new Uint8Array(4096 * RECORD_SIZE);
      while (traceNative().scope_trace_reader_next(this.native.handle, scratch, 4096) > 0);
      this.finish();
    } else {
      for (const _ of this.batches());
    }
  }

  private finish(): void {
    const handle = this.native.handle;
    if (handle === null) return;
    const lib = traceNative();
    this.finalState = stateName[lib.scope_trace_reader_state(handle)] ?? "failed";
    const end = new BigUint64Array(8);
    if (lib.scope_trace_reader_end(handle, end) === TraceStatus.ok) {
      this.finalEnd = {
        written: end[0]!,
        dropped: end[1]!,
        overwritten: end[2]!,
        recorded: end[3]!,
        recordsInFile: end[4]!,
        recordChunks: end[5]!,
        closedMonotonicNs: end[6]!,
      };
    }
    const details = new BigUint64Array(3);
    const reason = lib.scope_trace_reader_error(handle, details);
    if (reason !== 0) {
      const code = TraceErrorReason[reason] ?? (`reason_${reason}` as const);
      this.finalError = {
        offset: Number(details[0]),
        reason: TraceErrorReason[reason] ? reasonText[TraceErrorReason[reason]!] : `reason ${reason}`,
        code,
        message: readString((out, capacity) => lib.scope_trace_reader_error_message(handle, out, capacity)),
      };
    }
    this.close();
  }
}

function readHeader(handle: Pointer): TraceHeader {
  const lib = traceNative();
  const count = lib.scope_trace_header_field_count();
  const fields = new BigUint64Array(count);
  if (count < 11 || lib.scope_trace_reader_header(handle, fields) !== TraceStatus.ok) {
    throw new Error(`libscope reports ${count} trace header fields; this binding reads 11`);
  }
  const field = (index: number) => fields[index]!;
  const argvText = readString((out, capacity) => lib.scope_trace_reader_argv(handle, out, capacity));
  // Every argument is NUL-terminated: the text after the last NUL is always empty.
  const argv = argvText === "" ? [] : argvText.split("\0").slice(0, -1);
  const realtimeAnchorNs = field(5);
  return {
    formatVersion: Number(field(0)),
    recordLayoutVersion: Number(field(1)),
    headerSizeBytes: Number(field(2)),
    chunkRecordsMax: Number(field(3)),
    monotonicAnchorNs: field(4),
    realtimeAnchorNs,
    startTime: new Date(Number(realtimeAnchorNs / 1_000_000n)),
    collectorPid: Number(field(6)),
    hostName: readString((out, capacity) => lib.scope_trace_reader_host(handle, out, capacity)),
    argv,
    argvTruncated: (field(8) & 1n) === 1n,
  };
}

/** Opens a trace file and checks its header; throws a TraceFileError saying why it cannot be read. */
/**
 * Why `path` cannot be read as a trace, said before opening it, when it is a pipe, socket or device:
 * a trace is read by position (its end chunk first), and opening a FIFO would wait for a
 * writer. Undefined for a regular file, a directory or no file (opening says why).
 */
export function notATraceFile(path: string): string | undefined {
  let stat: Stats | undefined;
  try {
    stat = statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
  if (stat === undefined || stat.isFile() || stat.isDirectory()) return undefined;
  return `not a regular file (${stat.isFIFO() ? "a pipe" : stat.isSocket() ? "a socket" : "a device"}): a trace is read by position; save it to a file first`;
}

export function readTrace(path: string): TraceRead {
  const other = notATraceFile(path);
  if (other !== undefined) throw new TraceFileError("read", path, TraceStatus.io_error, other);
  const out = new BigUint64Array(1);
  const status = traceNative().scope_trace_reader_open(cString(path, "the path"), out);
  if (status !== TraceStatus.ok) throw new TraceFileError("read", path, status, lastError(status));
  return new TraceRead(path, pointerOf(out));
}

/** The same over a trace held in memory (copied natively; at most 4 GiB). */
export function readTraceBytes(bytes: Uint8Array, name = "<memory>"): TraceRead {
  if (bytes.byteLength > 0xffff_ffff) throw new RangeError(`${name}: ${bytes.byteLength} bytes is over the 4 GiB limit of an in-memory trace`);
  const out = new BigUint64Array(1);
  const status = traceNative().scope_trace_reader_open_memory(bytes.byteLength === 0 ? null : bytes, bytes.byteLength, out);
  if (status !== TraceStatus.ok) throw new TraceFileError("read", name, status, lastError(status));
  return new TraceRead(name, pointerOf(out));
}
