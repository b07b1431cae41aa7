/**
 * Exact decoding of 64-byte records (the layout of zig/layout.zig, mirrored in
 * layout.ts) and the string table that reassembles `string` records. No per-kind
 * meaning here (that is model.ts): every field comes out as stored, and
 * `encodeRecord(decodeRecord(bytes))` gives back the same 64 bytes.
 *
 * Why bigint for the timestamp and a..e: CLOCK_MONOTONIC counts nanoseconds since boot,
 * and 2^53 ns is only 104 days; a server up longer than that would get timestamps
 * rounded to 2, 4, 8... ns as a number, which reorders close events and breaks exact
 * decoding. The payload fields are u64 ids, counts and two's-complement i64s, equally
 * beyond 2^53. The cost (a BigInt per field, see BENCHMARKS.md) is paid when a trace is
 * read, never while one is recorded.
 */
import type { RawEvent } from "./model";
import { EventKind, Offset, RECORD_SIZE, STRING_FRAGMENT_BYTES, STRING_MAX_BYTES, eventKindName, type EventKindName } from "./layout";

export interface DecodedRecord {
  /** The ring's slot sequence; 0 in trace files. */
  seq: number;
  /** CLOCK_MONOTONIC nanoseconds. */
  timestampNs: bigint;
  /** The EventKind's name, or its number when this version does not know it. */
  kind: EventKindName | number;
  flags: number;
  pid: number;
  tid: number;
  a: bigint;
  b: bigint;
  c: bigint;
  d: bigint;
  e: bigint;
}

/** A record to encode: payload fields may be numbers (integers, negatives as i64). */
export interface RecordInput {
  seq?: number;
  timestampNs: bigint | number;
  kind: EventKindName | number | string;
  flags?: number;
  pid: number;
  tid: number;
  a?: bigint | number;
  b?: bigint | number;
  c?: bigint | number;
  d?: bigint | number;
  e?: bigint | number;
}

// One DataView per buffer, reused: decoding a batch would otherwise allocate a view per record.
// Keyed by the Uint8Array itself: reading `.buffer` is a native call in Bun, and took 11% of a
// trace's string pass when asked per record ("scope dump: first line at once", BENCHMARKS.md).
let cachedBytes: Uint8Array | undefined;
let cachedBuffer: ArrayBufferLike | undefined;
let cachedView: DataView | undefined;

function viewOf(bytes: Uint8Array): DataView {
  if (bytes !== cachedBytes || !cachedView) {
    cachedBytes = bytes;
    if (bytes.buffer !== cachedBuffer || !cachedView) {
      cachedBuffer = bytes.buffer;
      cachedView = new DataView(bytes.buffer);
    }
  }
  return cachedView;
}

/** The kind number of the record at `offset` in `bytes`, without decoding it (a reader skipping the kinds it does not need). */
export function recordKind(bytes: Uint8Array, offset: number): number {
  return bytes[offset + Offset.kind]! | (bytes[offset + Offset.kind + 1]! << 8);
}

function checkBounds(bytes: Uint8Array, offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + RECORD_SIZE > bytes.byteLength) {
    throw new RangeError(`record at offset ${offset} is outside the ${bytes.byteLength}-byte buffer`);
  }
}

/** Decodes the record at `offset` in `bytes` (which need not be aligned). */
export function decodeRecord(bytes: Uint8Array, offset = 0): DecodedRecord {
  checkBounds(bytes, offset);
  const view = viewOf(bytes);
  const base = bytes.byteOffset + offset;
  const kind = view.getUint16(base + Offset.kind, true);
  return {
    seq: view.getUint32(base + Offset.seq, true),
    timestampNs: view.getBigUint64(base + Offset.timestampNs, true),
    kind: eventKindName[kind] ?? kind,
    flags: view.getUint16(base + Offset.flags, true),
    pid: view.getUint32(base + Offset.pid, true),
    tid: view.getUint32(base + Offset.tid, true),
    a: view.getBigUint64(base + Offset.a, true),
    b: view.getBigUint64(base + Offset.b, true),
    c: view.getBigUint64(base + Offset.c, true),
    d: view.getBigUint64(base + Offset.d, true),
    e: view.getBigUint64(base + Offset.e, true),
  };
}

