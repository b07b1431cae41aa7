/**
 * `scope dump --chrome`: Chrome Trace Event JSON (opens in Perfetto and chrome://tracing).
 * One track per process/thread; each event a short slice so that message sends and
 * receives can be joined by flow arrows (flows bind to enclosing slices). Requests are
 * slices from their start to their end on their thread's track; requests that overlap an
 * earlier one still running on that thread go on extra tracks next to it ("requests 2", ...),
 * since slices of one track must nest; queries, pool waits and framework steps nest in their
 * request's slice. A client request and the server request it reached
 * (model.ts linkPeers) are joined by a flow arrow (category "request").
 */
import { EventKind } from "../core/layout";
import { processName, type TraceEvent } from "../core/model";
import { drawingOrder, LanePlacer, laneName, type Placement } from "../export/lanes";
import { CallEnds, stepName, threadName, type Slice } from "../export/slices";
import type { LinkWatch } from "./stream";

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

/** The events the dump shows (index order), walked afresh at each call: an array, or src/dump/stream.ts's walk of a trace. */
export type ChromeWalk = TraceEvent[] | (() => Iterable<TraceEvent>);

/** `collectors`: scope's own pids (model.ts collectorsOf), named as `scope view` names them. */
export function toChromeTrace(events: TraceEvent[], startNs: bigint, collectors: ReadonlySet<number> = new Set()): { traceEvents: ChromeEvent[]; displayTimeUnit: string } {
  return { traceEvents: [...chromeEvents(events, startNs, collectors)], displayTimeUnit: "ns" };
}

/**
 * The trace's Chrome events, in the document's order: the events (a slice each, flows,
 * counters, GC and long-task slices), requests, queries, calls, then the tracks' names. Each
 * part is a walk over the events ("scope export --perfetto, dump --chrome and --why in
 * bounded memory", BENCHMARKS.md); a first walk keeps what a part needs ahead (ChromeAhead),
 * unless `gathered` in TraceStream's link pass already.
 * A part with nothing to draw is not walked. `lightWalk`: the same events, but calls, returns,
 * throws and settles need carry only their thread, time and `call` (LIGHT_CHROME_KINDS; the
 * stream's walk that does not decode them): the events', requests' and queries' parts draw
 * nothing of them.
 */
export function* chromeEvents(events: ChromeWalk, startNs: bigint, collectors: ReadonlySet<number> = new Set(), gathered?: ChromeAhead, lightWalk?: () => Iterable<TraceEvent>): Generator<ChromeEvent> {
  const walk = Array.isArray(events) ? () => events : events;
  const ahead = gathered ?? new ChromeAhead(walk());
  const light = lightWalk ?? walk;
  const us = (ns: bigint) => Number(ns - startNs) / 1000;
  const out: ChromeEvent[] = [];
  const named = new Set<number>();
  let unfinishedCalls = 0;
  for (const event of light()) {
    const ts = us(event.timestampNs);
    // A query, pool wait or framework step is one slice from its start to its end (dbSlices; the end has no slice of its own).
    if (spanInRequestKinds.has(event.kind)) continue;
    if (loopEvent(event, ts, out, named)) {
      yield* drain(out);
      continue;
    }
    // A call is one slice from its call to its end (callSlices; no slice per call, return, throw or settle).
    if (callKinds.has(event.kind)) {
      if (event.kind === "function_call" && !ahead.callEnds.of(event)) unfinishedCalls++;
      continue;
    }
    yield { name: event.kind, cat: "scope", ph: "X", ts, dur: sliceUs, pid: event.pid, tid: event.tid, args: { ...event.fields, index: event.index } };
    if (event.kind === "message_send" && event.linkedTo.length) {
      yield { name: "message", cat: "message", ph: "s", id: event.index, ts, pid: event.pid, tid: event.tid };
    }
    if (event.kind === "message_receive" && event.linkedTo.length === 1) {
      yield { name: "message", cat: "message", ph: "f", bp: "e", id: event.linkedTo[0]!, ts, pid: event.pid, tid: event.tid };
    }
  }
  const lastUs = ahead.lastNs === undefined ? 0 : us(ahead.lastNs);
  const requestTracks = new Map<number, RequestPlace>();
  if (ahead.requests) yield* requestSlices(light, ahead, us, lastUs, requestTracks);
  if (ahead.queries) yield* dbSlices(light, ahead, us, lastUs, requestTracks);
  if (ahead.calls) yield* callSlices(walk, ahead, us, unfinishedCalls > 0);
  for (const { pid, tid, name } of ahead.tracks.values()) {
    yield { name: "thread_name", ph: "M", ts: 0, pid, tid, args: { name: tid === 0 ? "main" : `worker ${tid}` } };
    const what = tid === 0 ? processName(name, collectors.has(pid)) : null;
    if (tid === 0) yield { name: "process_name", ph: "M", ts: 0, pid, tid, args: { name: what !== null ? `${pid}: ${what}` : `pid ${pid}` } };
  }
}

