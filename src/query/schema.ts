/**
 * The SQL schema of a loaded trace (documented for users in docs/query.md). Base tables
 * hold integers as the loader found them; the views users query (events, calls, ...)
 * add names and texts, resolved lazily (a correlated subquery is evaluated only when its
 * column is selected). Every `*_ns` is nanoseconds since the trace's start (the header's
 * clock anchor); every `id` of a derived table is the event id of what started it, so
 * `events.id = calls.id` joins a call to its function_call event.
 *
 * SCHEMA_VERSION is stored in every cached database: a cache of another version is
 * rebuilt, so change it with any change here or in what the loader puts in.
 */
export const SCHEMA_VERSION = 15;

/** One event_marks row per this many events of a thread. */
export const MARK_EVERY = 1024;

/** Created before the load (no indexes yet: they are built after, see INDEXES). */
export const TABLES = `
CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE kinds(kind INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE texts(id INTEGER PRIMARY KEY, text TEXT);
CREATE TABLE string_rows(key INTEGER PRIMARY KEY, text_id INTEGER);
CREATE TABLE event_rows(id INTEGER PRIMARY KEY, thread INTEGER NOT NULL, ts_ns INTEGER NOT NULL, kind INTEGER, flags INTEGER, a INTEGER, b INTEGER, c INTEGER, d INTEGER, e INTEGER);
CREATE TABLE event_marks(thread INTEGER NOT NULL, ts_ns INTEGER NOT NULL, id INTEGER NOT NULL, PRIMARY KEY(thread, ts_ns, id)) WITHOUT ROWID;
CREATE TABLE processes(pid INTEGER PRIMARY KEY, parent_pid INTEGER, runtime TEXT, argv TEXT, cwd TEXT, spawned_by_event INTEGER, command TEXT, spawn_method TEXT,
  start_ns INTEGER, end_ns INTEGER, exit_code INTEGER, exit_signal INTEGER, exit_reason TEXT, error_type TEXT, error_message TEXT, events INTEGER, collector INTEGER, exit_by TEXT);
CREATE TABLE threads(thread INTEGER PRIMARY KEY, pid INTEGER NOT NULL, tid INTEGER NOT NULL, main INTEGER, entry TEXT, parent_tid INTEGER, start_ns INTEGER, end_ns INTEGER,
  exit_code INTEGER, exit_reason TEXT, error_type TEXT, error_message TEXT, events INTEGER, max_call_ns INTEGER, exit_by TEXT, UNIQUE(pid, tid));
CREATE TABLE functions(id INTEGER PRIMARY KEY, thread INTEGER, pid INTEGER, tid INTEGER, function_id INTEGER, name TEXT, file TEXT, line INTEGER, column INTEGER,
  async INTEGER, generator INTEGER, flags INTEGER, calls INTEGER, ended INTEGER, total_ns INTEGER, self_ns INTEGER, max_ns INTEGER);
CREATE TABLE call_rows(id INTEGER PRIMARY KEY, function INTEGER, thread INTEGER, start_ns INTEGER, end_ns INTEGER,
  end_event INTEGER, outcome INTEGER, self_ns INTEGER, parent INTEGER, depth INTEGER, request INTEGER,
  ordinal INTEGER, args INTEGER DEFAULT 0, request_id INTEGER DEFAULT 0, state INTEGER DEFAULT 0, end_c INTEGER, end_d INTEGER DEFAULT 0, end_e INTEGER DEFAULT 0,
  args_text_id INTEGER, end_text_id INTEGER);
CREATE TABLE messages(id INTEGER PRIMARY KEY, channel TEXT, owner_pid INTEGER, sub_id INTEGER, direction INTEGER, ordinal INTEGER,
  send_event INTEGER, send_pid INTEGER, send_tid INTEGER, send_ns INTEGER, receive_event INTEGER, receive_pid INTEGER, receive_tid INTEGER, receive_ns INTEGER,
  latency_ns INTEGER, size_bytes INTEGER, preview TEXT, failed INTEGER, request INTEGER, handler INTEGER);
CREATE TABLE requests(id INTEGER PRIMARY KEY, kind TEXT, pid INTEGER, tid INTEGER, request_id INTEGER, method TEXT, target TEXT, route TEXT, framework TEXT,
  status INTEGER, start_ns INTEGER, end_ns INTEGER, duration_ns INTEGER, request_bytes INTEGER, response_bytes INTEGER, end TEXT,
  error_code TEXT, error_message TEXT, traceparent TEXT, parent INTEGER, protocol TEXT, api TEXT,
  local_address TEXT, local_port INTEGER, remote_address TEXT, remote_port INTEGER);
CREATE TABLE steps(id INTEGER PRIMARY KEY, request INTEGER, pid INTEGER, tid INTEGER, step INTEGER, name TEXT, step_kind TEXT, route TEXT,
  start_ns INTEGER, end_ns INTEGER, duration_ns INTEGER, failed INTEGER, error_type TEXT, error_message TEXT);
CREATE TABLE connections(id INTEGER PRIMARY KEY, channel TEXT, owner_pid INTEGER, sub_id INTEGER, side TEXT, pid INTEGER, tid INTEGER, address TEXT, protocol TEXT,
  open_ns INTEGER, close_ns INTEGER, duration_ns INTEGER, code INTEGER, reason TEXT, error TEXT, clean INTEGER, open_event INTEGER, close_event INTEGER);
CREATE TABLE queries(id INTEGER PRIMARY KEY, pid INTEGER, tid INTEGER, query_id INTEGER, system TEXT, text TEXT, text_cut INTEGER, params INTEGER,
  start_ns INTEGER, end_ns INTEGER, duration_ns INTEGER, rows INTEGER, failed INTEGER, error_code TEXT, error_message TEXT, request INTEGER,
  database TEXT, server_address TEXT, server_port INTEGER, db_user TEXT);
CREATE TABLE pool_waits(id INTEGER PRIMARY KEY, pid INTEGER, tid INTEGER, wait_id INTEGER, system TEXT, open INTEGER, idle INTEGER,
  start_ns INTEGER, end_ns INTEGER, duration_ns INTEGER, failed INTEGER, error_code TEXT, error_message TEXT, request INTEGER,
  database TEXT, server_address TEXT, server_port INTEGER, db_user TEXT);
CREATE TABLE gc(id INTEGER PRIMARY KEY, pid INTEGER, tid INTEGER, gc_kind TEXT, start_ns INTEGER, end_ns INTEGER, duration_ns INTEGER,
  forced INTEGER, flags INTEGER, heap_before_bytes INTEGER, heap_after_bytes INTEGER);
CREATE TABLE loop(id INTEGER PRIMARY KEY, pid INTEGER, tid INTEGER, type TEXT, start_ns INTEGER, end_ns INTEGER, duration_ns INTEGER,
  task_kind TEXT, origin TEXT, error_ns INTEGER, delay_min_ns INTEGER, delay_p50_ns INTEGER, delay_p99_ns INTEGER, delay_max_ns INTEGER, utilisation REAL);
CREATE TABLE memory(id INTEGER PRIMARY KEY, pid INTEGER, tid INTEGER, ts_ns INTEGER, heap_used_bytes INTEGER, heap_total_bytes INTEGER,
  external_bytes INTEGER, array_buffers_bytes INTEGER, rss_bytes INTEGER, worker INTEGER);
`;

