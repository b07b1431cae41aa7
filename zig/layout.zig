//! The byte layout shared by every producer, the collector and the trace file.
//! Defined once here; `src/core/layout.ts` mirrors it and `spec/layout.test.ts`
//! proves through the FFI binding that both sides agree on every offset and size.

const std = @import("std");
const assert = std.debug.assert;

/// Bumped on any change to `Record` or to the meaning of an `EventKind`'s fields.
/// 2: http_server_response flags bit 2 (the request's framework steps still open end there);
/// http_step_start flags bit 0 (the request's route rides on its handler's start).
/// 3: process_exit flags (exit_flag_*): an ending the collector recorded on a process's
/// behalf (the process recorded none, or its own said otherwise), its status possibly unknown.
/// 4: thread_exit flags (exit_flag_collector, exit_flag_unknown): the collector ends each
/// worker thread of a process whose ending it recorded, where the thread recorded none.
/// 5: thread_exit flags bit 3 (exit_flag_parent): the collector's ending of a worker that
/// recorded none, from its parent's `thread_exited` (terminate(): its code and time).
/// Readers take every version from `record_layout_version_oldest` (what 2 to 6 added are
/// flags older versions never set); a reader of 2 refuses a trace of 3, whose collector's
/// endings it would show as the process's own, with code 0 where the status is unknown, a
/// reader of 3 one of 4, whose threads' endings it would show as the threads' own, and a
/// reader of 4 one of 5, which it would label as ended with their process.
/// 6: db_query / db_pool_wait field e holds the db_connection id above the DbSystem
/// (e = DbSystem | connection << 8; 0: none); a reader of 5 would show the sum as the system.
/// 7: thread_spawn flags bit 0 (thread_spawn_flag_after_scope_hooks_thread): the worker's
/// threadId is one higher than the program would see untraced.
/// Also in 7: ChannelKind redis_pubsub and pg_notify (a reader of 6 shows an unknown kind).
pub const record_layout_version: u32 = 7;
pub const record_layout_version_oldest: u32 = 1;

pub const record_size_bytes: u32 = 64;

/// One event: fixed 64 bytes, little-endian, naturally aligned.
/// The meaning of `a`..`e` depends on `kind` (see `EventKind`); strings are never
/// inline in an event: they are written once as `string` records and referred to by
/// a u32 string id that is unique per (pid, tid) producer.
pub const Record = extern struct {
    /// Owned by the ring (per-slot sequence number). Zero in trace files.
    seq: u32,
    kind: u16,
    flags: u16,
    /// CLOCK_MONOTONIC nanoseconds, stamped by the native side at write time.
    timestamp_ns: u64,
    pid: u32,
    /// 0 for a process's main thread, the runtime's thread id for workers.
    tid: u32,
    a: u64,
    b: u64,
    c: u64,
    d: u64,
    e: u64,
};

comptime {
    assert(@sizeOf(Record) == record_size_bytes);
    assert(@alignOf(Record) == 8);
    assert(@offsetOf(Record, "timestamp_ns") == 8);
    assert(@offsetOf(Record, "a") == 24);
    assert(@offsetOf(Record, "e") == 56);
}

/// `drop` flags bit 0: written by the producer that lost the events.
pub const drop_flag_producer: u16 = 1;
/// `drop` flags bit 1: overwritten records (overwrite mode), written by the collector where
/// it found them lost, with the pid and tid of the thread whose lane lost them.
pub const drop_flag_overwritten: u16 = 2;

/// `process_exit` flags bit 0: written by the collector on the process's behalf (its pid,
/// tid 0, stamped when the collector noticed the process gone, or by `scope run` when it
/// reaped the top process), not by the process. Layout version 3.
pub const exit_flag_collector: u16 = 1;
/// `process_exit` flags bit 1 (with bit 0): the process was gone and its status could not be
/// had (not the collector's child, reaped by its parent first): a = b = 0.
pub const exit_flag_unknown: u16 = 2;
/// `process_exit` flags bit 2 (with bit 0): the process recorded its own `process_exit`,
/// whose status the system's contradicts (Bun's unanswered Bun.serve throw exits 1 after
/// 'exit' saw 0): this one has the status the process really ended with.
pub const exit_flag_corrects: u16 = 4;
/// `thread_exit` flags bit 3 (with bit 0; layout version 5): the worker recorded no ending of
/// its own (terminate() stops its JavaScript), its parent's `thread_exited` said it ended:
/// a = that code, stamped at that record's time.
pub const exit_flag_parent: u16 = 8;

