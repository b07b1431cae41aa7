/**
 * `scope merge a.bin b.bin ... --out all.bin`: traces of separate `scope run`s (one machine
 * or several) become one trace that `scope dump` and every other reader takes as any trace.
 *
 * - Pids: input k's pids become pid + k << 22 (MERGE_PID_SHIFT; Linux pids are below 2^22),
 *   in the record header and in the payload fields that hold a pid (PID_FIELDS), so two
 *   runs whose pids collide stay apart, and every key built on (pid, tid) — string ids,
 *   request ids, connection ids, message keys — stays consistent without being rewritten.
 *   Input 0 keeps its pids. `sourceOfPid` / `hostPid` (model.ts) undo it.
 * - Times: the merged timeline is input 0's wall clock in ns since the epoch (both header
 *   anchors are the trace's start on it). A record of input k at CLOCK_MONOTONIC t is first
 *   placed by its own header anchors (realtime + t - monotonic), then moved back by input
 *   k's clock offset, estimated from HTTP requests linked across inputs (model.ts
 *   linkPeers): a server cannot see a request before its client started it, nor can the
 *   client's response end before the server got the request (NTP's bound, with the
 *   server's start used on both sides because its response-finish stamp may come after
 *   the bytes left). Each pair bounds the offset; the intersection's middle is the
 *   estimate, half its width the error bound. An input with no link to an estimated one
 *   keeps its wall clock (offset 0, bound unknown).
 * - The merge's own records (`trace_source`, one per input, and their strings) are under
 *   pid 0, tid 0, before every input's records; each input's records follow in its own
 *   file order (the per-thread order the decoder relies on, e.g. request_context).
 */
import { statSync } from "node:fs";
import { encodeRecord, encodeString, StringTable, decodeRecord } from "../core/events";
import { sameFile } from "../core/same-file";
import { EventKind, Offset, RECORD_SIZE, ChannelKind, FlightTrigger } from "../core/layout";
import { interpret, MERGE_PID_SHIFT, sourceOfPid, type RawEvent, type TraceEvent } from "../core/model";
import { readTrace, TraceFileError, TraceWriter, type TraceEnd, type TraceHeader } from "../core/trace-file";
import { damageText } from "../core/trace-ending";

/** Bad input: one `scope: ...` line, exit 1 (the CLI turns it into that). */
export class MergeInputError extends Error {}

export const MAX_INPUTS = 1023; // k << 22 must fit a u32 pid
const PID_LIMIT = 2 ** MERGE_PID_SHIFT;
const U64_MAX = (1n << 64n) - 1n;

/**
 * Kinds whose payload holds a pid (zig/layout.zig): remapped with the record's own. Add new
 * ones here. Kinds 80..100 hold none: loop and memory samples hold sizes and delays,
 * long_task and gc their start as ago_ns (relative: shifted with the record's time), async
 * records async ids (per pid and thread, keyed by the remapped header pid); checked by
 * spec/merge.test.ts ("loop, memory and async records").
 */
const PID_FIELDS: Partial<Record<number, (view: DataView, base: number, map: (pid: number) => number) => void>> = {
  [EventKind.trace_start]: (v, at, map) => mapU64Pid(v, at + Offset.a, map),
  [EventKind.process_spawn]: (v, at, map) => mapU64Pid(v, at + Offset.a, map),
  [EventKind.child_exit]: (v, at, map) => mapU64Pid(v, at + Offset.a, map),
  [EventKind.message_send]: mapMessage,
  [EventKind.message_receive]: mapMessage,
  // b = the pid scope was attached to (written with the collector's own pid when the process ended first).
  [EventKind.attach_end]: (v, at, map) => mapU64Pid(v, at + Offset.b, map),
  [EventKind.flight_dump]: (v, at, map) => {
    const trigger = Number(v.getBigUint64(at + Offset.a, true));
    if (trigger === FlightTrigger.uncaughtException || trigger === FlightTrigger.unhandledRejection) mapU64Pid(v, at + Offset.d, map);
  },
};

function mapU64Pid(view: DataView, at: number, map: (pid: number) => number): void {
  const pid = view.getBigUint64(at, true);
  if (pid !== 0n && pid < BigInt(PID_LIMIT)) view.setBigUint64(at, BigInt(map(Number(pid))), true);
}

