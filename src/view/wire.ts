/**
 * What the `scope view` server (src/view/index.ts, server.ts) sends the page
 * (src/view/page/app.ts): the JSON shapes and the numbers that name slice, instant and
 * arrow kinds in the flat arrays. Both sides import this file; the page takes its types
 * only, so nothing here may import code that needs Bun or Node.
 */
import type { FieldValue } from "../core/model";

export type TrackKind = "calls" | "async" | "requests" | "steps" | "queries" | "loop" | "counter";

export interface TrackInfo {
  id: number;
  host: string;
  pid: number;
  tid: number;
  kind: TrackKind;
  /** "main", "worker 2", "main · requests", "heap used"... */
  label: string;
  /** The process's name: "pid: argv". */
  process: string;
  rows: number;
  /** Counters: what the values are. */
  unit?: "bytes" | "ns";
}

/** Instant kinds, as the page draws them. */
export const InstantKind = {
  send: 1,
  receive: 2,
  spawn: 3,
  start: 4,
  exit: 5,
  childExit: 6,
  threadSpawn: 7,
  threadExit: 8,
  warning: 9,
  gc: 10,
  longTask: 11,
  error: 12,
  /** A connection's open or close at one end (a WebSocket's: channel_open, channel_close). */
  connection: 13,
} as const;

export const SliceKind = { call: 1, async: 2, request: 3, query: 4, poolWait: 5, gc: 6, longTask: 7, step: 8 } as const;
export const ArrowKind = { message: 1, spawn: 2, request: 3 } as const;

export interface TraceStatus {
  closed: boolean;
  /** Why reading stopped early (damaged or truncated), or null. */
  error: string | null;
  dropped: number;
  overwritten: number;
  /** One sentence for the page when the trace is not whole, else null. */
  warning: string | null;
}

export interface Meta {
  path: string;
  argv: string[];
  host: string;
  startTime: string;
  durationNs: number;
  records: number;
  slices: number;
  instants: number;
  arrows: number;
  tracks: TrackInfo[];
  status: TraceStatus;
}

export interface WindowQuery {
  startNs: number;
  endNs: number;
  /** Pixels across the window: slices narrower than endNs-startNs / widthPx are merged. */
  widthPx: number;
  /** Only these tracks (all when absent). */
  tracks?: number[];
}

export interface WindowAnswer {
  startNs: number;
  endNs: number;
  /** Flat: track, row, start, end, label, id (start record), count (>1: merged), kind, flags. */
  slices: number[];
  /** Flat: track, time, kind, id (record), count, label. */
  instants: number[];
  /** Flat: from track, from time, to track, to time, kind, from id, to id. */
  arrows: number[];
  /** Arrows in the window not sent (too many to draw). */
  arrowsLeftOut: number;
  /** Per counter track: flat time, min, max. */
  counters: Record<number, number[]>;
  labels: Record<number, string>;
}

export interface Link {
  label: string;
  id: number;
  timeNs: number;
  track: number;
  name: string;
}

export interface Details {
  id: number;
  kind: string;
  pid: number;
  tid: number;
  track: number;
  timeNs: number;
  durationNs: number | null;
  name: string;
  fields: Record<string, FieldValue>;
  end: { kind: string; fields: Record<string, FieldValue> } | null;
  links: Link[];
}

export interface SearchHit {
  id: number;
  timeNs: number;
  track: number;
  name: string;
  kind: string;
}