/// thread_spawn flags (version 7): scope started Node's ES module hooks thread in this process
/// (module.register under --functions: Node 20, Node 22 before 22.15), which took a worker
/// threadId the program's own thread would have had untraced (src/instrument/node-hooks.ts).
pub const thread_spawn_flag_after_scope_hooks_thread: u16 = 1;

/// Event kinds. Values are part of the file format: append, never renumber.
pub const EventKind = enum(u16) {
    invalid = 0,
    /// String-table fragment. a = id (low 32 bits) | total_len_bytes << 32;
    /// flags = fragment index; bytes 32..64 (b..e) hold up to 32 bytes of UTF-8.
    string = 1,
    /// Agent attached in a process or thread. a = parent pid, b = str argv,
    /// c = str runtime ("node v20.20.2"), d = str cwd, e = 1 when main thread.
    trace_start = 2,
    /// Agent detached. a = agent error count, b = events the agent failed to record.
    trace_stop = 3,
    /// Child process started. a = child pid, b = str command line, c = SpawnMethod.
    process_spawn = 4,
    /// Recorded by the exiting process itself. a = exit code, b = signal number,
    /// c = str error type, d = str error message, e = ExitReason. Or by the collector
    /// on its behalf (flags exit_flag_*: zig/endings.zig): no strings.
    process_exit = 5,
    /// A parent saw its child end. a = child pid, b = exit code (or max u64 when
    /// none), c = signal number.
    child_exit = 6,
    /// Worker thread created. a = worker thread id, b = str entry (file or URL); flags
    /// thread_spawn_flag_after_scope_hooks_thread.
    thread_spawn = 7,
    /// Recorded by the exiting worker itself; fields as `process_exit`. Or by the collector
    /// (layout version 4), for a worker that recorded none when its process ended (the
    /// process died without its own ending, or exited with the worker running,
    /// zig/endings.zig): the same status, time and flags (exit_flag_collector,
    /// exit_flag_unknown) as that ending; or (version 5, exit_flag_parent) when its parent's
    /// `thread_exited` came first: that code and time.
    thread_exit = 8,
    /// The parent saw its worker end. a = worker thread id, b = exit code.
    thread_exited = 9,
    /// a = message ordinal on its channel, b = ChannelKind | direction << 8 |
    /// channel sub-id << 16, c = channel owner pid, d = size bytes, e = str preview.
    /// A receive pairs with the send of equal (b, c, a). The agents write receives
    /// without d and e (0): the decoder gives a paired receive its send's size and
    /// preview, so a message is walked once, at its send (except WebSocket receives,
    /// which carry their own: ChannelKind.websocket).
    /// message_send flags bit 0 (failed): the runtime rejected this send by throwing
    /// (e.g. an uncloneable value) after the agent recorded it; d = e = 0 and the next
    /// send on the channel reuses the ordinal, so only the last send of a key counts.
    message_send = 10,
    message_receive = 11,
    /// Events lost. a = count. Written by the producer that lost them (its pid and tid,
    /// stamped with the time of the first loss, flags bit 0 = drop_flag_producer) where the
    /// loss is in its stream, by the collector for overwritten records of a lane one thread
    /// held (that thread's pid and tid, flags bit 1 = drop_flag_overwritten, stamped as the
    /// record next to the loss), and by the collector (its own pid) for losses no one
    /// reported: other overwritten records, a producer that ended or died first.
    drop = 12,
    /// The agent caught an error of its own. a = str message.
    agent_error = 13,
    /// Recording stopped while the program ran on (written by the collector, its own pid):
    /// a = StopReason, b = records in the trace before this one, c = records refused after.
    recording_stop = 14,
    /// The flight recorder wrote its window (scope run --flight-recorder; written by the
    /// collector, its own pid, before the records it wrote): a = FlightTrigger, b = records
    /// written after this one by this dump, c = window start (CLOCK_MONOTONIC ns: the dump
    /// holds what the window held from then on; older records were not kept), d = for an
    /// exception the pid of the process that had it, for a non-zero exit the exit status
    /// (128 + signal when killed), e = for an exception the thread id.
    flight_dump = 15,
    // A connection's open and close, 16..17, for the channel kinds that have connections
    // (ChannelKind.websocket): one end's view, never paired with the other end's (as its
    // messages). Added without a layout bump: a reader of version 4 that predates them shows
    // them as unknown kinds (kind_16, kind_17) with their raw fields, and reads the rest.
    /// A connection opened at this end (a WebSocket's handshake completed: the client's 'open',
    /// the server's new connection). a = the channel's field b as message_send's with direction
    /// 0 (ChannelKind | sub-id << 16), b = channel owner pid, c = str where: a client's URL, a
    /// server's peer address ("127.0.0.1:51234"; 0: not known), d = str subprotocol (0: none).
    channel_open = 16,
    /// The connection closed at this end. a, b as channel_open; c = close code (0: none known),
    /// d = str reason (0: empty), e = str the error that ended or preceded it (0: none).
    /// flags = ChannelCloseFlag: bit 0 an error was reported on the connection; bit 1 not
    /// clean (no closing handshake: code 1006, or the runtime's wasClean false).
    channel_close = 17,
    // Function tracing (src/instrument), 32..: ids are per (pid, tid) producer.
    /// Function table entry, written once per instrumented function before its first
    /// event. a = function id, b = str name ("Class.method", "<anonymous>"), c = str
    /// file (path or URL), d = line (1-based), e = column (1-based), original positions.
    /// flags = FunctionFlags: bit 0 async, 1 generator, 2 arrow, 3 method, 4 getter,
    /// 5 setter, 6 constructor, 7 static, 8 stateful (events carry field e = state).
    function_table = 32,
    /// A function began running. a = function id, b = call ordinal (per producer,
    /// pairs the call with its end events), c = str arguments preview (0 at the
    /// "calls" level). For a generator: the body's first resume.
    function_call = 33,
    /// A function returned. a = function id, b = call ordinal, c = str value preview.
    function_return = 34,
    /// A function threw. a = function id, b = call ordinal, c = str error type,
    /// d = str message (or value preview when not an Error).
    function_throw = 35,
    /// An async function's body finished and its promise settled (after adopting a
    /// returned native promise). a = function id, b = call ordinal, c = str value
    /// preview or error type, d = str error message; flags bit 0 = rejected.
    function_settle = 36,
    /// A generator yielded. a = function id, b = call ordinal, c = str value preview.
    function_yield = 37,
    /// A generator resumed after a yield. a = function id, b = call ordinal,
    /// c = str preview of the value sent in.
    function_resume = 38,
    /// Hot-function guard: the function is called more often than the limit, so only
    /// 1 call in d is recorded (d = 0: calls are only counted). a = function id, b =
    /// calls seen (all, since the thread started), c = calls recorded (function_call
    /// events written), d = sample interval, e = limit in calls per second. Written
    /// when sampling starts, at most once a second while it lasts, when it ends and at
    /// thread exit. flags bit 0: sampling ended (traced in full again); bit 1: the exit
    /// summary (exact totals).
    /// function_call/return/throw/settle of a stateful method (settings `stateful`):
    /// e = str preview of the receiver's own data fields, before the call (call) or
    /// after it (return, throw, settle); 0 otherwise.
    function_sampled = 39,
    /// A function registered as a listener, `x.on(event, handler)`: inline with a literal
    /// event name (found by the transform, written with the function table) or passed by
    /// reference / with a computed name (found at registration, once per function, event
    /// and method per thread): a = function id (0: bound, native or untraced handler),
    /// b = str event name, c = str registration method ("on", "once", "addListener",
    /// "prependListener", "prependOnceListener", "addEventListener"), e = str the
    /// handler's own name when a is 0 (else 0).
    function_listener = 40,
    /// What a choice of what to trace matched, per thread (src/instrument/selection.ts):
    /// a = pattern number (the settings' include globs, then packages, then function
    /// names), b = str pattern, c = str a path or name (0: none), d = pattern kind (1
    /// include glob, 2 package, 3 function name), e = files (kind 3: functions) this
    /// thread looked at (only with flags bit 0). flags 0: the first file or function the
    /// pattern matched in this thread (c); bit 0: the thread ended and the pattern matched
    /// nothing there, c = one of the closest candidates it saw (one record each).
    function_selection = 41,
    /// The overhead governor (--max-overhead) changed a function's tracing level on this
    /// thread. a = function id, b = new level, c = old level (GovernedLevel: 0 off, 1 sampled,
    /// 2 calls, 3 full), d = the estimated overhead that decided it (ppm of wall time),
    /// e = the budget (ppm).
    function_level = 42,
    /// Ring only, never in a trace file: up to `calls_pack_max` calls-level function_call
    /// events of one thread in one slot (src/instrument/runtime.ts packs consecutive
    /// ones; one 64-byte slot line and one store per call instead of eight). The ring's
    /// drain expands it into function_call records (a = id, b = ordinal, d = request,
    /// the slot's time, pid and tid), so no reader sees it. a = the first call's ordinal
    /// (low 32 bits) | request id << 32; b..e = the function ids as u32, in call order
    /// (low half first), ending at the first 0 (ids start at 1); call i has ordinal
    /// first + i. Written only into discard-mode rings (losses are counted per call).
    function_calls = 43,
    // HTTP (issue 11), 48..63. A request id is unique per (pid, tid) producer, from 1,
    // shared by the server and client requests of that thread (0: none). Every event a
    // request caused names it: in a field of its own (function_call d, http_client_request
    // d, http_route a, the database kinds) or, for kinds without a free field (message
    // sends, spawns), through a `request_context` record written just before it.
    /// A server received a request (its head parsed). a = request id, b = str method,
    /// c = str target (path and query; query values under secret-looking keys redacted),
    /// d = connection id (see http_connection), e = the request's ordinal on its connection
    /// (1-based). flags = HttpProtocol (bits 0..3) | 16 when over TLS.
    http_server_request = 48,
    /// A server request ended. a = request id, b = status code (0: no response started),
    /// c = request body bytes, d = response body bytes, e = HttpEnd. flags bit 0: the
    /// request body's size is not known (c = 0); bit 1: the response body's (d = 0); bit 2:
    /// the framework steps of this request still open (http_step_start without its
    /// http_step_end) end here, not failed, innermost first: a response that finished ends the
    /// steps that answered it at its 'finish', just before this record, and their ends ride on
    /// it (layout version 2; readers expand it into their http_step_end events).
    http_server_response = 49,
    /// The program started an outgoing request. a = request id, b = str method, c = str URL
    /// (origin, path and query, redacted as above), d = request id of the request the
    /// program was handling when it made this one (0: none), e = HttpClient (the API).
    /// A redirect or retry the client follows itself is a request of its own.
    http_client_request = 50,
    /// An outgoing request ended. a = request id, b = status code (0: no response),
    /// c = request body bytes, d = response body bytes, e = HttpEnd; flags as http_server_response.
    http_client_response = 51,
    /// A connection, written once, before the first request that names it. a = connection
    /// id (per (pid, tid), from 1), b = str local address, c = local port, d = str remote
    /// address, e = remote port. flags bit 0: TLS; bit 1: outgoing (the program is the client).
    http_connection = 52,
    /// An outgoing request got its connection. a = request id, b = connection id,
    /// c = the request's ordinal on that connection (1-based).
    http_client_connection = 53,
    /// A W3C traceparent header of a request. a = request id, b = str header value (as
    /// received, at most 128 bytes). flags bit 0: outgoing (set by the program on a client request).
    http_traceparent = 54,
    /// The next event of this thread (after string records) was caused by request a.
    request_context = 55,
    /// A framework matched a route for a server request. a = request id, b = str route
    /// pattern ("/users/:id"), c = str framework ("express", "fastify", "bun"). For framework
    /// "graphql" b is the operation the request executed ("query GetCat"), for "trpc" the
    /// procedures it called ("query cat.byId", a batch's "query greet,secret"); the last wins.
    http_route = 56,
    /// A framework step (middleware, hook, handler, error handler) began for a request.
    /// a = request id, b = step ordinal within the request (from 1), c = str name,
    /// d = str step kind ("middleware", "handler", "hook", "error"), e = str route pattern or 0.
    /// flags bit 0 (layout version 2): b = ordinal + str framework * 2^20 (ordinal < 2^20,
    /// framework id < 2^32), and e is the route that framework matched for the request: the
    /// request's http_route (a, e, framework) rides on its handler's start, just before it.
    http_step_start = 57,
    /// That step ended. a = request id, b = step ordinal, c = str error type, d = str error
    /// message. flags bit 0: it threw or passed an error on.
    http_step_end = 58,
    /// An error ended a request (socket error, parse error, connect failure). a = request
    /// id, b = str code ("ECONNRESET") or error type, c = str message. Written just before
    /// the request's end (http_server_response / http_client_response). Also, while a server
    /// request runs, an error its server answered in its body: a GraphQL execution's error
    /// (b = the error's type, c = "path: message") or a failed tRPC call (b = its code,
    /// c = "path: message"), one record each; readers keep the last as the request's error.
    http_error = 59,
    // Databases (src/agent/*/db), 64..79: ids are per (pid, tid) producer.
    /// A query began (the program called the library). a = query id (pairs with its
    /// db_query_end), b = str query text with literal values replaced by placeholders
    /// (bounded: flags bit 0 = cut), c = number of bound parameters, d = request id of the
    /// request that caused it (0: none), e = DbSystem (bits 0..7) | db_connection id << 8
    /// (0: not known; layout version 6).
    db_query = 64,
    /// The query ended, recorded before the program sees its outcome. a = query id, b =
    /// rows returned or changed (max u64: not known), c = str error code (SQLSTATE, SQLite
    /// code), d = str error message, e = as db_query's e, naming the db_connection only
    /// when the start could not (0: none; postgres.js's first query on a client, a pool's
    /// first wait); flags bit 0 = failed.
    db_query_end = 65,
    /// The program asked a pool for a connection (pg's Pool.connect, also inside
    /// pool.query). a = wait id, b = connections open, c = idle connections, d = request
    /// id, e = DbSystem | db_connection id << 8 (the pool's database and server), as db_query.
    db_pool_wait = 66,
    /// The pool handed a connection over (or failed): the wait is from db_pool_wait to
    /// this. a = wait id, c = str error code, d = str error message, e = as db_query_end's e
    /// (the connection handed over, when the start named none); flags bit 0 = failed.
    db_pool_wait_end = 67,
    /// Which database and server a client talks to, written once per (pid, tid) for each
    /// distinct (DbSystem, database, server, port, user), before the first db_query or
    /// db_pool_wait that names it (their field e). a = connection id (per producer, from 1),
    /// b = str database name (OpenTelemetry's db.namespace: PostgreSQL's and MySQL's database,
    /// Redis's database index, SQLite's file; 0: not known), c = str server host name or
    /// address, or a unix socket's path (0: none, an embedded database), d = server port (0:
    /// none), e = str user name (0: not known). flags = DbSystem. Never a password or a
    /// connection string. Added in layout version 6.
    db_connection = 68,
    // Event loop and memory (src/agent/shared/loop.ts), 80..95. Times of things that
    // happened before their record was written (a long task, a GC) are given as
    // `ago_ns`: nanoseconds between the start and this record's timestamp.
    /// The event loop of this thread over the last interval. a = delay min ns, b = delay
    /// p50 ns, c = delay p99 ns, d = delay max ns (0 when no sample), e = utilisation in
    /// ppm of the interval. flags: LoopSampleFlag (bit 0 utilisation not known, bit 1
    /// delay from scope's own timer instead of the runtime's histogram, bit 2 at exit,
    /// bit 3 delay = the busy time of each turn of the loop, measured natively).
    loop_sample = 80,
    /// Memory of this thread's heap and its process. a = heap used bytes, b = heap total
    /// bytes, c = external bytes, d = array buffer bytes, e = process RSS bytes. flags:
    /// bit 0 worker thread (e is the whole process's), bit 2 at exit.
    memory_sample = 81,
    /// A turn of the loop ran longer than the threshold. a = duration ns, b = ago_ns of its
    /// start, c = LongTaskKind, d = str origin (the callback's own name) or 0, e = the
    /// bound on the start's and duration's error in ns (0: measured around the callback).
    long_task = 82,
    /// A garbage collection (Node: perf_hooks 'gc' entries). a = duration ns, b = ago_ns of
    /// its start, c = GcKind (V8's GCType bits), d = heap used bytes before (0: not known),
    /// e = heap used bytes after (0: not known). flags = V8's GCCallbackFlags.
    gc = 83,
    /// What this thread's runtime cannot record of the loop and memory groups, written
    /// once at its start. a = MonitorMissing bits, b = str why.
    monitor_missing = 84,
    // Async causality (scope run --async), 96..111. An async id is the runtime's own
    // (Node's async_hooks asyncId), unique per (pid, tid); 1 is the thread's top level.
    // Which callback was running when any other event of the thread was written is not
    // in that event: the decoder replays each thread's before/after in write order.
    /// An async resource was created. a = async id, b = trigger async id (the runtime's:
    /// for a promise made by then/await, the promise it waits on), c = AsyncType (or, with
    /// flags bit 0, a str type name), d = the async id whose callback was running when it
    /// was created (1: the thread's top level).
    async_init = 96,
    /// The resource's callback began running. a = async id.
    async_before = 97,
    /// The resource's callback ended. a = async id.
    async_after = 98,
    /// A promise was resolved (--async=promises). a = the promise's async id, b = the
    /// async id whose callback was running when it was resolved. Not written when that is
    /// the promise's own reaction (a then-promise resolved as its callback returns).
    async_resolve = 99,
    /// Written once per thread at its start with --async: a = AsyncLevel asked, b =
    /// AsyncLevel this runtime records (less under Bun), c = str what it lacks (0: none).
    async_tracking = 100,
    // Several recordings in one trace (`scope merge`, src/merge), 112..119.
    /// One input of a merged trace, written by `scope merge` (pid 0, tid 0: no traced
    /// process has pid 0; its strings are under (0, 0) too), one per input, before every
    /// other record. a = input index k (the pids of input k are its own pids + k << 22),
    /// b = str host name, c = the input's clock offset: how far its wall clock was ahead of
    /// input 0's (i64 ns; its times were shifted back by this onto input 0's clock), d = the
    /// offset's error bound (ns; max u64: unknown, no linked request to measure it with),
    /// e = str JSON details (path, argv, anchors, pairs used). flags bit 0: the offset was
    /// measured from linked requests (else the wall-clock anchors only); bit 1: the pairs'
    /// bounds disagreed (the bound is then the gap's half); bit 2: the input was damaged
    /// (its valid records were merged); bit 3: the input was not closed.
    trace_source = 112,
    // scope attach (src/attach), 120..127: a process scope attached to while it ran.
    /// The thread was already running when scope attached (written by the attach agent as
    /// it loads, after the thread's trace_start). a = ms the process had been running,
    /// b = str inspector port (how scope reached it), c = 1 when scope opened the inspector
    /// (and closed it again). The worker threads running then follow as attach_worker.
    attach_start = 120,
    /// scope left the process running (written by the agent once every hook is removed and
    /// every function restored; the collector writes it, with its own pid, when the process
    /// ended first). a = AttachEnd, b = the pid scope was attached to.
    attach_end = 121,
    /// A worker thread that was running at attach, listed through the inspector's NodeWorker
    /// domain. a = its threadId, b = str its URL, c = str its title. flags bit 0: it runs
    /// an agent of its own (loaded through NodeWorker; its events carry its tid).
    attach_worker = 122,
    /// Live function tracing was added to a function. a = function id (per attach), b = str
    /// name, c = str file URL, d = line (1-based), e = column (1-based). flags bit 0: it
    /// could not be added (V8 refused to edit its script; src/attach/functions.ts).
    attach_function_add = 123,
    /// Live function tracing was removed from a function (restored). a = function id,
    /// b = calls recorded while it was traced, c = calls seen. flags bit 0: the restore failed.
    attach_function_remove = 124,
    /// A call of a function traced live. a = function id, e = str arguments preview (0: none;
    /// an arrow function's only when its parameters are plain names).
    attach_function_call = 125,
    _,
};

