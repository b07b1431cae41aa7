/**
 * `scope dump --chrome`: Chrome Trace Event JSON (opens in Perfetto and chrome://tracing).
 * One track per process/thread; each event a short slice so that message sends and
 * receives can be joined by flow arrows (flows bind to enclosing slices). Requests are
 * slices from their start to their end on their thread's track; requests that overlap an
 * earlier one still running on that thread go on extra tracks next to it ("requests 2", ...),
 * since slices of one track must nest.
 */
import type { TraceEvent } from "../core/model";

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

export function toChromeTrace(events: TraceEvent[], startNs: bigint): { traceEvents: ChromeEvent[]; displayTimeUnit: string } {
  const out: ChromeEvent[] = [];
  const tracks = new Map<string, { pid: number; tid: number; name: string | null }>();
  const us = (event: TraceEvent) => Number(event.timestampNs - startNs) / 1000;
  for (const event of events) {
    const key = `${event.pid}/${event.tid}`;
    if (!tracks.has(key)) tracks.set(key, { pid: event.pid, tid: event.tid, name: null });
    if (event.kind === "trace_start" && typeof event.fields.argv === "string") tracks.get(key)!.name = event.fields.argv;
    const ts = us(event);
    // A query or pool wait is one slice from its start to its end (the end has no slice of its own).
    if (event.kind === "db_query_end" || event.kind === "db_pool_wait_end") continue;
    if (event.kind === "db_query" || event.kind === "db_pool_wait") {
      const took = typeof event.fields.durationNs === "number" ? event.fields.durationNs / 1000 : sliceUs;
      const text = typeof event.fields.text === "string" ? event.fields.text : "";
      const name = event.kind === "db_pool_wait" ? `${event.fields.system} pool wait` : text.length > 80 ? `${text.slice(0, 77)}...` : text || "query";
      out.push({ name, cat: "db", ph: "X", ts, dur: Math.max(took, sliceUs), pid: event.pid, tid: event.tid, args: { ...event.fields, index: event.index } });
      continue;
    }
    out.push({ name: event.kind, cat: "scope", ph: "X", ts, dur: sliceUs, pid: event.pid, tid: event.tid, args: { ...event.fields, index: event.index } });
    if (event.kind === "message_send" && event.linkedTo.length) {
      out.push({ name: "message", cat: "message", ph: "s", id: event.index, ts, pid: event.pid, tid: event.tid });
    }
    if (event.kind === "message_receive" && event.linkedTo.length === 1) {
      out.push({ name: "message", cat: "message", ph: "f", bp: "e", id: event.linkedTo[0]!, ts, pid: event.pid, tid: event.tid });
    }
  }
  requestSlices(events, us, out);
  for (const { pid, tid, name } of tracks.values()) {
    out.push({ name: "thread_name", ph: "M", ts: 0, pid, tid, args: { name: tid === 0 ? "main" : `worker ${tid}` } });
    if (tid === 0) out.push({ name: "process_name", ph: "M", ts: 0, pid, tid, args: { name: name ? `${pid}: ${name}` : `pid ${pid}` } });
  }
  return { traceEvents: out, displayTimeUnit: "ns" };
}

/** Synthetic thread ids of the extra request tracks: far above any real thread id. */
const LANE_TID_BASE = 1_000_000_000;

function requestSlices(events: TraceEvent[], us: (event: TraceEvent) => number, out: ChromeEvent[]): void {
  const lastUs = events.length ? us(events[events.length - 1]!) : 0;
  // Per thread: when each lane is free again (lane 0 is the thread's own track).
  const lanes = new Map<string, number[]>();
  const named = new Set<string>();
  const byIndex = new Map<number, TraceEvent>();
  for (const event of events) if (event.kind === "http_server_response" || event.kind === "http_client_response") byIndex.set(event.index, event);
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
    const target = event.kind === "http_server_request" ? f.target : f.url;
    const name = `${f.method ?? "?"} ${target ?? ""}${f.status ? ` ${f.status}` : ""}`;
    out.push({ name, cat: "http", ph: "X", ts: startUs, dur: Math.max(endUs - startUs, 1), pid: event.pid, tid, args: { ...f, index: event.index, ...(end ? {} : { unfinished: true }) } });
  }
}
