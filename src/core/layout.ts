/**
 * Mirror of zig/layout.zig: the 64-byte record and the EventKind numbering.
 * spec/layout.test.ts proves the two agree through the FFI binding.
 */

/**
 * 2: http_server_response flags bit 2 (HttpEndFlag.stepsEnd), http_step_start flags bit 0 (StepStartFlag.route);
 * 3: process_exit flags (ExitFlag: an ending the collector recorded); 4: thread_exit flags
 * (ExitFlag: a worker ended with its process, recorded by the collector); 5: thread_exit
 * flags bit 3 (ExitFlag.parent: the collector's ending of a worker from its parent's
 * thread_exited); 6: db_query / db_pool_wait field e = DbSystem | db_connection id << 8;
 * 7: thread_spawn flags bit 0 (ThreadSpawnFlag.afterScopeHooksThread), and the channel kinds
 * redis_pubsub and pg_notify (a reader of 6 shows them as an unknown kind);
 * readers take 1 to 7 (zig/layout.zig).
 */
export const RECORD_LAYOUT_VERSION = 7;
export const RECORD_LAYOUT_VERSION_OLDEST = 1;
export const RECORD_SIZE = 64;
export const STRING_FRAGMENT_BYTES = 32;
export const STRING_MAX_BYTES = 4096;

/** Byte offsets of the record's fields. */
export const Offset = {
  seq: 0,
  kind: 4,
  flags: 6,
  timestampNs: 8,
  pid: 16,
  tid: 20,
  a: 24,
  b: 32,
  c: 40,
  d: 48,
  e: 56,
} as const;

/** Values are part of the file format: append, never renumber (see zig/layout.zig). */
export const EventKind = {
  invalid: 0,
  string: 1,
  trace_start: 2,
  trace_stop: 3,
  process_spawn: 4,
  process_exit: 5,
  child_exit: 6,
  /** flags ThreadSpawnFlag. */
  thread_spawn: 7,
  thread_exit: 8,
  thread_exited: 9,
  /** flags bit 0: send rejected by the runtime; its ordinal is reused (see zig/layout.zig). */
  message_send: 10,
  message_receive: 11,
  drop: 12,
  agent_error: 13,
  /** Recording stopped, the program ran on: a = StopReason, b = records before it, c = records refused after (collector's pid). */
  recording_stop: 14,
  /** The flight recorder wrote its window: a = FlightTrigger, b = records written after it, c = window start (monotonic ns), d = pid with the exception or the exit status, e = tid (collector's pid). */
  flight_dump: 15,
  /** A connection opened / closed at this end (WebSocket), 16..17: a = channel field (direction 0), b = owner pid, open c = str URL or peer, d = str subprotocol; close c = code, d = str reason, e = str error, flags ChannelCloseFlag. */
  channel_open: 16,
  channel_close: 17,
  /** Function tracing (src/instrument); payload fields in zig/layout.zig. */
  function_table: 32,
  function_call: 33,
  function_return: 34,
  function_throw: 35,
  function_settle: 36,
  function_yield: 37,
  function_resume: 38,
  /** Hot-function guard: a = function id, b = calls seen, c = calls recorded, d = 1-in-d sample (0: counted only), e = calls/s limit; flags bit 0 ended, bit 1 exit summary. */
  function_sampled: 39,
  /** A function passed inline as a listener: a = function id, b = str event name, c = str method ("on", "once", ...). */
  function_listener: 40,
  /** What a function-tracing pattern matched in a thread, or (flags bit 0) its closest candidates at the thread's end; see zig/layout.zig. */
  function_selection: 41,
  /** The overhead governor changed a function's level: a = id, b = new, c = old (0 off, 1 sampled, 2 calls, 3 full), d = overhead ppm, e = budget ppm. */
  function_level: 42,
  /** Ring only (calls-level function_calls packed 8 to a slot), expanded by the drain: never in a trace file. */
  function_calls: 43,
  /** HTTP (issue 11), 48..63; request ids are per (pid, tid); payload fields in zig/layout.zig. */
  http_server_request: 48,
  http_server_response: 49,
  http_client_request: 50,
  http_client_response: 51,
  http_connection: 52,
  http_client_connection: 53,
  http_traceparent: 54,
  /** The next event of this thread was caused by request a (for kinds without a field of their own). */
  request_context: 55,
  http_route: 56,
  http_step_start: 57,
  http_step_end: 58,
  http_error: 59,
  /** Databases, 64..79 (payload fields in zig/layout.zig): a query's start and end, a pool's wait. */
  db_query: 64,
  db_query_end: 65,
  db_pool_wait: 66,
  db_pool_wait_end: 67,
  db_connection: 68,
  /** Event loop and memory, 80..95 (payload fields in zig/layout.zig): samples at the interval, long tasks, GCs. */
  loop_sample: 80,
  memory_sample: 81,
  long_task: 82,
  gc: 83,
  /** What this thread's runtime cannot record of the loop/memory groups: a = MonitorMissing bits, b = str why. */
  monitor_missing: 84,
  /** Async causality (scope run --async), 96..111; payload fields in zig/layout.zig. */
  async_init: 96,
  async_before: 97,
  async_after: 98,
  async_resolve: 99,
  async_tracking: 100,
  /** Several recordings in one trace (scope merge, 112..119): one input of a merged trace. */
  trace_source: 112,
  /** scope attach, 120..127 (src/attach; payload fields in zig/layout.zig). */
  attach_start: 120,
  attach_end: 121,
  attach_worker: 122,
  attach_function_add: 123,
  attach_function_remove: 124,
  attach_function_call: 125,
} as const;
export type EventKindName = keyof typeof EventKind;
export const eventKindName: Record<number, EventKindName> = Object.fromEntries(
  Object.entries(EventKind).map(([name, value]) => [value, name as EventKindName]),
);