/// async_tracking a and b (scope run --async=<level>). Mirrored in src/core/layout.ts.
/// callbacks: timers, immediates, nextTick, I/O and message ports (async_hooks without
/// promise records); promises: also every promise (init, before/after of its reactions,
/// resolve); timers: only what Bun lets a wrapper see (timers, immediates, nextTick,
/// queueMicrotask).
pub const AsyncLevel = enum(u8) { off = 0, callbacks = 1, promises = 2, timers = 3, _ };

/// async_init field c (flags bit 0 clear). Mirrored in src/core/layout.ts; other types are
/// written as a str id.
pub const AsyncType = enum(u8) {
    promise = 1,
    timeout = 2,
    immediate = 3,
    tick_object = 4,
    microtask = 5,
    message_port = 6,
    worker = 7,
    fs_req_callback = 8,
    tcp_wrap = 9,
    tcp_server_wrap = 10,
    tcp_connect_wrap = 11,
    http_incoming_message = 12,
    http_client_request = 13,
    write_wrap = 14,
    pipe_wrap = 15,
    file_handle = 16,
    getaddrinfo_req_wrap = 17,
    process_wrap = 18,
    shutdown_wrap = 19,
    tty_wrap = 20,
    _,
};

/// http_server_request flags, bits 0..3. Mirrored in src/core/layout.ts.
pub const HttpProtocol = enum(u8) { unknown = 0, http_1_0 = 1, http_1_1 = 2, http_2 = 3, _ };