/** c = channel owner pid; for IPC and cluster the sub-id (b >> 16) is the child's pid. */
function mapMessage(view: DataView, at: number, map: (pid: number) => number): void {
  mapU64Pid(view, at + Offset.c, map);
  const b = view.getBigUint64(at + Offset.b, true);
  const channel = Number(b & 0xffn);
  if (channel === ChannelKind.ipc || channel === ChannelKind.cluster) {
    const sub = Number(b >> 16n);
    if (sub !== 0 && sub < PID_LIMIT) view.setBigUint64(at + Offset.b, (b & 0xffffn) | (BigInt(map(sub)) << 16n), true);
  }
}

interface Source {
  index: number;
  path: string;
  header: TraceHeader;
  batches: Uint8Array[];
  records: number;
  end: TraceEnd | null;
  damage: string | null;
  /** Wall-clock ns minus CLOCK_MONOTONIC ns of this input's own clocks (header anchors). */
  wallMinusMonotonicNs: bigint;
  offsetNs: bigint;
  boundNs: bigint | null;
  boundsDisagree: boolean;
  pairs: number;
  collectorPid: number;
}

export interface MergeResult {
  records: number;
  sources: {
    path: string;
    host: string;
    /** How far its wall clock was ahead of input 0's (ns). */
    offsetNs: bigint;
    /** The offset's error bound (ns); null when no linked request measured it. */
    boundNs: bigint | null;
    boundsDisagree: boolean;
    /** Linked requests between this input and the ones it was measured against. */
    pairs: number;
    pidBase: number;
    /** Its records merged. */
    records: number;
    damage: string | null;
    notClosed: boolean;
  }[];
  /** Client requests linked to a server request, across inputs and within them. */
  linkedAcross: number;
  linkedWithin: number;
}

function readSource(path: string, index: number): Source {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new MergeInputError(`${path}: no such file`);
  }
  if (stat.isDirectory()) throw new MergeInputError(`${path}: is a directory, not a trace`);
  let trace;
  try {
    trace = readTrace(path);
  } catch (error) {
    if (error instanceof TraceFileError) throw new MergeInputError(error.message);
    throw error;
  }
  const batches: Uint8Array[] = [];
  let records = 0;
  for (const batch of trace.batches()) {
    const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    for (let at = 0; at < batch.byteLength; at += RECORD_SIZE) {
      if (view.getUint16(at + Offset.kind, true) === EventKind.trace_source) {
        throw new MergeInputError(`${path}: is already a merged trace; merge the traces it was made of`);
      }
    }
    batches.push(batch);
    records += batch.byteLength / RECORD_SIZE;
  }
  const error = trace.error;
  const header = trace.header;
  return {
    index,
    path,
    header,
    batches,
    records,
    end: trace.end,
    damage: error ? damageText(error) : null,
    wallMinusMonotonicNs: header.realtimeAnchorNs - header.monotonicAnchorNs,
    offsetNs: 0n,
    boundNs: index === 0 ? 0n : null,
    boundsDisagree: false,
    pairs: 0,
    collectorPid: header.collectorPid,
  };
}

const HTTP_KINDS = new Set<number>([
  EventKind.http_server_request,
  EventKind.http_server_response,
  EventKind.http_client_request,
  EventKind.http_client_response,
  EventKind.http_connection,
  EventKind.http_client_connection,
  EventKind.http_traceparent,
]);

/** String fields linking reads: a connection's addresses, a traceparent. */
const LINK_STRINGS: Partial<Record<number, ("b" | "d")[]>> = {
  [EventKind.http_connection]: ["b", "d"],
  [EventKind.http_traceparent]: ["b"],
};

/**
 * Remaps pids in place (input k > 0) and collects what linking requests needs: the HTTP
 * records (times on the input's own wall clock), then only the strings they name (a
 * second pass: string records are many, previews mostly, and decoding them all was a
 * quarter of the merge's time).
 */
