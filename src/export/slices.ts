/**
 * What every exporter draws, derived once from the model's events (src/core/model.ts):
 * slices with a start and an end (function calls, server and client requests, queries, pool
 * waits), the process and thread names, message links (send → receive) and request links
 * (a client request → the server request it reached: the model's `peerIndex`, found by
 * connection addresses and order, then by traceparent). Perfetto
 * (perfetto.ts), OTLP (otlp.ts) and Chrome JSON (src/dump/chrome.ts) read these.
 */
import { hostPid, mergedSources, sourceOfPid, type FieldValue, type TraceEvent } from "../core/model";

export type SliceKind = "call" | "server" | "client" | "query" | "pool_wait" | "step" | "gc" | "long_task";

export interface Slice {
  kind: SliceKind;
  pid: number;
  tid: number;
  startNs: bigint;
  /** The end event's time, or the thread's last event's when it never ended (`finished` false). */
  endNs: bigint;
  finished: boolean;
  name: string;
  /** The event that started it (function_call, http_*_request, db_query, db_pool_wait, http_step_start). */
  start: TraceEvent;
  /** The event that ended it (return, throw, settle, response, query end), when recorded. */
  end: TraceEvent | null;
  /** For a call: threw or rejected; for a request: status ≥ 500 or an error; for a query: failed. */
  failed: boolean;
}

export interface ThreadInfo {
  pid: number;
  tid: number;
  /** "main" or "worker N". */
  name: string;
  firstNs: bigint;
  lastNs: bigint;
}

export interface ProcessInfo {
  pid: number;
  /** The host it ran on (a merged trace's input's host; else the trace's). */
  host: string | null;
  /** The pid as its host saw it (differs from `pid` in a merged trace). */
  hostPid: number;
  /** The command line of its trace_start (main thread), when recorded. */
  argv: string | null;
  runtime: string | null;
  parentPid: number | null;
}

export interface Link {
  kind: "message" | "request";
  from: TraceEvent;
  to: TraceEvent;
}

export interface TraceShape {
  slices: Slice[];
  threads: ThreadInfo[];
  processes: ProcessInfo[];
  links: Link[];
}

/** Where a request's, query's or pool wait's end is (the model's endIndex; a query's first link): an index later than its own. */
export function endIndexOf(event: TraceEvent): number | undefined {
  if (event.kind === "db_query" || event.kind === "db_pool_wait") return event.linkedTo.length ? event.linkedTo[0] : undefined;
  return typeof event.fields.endIndex === "number" ? event.fields.endIndex : undefined;
}

/**
 * The slice of a request, query or pool wait, given its end (null: none recorded; `end`
 * may be null with `finished` true where only its time is kept, as the streamed Perfetto
 * export does) and where it ends (its end's time, or its thread's last).
 */
export function spanSlice(event: TraceEvent, end: TraceEvent | null, endNs: bigint, finished = end !== null): Slice {
  const f = event.fields;
  const { pid, tid } = event;
  const startNs = event.timestampNs;
  if (event.kind === "db_query" || event.kind === "db_pool_wait") return { kind: event.kind === "db_query" ? "query" : "pool_wait", pid, tid, startNs, endNs, finished, name: queryName(event), start: event, end, failed: f.failed === true };
  const status = typeof f.status === "number" ? f.status : 0;
  // A request upgraded to another protocol (a WebSocket's 101) ended as it should: no failure.
  const failed = (event.kind === "http_server_request" ? status >= 500 : status >= 400) || typeof f.errorCode === "string" || (finished && f.end !== "finished" && f.end !== "upgraded");
  return { kind: event.kind === "http_server_request" ? "server" : "client", pid, tid, startNs, endNs, finished, name: requestName(event), start: event, end, failed };
}

/**
 * A framework step's slice (middleware, handler, error handler: an http_step_start), from its
 * start for its duration (the model's `durationNs`, set at its end or its request's); never
 * ended: to `lastNs`, unfinished. Named by kind, function and route: "middleware jsonParser",
 * "handler <anonymous> /items/:id".
 */
export function stepSlice(event: TraceEvent, lastNs: bigint): Slice {
  const f = event.fields;
  const finished = typeof f.durationNs === "number";
  const endNs = finished ? event.timestampNs + BigInt(f.durationNs as number) : lastNs;
  return { kind: "step", pid: event.pid, tid: event.tid, startNs: event.timestampNs, endNs: endNs < event.timestampNs ? event.timestampNs : endNs, finished, name: stepName(event), start: event, end: null, failed: f.failed === true };
}

export function stepName(event: TraceEvent): string {
  const f = event.fields;
  const what = typeof f.stepKind === "string" && f.stepKind ? f.stepKind : "step";
  return `${what} ${typeof f.name === "string" && f.name ? f.name : "<anonymous>"}${typeof f.route === "string" && f.route ? ` ${f.route}` : ""}`;
}