/** Decodes every record of `bytes` (a whole number of records). */
export function decodeRecords(bytes: Uint8Array): DecodedRecord[] {
  if (bytes.byteLength % RECORD_SIZE !== 0) throw new RangeError(`${bytes.byteLength} bytes is not a whole number of records`);
  const records: DecodedRecord[] = [];
  for (let offset = 0; offset < bytes.byteLength; offset += RECORD_SIZE) records.push(decodeRecord(bytes, offset));
  return records;
}

export function kindNumber(kind: EventKindName | number | string): number {
  if (typeof kind === "number") {
    if (!Number.isInteger(kind) || kind < 0 || kind > 0xffff) throw new RangeError(`kind ${kind} is not a u16`);
    return kind;
  }
  const value = (EventKind as Record<string, number>)[kind];
  if (value === undefined) throw new RangeError(`unknown event kind "${kind}"`);
  return value;
}

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);

/** Writes a u64 field: a bigint in [-2^63, 2^64) or a safe integer (negatives as i64). */
function setU64(view: DataView, at: number, value: bigint | number | undefined, name: string): void {
  if (typeof value === "bigint") {
    // Comparisons first: they are cheap, BigInt.asUintN allocates.
    if (value >= 0n && value <= U64_MAX) return view.setBigUint64(at, value, true);
    if (value < 0n && value >= I64_MIN) return view.setBigUint64(at, BigInt.asUintN(64, value), true);
    throw new RangeError(`${name} = ${value} does not fit 64 bits`);
  }
  const v = value ?? 0;
  if (!Number.isSafeInteger(v)) throw new RangeError(`${name} = ${v} is not an exact integer`);
  if (v < 0) return view.setBigUint64(at, BigInt.asUintN(64, BigInt(v)), true);
  // Two u32 halves: no BigInt for the common small numbers.
  view.setUint32(at, v >>> 0, true);
  view.setUint32(at + 4, Math.floor(v / 2 ** 32), true);
}

function uint(value: number | undefined, bits: 16 | 32, name: string): number {
  const v = value ?? 0;
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new RangeError(`${name} = ${v} is not a u${bits}`);
  return v;
}

/** Encodes `record` at `offset` in `bytes`: the exact inverse of decodeRecord. */
export function encodeRecord(record: RecordInput, bytes: Uint8Array, offset = 0): void {
  checkBounds(bytes, offset);
  const view = viewOf(bytes);
  const base = bytes.byteOffset + offset;
  view.setUint32(base + Offset.seq, uint(record.seq, 32, "seq"), true);
  view.setUint16(base + Offset.kind, kindNumber(record.kind), true);
  view.setUint16(base + Offset.flags, uint(record.flags, 16, "flags"), true);
  setU64(view, base + Offset.timestampNs, record.timestampNs, "timestampNs");
  view.setUint32(base + Offset.pid, uint(record.pid, 32, "pid"), true);
  view.setUint32(base + Offset.tid, uint(record.tid, 32, "tid"), true);
  setU64(view, base + Offset.a, record.a, "a");
  setU64(view, base + Offset.b, record.b, "b");
  setU64(view, base + Offset.c, record.c, "c");
  setU64(view, base + Offset.d, record.d, "d");
  setU64(view, base + Offset.e, record.e, "e");
}

/** The `string` records that carry `text` for producer (pid, tid) under `id`, as the
 * native producer writes them (zig/ring.zig string_fragments): for tests and tools. */
