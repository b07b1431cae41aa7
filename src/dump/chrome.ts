/**
 * `scope dump --chrome`: Chrome Trace Event JSON (opens in Perfetto and chrome://tracing).
 * One track per process/thread; each event a short slice so that message sends and
 * receives can be joined by flow arrows (flows bind to enclosing slices). Requests are
 * slices from their start to their end on their thread's track; requests that overlap an
 * earlier one still running on that thread go on extra tracks next to it ("requests 2", ...),
 * since slices of one track must nest. A client request and the server request it reached
 * (model.ts linkPeers) are joined by a flow arrow (category "request").
 */
import { processName, type TraceEvent } from "../core/model";
import { laneName, placeSlices } from "../export/lanes";
import { shapeOf, threadName } from "../export/slices";

interface ChromeEvent {
  name: string;
  ph: string;
  ts: number;
  pid: number;
  tid: number;
  dur?: number;
  id?: number;
  bp?: string;
  cat?: string;
  args?: Record<string, unknown>;
  s?: string;
}

const sliceUs = 1;

/** `collectors`: scope's own pids (model.ts collectorsOf), named as `scope view` names them. */
export function toChromeTrace(events: TraceEvent[], startNs: bigint, collectors: ReadonlySet<number> = new Set()): { traceEvents: ChromeEvent[]; displayTimeUnit: string } {
  const out: ChromeEvent[] = [];
  const tracks = new Map<string, { pid: number; tid: number; name: string | null }>();
  const us = (event: TraceEvent) => Number(event.timestampNs - startNs) / 1000;
  for (const event of events) {
    const key = `${event.pid}/${event.tid}`;
    if (!tracks.has(key)) tracks.set(key, { pid: event.pid, tid: event.tid, name: null });
    if (event.kind === "trace_start" && typeof event.fields.argv === "string") tracks.get(key)!.name = event.fields.argv;
    const ts = us(event);
    // A query or pool wait is one slice from its start to its end (dbSlices; the end has no slice of its own).
    if (event.kind === "db_query" || event.kind === "db_query_end" || event.kind === "db_pool_wait" || event.kind === "db_pool_wait_end") continue;
    if (loopEvent(event, ts, out)) continue;
    // A call is one slice from its call to its end (callSlices; no slice per call, return, throw or settle).
    if (callKinds.has(event.kind)) continue;
    out.push({ name: event.kind, cat: "scope", ph: "X", ts, dur: sliceUs, pid: event.pid, tid: event.tid, args: { ...event.fields, index: event.index } });
    if (event.kind === "message_send" && event.linkedTo.length) {
      out.push({ name: "message", cat: "message", ph: "s", id: event.index, ts, pid: event.pid, tid: event.tid });
    }
    if (event.kind === "message_receive" && event.linkedTo.length === 1) {
      out.push({ name: "message", cat: "message", ph: "f", bp: "e", id: event.linkedTo[0]!, ts, pid: event.pid, tid: event.tid });
    }
  }
  const requestTracks = new Map<number, Interval & { tid: number }>();
  requestSlices(events, us, out, requestTracks);
  dbSlices(events, us, out, requestTracks);
  callSlices(events, us, out);
  for (const { pid, tid, name } of tracks.values()) {
    out.push({ name: "thread_name", ph: "M", ts: 0, pid, tid, args: { name: tid === 0 ? "main" : `worker ${tid}` } });
    const what = tid === 0 ? processName(name, collectors.has(pid)) : null;
    if (tid === 0) out.push({ name: "process_name", ph: "M", ts: 0, pid, tid, args: { name: what !== null ? `${pid}: ${what}` : `pid ${pid}` } });
  }
  return { traceEvents: out, displayTimeUnit: "ns" };
}

/** Synthetic thread ids of the extra request tracks: far above any real thread id. */
const LANE_TID_BASE = 1_000_000_000;

interface Interval {
  startUs: number;
  endUs: number;
}