/** Drawn by dbSlices inside their request's slice: queries, pool waits and framework steps (middleware, handlers), with their ends. */
const spanInRequestKinds = new Set(["db_query", "db_query_end", "db_pool_wait", "db_pool_wait_end", "http_step_start", "http_step_end"]);

function* drain(out: ChromeEvent[]): Generator<ChromeEvent> {
  yield* out;
  out.length = 0;
}

/** A call's end as its slice says it: `threw`, `rejected` or `returned`, with its error or value. */
const endArgs = (end: TraceEvent): Record<string, unknown> => ({ [end.kind === "function_throw" ? "threw" : end.fields.rejected === true ? "rejected" : "returned"]: end.fields.value ?? end.fields.errorMessage ?? null });

/**
 * The first walk: what the parts need before they reach it. The tracks (threads in order of
 * their first event, a process named by its command line), the last event's time (where an
 * unfinished request ends), each request's end time, the threads with requests (their queries
 * keep off their own track), each call's end (as its slice's args say it: not the event), and
 * whether there are requests, queries and calls at all.
 */
export class ChromeAhead {
  readonly tracks = new Map<string, { pid: number; tid: number; name: string | null }>();
  readonly callEnds = new CallEnds(endArgs);
  /** A request's end time, by its start's index (an end among the events shown: a response). */
  readonly requestEnds = new Map<number, bigint>();
  readonly threadsWithRequests = new Set<string>();
  lastNs: bigint | undefined;
  requests = 0;
  queries = 0;
  calls = 0;
  /** Gathered from the link pass: false when a request's end was not set at the end itself (then the first walk is walked after all). */
  exact = true;

  /** The first walk (the events shown); without it, gathered in TraceStream's link pass (`watch`). */
  constructor(events?: Iterable<TraceEvent>) {
    if (!events) return;
    const wanted = new Map<number, number>();
    for (const event of events) {
      const start = wanted.get(event.index);
      if (start !== undefined) {
        wanted.delete(event.index);
        if (ends.has(event.kind)) this.requestEnds.set(start, event.timestampNs);
      }
      this.own(event);
      if ((event.kind === "http_server_request" || event.kind === "http_client_request") && typeof event.fields.endIndex === "number") wanted.set(event.fields.endIndex, event.index);
    }
  }

  /** What a shown event says itself (as the link pass gives it: its later events' changes not yet made). */
  private own(event: TraceEvent): void {
    const key = `${event.pid}/${event.tid}`;
    if (!this.tracks.has(key)) this.tracks.set(key, { pid: event.pid, tid: event.tid, name: null });
    if (event.kind === "trace_start" && typeof event.fields.argv === "string") this.tracks.get(key)!.name = event.fields.argv;
    this.lastNs = event.timestampNs;
    this.callEnds.add(event);
    if (event.kind === "http_server_request" || event.kind === "http_client_request") {
      this.requests++;
      this.threadsWithRequests.add(key);
    } else if (event.kind === "db_query" || event.kind === "db_pool_wait" || event.kind === "http_step_start") this.queries++;
    else if (event.kind === "function_call") this.calls++;
  }

  /**
   * The first walk's figures from TraceStream's link pass, for the events `shown` (the dump's
   * filter: kind, thread and time, which the link pass gives as the walk does): each event's
   * own part, and a request's end, set (endIndex) at the end event itself.
   */
  watch(shown: (event: TraceEvent) => boolean): LinkWatch {
    return {
      event: (event) => {
        if (shown(event)) this.own(event);
      },
      set: (target, fields, current) => {
        if ((target.kind !== "http_server_request" && target.kind !== "http_client_request") || typeof fields.endIndex !== "number" || !shown(target)) return;
        if (fields.endIndex !== current.index) this.exact = false;
        else if (ends.has(current.kind) && shown(current)) this.requestEnds.set(target.index, current.timestampNs);
        else this.requestEnds.delete(target.index);
      },
    };
  }
}

/** What requestSlices' byIndex held: a request's end, or a server request (a client's peer). */
const ends = new Set(["http_server_response", "http_client_response", "http_server_request"]);