const threadKey = (event: { pid: number; tid: number }) => `${event.pid}/${event.tid}`;

export function threadName(tid: number): string {
  return tid === 0 ? "main" : `worker ${tid}`;
}

/**
 * "GET /items/:id 200" (a server request by its route where a framework named one: Perfetto's
 * and Chrome's UIs group slices by name, and one row per URL (/items/1, /items/2, ...) groups
 * nothing; the target stays in the slice's args), "query GetCat 200" (a GraphQL operation or
 * tRPC procedures: the route is the operation), "GET /r/1 200" (no route), "GET http://host/x 503"
 * (a client request by its URL), "GET /x" (no response).
 */
export function requestName(event: TraceEvent): string {
  const f = event.fields;
  const status = f.status ? ` ${f.status}` : "";
  if (event.kind === "http_server_request" && operationRoute(f)) return `${f.route as string}${status}`;
  const target = event.kind === "http_server_request" ? (typeof f.route === "string" && f.route ? f.route : f.target) : f.url;
  return `${f.method ?? "?"} ${target ?? ""}${status}`;
}

/** A server request's route that names an operation (framework graphql or trpc, model.ts), not a URL's pattern. */
export function operationRoute(f: TraceEvent["fields"]): boolean {
  return (f.framework === "graphql" || f.framework === "trpc") && typeof f.route === "string" && f.route !== "";
}

/** A query's text cut to 80 characters ("query" when it has none); a pool wait: "pg pool wait". */
export function queryName(event: TraceEvent): string {
  const f = event.fields;
  if (event.kind === "db_pool_wait") return `${f.system} pool wait`;
  const text = typeof f.text === "string" ? f.text : "";
  return text.length > 80 ? `${text.slice(0, 77)}...` : text || "query";
}

/**
 * The threads (in order of their first event, with their first and last times) and processes
 * (with their command line) the events show: shapeOf's, and the streamed Perfetto export's
 * first walk (src/export/perfetto.ts). `sources`: the trace_source events (a merged trace's hosts).
 */
export class ThreadsAndProcesses {
  readonly threads = new Map<string, ThreadInfo>();
  readonly processes = new Map<number, ProcessInfo>();
  private readonly hosts: Map<number, string>;

  constructor(sources: TraceEvent[]) {
    this.hosts = new Map(mergedSources(sources).map((source) => [source.source, source.host]));
  }

  add(event: TraceEvent): void {
    const { threads, processes } = this;
    const key = threadKey(event);
    let thread = threads.get(key);
    if (!thread) threads.set(key, (thread = { pid: event.pid, tid: event.tid, name: threadName(event.tid), firstNs: event.timestampNs, lastNs: event.timestampNs }));
    // The collector's ending is stamped when it noticed the process gone, after the fact: what
    // never ended in the process ran until its own last record, not until then.
    if (event.fields.recordedBy !== "collector") thread.lastNs = event.timestampNs;
    if (!processes.has(event.pid)) processes.set(event.pid, { pid: event.pid, host: this.hosts.get(sourceOfPid(event.pid)) ?? null, hostPid: hostPid(event.pid), argv: null, runtime: null, parentPid: null });
    if (event.kind === "trace_start" && event.fields.mainThread === true) {
      const process = processes.get(event.pid)!;
      process.argv = typeof event.fields.argv === "string" ? event.fields.argv : null;
      process.runtime = typeof event.fields.runtime === "string" ? event.fields.runtime : null;
      process.parentPid = typeof event.fields.parentPid === "number" ? event.fields.parentPid : null;
    }
  }

  /** The time of the thread's last event (a slice that never ended ends there). */
  lastNs(event: { pid: number; tid: number }): bigint {
    return this.threads.get(threadKey(event))!.lastNs;
  }
}

export const callEndKinds = new Set(["function_return", "function_throw", "function_settle"]);

/** A call's end as CallEnds keeps it: its kind and time, whether it failed, and what the reader keeps of it. */
export interface CallEnd<T> {
  kind: string;
  ns: bigint;
  /** It threw or its promise rejected. */
  failed: boolean;
  kept: T;
}

/**
 * Each call's end by thread and call id: its settle (async: the whole call), else its return
 * or throw, the last of each. `keep`: what is kept of the end event (shapeOf: the event; the
 * streamed exports: only what they draw of it, so that a trace's millions of calls do not
 * keep their ends' events). Call ids count up from 1 per thread: an id below twice the
 * thread's count so far is a slot of typed arrays (its time, kind and failure: 9 bytes and the
 * kept value's reference), any other one goes in a Map ("scope export --perfetto, dump
 * --chrome and --why in bounded memory", BENCHMARKS.md: 1.77 GB instead of 2.06 GB).
 */
export class CallEnds<T> {
  private readonly threads = new Map<string, ThreadCallEnds<T>>();

  constructor(private readonly keep: (end: TraceEvent) => T) {}