/** `placed`: each request's track and span, by the index of its start event. */
function requestSlices(events: TraceEvent[], us: (event: TraceEvent) => number, out: ChromeEvent[], placed: Map<number, Interval & { tid: number }>): void {
  const lastUs = events.length ? us(events[events.length - 1]!) : 0;
  // Per thread: when each lane is free again (lane 0 is the thread's own track).
  const lanes = new Map<string, number[]>();
  const named = new Set<string>();
  const byIndex = new Map<number, TraceEvent>();
  for (const event of events) if (event.kind === "http_server_response" || event.kind === "http_client_response" || event.kind === "http_server_request") byIndex.set(event.index, event);
  for (const event of events) {
    if (event.kind !== "http_server_request" && event.kind !== "http_client_request") continue;
    const f = event.fields;
    const end = typeof f.endIndex === "number" ? byIndex.get(f.endIndex) : undefined;
    const startUs = us(event);
    const endUs = end ? us(end) : lastUs;
    const key = `${event.pid}/${event.tid}`;
    let free = lanes.get(key);
    if (!free) lanes.set(key, (free = []));
    let lane = free.findIndex((until) => until <= startUs);
    if (lane < 0) lane = free.push(0) - 1;
    free[lane] = endUs;
    const tid = lane === 0 ? event.tid : LANE_TID_BASE * lane + event.tid;
    if (lane > 0 && !named.has(`${key}/${lane}`)) {
      named.add(`${key}/${lane}`);
      out.push({ name: "thread_name", ph: "M", ts: 0, pid: event.pid, tid, args: { name: `${event.tid === 0 ? "main" : `worker ${event.tid}`} requests ${lane + 1}` } });
    }
    placed.set(event.index, { tid, startUs, endUs });
    const target = event.kind === "http_server_request" ? f.target : f.url;
    const name = `${f.method ?? "?"} ${target ?? ""}${f.status ? ` ${f.status}` : ""}`;
    out.push({ name, cat: "http", ph: "X", ts: startUs, dur: Math.max(endUs - startUs, 1), pid: event.pid, tid, args: { ...f, index: event.index, ...(end ? {} : { unfinished: true }) } });
  }
  // A client request → the server request it reached (model.ts linkPeers): a flow arrow
  // between the two slices, across processes and, in a merged trace, hosts.
  for (const event of events) {
    if (event.kind !== "http_client_request" || typeof event.fields.peerIndex !== "number") continue;
    const from = placed.get(event.index);
    const to = placed.get(event.fields.peerIndex);
    const peer = byIndex.get(event.fields.peerIndex);
    if (!from || !to || !peer) continue;
    out.push({ name: "request", cat: "request", ph: "s", id: event.index, ts: from.startUs, pid: event.pid, tid: from.tid });
    out.push({ name: "request", cat: "request", ph: "f", bp: "e", id: event.index, ts: to.startUs, pid: peer.pid, tid: to.tid });
  }
}

/** Synthetic thread ids of the query tracks ("main queries", ...): apart from the request lanes'. */
const DB_TID_BASE = 500_000_000;
const DB_LANE_TIDS = 1_000_000;

/**
 * Queries and pool waits: a slice from start to end, nested in the slice of the request
 * that caused it (on that request's track) when it lies within the request and does not
 * overlap a query already there; a thread without requests keeps its queries on its own
 * track; anything else goes on the thread's query tracks ("main queries", "main queries 2",
 * ...), since slices of one track must nest.
 */