export function encodeString(pid: number, tid: number, id: number, text: string, timestampNs: bigint = 0n): Uint8Array {
  const utf8 = new TextEncoder().encode(text);
  if (utf8.byteLength > STRING_MAX_BYTES) throw new RangeError(`string of ${utf8.byteLength} bytes exceeds ${STRING_MAX_BYTES}`);
  const count = Math.max(1, Math.ceil(utf8.byteLength / STRING_FRAGMENT_BYTES));
  const bytes = new Uint8Array(count * RECORD_SIZE);
  for (let index = 0; index < count; index++) {
    const base = index * RECORD_SIZE;
    encodeRecord({ kind: "string", flags: index, timestampNs, pid, tid, a: BigInt(id) | (BigInt(utf8.byteLength) << 32n) }, bytes, base);
    bytes.set(utf8.subarray(index * STRING_FRAGMENT_BYTES, (index + 1) * STRING_FRAGMENT_BYTES), base + Offset.b);
  }
  return bytes;
}

/** What the table knows of one string. */
export interface StringEntry {
  /** The text; for an incomplete string, U+FFFD stands for each missing fragment. */
  text: string;
  complete: boolean;
  totalBytes: number;
  fragmentCount: number;
  missingFragments: number;
}

interface PartialString {
  bytes: Uint8Array;
  received: Uint8Array;
  receivedCount: number;
  text: string | undefined;
}

export interface StringTableLimits {
  /** Strings kept at most; fragments of further strings are counted in `rejected`. */
  maxStrings: number;
  /**
   * When full, the oldest string goes to make room (counted in `evicted`) rather than the
   * new one being refused: for a table that follows a trace as it grows (a stream), where
   * what is recorded now needs its names and what was recorded long ago is done with.
   */
  evictOldest?: boolean;
}

/** The u64 fields b..e as the 32 fragment bytes they carry (little-endian). */
function fragmentBytes(record: { b: bigint | number; c: bigint | number; d: bigint | number; e: bigint | number }): Uint8Array {
  const bytes = new Uint8Array(STRING_FRAGMENT_BYTES);
  const view = new DataView(bytes.buffer);
  [record.b, record.c, record.d, record.e].forEach((value, index) => view.setBigUint64(index * 8, BigInt.asUintN(64, BigInt(value)), true));
  return bytes;
}

const decoder = new TextDecoder("utf-8", { fatal: false });

/**
 * Reassembles `string` records: a = id (low 32 bits) | total length in bytes << 32,
 * flags = fragment index, b..e = up to 32 bytes of UTF-8. Strings are keyed by
 * (pid, tid, id); fragments may arrive in any order, and some may be missing.
 */
export class StringTable {
  private readonly strings = new Map<string, PartialString>();
  /**
   * Whole strings (one-fragment ones, up to 32 bytes: most of a trace's, e.g. every value preview;
   * and longer ones once their last fragment came), kept compact: their bytes in one growing array, found by thread and id. A PartialString
   * with its two byte arrays took ~600 bytes for each; a trace of 3 M previews held 1.8 GB
   * ("scope dump in bounded memory", BENCHMARKS.md). Not with `evictOldest` (its order is of `strings`).
   */
  private readonly whole = new WholeStrings();
  /** Fragments ignored: id 0, length over the maximum, index out of range, or the table full. */
  rejected = 0;
  /** Fragments whose total length disagreed with earlier fragments of the same key (the later one wins). */
  conflicts = 0;
  /** Strings dropped to make room (with `evictOldest`). */
  evicted = 0;
  /** With `evictOldest`: keys in the order they came, from `head` on (the Map's own first key is slow to reach past many deletions). */
  private order: string[] = [];
  private head = 0;

  constructor(private readonly limits: StringTableLimits = { maxStrings: 1_000_000 }) {}

  get size(): number {
    return this.strings.size + this.whole.size;
  }