/// http_server_response / http_client_response field e. Mirrored in src/core/layout.ts.
/// finished: the response was complete (server: written out; client: its body read to the
/// end or the program stopped reading after a complete head); aborted: the other side or
/// the program gave up first (server: the client disconnected before the response
/// finished; client: the program aborted); socket_error: the connection failed (includes
/// a refused connect and a malformed message); timeout: a timeout ended it; upgraded: the
/// connection was handed to the program (an upgrade such as a websocket, or CONNECT).
pub const HttpEnd = enum(u8) { finished = 1, aborted = 2, socket_error = 3, timeout = 4, upgraded = 5, _ };

/// http_client_request field e: the API the program used. Mirrored in src/core/layout.ts.
pub const HttpClient = enum(u8) { http = 1, https = 2, fetch = 3, http2 = 4, undici = 5, _ };

/// db_query / db_pool_wait field e, bits 0..7 (above: the db_connection id); db_connection
/// flags. Mirrored in src/core/layout.ts.
pub const DbSystem = enum(u8) { pg = 1, postgres_js = 2, better_sqlite3 = 3, bun_sqlite = 4, ioredis = 5, node_redis = 6, bun_redis = 7, mysql2 = 8, bun_sql = 9, bun_sql_mysql = 10, _ };

/// db_query / db_pool_wait field e: the db_connection id sits above the DbSystem's byte.
pub const db_connection_shift: u6 = 8;