/** channel_close flags (zig/layout.zig): an error was reported on the connection; it ended without a closing handshake. */
export const ChannelCloseFlag = { error: 1, unclean: 2 } as const;

/** message_send/message_receive field b, low byte: the kind of channel (websocket, redis_pubsub, pg_notify: see zig/layout.zig). */
export const ChannelKind = { worker: 1, port: 2, broadcast: 3, ipc: 4, cluster: 5, websocket: 6, redis_pubsub: 7, pg_notify: 8 } as const;

/** db_query / db_pool_wait field e, bits 0..7: the client library (db_connection flags too). */
export const DbSystem = { pg: 1, postgresJs: 2, betterSqlite3: 3, bunSqlite: 4, ioredis: 5, nodeRedis: 6, bunRedis: 7, mysql2: 8, bunSql: 9, bunSqlMysql: 10 } as const;
/** db_query / db_pool_wait field e = DbSystem + db_connection id * DB_CONNECTION_UNIT (0: none). */
export const DB_CONNECTION_UNIT = 256;

/** process_spawn field c: how the child was started. */
export const SpawnMethod = {
  spawn: 1,
  fork: 2,
  exec: 3,
  execFile: 4,
  spawnSync: 5,
  execSync: 6,
  execFileSync: 7,
  clusterFork: 8,
} as const;

/** attach_end field a: why scope left the process (zig/layout.zig AttachEnd). */
export const AttachEnd = { interrupted: 1, duration: 2, detachCommand: 3, processExited: 4, collectorGone: 5 } as const;

/** recording_stop field a (and the ring header's stop word): why recording stopped. */
export const StopReason = { none: 0, killSwitch: 1, maxEvents: 2, maxSize: 3, duration: 4, writeError: 5, collectorGone: 6 } as const;
export type StopReasonName = Exclude<keyof typeof StopReason, "none">;
export const stopReasonName: Record<number, StopReasonName> = Object.fromEntries(
  Object.entries(StopReason).filter(([name]) => name !== "none").map(([name, value]) => [value, name as StopReasonName]),
);

/** flight_dump field a: what made the flight recorder write its window (zig/layout.zig FlightTrigger). */
export const FlightTrigger = { signal: 1, uncaughtException: 2, unhandledRejection: 3, nonzeroExit: 4 } as const;
export type FlightTriggerName = keyof typeof FlightTrigger;
export const flightTriggerName: Record<number, FlightTriggerName> = Object.fromEntries(
  Object.entries(FlightTrigger).map(([name, value]) => [value, name as FlightTriggerName]),
);

/**
 * process_exit flags (layout version 3, zig/layout.zig exit_flag_*): `collector`, written by
 * the collector on the process's behalf (zig/endings.zig; scope run for the top process);
 * `unknown`, its status could not be had; `corrects`, the process's own process_exit said
 * another status than the system's.
 */
export const ExitFlag = { collector: 1, unknown: 2, corrects: 4, parent: 8 } as const;