function dbSlices(events: TraceEvent[], us: (event: TraceEvent) => number, out: ChromeEvent[], requests: Map<number, Interval & { tid: number }>): void {
  const lastUs = events.length ? us(events[events.length - 1]!) : 0;
  // Per track: the ends of the query slices still open at the current start (a stack: they nest).
  const open = new Map<number, number[]>();
  const fits = (track: number, startUs: number, endUs: number) => {
    const stack = open.get(track) ?? [];
    while (stack.length && stack[stack.length - 1]! <= startUs) stack.pop();
    return stack.length === 0 || stack[stack.length - 1]! >= endUs;
  };
  const place = (track: number, endUs: number) => {
    let stack = open.get(track);
    if (!stack) open.set(track, (stack = []));
    stack.push(endUs);
  };
  const threadsWithRequests = new Set<string>();
  for (const event of events) if (event.kind === "http_server_request" || event.kind === "http_client_request") threadsWithRequests.add(`${event.pid}/${event.tid}`);
  const dbLanes = new Map<string, number[]>();
  for (const event of events) {
    if (event.kind !== "db_query" && event.kind !== "db_pool_wait") continue;
    const f = event.fields;
    const startUs = us(event);
    const endUs = typeof f.durationNs === "number" ? startUs + f.durationNs / 1000 : lastUs;
    const key = `${event.pid}/${event.tid}`;
    let track: number | undefined;
    const request = typeof f.requestIndex === "number" ? requests.get(f.requestIndex) : undefined;
    if (request && request.startUs <= startUs && endUs <= request.endUs && fits(request.tid, startUs, endUs)) track = request.tid;
    else if (!threadsWithRequests.has(key) && fits(event.tid, startUs, endUs)) track = event.tid;
    if (track === undefined) {
      let free = dbLanes.get(key);
      if (!free) dbLanes.set(key, (free = []));
      let lane = free.findIndex((until) => until <= startUs);
      if (lane < 0) {
        lane = free.push(0) - 1;
        const name = `${event.tid === 0 ? "main" : `worker ${event.tid}`} queries${lane > 0 ? ` ${lane + 1}` : ""}`;
        out.push({ name: "thread_name", ph: "M", ts: 0, pid: event.pid, tid: DB_TID_BASE + DB_LANE_TIDS * lane + event.tid, args: { name } });
      }
      free[lane] = endUs;
      track = DB_TID_BASE + DB_LANE_TIDS * lane + event.tid;
    } else place(track, endUs);
    const text = typeof f.text === "string" ? f.text : "";
    const name = event.kind === "db_pool_wait" ? `${f.system} pool wait` : text.length > 80 ? `${text.slice(0, 77)}...` : text || "query";
    out.push({ name, cat: "db", ph: "X", ts: startUs, dur: Math.max(endUs - startUs, sliceUs), pid: event.pid, tid: track, args: { ...f, index: event.index, ...(typeof f.durationNs === "number" ? {} : { unfinished: true }) } });
  }
}

/** Synthetic thread ids of the loop and GC tracks ("main loop", "main gc"): apart from the others. */
const LOOP_TID_BASE = 300_000_000;
const GC_TID_BASE = 400_000_000;
const namedLoopTracks = new WeakMap<ChromeEvent[], Set<number>>();

/**
 * Loop and memory: samples as counters of their process ("loop delay 0", "heap 0", ... per
 * thread id), long tasks and GCs as slices of their length on a track of their own per
 * thread (they overlap requests, which must nest on the thread's track). False for other kinds.
 */