/// long_task field c: what ran in the turn. Mirrored in src/core/layout.ts.
pub const LongTaskKind = enum(u8) { unknown = 0, timer = 1, immediate = 2, io = 3, http = 4, message = 5, microtasks = 6, _ };

/// gc field c: V8's GCType bit of the collection. Mirrored in src/core/layout.ts.
pub const GcKind = enum(u8) { scavenge = 1, minor_mark_sweep = 2, mark_compact = 4, incremental = 8, weak_callbacks = 16, _ };

/// monitor_missing field a. Mirrored in src/core/layout.ts.
pub const MonitorMissing = struct {
    pub const gc_events: u32 = 1;
    pub const utilisation: u32 = 2;
    pub const delay_histogram: u32 = 4;
};

/// message_send / message_receive field b, low byte. Mirrored in src/core/layout.ts.
/// websocket: one connection's messages (sub-id: the connection, low two bits 0 at a server,
/// 1 at a client; 2 for a server's publish to a topic), direction 0 = client -> server,
/// 1 = server -> client. Each end is recorded alone, its receives with their own size and
/// preview (d, e): nothing ties a client's connection to the server's, so they never pair.
/// redis_pubsub, pg_notify: messages a database server pushed to a subscriber (Redis
/// SUBSCRIBE/PSUBSCRIBE/SSUBSCRIBE, PostgreSQL LISTEN), receives only (direction 1, server ->
/// client), each with its own size and preview (the channel's name and the payload), never
/// paired (the publisher's PUBLISH or NOTIFY is a query); sub-id: the subscriber connection
/// (src/agent/shared/pubsub.ts).
pub const ChannelKind = enum(u8) { worker = 1, port = 2, broadcast = 3, ipc = 4, cluster = 5, websocket = 6, redis_pubsub = 7, pg_notify = 8, _ };