function remapAndCollect(source: Source, http: RawEvent[], strings: StringTable): void {
  const base = source.index * PID_LIMIT;
  const map = (pid: number) => pid + base;
  const wanted = new Set<string>();
  let stringsSeen = false;
  for (const batch of source.batches) {
    const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    for (let at = 0; at < batch.byteLength; at += RECORD_SIZE) {
      const kind = view.getUint16(at + Offset.kind, true);
      if (base !== 0) {
        const pid = view.getUint32(at + Offset.pid, true);
        if (pid >= PID_LIMIT) throw new MergeInputError(`${source.path}: pid ${pid} is over 2^${MERGE_PID_SHIFT}, which a merged trace cannot tell apart from another input's`);
        view.setUint32(at + Offset.pid, pid + base, true);
        PID_FIELDS[kind]?.(view, at, map);
      }
      if (kind === EventKind.string) stringsSeen = true;
      else if (HTTP_KINDS.has(kind)) {
        const raw: RawEvent = decodeRecord(batch, at);
        raw.timestampNs = (raw.timestampNs as bigint) + source.wallMinusMonotonicNs;
        http.push(raw);
        for (const field of LINK_STRINGS[kind] ?? []) wanted.add(`${raw.pid}/${raw.tid}/${Number(BigInt.asUintN(32, raw[field] as bigint))}`);
      }
    }
  }
  if (!stringsSeen || wanted.size === 0) return;
  for (const batch of source.batches) {
    const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    for (let at = 0; at < batch.byteLength; at += RECORD_SIZE) {
      if (view.getUint16(at + Offset.kind, true) !== EventKind.string) continue;
      const key = `${view.getUint32(at + Offset.pid, true)}/${view.getUint32(at + Offset.tid, true)}/${view.getUint32(at + Offset.a, true)}`;
      if (wanted.has(key)) strings.add(decodeRecord(batch, at));
    }
  }
}

interface Interval {
  lower: bigint | null;
  upper: bigint | null;
  pairs: number;
}

/**
 * For every linked client/server pair whose ends are in different inputs i (client) and j
 * (server), bounds θ = clock_j − clock_i: the server's start ts (on j's clock) came after the
 * client's start tc1 and before the client's end tc2 (on i's clock), so ts − tc2 ≤ θ ≤ ts − tc1.
 */
function pairBounds(events: TraceEvent[]): { intervals: Map<string, Interval>; across: number; within: number } {
  const intervals = new Map<string, Interval>();
  let across = 0;
  let within = 0;
  for (const client of events) {
    if (client.kind !== "http_client_request" || typeof client.fields.peerIndex !== "number") continue;
    const server = events[client.fields.peerIndex];
    if (!server) continue;
    const i = sourceOfPid(client.pid);
    const j = sourceOfPid(server.pid);
    if (i === j) {
      within++;
      continue;
    }
    across++;
    const key = `${i}>${j}`;
    let interval = intervals.get(key);
    if (!interval) intervals.set(key, (interval = { lower: null, upper: null, pairs: 0 }));
    interval.pairs++;
    const upper = server.timestampNs - client.timestampNs;
    if (interval.upper === null || upper < interval.upper) interval.upper = upper;
    const end = typeof client.fields.endIndex === "number" ? events[client.fields.endIndex] : undefined;
    if (end) {
      const lower = server.timestampNs - end.timestampNs;
      if (interval.lower === null || lower > interval.lower) interval.lower = lower;
    }
  }
  return { intervals, across, within };
}

/** θ_ij = clock_j − clock_i as [lower, upper] from both directions' pairs; null when one side is unbounded. */
function between(intervals: Map<string, Interval>, i: number, j: number): { lower: bigint; upper: bigint; pairs: number } | null {
  let lower: bigint | null = null;
  let upper: bigint | null = null;
  let pairs = 0;
  const forward = intervals.get(`${i}>${j}`);
  if (forward) {
    pairs += forward.pairs;
    if (forward.lower !== null) lower = forward.lower;
    if (forward.upper !== null) upper = forward.upper;
  }
  // j was the client: it bounds θ_ji = −θ_ij.
  const backward = intervals.get(`${j}>${i}`);
  if (backward) {
    pairs += backward.pairs;
    if (backward.upper !== null && (lower === null || -backward.upper > lower)) lower = -backward.upper;
    if (backward.lower !== null && (upper === null || -backward.lower < upper)) upper = -backward.lower;
  }
  return lower === null || upper === null ? null : { lower, upper, pairs };
}