  /**
   * `add` for the record at `offset` in `bytes` (a batch of whole records), decoding only what a
   * string fragment needs, its bytes copied from the record (no BigInt, no object); a string's
   * fragments that follow each other in order, new to the table, go to the compact table at
   * once (no PartialString made and dropped: 100 MB of garbage for 500 000 strings of two).
   * Returns the records taken: 0 for a record that is not a string.
   */
  addRecord(bytes: Uint8Array, offset: number): number {
    if (recordKind(bytes, offset) !== EventKind.string) return 0;
    const view = viewOf(bytes);
    const base = bytes.byteOffset + offset;
    const id = view.getUint32(base + Offset.a, true);
    const totalBytes = view.getUint32(base + Offset.a + 4, true);
    const index = view.getUint16(base + Offset.flags, true);
    const pid = view.getUint32(base + Offset.pid, true);
    const tid = view.getUint32(base + Offset.tid, true);
    const fragmentCount = Math.ceil(totalBytes / STRING_FRAGMENT_BYTES);
    if (index === 0 && fragmentCount > 1 && id !== 0 && totalBytes <= STRING_MAX_BYTES && !this.limits.evictOldest && this.size < this.limits.maxStrings && offset + fragmentCount * RECORD_SIZE <= bytes.byteLength) {
      let run = 1;
      for (let at = base + RECORD_SIZE; run < fragmentCount; run++, at += RECORD_SIZE) {
        if (view.getUint16(at + Offset.kind, true) !== EventKind.string || view.getUint16(at + Offset.flags, true) !== run || view.getUint32(at + Offset.a, true) !== id || view.getUint32(at + Offset.a + 4, true) !== totalBytes || view.getUint32(at + Offset.pid, true) !== pid || view.getUint32(at + Offset.tid, true) !== tid) break;
      }
      if (run === fragmentCount && (this.whole.size === 0 || this.whole.totalBytes(pid, tid, id) === undefined) && (this.strings.size === 0 || !this.strings.has(`${pid}/${tid}/${id}`))) {
        this.whole.setFrom(pid, tid, id, bytes, offset + Offset.b, totalBytes, RECORD_SIZE);
        return fragmentCount;
      }
    }
    this.fragment(pid, tid, id, totalBytes, index, bytes, offset + Offset.b);
    return 1;
  }

  /** Takes a record; returns whether it was a string fragment the table kept. */
  add(record: Omit<RawEvent, "timestampNs">): boolean {
    if (record.kind !== "string" && record.kind !== EventKind.string) return false;
    const a = BigInt.asUintN(64, BigInt(record.a));
    return this.fragment(record.pid, record.tid, Number(a & 0xffff_ffffn), Number(a >> 32n), record.flags, fragmentBytes(record), 0);
  }

  /** One fragment: id, total length and index as in the record, its 32 bytes at `from` in `source`. */
  private fragment(pid: number, tid: number, id: number, totalBytes: number, index: number, source: Uint8Array, from: number): boolean {
    const fragmentCount = Math.max(1, Math.ceil(totalBytes / STRING_FRAGMENT_BYTES));
    if (id === 0 || totalBytes > STRING_MAX_BYTES || index >= fragmentCount) {
      this.rejected++;
      return false;
    }
    // The key of a string of several fragments (or one, with evictOldest); not made while there are none.
    const key = this.strings.size !== 0 || fragmentCount !== 1 || this.limits.evictOldest ? `${pid}/${tid}/${id}` : undefined;
    let entry = key === undefined ? undefined : this.strings.get(key);
    if (entry && entry.bytes.byteLength !== totalBytes) {
      this.conflicts++;
      entry = undefined;
    }
    const held = this.whole.size === 0 ? undefined : this.whole.totalBytes(pid, tid, id);
    if (held !== undefined) {
      if (held === totalBytes) return true; // a duplicate: the first copy stands
      this.conflicts++;
    }
    if (fragmentCount === 1 && !this.limits.evictOldest) {
      if (held === undefined && (key === undefined || !this.strings.has(key)) && this.size >= this.limits.maxStrings) {
        this.rejected++;
        return false;
      }
      if (key !== undefined) this.strings.delete(key);
      this.whole.setFrom(pid, tid, id, source, from, totalBytes);
      return true;
    }
    if (held !== undefined) this.whole.delete(pid, tid, id);
    if (!entry) {
      if (held === undefined && this.size >= this.limits.maxStrings && !this.strings.has(key!)) {
        if (!this.limits.evictOldest || this.limits.maxStrings < 1) {
          this.rejected++;
          return false;
        }
        this.evictOne();
      }
      entry = { bytes: new Uint8Array(totalBytes), received: new Uint8Array(fragmentCount), receivedCount: 0, text: undefined };
      this.strings.set(key!, entry);
      if (this.limits.evictOldest) this.order.push(key!);
    }
    if (entry.received[index]) return true; // a duplicate: the first copy stands
    const start = index * STRING_FRAGMENT_BYTES;
    const into = entry.bytes;
    for (let i = 0, length = Math.min(STRING_FRAGMENT_BYTES, totalBytes - start); i < length; i++) into[start + i] = source[from + i]!;
    entry.received[index] = 1;
    entry.receivedCount++;
    entry.text = undefined;
    if (entry.receivedCount === fragmentCount && !this.limits.evictOldest) {
      // Whole now: its bytes move to the compact table (a PartialString with its two arrays held
      // ~500 bytes; a --functions trace's 3 M argument previews over 32 bytes held 1.3 GB).
      this.strings.delete(key!);
      this.whole.setFrom(pid, tid, id, entry.bytes, 0, totalBytes);
    }
    return true;
  }