/// channel_close flags. Mirrored in src/core/layout.ts.
pub const channel_close_flag_error: u16 = 1;
pub const channel_close_flag_unclean: u16 = 2;

/// process_spawn field c. Mirrored in src/core/layout.ts.
pub const SpawnMethod = enum(u8) {
    spawn = 1,
    fork = 2,
    exec = 3,
    exec_file = 4,
    spawn_sync = 5,
    exec_sync = 6,
    exec_file_sync = 7,
    cluster_fork = 8,
    _,
};

/// process_exit / thread_exit field e. Mirrored in src/core/layout.ts.
pub const ExitReason = enum(u8) { normal = 0, process_exit = 1, uncaught_exception = 2, unhandled_rejection = 3, signal = 4, _ };

/// attach_end field a: why scope left the process. Mirrored in src/core/layout.ts.
pub const AttachEnd = enum(u8) { interrupted = 1, duration = 2, detach_command = 3, process_exited = 4, collector_gone = 5, _ };

/// Why recording stopped (recording_stop field a; the ring header's `stop_reason`).
/// Mirrored in src/core/layout.ts.
pub const StopReason = enum(u32) {
    none = 0,
    /// `scope stop` or SIGUSR2 to `scope run`.
    kill_switch = 1,
    /// --max-events reached.
    max_events = 2,
    /// --max-size reached.
    max_size = 3,
    /// --duration elapsed.
    duration = 4,
    /// Writing the trace file failed (a full disk, a file size limit).
    write_error = 5,
    /// A producer found the collector gone (`scope run` killed): set by producers, so no
    /// trace records it; the program runs on without paying for recording.
    collector_gone = 6,
    _,
};