/** Views over the base tables: what users query. */
export const VIEWS = `
CREATE VIEW events AS
  SELECT e.id, e.ts_ns, k.name AS kind, e.kind AS kind_number, e.flags, t.pid, t.tid, e.a, e.b, e.c, e.d, e.e, e.thread
    FROM event_rows e JOIN threads t ON t.thread = e.thread JOIN kinds k ON k.kind = e.kind
  UNION ALL
  SELECT c.id, c.start_ns, 'function_call', 33, 0, t.pid, t.tid, f.function_id, c.ordinal, c.args, c.request_id, c.state, c.thread
    FROM call_rows c JOIN threads t ON t.thread = c.thread JOIN functions f ON f.id = c.function
  UNION ALL
  SELECT c.end_event, c.end_ns, CASE c.outcome WHEN 1 THEN 'function_return' WHEN 2 THEN 'function_throw' ELSE 'function_settle' END,
    CASE c.outcome WHEN 1 THEN 34 WHEN 2 THEN 35 ELSE 36 END, CASE c.outcome WHEN 4 THEN 1 ELSE 0 END,
    t.pid, t.tid, f.function_id, c.ordinal, c.end_c, c.end_d, c.end_e, c.thread
    FROM call_rows c JOIN threads t ON t.thread = c.thread JOIN functions f ON f.id = c.function WHERE c.end_event IS NOT NULL;
CREATE VIEW strings AS
  SELECT t.pid, t.tid, s.key & 4294967295 AS id, x.text, t.thread FROM string_rows s JOIN threads t ON t.thread = s.key >> 32 JOIN texts x ON x.id = s.text_id
  UNION ALL
  SELECT t.pid, t.tid, c.args, x.text, t.thread FROM call_rows c JOIN threads t ON t.thread = c.thread JOIN texts x ON x.id = c.args_text_id
  UNION ALL
  SELECT t.pid, t.tid, CASE WHEN c.outcome IN (1, 3) THEN c.end_c ELSE c.end_d END, x.text, t.thread
    FROM call_rows c JOIN threads t ON t.thread = c.thread JOIN texts x ON x.id = c.end_text_id;
CREATE VIEW calls AS
  SELECT c.id, t.pid, t.tid, f.name, f.file, f.line, c.function, c.ordinal AS call,
    c.start_ns, c.end_ns, c.end_ns - c.start_ns AS duration_ns, c.self_ns,
    CASE c.outcome WHEN 1 THEN 'return' WHEN 2 THEN 'throw' WHEN 3 THEN 'resolve' WHEN 4 THEN 'reject' END AS outcome,
    c.parent, c.depth, c.request, c.end_event,
    (SELECT x.text FROM texts x WHERE x.id = coalesce(c.args_text_id, (SELECT s.text_id FROM string_rows s WHERE s.key = c.thread * 4294967296 + c.args))) AS args,
    CASE WHEN c.outcome IN (1, 3) THEN (SELECT x.text FROM texts x WHERE x.id = coalesce(c.end_text_id, (SELECT s.text_id FROM string_rows s WHERE s.key = c.thread * 4294967296 + c.end_c))) END AS value,
    (SELECT x.text FROM string_rows s JOIN texts x ON x.id = s.text_id WHERE s.key = c.thread * 4294967296 + c.end_c AND c.outcome IN (2, 4)) AS error_type,
    CASE WHEN c.outcome IN (2, 4) THEN (SELECT x.text FROM texts x WHERE x.id = coalesce(c.end_text_id, (SELECT s.text_id FROM string_rows s WHERE s.key = c.thread * 4294967296 + c.end_d))) END AS error_message,
    c.thread
  FROM call_rows c JOIN functions f ON f.id = c.function JOIN threads t ON t.thread = c.thread;
CREATE VIEW spans AS
  SELECT 'call' AS type, c.id, t.pid, t.tid, c.start_ns, c.end_ns, c.end_ns - c.start_ns AS duration_ns, f.name AS name, c.request
    FROM call_rows c JOIN functions f ON f.id = c.function JOIN threads t ON t.thread = c.thread
  UNION ALL SELECT 'request', id, pid, tid, start_ns, end_ns, duration_ns, kind || ' ' || coalesce(method, '') || ' ' || coalesce(route, target, ''), coalesce(parent, id) FROM requests
  UNION ALL SELECT 'step', id, pid, tid, start_ns, end_ns, duration_ns, name, request FROM steps
  UNION ALL SELECT 'query', id, pid, tid, start_ns, end_ns, duration_ns, text, request FROM queries
  UNION ALL SELECT 'pool_wait', id, pid, tid, start_ns, end_ns, duration_ns, system, request FROM pool_waits
  UNION ALL SELECT 'message', coalesce(send_event, receive_event), coalesce(send_pid, receive_pid), coalesce(send_tid, receive_tid), coalesce(send_ns, receive_ns), coalesce(receive_ns, send_ns), latency_ns, channel, request FROM messages
  UNION ALL SELECT 'connection', id, pid, tid, open_ns, close_ns, duration_ns, channel || ' ' || coalesce(side, '') || ' ' || coalesce(address, ''), NULL FROM connections
  UNION ALL SELECT 'gc', id, pid, tid, start_ns, end_ns, duration_ns, gc_kind, NULL FROM gc
  UNION ALL SELECT 'long_task', id, pid, tid, start_ns, end_ns, duration_ns, coalesce(origin, task_kind), NULL FROM loop WHERE type = 'long_task'
  UNION ALL SELECT 'thread', NULL, pid, tid, start_ns, end_ns, end_ns - start_ns, coalesce(entry, CASE WHEN main THEN 'main' END), NULL FROM threads;
`;

/**
 * Built after the rows are in (a sorted build beats updating an index per insert). Events
 * and calls need none: an id is the event's place in the file, which is each thread's
 * time order, so event_marks (every MARK_EVERY-th event of each thread: its time and id)
 * turns a thread's time window into a range of ids (src/query/index.ts); an index on
 * (thread, ts_ns) cost as much again as writing the rows (BENCHMARKS.md "scope query").
 */
export const INDEXES = `
CREATE INDEX requests_time ON requests(start_ns);
CREATE INDEX queries_request ON queries(request);
CREATE INDEX messages_send ON messages(send_ns);
`;

export const USER_RELATIONS = ["processes", "threads", "events", "functions", "calls", "messages", "connections", "requests", "steps", "queries", "pool_waits", "gc", "loop", "memory", "spans", "strings", "kinds", "meta"];