/** Offsets relative to input 0, breadth first over inputs linked by requests; bounds add along the way. */
function estimateOffsets(sources: Source[], intervals: Map<string, Interval>): void {
  const done = new Set<number>([0]);
  const queue = [0];
  while (queue.length > 0) {
    const i = queue.shift()!;
    for (const source of sources) {
      const j = source.index;
      if (done.has(j)) continue;
      const bound = between(intervals, i, j);
      if (!bound) continue;
      const from = sources[i]!;
      const half = (bound.upper - bound.lower) / 2n;
      source.boundsDisagree = bound.lower > bound.upper || from.boundsDisagree;
      source.offsetNs = from.offsetNs + (bound.lower + bound.upper) / 2n;
      source.boundNs = (from.boundNs ?? 0n) + (half < 0n ? -half : half);
      source.pairs = bound.pairs;
      done.add(j);
      queue.push(j);
    }
  }
}

/** Moves every record of the input onto the merged timeline (its own wall clock, minus its offset). */
function shiftTimes(source: Source): void {
  const shift = source.wallMinusMonotonicNs - source.offsetNs;
  // u64 addition modulo 2^64 in two u32 halves (a BigInt per record was most of this loop).
  const shiftBits = BigInt.asUintN(64, shift);
  const shiftLow = Number(shiftBits & 0xffff_ffffn);
  const shiftHigh = Number(shiftBits >> 32n);
  for (const batch of source.batches) {
    const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    for (let at = 0; at < batch.byteLength; at += RECORD_SIZE) {
      const low = view.getUint32(at + Offset.timestampNs, true) + shiftLow;
      const high = view.getUint32(at + Offset.timestampNs + 4, true) + shiftHigh + (low >= 0x1_0000_0000 ? 1 : 0);
      view.setUint32(at + Offset.timestampNs, low >>> 0, true);
      view.setUint32(at + Offset.timestampNs + 4, high >>> 0, true);
      // flight_dump c: the window's start, a CLOCK_MONOTONIC time (0: none).
      if (view.getUint16(at + Offset.kind, true) === EventKind.flight_dump) {
        const start = view.getBigUint64(at + Offset.c, true);
        if (start !== 0n) view.setBigUint64(at + Offset.c, BigInt.asUintN(64, start + shift), true);
      }
    }
  }
}