/// What made the flight recorder write its window (flight_dump field a). Mirrored in
/// src/core/layout.ts.
pub const FlightTrigger = enum(u32) {
    none = 0,
    /// SIGUSR1 to `scope run`.
    signal = 1,
    /// A traced process or thread ended with an uncaught exception (its process_exit or
    /// thread_exit record says so).
    uncaught_exception = 2,
    /// ... or with an unhandled promise rejection.
    unhandled_rejection = 3,
    /// The program ended with a non-zero exit status or was killed by a signal.
    nonzero_exit = 4,
    _,
};

/// function_calls: calls per slot (b..e as eight u32 ids).
pub const calls_pack_max: u32 = 8;

/// The calls a function_calls record holds: its ids up to the first 0.
pub fn calls_pack_count(record: *align(1) const Record) u32 {
    assert(record.kind == @intFromEnum(EventKind.function_calls));
    const ids = calls_pack_ids(record);
    var count: u32 = 0;
    while (count < calls_pack_max and ids[count] != 0) count += 1;
    return count;
}

/// The eight u32 id words of a function_calls record (b..e, little-endian).
pub fn calls_pack_ids(record: *align(1) const Record) [calls_pack_max]u32 {
    var ids: [calls_pack_max]u32 = undefined;
    for ([_]u64{ record.b, record.c, record.d, record.e }, 0..) |word, index| {
        ids[2 * index] = @truncate(word);
        ids[2 * index + 1] = @truncate(word >> 32);
    }
    return ids;
}