/** Synthetic thread ids of the extra request tracks: far above any real thread id. */
const LANE_TID_BASE = 1_000_000_000;

interface Interval {
  startUs: number;
  endUs: number;
}

interface RequestPlace extends Interval {
  tid: number;
  pid: number;
  server: boolean;
}

/** `placed`: each request's track and span, by the index of its start event. */
function* requestSlices(walk: () => Iterable<TraceEvent>, ahead: ChromeAhead, us: (ns: bigint) => number, lastUs: number, placed: Map<number, RequestPlace>): Generator<ChromeEvent> {
  // Per thread: when each lane is free again (lane 0 is the thread's own track).
  const lanes = new Map<string, number[]>();
  const named = new Set<string>();
  const peers: { index: number; pid: number; peerIndex: number }[] = [];
  for (const event of walk()) {
    if (event.kind !== "http_server_request" && event.kind !== "http_client_request") continue;
    const f = event.fields;
    const endNs = ahead.requestEnds.get(event.index);
    const startUs = us(event.timestampNs);
    const endUs = endNs !== undefined ? us(endNs) : lastUs;
    const key = `${event.pid}/${event.tid}`;
    let free = lanes.get(key);
    if (!free) lanes.set(key, (free = []));
    let lane = free.findIndex((until) => until <= startUs);
    if (lane < 0) lane = free.push(0) - 1;
    free[lane] = endUs;
    const tid = lane === 0 ? event.tid : LANE_TID_BASE * lane + event.tid;
    if (lane > 0 && !named.has(`${key}/${lane}`)) {
      named.add(`${key}/${lane}`);
      yield { name: "thread_name", ph: "M", ts: 0, pid: event.pid, tid, args: { name: `${event.tid === 0 ? "main" : `worker ${event.tid}`} requests ${lane + 1}` } };
    }
    placed.set(event.index, { tid, startUs, endUs, pid: event.pid, server: event.kind === "http_server_request" });
    if (event.kind === "http_client_request" && typeof f.peerIndex === "number") peers.push({ index: event.index, pid: event.pid, peerIndex: f.peerIndex });
    const target = event.kind === "http_server_request" ? f.target : f.url;
    const name = `${f.method ?? "?"} ${target ?? ""}${f.status ? ` ${f.status}` : ""}`;
    yield { name, cat: "http", ph: "X", ts: startUs, dur: Math.max(endUs - startUs, 1), pid: event.pid, tid, args: { ...f, index: event.index, ...(endNs !== undefined ? {} : { unfinished: true }) } };
  }
  // A client request → the server request it reached (model.ts linkPeers): a flow arrow
  // between the two slices, across processes and, in a merged trace, hosts.
  for (const { index, pid, peerIndex } of peers) {
    const from = placed.get(index);
    const to = placed.get(peerIndex);
    if (!from || !to?.server) continue;
    yield { name: "request", cat: "request", ph: "s", id: index, ts: from.startUs, pid, tid: from.tid };
    yield { name: "request", cat: "request", ph: "f", bp: "e", id: index, ts: to.startUs, pid: to.pid, tid: to.tid };
  }
}

/** Synthetic thread ids of the query tracks ("main queries", ...): apart from the request lanes'. */
const DB_TID_BASE = 500_000_000;
const DB_LANE_TIDS = 1_000_000;

/**
 * Queries, pool waits and framework steps (middleware, handlers, error handlers: named as
 * Perfetto's, "middleware jsonParser", src/export/slices.ts stepName): a slice from start to
 * end, nested in the slice of the request that caused it (on that request's track) when it
 * lies within the request and does not overlap a query already there; a thread without requests keeps its queries on its own
 * track; anything else goes on the thread's query tracks ("main queries", "main queries 2",
 * ...), since slices of one track must nest.
 */