/** The merge's own records: per input a trace_source and its strings, under pid 0, tid 0. */
function sourceRecords(sources: Source[], startNs: bigint): Uint8Array {
  const parts: Uint8Array[] = [];
  let nextId = 1;
  const str = (text: string): number => {
    const bytes = new TextEncoder().encode(text);
    // A string holds at most 4096 bytes: cut by characters until it fits.
    let cut = text;
    if (bytes.byteLength > 4000) cut = new TextDecoder().decode(bytes.subarray(0, 4000)).replace(/\uFFFD$/, "");
    const id = nextId++;
    parts.push(encodeString(0, 0, id, cut, startNs));
    return id;
  };
  for (const source of sources) {
    const host = str(source.header.hostName || "(unknown host)");
    const details = str(
      JSON.stringify({
        path: source.path,
        argv: source.header.argv.join(" ").slice(0, 1000),
        startTime: source.header.startTime.toISOString(),
        monotonicAnchorNs: String(source.header.monotonicAnchorNs),
        realtimeAnchorNs: String(source.header.realtimeAnchorNs),
        collectorPid: source.collectorPid,
        pidBase: source.index * PID_LIMIT,
        records: source.records,
        pairs: source.pairs,
        ...(source.damage ? { damage: source.damage } : {}),
      }),
    );
    const record = new Uint8Array(RECORD_SIZE);
    const flags = (source.boundNs !== null && source.index !== 0 ? 1 : 0) | (source.boundsDisagree ? 2 : 0) | (source.damage ? 4 : 0) | (source.end === null ? 8 : 0);
    encodeRecord(
      {
        kind: "trace_source",
        flags,
        timestampNs: startNs,
        pid: 0,
        tid: 0,
        a: source.index,
        b: host,
        c: BigInt.asUintN(64, source.offsetNs),
        d: source.boundNs === null ? U64_MAX : source.boundNs,
        e: details,
      },
      record,
    );
    parts.push(record);
  }
  const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** Merges `inputs` into `out`; throws MergeInputError for input it cannot use. */
export function mergeTraces(inputs: string[], out: string): MergeResult {
  if (inputs.length < 2) throw new MergeInputError(`merge needs at least two traces, got ${inputs.length}`);
  if (inputs.length > MAX_INPUTS) throw new MergeInputError(`merge takes at most ${MAX_INPUTS} traces, got ${inputs.length}`);
  // The same file by any name (a path, a symbolic or a hard link): writing would replace an input.
  for (const input of inputs) if (sameFile(input, out)) throw new MergeInputError(`${out}: the output is also an input`);
  const sources = inputs.map((path, index) => readSource(path, index));
  const http: RawEvent[] = [];
  const strings = new StringTable({ maxStrings: 10_000_000 });
  for (const source of sources) remapAndCollect(source, http, strings);
  const linked = interpret(http, (pid, tid, id) => strings.get(pid, tid, id));
  const { intervals, across, within } = pairBounds(linked);
  estimateOffsets(sources, intervals);
  for (const source of sources) shiftTimes(source);
  const startNs = sources.reduce((min, source) => {
    const start = source.header.realtimeAnchorNs - source.offsetNs;
    return start < min ? start : min;
  }, sources[0]!.header.realtimeAnchorNs);
  const hosts = [...new Set(sources.map((source) => source.header.hostName || "?"))].join(",");
  let writer: TraceWriter;
  try {
    writer = TraceWriter.open(out, {
      host: hosts.length > 256 ? `${hosts.slice(0, 252)}...` : hosts,
      argv: ["scope", "merge", ...inputs],
      anchors: { monotonicNs: startNs, realtimeNs: startNs, collectorPid: 0 },
    });
  } catch (error) {
    if (error instanceof TraceFileError) throw new MergeInputError(error.message);
    throw error;
  }
  let records = 0;
  try {
    const own = sourceRecords(sources, startNs);
    writer.append(own, own.byteLength / RECORD_SIZE, true);
    records += own.byteLength / RECORD_SIZE;
    for (const source of sources) {
      for (const batch of source.batches) {
        writer.append(batch, batch.byteLength / RECORD_SIZE, true);
        records += batch.byteLength / RECORD_SIZE;
      }
    }
    const sum = (field: "written" | "dropped" | "overwritten") => sources.reduce((total, source) => total + (source.end?.[field] ?? 0n), 0n);
    writer.close({ written: sum("written"), dropped: sum("dropped"), overwritten: sum("overwritten"), recorded: BigInt(records) });
  } catch (error) {
    writer.abandon();
    throw error;
  }
  return {
    records,
    linkedAcross: across,
    linkedWithin: within,
    sources: sources.map((source) => ({
      path: source.path,
      host: source.header.hostName,
      offsetNs: source.offsetNs,
      boundNs: source.boundNs,
      boundsDisagree: source.boundsDisagree,
      pairs: source.pairs,
      pidBase: source.index * PID_LIMIT,
      records: source.records,
      damage: source.damage,
      notClosed: source.end === null && source.damage === null,
    })),
  };
}

/** "+5.000 012 3s" style: an offset in the most readable unit, with its sign. */
export function formatOffset(ns: bigint): string {
  const sign = ns < 0n ? "-" : "+";
  const abs = Number(ns < 0n ? -ns : ns);
  if (abs >= 1e9) return `${sign}${(abs / 1e9).toFixed(6)}s`;
  if (abs >= 1e6) return `${sign}${(abs / 1e6).toFixed(3)}ms`;
  return `${sign}${(abs / 1e3).toFixed(1)}µs`;
}

/** A bound: "± 0.213ms", or why there is none. */
export function formatBound(ns: bigint | number | null): string {
  if (ns === null) return "(not measured: no request linked to another input)";
  const abs = Number(ns);
  return `± ${abs >= 1e6 ? `${(abs / 1e6).toFixed(3)}ms` : `${(abs / 1e3).toFixed(1)}µs`}`;
}
