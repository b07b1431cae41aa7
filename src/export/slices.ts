/**
 * What every exporter draws, derived once from the model's events (src/core/model.ts):
 * slices with a start and an end (function calls, server and client requests, queries, pool
 * waits), the process and thread names, message links (send → receive) and request links
 * (a client request → the server request it reached: the model's `peerIndex`, found by
 * connection addresses and order, then by traceparent). Perfetto
 * (perfetto.ts), OTLP (otlp.ts) and Chrome JSON (src/dump/chrome.ts) read these.
 */
import { hostPid, mergedSources, sourceOfPid, type TraceEvent } from "../core/model";

export type SliceKind = "call" | "server" | "client" | "query" | "pool_wait" | "gc" | "long_task";

export interface Slice {
  kind: SliceKind;
  pid: number;
  tid: number;
  startNs: bigint;
  /** The end event's time, or the thread's last event's when it never ended (`finished` false). */
  endNs: bigint;
  finished: boolean;
  name: string;
  /** The event that started it (function_call, http_*_request, db_query, db_pool_wait). */
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

const threadKey = (event: { pid: number; tid: number }) => `${event.pid}/${event.tid}`;

export function threadName(tid: number): string {
  return tid === 0 ? "main" : `worker ${tid}`;
}

/** "GET /r/1 200", "GET http://host/x 503", "GET /x" (no response). */
export function requestName(event: TraceEvent): string {
  const f = event.fields;
  const target = event.kind === "http_server_request" ? f.target : f.url;
  return `${f.method ?? "?"} ${target ?? ""}${f.status ? ` ${f.status}` : ""}`;
}

/** A query's text cut to 80 characters ("query" when it has none); a pool wait: "pg pool wait". */
export function queryName(event: TraceEvent): string {
  const f = event.fields;
  if (event.kind === "db_pool_wait") return `${f.system} pool wait`;
  const text = typeof f.text === "string" ? f.text : "";
  return text.length > 80 ? `${text.slice(0, 77)}...` : text || "query";
}

export function shapeOf(events: TraceEvent[]): TraceShape {
  const hosts = new Map(mergedSources(events).map((source) => [source.source, source.host]));
  const threads = new Map<string, ThreadInfo>();
  const processes = new Map<number, ProcessInfo>();
  for (const event of events) {
    const key = threadKey(event);
    let thread = threads.get(key);
    if (!thread) threads.set(key, (thread = { pid: event.pid, tid: event.tid, name: threadName(event.tid), firstNs: event.timestampNs, lastNs: event.timestampNs }));
    thread.lastNs = event.timestampNs;
    if (!processes.has(event.pid)) processes.set(event.pid, { pid: event.pid, host: hosts.get(sourceOfPid(event.pid)) ?? null, hostPid: hostPid(event.pid), argv: null, runtime: null, parentPid: null });
    if (event.kind === "trace_start" && event.fields.mainThread === true) {
      const process = processes.get(event.pid)!;
      process.argv = typeof event.fields.argv === "string" ? event.fields.argv : null;
      process.runtime = typeof event.fields.runtime === "string" ? event.fields.runtime : null;
      process.parentPid = typeof event.fields.parentPid === "number" ? event.fields.parentPid : null;
    }
  }
  const lastOf = (event: TraceEvent) => threads.get(threadKey(event))!.lastNs;

  // A call ends at its settle (async: the whole call) or else its return or throw.
  const callEnds = new Map<string, TraceEvent>();
  for (const event of events) {
    if (event.kind !== "function_return" && event.kind !== "function_throw" && event.kind !== "function_settle") continue;
    const key = `${threadKey(event)}/${event.fields.call}`;
    const known = callEnds.get(key);
    if (!known || event.kind === "function_settle" || known.kind !== "function_settle") callEnds.set(key, event);
  }
  const byIndex = (index: unknown) => (typeof index === "number" ? events[index] : undefined);
  const slices: Slice[] = [];
  for (const event of events) {
    const f = event.fields;
    switch (event.kind) {
      case "function_call": {
        const end = callEnds.get(`${threadKey(event)}/${f.call}`) ?? null;
        const failed = end !== null && (end.kind === "function_throw" || end.fields.rejected === true);
        slices.push({ kind: "call", pid: event.pid, tid: event.tid, startNs: event.timestampNs, endNs: end ? end.timestampNs : lastOf(event), finished: end !== null, name: String(f.function), start: event, end, failed });
        break;
      }
      case "http_server_request":
      case "http_client_request": {
        const end = byIndex(f.endIndex) ?? null;
        const status = typeof f.status === "number" ? f.status : 0;
        const failed = (event.kind === "http_server_request" ? status >= 500 : status >= 400) || typeof f.errorCode === "string" || (end !== null && f.end !== "finished");
        slices.push({ kind: event.kind === "http_server_request" ? "server" : "client", pid: event.pid, tid: event.tid, startNs: event.timestampNs, endNs: end ? end.timestampNs : lastOf(event), finished: end !== null, name: requestName(event), start: event, end, failed });
        break;
      }
      case "db_query":
      case "db_pool_wait": {
        const end = event.linkedTo.length ? (events[event.linkedTo[0]!] ?? null) : null;
        slices.push({ kind: event.kind === "db_query" ? "query" : "pool_wait", pid: event.pid, tid: event.tid, startNs: event.timestampNs, endNs: end ? end.timestampNs : lastOf(event), finished: end !== null, name: queryName(event), start: event, end, failed: f.failed === true });
        break;
      }
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
