/**
 * The query layer's API for other parts of scope (e.g. `scope view`): open a trace as a
 * SQLite database (cached next to the trace, see database.ts) and read windows of it.
 * Times are nanoseconds since the trace's start (the header's monotonic anchor).
 *
 *   const trace = openTrace("trace.bin");          // throws TraceOpenError (one line) when unreadable
 *   trace.warning;                                 // "not closed" / "damaged at byte N", or null
 *   threads(trace);                                // every thread with its time range
 *   threadEvents(trace, pid, tid, fromNs, toNs);   // raw events of one thread in [fromNs, toNs]
 *   threadCalls(trace, pid, tid, fromNs, toNs);    // calls overlapping the window, with depth
 *   trace.db.query("SELECT ...").all();            // anything else (docs/query.md)
 *   trace.close();
 */
import type { TraceDatabase } from "./database";

export { openTrace, TraceOpenError, type OpenOptions, type TraceDatabase } from "./database";
export { SCHEMA_VERSION } from "./schema";

export interface ThreadRow {
  thread: number;
  pid: number;
  tid: number;
  main: number;
  entry: string | null;
  start_ns: number | null;
  end_ns: number | null;
  events: number;
}

export interface WindowEvent {
  id: number;
  ts_ns: number;
  kind: string;
  flags: number;
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
}

export interface WindowCall {
  id: number;
  name: string;
  file: string | null;
  line: number | null;
  start_ns: number;
  /** null: no end recorded (the calls level, or the thread ended first). */
  end_ns: number | null;
  self_ns: number | null;
  depth: number;
  parent: number | null;
  request: number | null;
  outcome: number | null;
}

export function threads(trace: TraceDatabase): ThreadRow[] {
  return trace.db.query("SELECT thread, pid, tid, main, entry, start_ns, end_ns, events FROM threads ORDER BY pid, tid").all() as ThreadRow[];
}

function threadNumber(trace: TraceDatabase, pid: number, tid: number): { thread: number; maxCallNs: number } | null {
  const row = trace.db.query("SELECT thread, max_call_ns FROM threads WHERE pid = ? AND tid = ?").get(pid, tid) as { thread: number; max_call_ns: number } | null;
  return row ? { thread: row.thread, maxCallNs: row.max_call_ns ?? 0 } : null;
}

/**
 * The events of thread (pid, tid) with fromNs <= ts_ns <= toNs, in time order (at most
 * `limit`). Event ids follow each thread's time order, so event_marks bound the ids to
 * scan (one mark more on each side: a thread's timestamps may step back a little where
 * the runtime read its clock before a record it wrote after another).
 */
export function threadEvents(trace: TraceDatabase, pid: number, tid: number, fromNs: number, toNs: number, limit = 100_000): WindowEvent[] {
  const found = threadNumber(trace, pid, tid);
  if (!found) return [];
  const [first, last] = idRange(trace, found.thread, fromNs, toNs);
  // A call's end can lie in the window while its call (the row's id) started up to the thread's longest call before.
  const [callFirst] = idRange(trace, found.thread, fromNs - found.maxCallNs, toNs);
  return trace.db
    .query(
      `SELECT * FROM (
         SELECT e.id, e.ts_ns, k.name AS kind, e.flags, e.a, e.b, e.c, e.d, e.e FROM event_rows e JOIN kinds k ON k.kind = e.kind
           WHERE e.id BETWEEN ?1 AND ?2 AND e.thread = ?3 AND e.ts_ns BETWEEN ?4 AND ?5
         UNION ALL
         SELECT c.id, c.start_ns, 'function_call', 0, f.function_id, c.ordinal, c.args, c.request_id, c.state
           FROM call_rows c JOIN functions f ON f.id = c.function
           WHERE c.id BETWEEN ?1 AND ?2 AND c.thread = ?3 AND c.start_ns BETWEEN ?4 AND ?5
         UNION ALL
         SELECT c.end_event, c.end_ns, CASE c.outcome WHEN 1 THEN 'function_return' WHEN 2 THEN 'function_throw' ELSE 'function_settle' END,
           CASE c.outcome WHEN 4 THEN 1 ELSE 0 END, f.function_id, c.ordinal, c.end_c, c.end_d, c.end_e
           FROM call_rows c JOIN functions f ON f.id = c.function
           WHERE c.id BETWEEN ?6 AND ?2 AND c.thread = ?3 AND c.end_ns BETWEEN ?4 AND ?5)
       ORDER BY ts_ns, id LIMIT ?7`,
    )
    .all(first, last, found.thread, fromNs, toNs, callFirst, limit) as WindowEvent[];
}

/** Ids that hold every event of `thread` in [fromNs, toNs]: from event_marks, one mark more on each side. */
function idRange(trace: TraceDatabase, thread: number, fromNs: number, toNs: number): [number, number] {
  const db = trace.db;
  const first = db.query("SELECT id FROM event_marks WHERE thread = ? AND ts_ns < ? ORDER BY ts_ns DESC, id DESC LIMIT 1 OFFSET 1").get(thread, fromNs) as { id: number } | null;
  const last = db.query("SELECT id FROM event_marks WHERE thread = ? AND ts_ns > ? ORDER BY ts_ns, id LIMIT 1 OFFSET 1").get(thread, toNs) as { id: number } | null;
  return [first?.id ?? 0, last?.id ?? Number.MAX_SAFE_INTEGER];
}

/**
 * The calls of thread (pid, tid) overlapping [fromNs, toNs] (a call without an end counts
 * as the instant it started), by start: a call's id is its function_call event's, so the
 * calls that can overlap lie in the ids of [fromNs - the thread's longest call, toNs].
 */
export function threadCalls(trace: TraceDatabase, pid: number, tid: number, fromNs: number, toNs: number, limit = 100_000): WindowCall[] {
  const found = threadNumber(trace, pid, tid);
  if (!found) return [];
  const [first, last] = idRange(trace, found.thread, fromNs - found.maxCallNs, toNs);
  return trace.db
    .query(
      `SELECT c.id, f.name, f.file, f.line, c.start_ns, c.end_ns, c.self_ns, c.depth, c.parent, c.request, c.outcome
       FROM call_rows c JOIN functions f ON f.id = c.function
       WHERE c.id BETWEEN ? AND ? AND c.thread = ? AND c.start_ns <= ? AND coalesce(c.end_ns, c.start_ns) >= ?
       ORDER BY c.start_ns, c.id LIMIT ?`,
    )
    .all(first, last, found.thread, toNs, fromNs, limit) as WindowCall[];
}