  private evictOne(): void {
    while (this.head < this.order.length) {
      if (this.strings.delete(this.order[this.head++]!)) {
        this.evicted++;
        break;
      }
    }
    if (this.head > 65_536 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  /** The string (pid, tid, id), or undefined when no fragment of it was seen. */
  get(pid: number, tid: number, id: number): string | undefined {
    const text = this.whole.size === 0 ? undefined : this.whole.text(pid, tid, id);
    return text !== undefined ? text : this.strings.size === 0 ? undefined : this.entry(pid, tid, id)?.text;
  }

  entry(pid: number, tid: number, id: number): StringEntry | undefined {
    const text = this.whole.size === 0 ? undefined : this.whole.text(pid, tid, id);
    if (text !== undefined) {
      const totalBytes = this.whole.totalBytes(pid, tid, id)!;
      return { text, complete: true, totalBytes, fragmentCount: Math.max(1, Math.ceil(totalBytes / STRING_FRAGMENT_BYTES)), missingFragments: 0 };
    }
    const entry = this.strings.get(`${pid}/${tid}/${id}`);
    if (!entry) return undefined;
    const fragmentCount = entry.received.byteLength;
    entry.text ??= entry.receivedCount === fragmentCount ? decoder.decode(entry.bytes) : partialText(entry);
    return {
      text: entry.text,
      complete: entry.receivedCount === fragmentCount,
      totalBytes: entry.bytes.byteLength,
      fragmentCount,
      missingFragments: fragmentCount - entry.receivedCount,
    };
  }
}

/**
 * StringTable's whole strings (one fragment, or all of theirs come): per thread, id → a slot (ids are dense, counted
 * up per thread: a slot table by id while an id is below twice the thread's strings + 4096,
 * a Map past it); the slots' bytes in one array.
 */
class WholeStrings {
  private readonly threads = new Map<string, { dense: Int32Array; sparse: Map<number, number> | undefined; count: number }>();
  private bytes = new Uint8Array(1 << 16);
  private used = 0;
  private offsets = new Float64Array(1 << 12);
  private lengths = new Uint16Array(1 << 12);
  private slots = 0;
  size = 0;

  // The last thread looked up: a trace's strings come in runs of one thread's (a Map get by a made-up key per string took 12% of the string pass).
  private lastPid = -1;
  private lastTid = -1;
  private lastThread: { dense: Int32Array; sparse: Map<number, number> | undefined; count: number } | undefined;

  private threadOf(pid: number, tid: number) {
    if (pid === this.lastPid && tid === this.lastTid && this.lastThread) return this.lastThread;
    const thread = this.threads.get(`${pid}/${tid}`);
    if (thread) {
      this.lastPid = pid;
      this.lastTid = tid;
      this.lastThread = thread;
    }
    return thread;
  }

  private slotOf(pid: number, tid: number, id: number): number | undefined {
    const thread = this.threadOf(pid, tid);
    if (!thread) return undefined;
    // Dense entries hold slot + 1 (0: none).
    if (id < thread.dense.length && thread.dense[id] !== 0) return thread.dense[id]! - 1;
    return thread.sparse?.get(id);
  }

  totalBytes(pid: number, tid: number, id: number): number | undefined {
    const slot = this.slotOf(pid, tid, id);
    return slot === undefined ? undefined : this.lengths[slot];
  }

  text(pid: number, tid: number, id: number): string | undefined {
    const slot = this.slotOf(pid, tid, id);
    if (slot === undefined) return undefined;
    const start = this.offsets[slot]!;
    return decoder.decode(this.bytes.subarray(start, start + this.lengths[slot]!));
  }

  /** A new string, or one replacing a conflicting one (its old bytes stay unused). */
  set(pid: number, tid: number, id: number, bytes: Uint8Array): void {
    this.setFrom(pid, tid, id, bytes, 0, bytes.byteLength);
  }

  /** `set` with the string's bytes at `from` in `source`, `length` of them (copied); `stride`: its 32-byte fragments that far apart (records), else 0. */
  setFrom(pid: number, tid: number, id: number, source: Uint8Array, from: number, length: number, stride = 0): void {
    let thread = this.threadOf(pid, tid);
    if (!thread) this.threads.set(`${pid}/${tid}`, (thread = { dense: new Int32Array(1024), sparse: undefined, count: 0 }));
    if (this.used + length > this.bytes.byteLength) {
      const bigger = new Uint8Array(this.bytes.byteLength * 2);
      bigger.set(this.bytes.subarray(0, this.used));
      this.bytes = bigger;
    }
    if (this.slots === this.offsets.length) {
      const offsets = new Float64Array(this.slots * 2);
      offsets.set(this.offsets);
      this.offsets = offsets;
      const lengths = new Uint16Array(this.slots * 2);
      lengths.set(this.lengths);
      this.lengths = lengths;
    }
    const slot = this.slots++;
    const into = this.bytes;
    if (stride === 0) for (let i = 0, at = this.used; i < length; i++) into[at + i] = source[from + i]!;
    else for (let i = 0, at = this.used; i < length; i++) into[at + i] = source[from + (i >> 5) * stride + (i & 31)]!;
    this.offsets[slot] = this.used;
    this.lengths[slot] = length;
    this.used += length;
    const inDense = id < thread.dense.length && thread.dense[id] !== 0;
    const inSparse = !inDense && thread.sparse?.has(id) === true;
    if (!inDense && !inSparse) {
      thread.count++;
      this.size++;
    }
    if (inSparse) thread.sparse!.set(id, slot);
    else if (id < thread.dense.length || id <= 2 * thread.count + 4096) {
      if (id >= thread.dense.length) {
        let length = thread.dense.length;
        while (length <= id) length *= 2;
        const dense = new Int32Array(length);
        dense.set(thread.dense);
        thread.dense = dense;
      }
      thread.dense[id] = slot + 1;
    } else (thread.sparse ??= new Map()).set(id, slot);
  }

  delete(pid: number, tid: number, id: number): void {
    const thread = this.threads.get(`${pid}/${tid}`);
    if (!thread) return;
    if (id < thread.dense.length && thread.dense[id] !== 0) thread.dense[id] = 0;
    else if (!thread.sparse?.delete(id)) return;
    thread.count--;
    this.size--;
  }
}

/** Decodes the runs of received fragments, one U+FFFD for each run of missing ones. */
export function partialText(entry: { bytes: Uint8Array; received: Uint8Array }): string {
  let text = "";
  let index = 0;
  const count = entry.received.byteLength;
  while (index < count) {
    const received = entry.received[index] === 1;
    let end = index;
    while (end < count && (entry.received[end] === 1) === received) end++;
    text += received ? decoder.decode(entry.bytes.subarray(index * STRING_FRAGMENT_BYTES, end * STRING_FRAGMENT_BYTES)) : "\uFFFD";
    index = end;
  }
  return text;
}