  add(event: TraceEvent): void {
    if (!callEndKinds.has(event.kind)) return;
    const key = threadKey(event);
    let thread = this.threads.get(key);
    if (!thread) this.threads.set(key, (thread = new ThreadCallEnds<T>()));
    const call = event.fields.call;
    const known = thread.kind(call);
    if (known === undefined || event.kind === "function_settle" || known !== "function_settle") thread.set(call, event.kind, event.timestampNs, event.kind === "function_throw" || event.fields.rejected === true, this.keep(event));
  }

  /** The end of `call` (a function_call), if the trace has one. */
  of(call: TraceEvent): CallEnd<T> | undefined {
    return this.threads.get(threadKey(call))?.get(call.fields.call);
  }
}

const endKindNames = ["", "function_return", "function_throw", "function_settle"];
const FAILED = 4;

class ThreadCallEnds<T> {
  private ns = new BigUint64Array(0);
  /** 0: no end; else the kind's place in endKindNames, | FAILED. */
  private flags = new Uint8Array(0);
  private kept: T[] = [];
  private count = 0;
  private readonly sparse = new Map<FieldValue | undefined, CallEnd<T>>();

  private slot(call: FieldValue | undefined): number {
    return typeof call === "number" && Number.isInteger(call) && call >= 0 && call < 2 * this.count + 1024 ? call : -1;
  }

  kind(call: FieldValue | undefined): string | undefined {
    const slot = this.slot(call);
    if (slot < 0) return this.sparse.get(call)?.kind;
    const flags = slot < this.flags.length ? this.flags[slot]! : 0;
    return flags ? endKindNames[flags & 3] : this.sparse.get(call)?.kind;
  }

  get(call: FieldValue | undefined): CallEnd<T> | undefined {
    const slot = this.slot(call);
    const flags = slot >= 0 && slot < this.flags.length ? this.flags[slot]! : 0;
    if (!flags) return this.sparse.get(call);
    return { kind: endKindNames[flags & 3]!, ns: this.ns[slot]!, failed: (flags & FAILED) !== 0, kept: this.kept[slot]! };
  }

  set(call: FieldValue | undefined, kind: string, ns: bigint, failed: boolean, kept: T): void {
    const slot = this.slot(call);
    this.count++;
    // An id that was sparse stays sparse (one place per id); so does a time no slot holds.
    if (slot < 0 || this.sparse.has(call) || ns < 0n || ns >= 1n << 64n) {
      this.sparse.set(call, { kind, ns, failed, kept });
      return;
    }
    if (slot >= this.flags.length) {
      const size = Math.max(1024, 2 ** Math.ceil(Math.log2(slot + 1)));
      const ns2 = new BigUint64Array(size);
      ns2.set(this.ns);
      this.ns = ns2;
      const flags2 = new Uint8Array(size);
      flags2.set(this.flags);
      this.flags = flags2;
    }
    this.ns[slot] = ns;
    this.flags[slot] = endKindNames.indexOf(kind) | (failed ? FAILED : 0);
    this.kept[slot] = kept;
  }
}

export function shapeOf(events: TraceEvent[]): TraceShape {
  const names = new ThreadsAndProcesses(events);
  for (const event of events) names.add(event);
  const { threads, processes } = names;
  const lastOf = (event: TraceEvent) => names.lastNs(event);

  const callEnds = new CallEnds((end) => end);
  for (const event of events) callEnds.add(event);
  const byIndex = (index: unknown) => (typeof index === "number" ? events[index] : undefined);
  const slices: Slice[] = [];
  for (const event of events) {
    const f = event.fields;
    switch (event.kind) {
      case "function_call": {
        const end = callEnds.of(event);
        slices.push({ kind: "call", pid: event.pid, tid: event.tid, startNs: event.timestampNs, endNs: end ? end.ns : lastOf(event), finished: end !== undefined, name: String(f.function), start: event, end: end?.kept ?? null, failed: end?.failed ?? false });
        break;
      }
      case "http_server_request":
      case "http_client_request":
      case "db_query":
      case "db_pool_wait": {
        const end = byIndex(endIndexOf(event)) ?? null;
        slices.push(spanSlice(event, end, end ? end.timestampNs : lastOf(event)));
        break;
      }
      case "http_step_start":
        slices.push(stepSlice(event, lastOf(event)));
        break;
    }
  }

  const links: Link[] = [];
  for (const event of events) {
    if (event.kind === "message_receive" && event.linkedTo.length === 1) links.push({ kind: "message", from: events[event.linkedTo[0]!]!, to: event });
  }
  // A client request → the server request it reached (the model's peerIndex: by connection, then traceparent).
  for (const event of events) {
    if (event.kind !== "http_server_request" || typeof event.fields.peerIndex !== "number") continue;
    const client = events[event.fields.peerIndex];
    if (client?.kind === "http_client_request") links.push({ kind: "request", from: client, to: event });
  }
  return { slices, threads: [...threads.values()], processes: [...processes.values()], links };
}