function loopEvent(event: TraceEvent, ts: number, out: ChromeEvent[]): boolean {
  const f = event.fields;
  const thread = event.tid === 0 ? "main" : `worker ${event.tid}`;
  switch (event.kind) {
    case "loop_sample":
      out.push({ name: `loop delay ms (${thread})`, ph: "C", ts, pid: event.pid, tid: event.tid, args: { p50: Number(f.delayP50Ns) / 1e6, p99: Number(f.delayP99Ns) / 1e6, max: Number(f.delayMaxNs) / 1e6 } });
      if (typeof f.utilisation === "number") out.push({ name: `loop utilisation (${thread})`, ph: "C", ts, pid: event.pid, tid: event.tid, args: { utilisation: f.utilisation } });
      return true;
    case "memory_sample":
      out.push({ name: `memory MiB (${thread})`, ph: "C", ts, pid: event.pid, tid: event.tid, args: { heapUsed: Number(f.heapUsedBytes) / 2 ** 20, heapTotal: Number(f.heapTotalBytes) / 2 ** 20, ...(event.tid === 0 ? { rss: Number(f.rssBytes) / 2 ** 20 } : {}) } });
      return true;
    case "long_task":
    case "gc": {
      const long = event.kind === "long_task";
      const tid = (long ? LOOP_TID_BASE : GC_TID_BASE) + event.tid;
      let named = namedLoopTracks.get(out);
      if (!named) namedLoopTracks.set(out, (named = new Set()));
      if (!named.has(tid)) {
        named.add(tid);
        out.push({ name: "thread_name", ph: "M", ts: 0, pid: event.pid, tid, args: { name: `${thread} ${long ? "long tasks" : "gc"}` } });
      }
      const name = long ? `long task: ${f.function ?? f.origin ?? f.taskKind}` : `gc ${f.gcKind}`;
      out.push({ name, cat: long ? "loop" : "gc", ph: "X", ts, dur: Math.max(Number(f.durationNs) / 1000, sliceUs), pid: event.pid, tid, args: { ...f, index: event.index } });
      return true;
    }
    default:
      return false;
  }
}

const callKinds = new Set(["function_call", "function_return", "function_throw", "function_settle"]);
/** Synthetic thread ids of the call tracks ("main calls", "main calls 2", ...): apart from the others. */
const CALL_TID_BASE = 200_000_000;
const CALL_LANE_TIDS = 1_000_000;

/**
 * Function calls: a slice from each call to its settle (async), return or throw, nested on
 * the thread's "calls" track as they nested when they ran; calls that overlap without
 * nesting (an async call settling after its caller returned) go on "calls 2", ...
 * (src/export/lanes.ts). A call with no end (the calls level, or still running at the end)
 * is an instant (`unfinished`), not a slice stacking up to the thread's end.
 */
function callSlices(events: TraceEvent[], us: (event: TraceEvent) => number, out: ChromeEvent[]): void {
  if (!events.some((event) => event.kind === "function_call")) return;
  const all = shapeOf(events).slices.filter((slice) => slice.kind === "call");
  // A call with no end (the calls level records no returns) is an instant on the first call track.
  const calls = all.filter((slice) => slice.finished);
  const named = new Set<string>();
  const trackOf = (pid: number, thread: number, lane: number): number => {
    const tid = CALL_TID_BASE + CALL_LANE_TIDS * lane + thread;
    if (!named.has(`${pid}/${tid}`)) {
      named.add(`${pid}/${tid}`);
      out.push({ name: "thread_name", ph: "M", ts: 0, pid, tid, args: { name: `${laneName(threadName(thread), { group: "calls", lane })}${lane === 0 ? " calls" : ""}` } });
    }
    return tid;
  };
  for (const slice of all) {
    if (slice.finished) continue;
    out.push({ name: slice.name, cat: "function", ph: "i", s: "t", ts: us(slice.start), pid: slice.pid, tid: trackOf(slice.pid, slice.tid, 0), args: { ...slice.start.fields, index: slice.start.index, unfinished: true } });
  }
  const placed = placeSlices(calls);
  const toUs = (ns: bigint) => us({ timestampNs: ns } as TraceEvent);
  for (const slice of calls) {
    const tid = trackOf(slice.pid, slice.tid, placed.get(slice)!.lane);
    const startUs = toUs(slice.startNs);
    const end = slice.end ? { [slice.end.kind === "function_throw" ? "threw" : slice.end.fields.rejected === true ? "rejected" : "returned"]: slice.end.fields.value ?? slice.end.fields.errorMessage ?? null } : { unfinished: true };
    out.push({ name: slice.name, cat: "function", ph: "X", ts: startUs, dur: toUs(slice.endNs) - startUs, pid: slice.pid, tid, args: { ...slice.start.fields, index: slice.start.index, ...end } });
  }
}