function* dbSlices(walk: () => Iterable<TraceEvent>, ahead: ChromeAhead, us: (ns: bigint) => number, lastUs: number, requests: Map<number, RequestPlace>): Generator<ChromeEvent> {
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
  const threadsWithRequests = ahead.threadsWithRequests;
  const dbLanes = new Map<string, number[]>();
  for (const event of walk()) {
    if (event.kind !== "db_query" && event.kind !== "db_pool_wait" && event.kind !== "http_step_start") continue;
    const f = event.fields;
    const startUs = us(event.timestampNs);
    // A step's end as its request's is computed (a step still open ends at its response: the same µs, not a float's width past it).
    const endUs = typeof f.durationNs !== "number" ? lastUs : event.kind === "http_step_start" ? us(event.timestampNs + BigInt(Math.round(f.durationNs))) : startUs + f.durationNs / 1000;
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
        yield { name: "thread_name", ph: "M", ts: 0, pid: event.pid, tid: DB_TID_BASE + DB_LANE_TIDS * lane + event.tid, args: { name } };
      }
      free[lane] = endUs;
      track = DB_TID_BASE + DB_LANE_TIDS * lane + event.tid;
    } else place(track, endUs);
    const text = typeof f.text === "string" ? f.text : "";
    const step = event.kind === "http_step_start";
    const name = step ? stepName(event) : event.kind === "db_pool_wait" ? `${f.system} pool wait` : text.length > 80 ? `${text.slice(0, 77)}...` : text || "query";
    yield { name, cat: step ? "step" : "db", ph: "X", ts: startUs, dur: Math.max(endUs - startUs, sliceUs), pid: event.pid, tid: track, args: { ...f, index: event.index, ...(typeof f.durationNs === "number" ? {} : { unfinished: true }) } };
  }
}

/** Synthetic thread ids of the loop and GC tracks ("main loop", "main gc"): apart from the others. */
const LOOP_TID_BASE = 300_000_000;
const GC_TID_BASE = 400_000_000;

/**
 * Loop and memory: samples as counters of their process ("loop delay 0", "heap 0", ... per
 * thread id), long tasks and GCs as slices of their length on a track of their own per
 * thread (they overlap requests, which must nest on the thread's track). False for other kinds.
 */
function loopEvent(event: TraceEvent, ts: number, out: ChromeEvent[], named: Set<number>): boolean {
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

/** The kinds (numbers) chromeEvents' light walk need not decode: callKinds (yields and resumes are drawn as events). */
export const LIGHT_CHROME_KINDS: ReadonlySet<number> = new Set([EventKind.function_call, EventKind.function_return, EventKind.function_throw, EventKind.function_settle]);
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
function* callSlices(walk: () => Iterable<TraceEvent>, ahead: ChromeAhead, us: (ns: bigint) => number, unfinished: boolean): Generator<ChromeEvent> {
  const named = new Set<string>();
  const out: ChromeEvent[] = [];
  const trackOf = (pid: number, thread: number, lane: number): number => {
    const tid = CALL_TID_BASE + CALL_LANE_TIDS * lane + thread;
    if (!named.has(`${pid}/${tid}`)) {
      named.add(`${pid}/${tid}`);
      out.push({ name: "thread_name", ph: "M", ts: 0, pid, tid, args: { name: `${laneName(threadName(thread), { group: "calls", lane })}${lane === 0 ? " calls" : ""}` } });
    }
    return tid;
  };
  // A call with no end (the calls level records no returns) is an instant on the first call track.
  if (unfinished) {
    for (const event of walk()) {
      if (event.kind !== "function_call" || ahead.callEnds.of(event)) continue;
      const tid = trackOf(event.pid, event.tid, 0);
      yield* drain(out);
      yield { name: String(event.fields.function), cat: "function", ph: "i", s: "t", ts: us(event.timestampNs), pid: event.pid, tid, args: { ...event.fields, index: event.index, unfinished: true } };
    }
  }
  // The calls that ended, placed as placeSlices places them (a time's calls together, in
  // drawing order), drawn in their order.
  const placer = new LanePlacer();
  let calls: { slice: Slice; args: Record<string, unknown> }[] = [];
  const time = function* () {
    const placed = new Map<Slice, Placement>();
    for (const { slice } of calls.length > 1 ? [...calls].sort((x, y) => drawingOrder(x.slice, y.slice)) : calls) placed.set(slice, placer.place(slice));
    for (const { slice, args } of calls) {
      const tid = trackOf(slice.pid, slice.tid, placed.get(slice)!.lane);
      yield* drain(out);
      const startUs = us(slice.startNs);
      yield { name: slice.name, cat: "function", ph: "X", ts: startUs, dur: us(slice.endNs) - startUs, pid: slice.pid, tid, args: { ...slice.start.fields, index: slice.start.index, ...args } };
    }
    calls = [];
  };
  for (const event of walk()) {
    if (event.kind !== "function_call") continue;
    const end = ahead.callEnds.of(event);
    if (!end) continue;
    if (calls.length && calls[0]!.slice.startNs !== event.timestampNs) yield* time();
    const slice: Slice = { kind: "call", pid: event.pid, tid: event.tid, startNs: event.timestampNs, endNs: end.ns, finished: true, name: String(event.fields.function), start: event, end: null, failed: end.failed };
    calls.push({ slice, args: end.kept });
  }
  yield* time();
}