/// Call `index` of a function_calls record as the function_call record it stands for.
pub fn calls_pack_call(pack: *align(1) const Record, ids: *const [calls_pack_max]u32, index: u32) Record {
    assert(index < calls_pack_max and ids[index] != 0);
    const first: u32 = @truncate(pack.a);
    return .{
        .seq = 0,
        .kind = @intFromEnum(EventKind.function_call),
        .flags = 0,
        .timestamp_ns = pack.timestamp_ns,
        .pid = pack.pid,
        .tid = pack.tid,
        .a = ids[index],
        .b = @as(u64, first) + index,
        .c = 0,
        .d = pack.a >> 32,
        .e = 0,
    };
}

/// Records `records` stand for once function_calls records are expanded (losses are
/// counted in these, so a lost pack counts every call it held).
pub fn expanded_count(records: []align(1) const Record) u64 {
    var count: u64 = 0;
    for (records) |*record| {
        count += if (record.kind == @intFromEnum(EventKind.function_calls)) @max(1, calls_pack_count(record)) else 1;
    }
    return count;
}

pub const string_fragment_bytes: u32 = 32;
pub const string_max_bytes: u32 = 4096;

comptime {
    assert(string_fragment_bytes == record_size_bytes - @offsetOf(Record, "b"));
    assert(string_max_bytes % string_fragment_bytes == 0);
}

test "layout: record is 64 bytes with fixed offsets" {
    try std.testing.expectEqual(@as(usize, 64), @sizeOf(Record));
    try std.testing.expectEqual(@as(usize, 16), @offsetOf(Record, "pid"));
    try std.testing.expectEqual(@as(usize, 20), @offsetOf(Record, "tid"));
}