/**
 * thread_spawn flags (layout version 7): `afterScopeHooksThread`, scope started Node's ES
 * module hooks thread in the process (module.register: Node 20, 22 before 22.15), which took
 * a threadId: the worker's is one higher than the program would see untraced.
 */
export const ThreadSpawnFlag = { afterScopeHooksThread: 1 } as const;

/** process_exit / thread_exit field e: how it ended. */
export const ExitReason = { normal: 0, processExit: 1, uncaughtException: 2, unhandledRejection: 3, signal: 4 } as const;

/** http_server_request flags bits 0..3: the protocol (bit 4: TLS). */
export const HttpProtocol = { unknown: 0, http1_0: 1, http1_1: 2, http2: 3 } as const;
export const HTTP_TLS_FLAG = 16;

/** http_server_response / http_client_response field e: how the request ended. */
export const HttpEnd = { finished: 1, aborted: 2, socketError: 3, timeout: 4, upgraded: 5 } as const;

/**
 * http_server_response / http_client_response flags: a body size the runtime does not expose
 * (the size field is 0); `stepsEnd` (server only, layout version 2): the request's framework
 * steps still open end at this record, not failed, innermost first.
 */
export const HttpEndFlag = { requestSizeUnknown: 1, responseSizeUnknown: 2, stepsEnd: 4 } as const;

/**
 * http_step_start flags (layout version 2). `route`: field b holds the step's ordinal plus
 * the framework's string id times STEP_ORDINAL_LIMIT, and the step's route (e) is the route
 * that framework matched for the request: the request's http_route rides on its handler's
 * start (readers make its http_route event).
 */
export const StepStartFlag = { route: 1 } as const;
/** http_step_start with StepStartFlag.route: ordinals below this (2^20) in b's low part; framework string ids below STEP_FRAMEWORK_LIMIT (b stays below 2^52, exact as an f64). */
export const STEP_ORDINAL_LIMIT = 0x100000;
export const STEP_FRAMEWORK_LIMIT = 0x100000000;

/** http_client_request field e: the API the program used. */
export const HttpClient = { http: 1, https: 2, fetch: 3, http2: 4, undici: 5 } as const;

/** http_connection flags. */
export const HttpConnectionFlag = { tls: 1, outgoing: 2 } as const;

/** long_task field c: what ran in the turn. */
export const LongTaskKind = { unknown: 0, timer: 1, immediate: 2, io: 3, http: 4, message: 5, microtasks: 6 } as const;

/** gc field c: V8's GCType bit. */
export const GcKind = { scavenge: 1, minorMarkSweep: 2, markCompact: 4, incremental: 8, weakCallbacks: 16 } as const;

/** loop_sample / memory_sample flags. */
export const LoopSampleFlag = { utilisationUnknown: 1, ownTimer: 2, atExit: 4, turns: 8 } as const;
/** memory_sample flags bit 0: a worker thread (its RSS is the whole process's). */
export const MEMORY_SAMPLE_WORKER = 1;

/** monitor_missing field a. */
export const MonitorMissing = { gcEvents: 1, utilisation: 2, delayHistogram: 4 } as const;
/** async_tracking a and b: the --async level asked and the one the runtime records (zig/layout.zig AsyncLevel). */
export const AsyncLevel = { off: 0, callbacks: 1, promises: 2, timers: 3 } as const;
export type AsyncLevelName = keyof typeof AsyncLevel;

/** async_init field c (flags bit 0 clear): the resource types a thread makes most; others are a str id. */
export const AsyncType = {
  PROMISE: 1,
  Timeout: 2,
  Immediate: 3,
  TickObject: 4,
  Microtask: 5,
  MESSAGEPORT: 6,
  WORKER: 7,
  FSREQCALLBACK: 8,
  TCPWRAP: 9,
  TCPSERVERWRAP: 10,
  TCPCONNECTWRAP: 11,
  HTTPINCOMINGMESSAGE: 12,
  HTTPCLIENTREQUEST: 13,
  WRITEWRAP: 14,
  PIPEWRAP: 15,
  FILEHANDLE: 16,
  GETADDRINFOREQWRAP: 17,
  PROCESSWRAP: 18,
  SHUTDOWNWRAP: 19,
  TTYWRAP: 20,
} as const;
/** async_init flags bit 0: field c is a str id of the type's name, not an AsyncType. */
export const ASYNC_TYPE_STRING_FLAG = 1;
