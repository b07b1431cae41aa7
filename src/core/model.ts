/**
 * The meaning of decoded records: names each kind's payload fields (as documented in
 * zig/layout.zig), resolves string ids, and links every message receive to its send.
 * Exporters (src/dump/*) work on these TraceEvents only.
 */
import { ChannelCloseFlag, ChannelKind, DB_CONNECTION_UNIT, DbSystem, EventKind, eventKindName, ExitFlag, ExitReason, GcKind, HttpClient, HttpEnd, HttpEndFlag, HttpProtocol, STEP_ORDINAL_LIMIT, StepStartFlag, LongTaskKind, LoopSampleFlag, MEMORY_SAMPLE_WORKER, MonitorMissing, SpawnMethod, stopReasonName, FlightTrigger, flightTriggerName, type EventKindName } from "./layout";
import { AsyncLinks, asyncFielders } from "./async";
import { applyNow, LinkStep, type Later } from "./link-step";

export { applyNow, LinkStep, LINK_STEPS, type Later } from "./link-step";

/** The decoded record as events.ts yields it; payload fields may be bigint or number. */
export interface RawEvent {
  timestampNs: bigint | number;
  kind: number | string;
  flags: number;
  pid: number;
  tid: number;
  a: bigint | number;
  b: bigint | number;
  c: bigint | number;
  d: bigint | number;
  e: bigint | number;
}

/** Resolves a string id written by producer (pid, tid). */
export type StringLookup = (pid: number, tid: number, id: number) => string | undefined;

export type FieldValue = string | number | boolean | null;

export interface TraceEvent {
  /** Position in the trace, after sorting by time. */
  index: number;
  timestampNs: bigint;
  kind: EventKindName | `kind_${number}`;
  pid: number;
  tid: number;
  fields: Record<string, FieldValue>;
  /** For a receive: the index of its send. For a send: the indexes of its receives. */
  linkedTo: number[];
}

function namesOf(table: Record<string, number>, rename: Record<string, string> = {}): Record<number, string> {
  return Object.fromEntries(Object.entries(table).map(([name, value]) => [value, rename[name] ?? name]));
}

export const ChannelKindName = namesOf(ChannelKind);
/**
 * Channels whose ends are never paired (zig/layout.zig ChannelKind): a WebSocket's (each end
 * alone), a database server's pushed messages (Redis pub/sub, PostgreSQL notifications: receives
 * only). Their receives carry their own size and preview; readers do not count them unpaired.
 */
export const UNPAIRED_CHANNELS: ReadonlySet<unknown> = new Set(["websocket", "redis_pubsub", "pg_notify"]);
export const SpawnMethodName = namesOf(SpawnMethod, { clusterFork: "cluster.fork" });
export const HttpEndName = namesOf(HttpEnd, { socketError: "socket_error" });
export const HttpClientName = namesOf(HttpClient);
export const HttpProtocolName = namesOf(HttpProtocol, { http1_0: "HTTP/1.0", http1_1: "HTTP/1.1", http2: "HTTP/2" });
export const DbSystemName = namesOf(DbSystem, { postgresJs: "postgres.js", betterSqlite3: "better-sqlite3", bunSqlite: "bun:sqlite", nodeRedis: "redis", bunRedis: "bun:redis", bunSql: "bun:sql", bunSqlMysql: "bun:sql mysql" });
export const LongTaskKindName = namesOf(LongTaskKind);
export const GcKindName = namesOf(GcKind, { minorMarkSweep: "minor_mark_sweep", markCompact: "mark_compact", weakCallbacks: "weak_callbacks" });
export const ExitReasonName = namesOf(ExitReason, {
  processExit: "process.exit",
  uncaughtException: "uncaught_exception",
  unhandledRejection: "unhandled_rejection",
});

const U64_MAX = (1n << 64n) - 1n;

function big(value: bigint | number): bigint {
  return typeof value === "bigint" ? value : BigInt(Math.trunc(value));
}

/** A u64 field that holds a signed value (exit codes are i64 on the wire). */
function signed(value: bigint | number): number {
  return Number(BigInt.asIntN(64, big(value)));
}

function unsigned(value: bigint | number): number {
  return Number(BigInt.asUintN(64, big(value)));
}

function kindName(kind: number | string): TraceEvent["kind"] {
  if (typeof kind === "string") return kind as EventKindName;
  return eventKindName[kind] ?? `kind_${kind}`;
}

/** Resolves a string field of the record (0 → null). */
type Str = (field: bigint | number) => string | null;
/** Names a function id of the record's producer: "name (file:line:column)". */
type FunctionName = (field: bigint | number) => string;
type Fielder = (raw: RawEvent, str: Str, fn: FunctionName) => Record<string, FieldValue>;

const exitFields: Fielder = (r, str) => {
  // Layout version 3: an ending the collector recorded on the process's behalf (ExitFlag), only when set.
  if ((r.flags & ExitFlag.collector) === 0) {
    return {
      code: signed(r.a),
      signal: unsigned(r.b) || null,
      errorType: str(r.c),
      errorMessage: str(r.d),
      reason: ExitReasonName[unsigned(r.e)] ?? String(unsigned(r.e)),
    };
  }
  const unknown = (r.flags & ExitFlag.unknown) !== 0;
  return {
    code: unknown || unsigned(r.b) !== 0 ? null : signed(r.a),
    signal: unsigned(r.b) || null,
    errorType: null,
    errorMessage: null,
    reason: unknown ? "unknown" : unsigned(r.b) !== 0 ? "signal" : "exit",
    recordedBy: "collector",
    ...((r.flags & ExitFlag.corrects) !== 0 ? { corrects: true } : {}),
    // Layout version 5: a worker's ending from its parent's thread_exited (terminate()).
    ...((r.flags & ExitFlag.parent) !== 0 ? { seenBy: "parent" } : {}),
  };
};

const messageFields: Fielder = (r, str) => {
  const b = unsigned(r.b);
  return {
    ordinal: unsigned(r.a),
    channel: ChannelKindName[b & 0xff] ?? `channel_${b & 0xff}`,
    direction: (b >>> 8) & 0xff,
    channelSubId: Math.floor(b / 0x10000),
    channelOwnerPid: unsigned(r.c),
    sizeBytes: unsigned(r.d),
    preview: str(r.e),
  };
};

/** channel_open / channel_close (zig/layout.zig): the connection's channel, as a message's without direction or ordinal. */
const channelConnectionFields = (r: RawEvent): Record<string, FieldValue> => {
  const a = unsigned(r.a);
  const kind = a & 0xff;
  const subId = Math.floor(a / 0x10000);
  return {
    channel: ChannelKindName[kind] ?? `channel_${kind}`,
    channelSubId: subId,
    channelOwnerPid: unsigned(r.b),
    // A WebSocket sub-id's low two bits: 0 a server's connection, 1 a client's (shared/websocket.ts).
    side: kind === ChannelKind.websocket ? (subId % 4 === 0 ? "server" : subId % 4 === 1 ? "client" : null) : null,
  };
};

const fielders: Partial<Record<EventKindName, Fielder>> = {
  channel_open: (r, str) => ({ ...channelConnectionFields(r), where: str(r.c), protocol: str(r.d) }),
  channel_close: (r, str) => ({
    ...channelConnectionFields(r),
    code: unsigned(r.c) || null,
    reason: str(r.d),
    error: str(r.e),
    hadError: (r.flags & ChannelCloseFlag.error) !== 0,
    clean: (r.flags & ChannelCloseFlag.unclean) === 0,
  }),
  trace_start: (r, str) => ({
    parentPid: unsigned(r.a),
    argv: str(r.b),
    runtime: str(r.c),
    cwd: str(r.d),
    mainThread: unsigned(r.e) === 1,
  }),
  trace_stop: (r) => ({ agentErrors: unsigned(r.a), unrecorded: unsigned(r.b) }),
  process_spawn: (r, str) => ({
    childPid: unsigned(r.a),
    command: str(r.b),
    method: SpawnMethodName[unsigned(r.c)] ?? String(unsigned(r.c)),
  }),
  process_exit: exitFields,
  thread_exit: exitFields,
  child_exit: (r) => ({
    childPid: unsigned(r.a),
    code: big(r.b) === U64_MAX ? null : signed(r.b),
    signal: unsigned(r.c) || null,
  }),
  // Flag bit 0 (layout version 7): the threadId is one higher than untraced (scope's ES module hooks thread took one).
  thread_spawn: (r, str) => {
    const fields: Record<string, FieldValue> = { threadId: unsigned(r.a), entry: str(r.b) };
    if ((r.flags & 1) !== 0) fields.afterScopeHooksThread = true;
    return fields;
  },
  thread_exited: (r) => ({ threadId: unsigned(r.a), code: signed(r.b) }),
  // A send the runtime refused by throwing (an uncloneable value): its marker, after the send it
  // refuses (zig/layout.zig message_send flags bit 0; MessageLinks marks that send `refused`).
  message_send: (r, str, fn) => ((r.flags & 1) !== 0 ? { ...messageFields(r, str, fn), failed: true } : messageFields(r, str, fn)),
  message_receive: messageFields,
  drop: (r) => ({ count: unsigned(r.a) }),
  function_table: (r, str) => ({
    functionId: unsigned(r.a),
    name: str(r.b),
    file: str(r.c),
    line: unsigned(r.d),
    column: unsigned(r.e),
    async: (r.flags & 1) !== 0,
    generator: (r.flags & 2) !== 0,
    // FunctionFlags bit 8, only when set: the function's events carry `state`.
    ...((r.flags & 256) !== 0 ? { stateful: true } : {}),
  }),
  // d: the request the call belongs to (0: none), named `request` only when set.
  function_call: (r, str, fn) => withState(r, str, withRequest(unsigned(r.d), { function: fn(r.a), call: unsigned(r.b), args: str(r.c) })),
  function_return: (r, str, fn) => withState(r, str, { function: fn(r.a), call: unsigned(r.b), value: str(r.c) }),
  function_throw: (r, str, fn) => withState(r, str, { function: fn(r.a), call: unsigned(r.b), errorType: str(r.c), errorMessage: str(r.d) }),
  function_settle: (r, str, fn) =>
    withState(r, str, {
      function: fn(r.a),
      call: unsigned(r.b),
      rejected: (r.flags & 1) !== 0,
      value: str(r.c),
      errorMessage: str(r.d),
    }),
  function_yield: (r, str, fn) => ({ function: fn(r.a), call: unsigned(r.b), value: str(r.c) }),
  function_resume: (r, str, fn) => ({ function: fn(r.a), call: unsigned(r.b), sent: str(r.c) }),
  // Function id 0: the handler is not an instrumented function (bound, native, not
  // traced): the event and method still say what was registered; `handler` is its name.
  function_listener: (r, str, fn) => ({
    function: unsigned(r.a) === 0 ? null : fn(r.a),
    event: str(r.b),
    method: str(r.c),
    ...(unsigned(r.e) !== 0 ? { handler: str(r.e) } : {}),
  }),
  function_sampled: (r, _str, fn) => ({
    function: fn(r.a),
    seen: unsigned(r.b),
    recorded: unsigned(r.c),
    sampleEvery: unsigned(r.d),
    limitPerSecond: unsigned(r.e),
    ended: (r.flags & 1) !== 0,
    atExit: (r.flags & 2) !== 0,
  }),
  function_selection: (r, str) => ({
    pattern: str(r.b),
    patternKind: ["", "include", "package", "function"][unsigned(r.d)] ?? String(unsigned(r.d)),
    matched: (r.flags & 1) === 0,
    ...((r.flags & 1) === 0 ? { first: str(r.c) } : { closest: unsigned(r.c) === 0 ? null : str(r.c), looked: unsigned(r.e) }),
  }),
  function_level: (r, _str, fn) => ({
    function: fn(r.a),
    level: governedLevelName[Number(r.b)] ?? unsigned(r.b),
    from: governedLevelName[Number(r.c)] ?? unsigned(r.c),
    overheadPercent: unsigned(r.d) / 1e4,
    budgetPercent: unsigned(r.e) / 1e4,
  }),
  // Event loop and memory (zig/layout.zig 80..95). long_task and gc are placed at their
  // start (see startOf); `durationNs` is how long they took.
  loop_sample: (r) => ({
    delayMinNs: unsigned(r.a),
    delayP50Ns: unsigned(r.b),
    delayP99Ns: unsigned(r.c),
    delayMaxNs: unsigned(r.d),
    // Fraction of the interval the loop was busy; null where the runtime does not say (Bun).
    utilisation: (r.flags & LoopSampleFlag.utilisationUnknown) !== 0 ? null : unsigned(r.e) / 1e6,
    delaySource: (r.flags & LoopSampleFlag.turns) !== 0 ? "turns" : (r.flags & LoopSampleFlag.ownTimer) !== 0 ? "timer" : "histogram",
    atExit: (r.flags & LoopSampleFlag.atExit) !== 0,
  }),
  memory_sample: (r) => ({
    heapUsedBytes: unsigned(r.a),
    heapTotalBytes: unsigned(r.b),
    externalBytes: unsigned(r.c),
    arrayBuffersBytes: unsigned(r.d),
    rssBytes: unsigned(r.e),
    // A worker's RSS is its whole process's; its heap is its own.
    worker: (r.flags & MEMORY_SAMPLE_WORKER) !== 0,
    atExit: (r.flags & LoopSampleFlag.atExit) !== 0,
  }),
  long_task: (r, str) => ({
    durationNs: unsigned(r.a),
    taskKind: LongTaskKindName[unsigned(r.c)] ?? String(unsigned(r.c)),
    origin: str(r.d),
    // 0: measured around the callback; else the bound on the start's and duration's error.
    errorNs: unsigned(r.e),
  }),
  gc: (r) => ({
    durationNs: unsigned(r.a),
    gcKind: GcKindName[unsigned(r.c)] ?? String(unsigned(r.c)),
    gcFlags: r.flags,
    forced: (r.flags & 4) !== 0,
    heapBeforeBytes: unsigned(r.d) || null,
    heapAfterBytes: unsigned(r.e) || null,
  }),
  monitor_missing: (r, str) => ({
    missing: Object.entries(MonitorMissing)
      .filter(([, bit]) => (unsigned(r.a) & bit) !== 0)
      .map(([name]) => name)
      .join(","),
    why: str(r.b),
  }),
  agent_error: (r, str) => ({ message: str(r.a) }),
  // HTTP. `requestId`: the request the event is about (its own id, per pid/tid); `request`:
  // the request that caused the event (another request's id), on every kind that has one.
  http_server_request: (r, str) => ({
    requestId: unsigned(r.a),
    method: str(r.b),
    target: str(r.c),
    connection: unsigned(r.d),
    ordinal: unsigned(r.e),
    protocol: HttpProtocolName[r.flags & 15] ?? "unknown",
    tls: (r.flags & 16) !== 0,
  }),
  http_server_response: httpEndFields,
  http_client_request: (r, str) =>
    withRequest(unsigned(r.d), {
      requestId: unsigned(r.a),
      method: str(r.b),
      url: str(r.c),
      api: HttpClientName[unsigned(r.e)] ?? String(unsigned(r.e)),
    }),
  http_client_response: httpEndFields,
  http_connection: (r, str) => ({
    connection: unsigned(r.a),
    localAddress: str(r.b),
    localPort: unsigned(r.c),
    remoteAddress: str(r.d),
    remotePort: unsigned(r.e),
    tls: (r.flags & 1) !== 0,
    outgoing: (r.flags & 2) !== 0,
  }),
  http_client_connection: (r) => ({ requestId: unsigned(r.a), connection: unsigned(r.b), ordinal: unsigned(r.c) }),
  http_traceparent: (r, str) => ({ requestId: unsigned(r.a), traceparent: str(r.b), outgoing: (r.flags & 1) !== 0 }),
  http_route: (r, str) => ({ requestId: unsigned(r.a), route: str(r.b), framework: str(r.c) }),
  http_step_start: (r, str) => ({ requestId: unsigned(r.a), step: (r.flags & StepStartFlag.route) !== 0 ? unsigned(r.b) % STEP_ORDINAL_LIMIT : unsigned(r.b), name: str(r.c), stepKind: str(r.d), route: str(r.e) }),
  http_step_end: (r, str) => ({ requestId: unsigned(r.a), step: unsigned(r.b), errorType: str(r.c), errorMessage: str(r.d), failed: (r.flags & 1) !== 0 }),
  http_error: (r, str) => ({ requestId: unsigned(r.a), code: str(r.b), message: str(r.c) }),
  flight_dump: (r) => ({
    trigger: flightTriggerName[Number(r.a)] ?? unsigned(r.a),
    records: unsigned(r.b),
    windowStartNs: unsigned(r.c),
    ...(Number(r.a) === FlightTrigger.nonzeroExit ? { exitStatus: unsigned(r.d) } : Number(r.a) === FlightTrigger.signal ? {} : { pid: unsigned(r.d), tid: unsigned(r.e) }),
  }),
  // scope merge: one input of a merged trace (src/merge/merge.ts).
  trace_source: (r, str) => ({
    source: unsigned(r.a),
    host: str(r.b),
    clockOffsetNs: signed(r.c),
    clockBoundNs: big(r.d) === U64_MAX ? null : unsigned(r.d),
    measured: (r.flags & 1) !== 0,
    boundsDisagree: (r.flags & 2) !== 0,
    damaged: (r.flags & 4) !== 0,
    notClosed: (r.flags & 8) !== 0,
    details: str(r.e),
  }),
  recording_stop: (r) => ({ reason: stopReasonName[Number(r.a)] ?? unsigned(r.a), recordedBefore: unsigned(r.b), refusedAfter: unsigned(r.c) }),
  // A query's start names it; its end's outcome is copied onto it by DatabaseLinks.
  db_query: (r, str) => ({
    query: unsigned(r.a),
    system: dbSystemName(r.e),
    text: str(r.b),
    ...((r.flags & 1) !== 0 ? { textCut: true } : {}),
    params: unsigned(r.c),
    ...(unsigned(r.d) !== 0 ? { request: unsigned(r.d) } : {}),
    ...dbConnectionOf(r.e),
  }),
  db_query_end: (r, str) => ({
    query: unsigned(r.a),
    rows: big(r.b) === U64_MAX ? null : unsigned(r.b),
    failed: (r.flags & 1) !== 0,
    errorCode: str(r.c),
    errorMessage: str(r.d),
    // The connection, when the start could not name it (DatabaseLinks copies it onto the start).
    ...dbConnectionOf(r.e),
  }),
  db_pool_wait: (r) => ({
    wait: unsigned(r.a),
    system: dbSystemName(r.e),
    open: unsigned(r.b),
    idle: unsigned(r.c),
    ...(unsigned(r.d) !== 0 ? { request: unsigned(r.d) } : {}),
    ...dbConnectionOf(r.e),
  }),
  // Which database and server (layout version 6): DatabaseLinks copies these onto the queries and waits naming it.
  db_connection: (r, str) => ({
    connection: unsigned(r.a),
    system: DbSystemName[r.flags & 255] ?? String(r.flags & 255),
    database: str(r.b),
    serverAddress: str(r.c),
    serverPort: unsigned(r.d),
    user: str(r.e),
  }),
  db_pool_wait_end: (r, str) => ({ wait: unsigned(r.a), failed: (r.flags & 1) !== 0, errorCode: str(r.c), errorMessage: str(r.d), ...dbConnectionOf(r.e) }),
  ...asyncFielders,
  // scope attach (src/attach): the attach agent's records; a call's name comes from its add (interpret).
  attach_start: (r, str) => ({ runningMs: unsigned(r.a), inspectorPort: str(r.b), inspectorOpenedByScope: unsigned(r.c) === 1 }),
  attach_end: (r) => ({ reason: AttachEndName[unsigned(r.a)] ?? String(unsigned(r.a)), attachedPid: unsigned(r.b) }),
  attach_worker: (r, str) => ({ threadId: unsigned(r.a), url: str(r.b), title: str(r.c), traced: (r.flags & 1) !== 0 }),
  attach_function_add: (r, str) => ({ id: unsigned(r.a), name: str(r.b), url: str(r.c), line: unsigned(r.d), column: unsigned(r.e), failed: (r.flags & 1) !== 0 }),
  attach_function_remove: (r) => ({ id: unsigned(r.a), callsRecorded: unsigned(r.b), callsSeen: unsigned(r.c), failed: (r.flags & 1) !== 0 }),
  attach_function_call: (r, str) => ({ id: unsigned(r.a), args: str(r.e) }),
};

/** db_query / db_pool_wait field e, bits 0..7: the client library. */
function dbSystemName(e: bigint | number): string {
  const system = unsigned(e) % DB_CONNECTION_UNIT;
  return DbSystemName[system] ?? String(system);
}

/** db_query / db_pool_wait field e above bit 8 (layout version 6): the db_connection it names, only when one. */
function dbConnectionOf(e: bigint | number): Record<string, FieldValue> {
  const connection = Math.floor(unsigned(e) / DB_CONNECTION_UNIT);
  return connection !== 0 ? { connection } : {};
}

const AttachEndName: Record<number, string> = { 1: "interrupted", 2: "duration", 3: "detachCommand", 4: "processExited", 5: "collectorGone" };

/** Body sizes a runtime does not expose (flags) are null. */
function httpEndFields(r: RawEvent): Record<string, FieldValue> {
  return {
    requestId: unsigned(r.a),
    status: unsigned(r.b),
    requestBytes: (r.flags & 1) !== 0 ? null : unsigned(r.c),
    responseBytes: (r.flags & 2) !== 0 ? null : unsigned(r.d),
    end: HttpEndName[unsigned(r.e)] ?? String(unsigned(r.e)),
  };
}

/** `request`: the request that caused the event, only when there is one. */
function withRequest(request: number, fields: Record<string, FieldValue>): Record<string, FieldValue> {
  if (request !== 0) fields.request = request;
  return fields;
}

/** function_level b and c (src/instrument/governor.ts GovernedLevel). */
const governedLevelName = ["off", "sampled", "calls", "full"];

/** A stateful method's call/return/throw/settle: `state`, the receiver's fields (field e), only when present. */
function withState(r: RawEvent, str: Str, fields: Record<string, FieldValue>): Record<string, FieldValue> {
  if (unsigned(r.e) !== 0) fields.state = str(r.e);
  return fields;
}

/** The raw payload, for kinds this version does not name (kept lossless). */
const rawFields: Fielder = (r) => ({
  a: String(big(r.a)),
  b: String(big(r.b)),
  c: String(big(r.c)),
  d: String(big(r.d)),
  e: String(big(r.e)),
});

/** Function ids of every producer → "name (file:line:column)", from function_table records. */
export function functionTable(raws: Iterable<RawEvent>, strings: StringLookup): Map<string, string> {
  const table = new Map<string, string>();
  for (const raw of raws) {
    if (raw.kind !== EventKind.function_table && raw.kind !== "function_table") continue;
    const name = strings(raw.pid, raw.tid, unsigned(raw.b)) ?? "<anonymous>";
    const file = strings(raw.pid, raw.tid, unsigned(raw.c)) ?? "?";
    table.set(`${raw.pid}/${raw.tid}/${unsigned(raw.a)}`, `${name} (${file}:${unsigned(raw.d)}:${unsigned(raw.e)})`);
  }
  return table;
}

/** A message's key: equal for a send and its receive. */
export function messageKey(event: TraceEvent): string {
  const f = event.fields;
  return `${f.channel}/${f.channelOwnerPid}/${f.channelSubId}/${f.direction}/${f.ordinal}`;
}

/**
 * The first half of interpret: raw records, in the trace's order, one at a time, to events
 * (fields named, strings and function names resolved; not yet sorted, indexed nor linked).
 * A record gives no event (string, request_context), one, or more (a route or step ends it
 * implies). `functions`: functionTable over the whole trace. scope dump --stats decodes a
 * trace with it without holding its records ("scope dump in bounded memory", BENCHMARKS.md).
 */
export class EventDecoder {
  // scope attach: live-traced functions' names by (pid, tid, id), from attach_function_add (written before any call).
  private readonly attachedNames = new Map<string, FieldValue>();
  // Framework steps begun and not ended, by thread and request: a server response's flag ends them (stepEnds).
  private readonly openSteps = new Map<string, number[]>();
  // request_context (a = request id) names the request of its thread's next event.
  private readonly pendingContext = new Map<string, number>();

  constructor(
    private readonly strings: StringLookup,
    private readonly functions: Map<string, string>,
  ) {}

  /**
   * A record not decoded (a reader that needs only its time, or a few fields): what it changes
   * here, its thread's pending request_context taken. Returns that context's request when it
   * names one (what decode sets as the event's `request`).
   */
  skip(pid: number, tid: number): number | undefined {
    if (this.pendingContext.size === 0) return undefined;
    const thread = `${pid}/${tid}`;
    const context = this.pendingContext.get(thread);
    if (context === undefined) return undefined;
    this.pendingContext.delete(thread);
    return context !== 0 ? context : undefined;
  }

  /** Appends the record's events to `events`. */
  decode(raw: RawEvent, events: TraceEvent[]): void {
    const kind = kindName(raw.kind);
    if (kind === "string") return;
    if (kind === "request_context") {
      this.pendingContext.set(`${raw.pid}/${raw.tid}`, unsigned(raw.a));
      return;
    }
    let context: number | undefined;
    if (this.pendingContext.size !== 0) {
      const thread = `${raw.pid}/${raw.tid}`;
      context = this.pendingContext.get(thread);
      if (context !== undefined) this.pendingContext.delete(thread);
    }
    const strings = this.strings;
    const functions = this.functions;
    const str: Str = (field) => {
      const id = unsigned(field);
      if (id === 0) return null;
      return strings(raw.pid, raw.tid, id) ?? `<string ${id} missing>`;
    };
    const fn: FunctionName = (field) => functions.get(`${raw.pid}/${raw.tid}/${unsigned(field)}`) ?? `<function ${unsigned(field)}>`;
    const fielder = fielders[kind as EventKindName] ?? rawFields;
    const fields = fielder(raw, str, fn);
    if (context !== undefined && context !== 0) fields.request = context;
    if (kind === "attach_function_add") this.attachedNames.set(`${raw.pid}/${raw.tid}/${unsigned(raw.a)}`, fields.name ?? null);
    else if (kind === "attach_function_call" || kind === "attach_function_remove") fields.name = this.attachedNames.get(`${raw.pid}/${raw.tid}/${unsigned(raw.a)}`) ?? null;
    else if (kind === "http_step_start" || kind === "http_step_end" || kind === "http_server_response") {
      stepEnds(this.openSteps, events, raw, kind, fields);
      if (kind === "http_step_start" && (raw.flags & StepStartFlag.route) !== 0) {
        // Layout version 2: the request's route rode on its handler's start; its http_route event, just before it.
        events.push({ index: 0, timestampNs: big(raw.timestampNs), kind: "http_route", pid: raw.pid, tid: raw.tid, fields: { requestId: fields.requestId as number, route: fields.route ?? null, framework: str(Math.floor(unsigned(raw.b) / STEP_ORDINAL_LIMIT)) }, linkedTo: [] });
      }
    }
    events.push({
      index: 0,
      timestampNs: startOf(kind, raw),
      kind,
      pid: raw.pid,
      tid: raw.tid,
      fields,
      linkedTo: [],
    });
  }
}

/**
 * Interprets raw records (string records excluded by the caller or skipped here),
 * sorts them by time (lanes and processes interleave), and links receives to sends.
 */
export function interpret(raws: Iterable<RawEvent>, strings: StringLookup): TraceEvent[] {
  const list = Array.isArray(raws) ? (raws as RawEvent[]) : [...raws];
  const decoder = new EventDecoder(strings, functionTable(list, strings));
  const events: TraceEvent[] = [];
  for (const raw of list) decoder.decode(raw, events);
  events.sort((x, y) => (x.timestampNs < y.timestampNs ? -1 : x.timestampNs > y.timestampNs ? 1 : 0));
  const messages = new MessageLinks();
  events.forEach((event, index) => {
    event.index = index;
    messages.add(event, index, event.timestampNs);
  });
  // Each link step over every event in turn, changing earlier events at once (applyNow).
  const asyncThreads = new Set<string>();
  for (const event of events) if (event.kind.startsWith("async_")) asyncThreads.add(`${event.pid}/${event.tid}`);
  for (const linker of [messages, new HandlerLinks(applyNow), new DatabaseLinks(applyNow), new RequestLinks(applyNow)]) for (const event of events) linker.step(event);
  if (events.some((event) => event.kind === "long_task")) {
    const calls = new LongTaskCalls(undefined);
    for (const event of events) calls.add(event);
    calls.choose(events, applyNow);
  }
  if (asyncThreads.size !== 0) {
    const linker = new AsyncLinks(asyncThreads, applyNow);
    for (const event of events) linker.step(event);
  }
  linkPeers(events, applyNow);
  return events;
}


/**
 * Whether a send at (`ns`, `order`) is later than its key's last so far (`lastOrder` < 0: none):
 * the receive is linked to the last send by time; of equal times, the later one in order (the
 * stable sort keeps it after). MessageLinks links by it and scope dump --stats counts by it.
 */
export function laterSend(ns: bigint, order: number, lastNs: bigint, lastOrder: number): boolean {
  return lastOrder < 0 || ns > lastNs || (ns === lastNs && order > lastOrder);
}

/**
 * Messages: a receive is linked to the last send (by time) of its key and gets its size and
 * preview; that send to every receive of the key. `add` takes the events (any order; `order`:
 * the event's place among them, its index or its place in the record order with `sortKey`
 * its time); `step` links an event once every one was added.
 */
export class MessageLinks {
  private readonly keys = new Map<string, { sendOrder: number; sendNs: bigint; sizeBytes: FieldValue | undefined; preview: FieldValue | undefined; receives: number[]; refusedSends: number; lastRefusalNs: bigint }>();

  add(event: TraceEvent, order: number, sortNs: bigint): void {
    const send = event.kind === "message_send";
    if (!send && event.kind !== "message_receive") return;
    const key = messageKey(event);
    let entry = this.keys.get(key);
    if (!entry) this.keys.set(key, (entry = { sendOrder: -1, sendNs: 0n, sizeBytes: undefined, preview: undefined, receives: [], refusedSends: 0, lastRefusalNs: 0n }));
    if (!send) entry.receives.push(order);
    else if (event.fields.failed === true) {
      entry.refusedSends++;
      if (sortNs > entry.lastRefusalNs) entry.lastRefusalNs = sortNs;
    } else if (laterSend(sortNs, order, entry.sendNs, entry.sendOrder)) {
      entry.sendOrder = order;
      entry.sendNs = sortNs;
      entry.sizeBytes = event.fields.sizeBytes;
      entry.preview = event.fields.preview;
    }
  }

  /** Orders added by record order become indexes (`indexOf`), receives in index order. */
  renumber(indexOf: (order: number) => number): void {
    for (const entry of this.keys.values()) {
      if (entry.sendOrder >= 0) entry.sendOrder = indexOf(entry.sendOrder);
      entry.receives = entry.receives.map(indexOf).sort((x, y) => x - y);
    }
  }

  step(event: TraceEvent): void {
    const send = event.kind === "message_send";
    if (!send && event.kind !== "message_receive") return;
    const entry = this.keys.get(messageKey(event));
    if (!entry || entry.sendOrder < 0) return;
    if (send) {
      if (event.fields.failed === true) return;
      // Refused by the runtime: an earlier send of its key (the next send takes its ordinal
      // again only after a refusal), or the last one with a refusal marker after it.
      const last = entry.sendOrder === event.index;
      if (entry.refusedSends > 0 && (!last || entry.lastRefusalNs >= entry.sendNs)) event.fields.refused = true;
      else if (last) event.linkedTo.push(...entry.receives);
      return;
    }
    event.linkedTo.push(entry.sendOrder);
    // Receives are recorded without size and preview (the send has them: the same value).
    if (event.fields.preview === null || event.fields.preview === undefined) {
      event.fields.sizeBytes = entry.sizeBytes ?? 0;
      event.fields.preview = entry.preview ?? null;
    }
  }
}

/**
 * A server request's end with HttpEndFlag.stepsEnd (layout version 2) ends its framework
 * steps still open: their http_step_end events (not failed, innermost first) are made here,
 * at the response's time and just before it, as if each had its own record (what the agent
 * wrote before version 2), so every reader of events sees the same steps. `open`: the steps
 * begun and not ended, by thread and request, kept up to date here (records are in order).
 */
function stepEnds(open: Map<string, number[]>, events: TraceEvent[], raw: RawEvent, kind: string, fields: Record<string, FieldValue>): void {
  const key = `${raw.pid}/${raw.tid}/${fields.requestId}`;
  const steps = open.get(key);
  if (kind === "http_step_start") {
    if (steps === undefined) open.set(key, [fields.step as number]);
    else steps.push(fields.step as number);
    return;
  }
  if (steps === undefined) return;
  if (kind === "http_step_end") {
    const at = steps.lastIndexOf(fields.step as number);
    if (at >= 0) steps.splice(at, 1);
    if (steps.length === 0) open.delete(key);
    return;
  }
  open.delete(key);
  if ((raw.flags & HttpEndFlag.stepsEnd) === 0) return;
  const timestampNs = big(raw.timestampNs);
  for (let i = steps.length - 1; i >= 0; i--) {
    events.push({
      index: 0,
      timestampNs,
      kind: "http_step_end",
      pid: raw.pid,
      tid: raw.tid,
      fields: { requestId: fields.requestId as number, step: steps[i]!, errorType: null, errorMessage: null, failed: false },
      linkedTo: [],
    });
  }
}

/** long_task and gc are written after they ended (b = ns from their start to the record); others at their time. */
function startOf(kind: TraceEvent["kind"], raw: RawEvent): bigint {
  const at = big(raw.timestampNs);
  if (kind !== "long_task" && kind !== "gc") return at;
  const ago = BigInt.asUintN(64, big(raw.b));
  return ago < at ? at - ago : 0n;
}

/**
 * With function tracing, a long task names what ran: `function`, the outermost traced
 * function called in the task's window on its thread (widened by the task's error bound,
 * at its start by the gap between the agent's clock read its duration ends at and its
 * record's own stamp, from which the start is counted back: a measured callback's call can
 * read earlier than its task's start by that much, ~0.3 µs, more if the thread was
 * preempted there; a call read before the start counts only when it returned after it),
 * and at its end by the batch slack of calls-level events, whose time is
 * the end of their job), chosen as the one whose call spans longest (its return's time,
 * full level), else the first called. `functionIndex` is that call's index.
 */
export class LongTaskCalls {
  private readonly callsByThread = new Map<string, TraceEvent[]>();
  private readonly returns = new Map<string, bigint>();

  /** `keep`: which calls may be a task's (scope dump's streaming pass: those in a task's window); undefined: all. */
  constructor(private readonly keep: ((call: TraceEvent) => boolean) | undefined) {}

  add(event: TraceEvent): void {
    if (event.kind === "function_call") {
      if (this.keep && !this.keep(event)) return;
      const thread = `${event.pid}/${event.tid}`;
      let list = this.callsByThread.get(thread);
      if (!list) this.callsByThread.set(thread, (list = []));
      list.push(event);
      if (this.keep) this.returns.set(`${thread}/${event.fields.call}`, -1n);
    } else if ((event.kind === "function_return" || event.kind === "function_throw" || event.kind === "function_settle") && typeof event.fields.call === "number") {
      const key = `${event.pid}/${event.tid}/${event.fields.call}`;
      // Kept calls only: their ends are all a task asks about (-1: kept, not ended yet).
      if (!this.keep || this.returns.has(key)) this.returns.set(key, event.timestampNs);
    }
  }

  /** Names each long task among `tasks` by the calls added. */
  choose(tasks: Iterable<TraceEvent>, later: Later): void {
    for (const task of tasks) {
      if (task.kind !== "long_task") continue;
      const calls = this.callsByThread.get(`${task.pid}/${task.tid}`);
      if (!calls) continue;
      const { start, from, to } = longTaskWindow(task);
      let lo = 0;
      let hi = calls.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (calls[mid]!.timestampNs < from) lo = mid + 1;
        else hi = mid;
      }
      let best: TraceEvent | undefined;
      let bestSpan = -1n;
      for (let i = lo; i < calls.length && calls[i]!.timestampNs <= to; i++) {
        const call = calls[i]!;
        const ended = this.returns.get(`${call.pid}/${call.tid}/${call.fields.call}`);
        const end = ended === undefined || ended < 0n ? undefined : ended;
        // Before the start only a call still running at it (the measured callback itself).
        if (call.timestampNs < start && (end === undefined || end < start)) continue;
        const span = end === undefined ? -1n : end - call.timestampNs;
        if (best === undefined || span > bestSpan) {
          best = call;
          bestSpan = span;
        }
      }
      if (best === undefined) continue;
      later.set(task, LinkStep.longTasks, { function: best.fields.function ?? null, functionIndex: best.index });
    }
  }
}

/** The times a long task's calls are looked for in: [from, to]; before `start` only a call still running at it. */
export function longTaskWindow(task: TraceEvent): { start: bigint; from: bigint; to: bigint } {
  const errorNs = BigInt(Number(task.fields.errorNs) || 0);
  const start = task.timestampNs - errorNs;
  return { start, from: start - 1_000_000n, to: task.timestampNs + BigInt(Number(task.fields.durationNs) || 0) + errorNs + 5_000_000n };
}

/** A merged trace gives input k's pids + k << 22 (Linux pids are below 2^22): see src/merge/merge.ts. */
export const MERGE_PID_SHIFT = 22;

/** The input (source) of a merged trace a pid belongs to (0 in a trace that was not merged). */
export function sourceOfPid(pid: number): number {
  return Math.floor(pid / 2 ** MERGE_PID_SHIFT);
}

/** The pid as its own host saw it (the same as `pid` in a trace that was not merged). */
export function hostPid(pid: number): number {
  return pid % 2 ** MERGE_PID_SHIFT;
}

/** The pid in a merged trace of input `source`'s collector, named by its trace_source's details (JSON); null when they do not name it. */
export function mergedCollectorPid(source: number, details: string | null | undefined): number | null {
  try {
    const pid = (JSON.parse(details ?? "{}") as { collectorPid?: unknown }).collectorPid;
    return typeof pid === "number" ? pid + source * 2 ** MERGE_PID_SHIFT : null;
  } catch {
    return null; // not JSON
  }
}

/** What `scope view`, Perfetto and Chrome JSON call scope's own process (its records: drops, recording stops, how the program ended). */
export const COLLECTOR_PROCESS_NAME = "scope (collector)";

/**
 * The pids of scope's own processes in a trace: a merged trace's inputs' collectors (from
 * their trace_source records, mergedSources or mergedCollectorPid), else the header's.
 */
export function collectorPids(headerCollectorPid: number, merged: Iterable<number | null> | null): Set<number> {
  const pids = new Set<number>();
  for (const pid of merged ?? []) if (pid !== null) pids.add(pid);
  if (merged === null) pids.add(headerCollectorPid);
  return pids;
}

/** collectorPids of an interpreted trace (its trace_source events, when merged). */
export function collectorsOf(headerCollectorPid: number, events: TraceEvent[]): Set<number> {
  const sources = mergedSources(events);
  return collectorPids(headerCollectorPid, sources.length === 0 ? null : sources.map((source) => source.collectorPid));
}

/** The name shown after a process's pid: its command line, COLLECTOR_PROCESS_NAME for a collector, or null (neither known). */
export function processName(argv: string | null | undefined, collector: boolean): string | null {
  return argv ? argv : collector ? COLLECTOR_PROCESS_NAME : null;
}

/** One input of a merged trace, from its trace_source event. */
export interface MergedSource {
  source: number;
  host: string;
  path: string;
  /** How far its wall clock was ahead of input 0's (ns); its times were moved back by it. */
  clockOffsetNs: number;
  /** The offset's error bound (ns); null when no linked request measured it. */
  clockBoundNs: number | null;
  boundsDisagree: boolean;
  damaged: boolean;
  notClosed: boolean;
  /** Its pids in this trace are its own + pidBase. */
  pidBase: number;
  /** Its collector's pid in this trace (the `scope` process's own records). */
  collectorPid: number | null;
  pairs: number;
}

/** The inputs of a merged trace (empty for a trace that was not merged). */
export function mergedSources(events: TraceEvent[]): MergedSource[] {
  const sources: MergedSource[] = [];
  for (const event of events) {
    if (event.kind !== "trace_source") continue;
    const f = event.fields;
    let details: Record<string, unknown> = {};
    try {
      details = JSON.parse(String(f.details ?? "{}")) as Record<string, unknown>;
    } catch {}
    const source = Number(f.source);
    const pidBase = source * 2 ** MERGE_PID_SHIFT;
    sources.push({
      source,
      host: String(f.host ?? "?"),
      path: typeof details.path === "string" ? details.path : "?",
      clockOffsetNs: Number(f.clockOffsetNs ?? 0),
      clockBoundNs: typeof f.clockBoundNs === "number" ? f.clockBoundNs : null,
      boundsDisagree: f.boundsDisagree === true,
      damaged: f.damaged === true,
      notClosed: f.notClosed === true,
      pidBase,
      collectorPid: mergedCollectorPid(source, String(f.details ?? "{}")),
      pairs: typeof details.pairs === "number" ? details.pairs : 0,
    });
  }
  return sources.sort((x, y) => x.source - y.source);
}

/** An address as both ends write it: an IPv4-mapped IPv6 address is its IPv4 address. */
function plainAddress(address: FieldValue | undefined): string | null {
  if (typeof address !== "string" || address === "") return null;
  const lower = address.toLowerCase();
  return lower.startsWith("::ffff:") && lower.includes(".") ? lower.slice(7) : lower;
}

/**
 * Each client request gets the server request it reached and vice versa (`peerIndex`, the
 * other start's index, and `peerLink`: how it was found), in one trace (a program calling
 * itself, parent and child) or in a merged one. Without any header: the client's connection
 * (local address and port → remote) is the server's seen from the other end, and requests on
 * one connection are ordered, so the n-th request of a client connection is the n-th of the
 * server connection with the mirrored addresses (a four-tuple used again later, after the
 * port was reused, pairs in each side's own time order). Then, among requests still unlinked,
 * a `traceparent` the client sent and a server received (a value seen more than once pairs in
 * time order when both sides have it equally often).
 */
export function linkPeers(events: Iterable<TraceEvent>, later: Later): void {
  const byConnection = new Map<string, { clients: TraceEvent[]; servers: TraceEvent[] }>();
  const byTraceparent = new Map<string, { clients: TraceEvent[]; servers: TraceEvent[] }>();
  const sideOf = <K>(map: Map<K, { clients: TraceEvent[]; servers: TraceEvent[] }>, key: K) => {
    let side = map.get(key);
    if (!side) map.set(key, (side = { clients: [], servers: [] }));
    return side;
  };
  for (const event of events) {
    const client = event.kind === "http_client_request";
    if (!client && event.kind !== "http_server_request") continue;
    const f = event.fields;
    const local = plainAddress(f.localAddress);
    const remote = plainAddress(f.remoteAddress);
    const ordinal = client ? f.connectionOrdinal : f.ordinal;
    if (local !== null && remote !== null && f.localPort && f.remotePort && typeof ordinal === "number" && ordinal > 0) {
      const key = client ? `${local}:${f.localPort}>${remote}:${f.remotePort}#${ordinal}` : `${remote}:${f.remotePort}>${local}:${f.localPort}#${ordinal}`;
      const side = sideOf(byConnection, key);
      (client ? side.clients : side.servers).push(event);
    }
    if (typeof f.traceparent === "string" && f.traceparent !== "") {
      const side = sideOf(byTraceparent, f.traceparent.trim().toLowerCase());
      (client ? side.clients : side.servers).push(event);
    }
  }
  const pair = (client: TraceEvent, server: TraceEvent, how: string) => {
    later.set(client, LinkStep.peers, { peerIndex: server.index, peerLink: how });
    later.set(server, LinkStep.peers, { peerIndex: client.index, peerLink: how });
  };
  for (const { clients, servers } of byConnection.values()) {
    for (let i = 0; i < Math.min(clients.length, servers.length); i++) pair(clients[i]!, servers[i]!, "connection");
  }
  for (const side of byTraceparent.values()) {
    // Requests the connection did not link; a value sent more than once pairs in time order when both sides saw it as often.
    const clients = side.clients.filter((event) => event.fields.peerIndex === undefined);
    const servers = side.servers.filter((event) => event.fields.peerIndex === undefined);
    if (clients.length === 0 || clients.length !== servers.length) continue;
    // A proxy that forwards the traceparent it received sends the same value: its own server request is no peer.
    if (clients.some((client, i) => client.fields.requestIndex === servers[i]!.index)) continue;
    clients.forEach((client, i) => pair(client, servers[i]!, "traceparent"));
  }
}

/** The lowest index among `events` (Infinity: none): where a link step may still change an earlier event (openFrom). */
function lowestIndex(events: Iterable<TraceEvent>): number {
  let lowest = Number.POSITIVE_INFINITY;
  for (const event of events) if (event.index < lowest) lowest = event.index;
  return lowest;
}

const requestStarts = new Set(["http_server_request", "http_client_request"]);
const requestEnds = new Set(["http_server_response", "http_client_response"]);

/**
 * Requests: each event about a request (`requestId`: its end, connection, route, ...) or
 * caused by one (`request`: a call, a query, a message, a client request made while
 * handling it) gets `requestIndex`, the index of that request's start (http_server_request
 * or http_client_request of the same pid and tid with that id): what a dump nests it
 * under. The start gets what the other events say of it: its end (status, sizes, how it
 * ended, durationNs, endIndex), its connection's addresses, route, traceparent and error.
 */
export class RequestLinks {
  private readonly starts = new Map<string, TraceEvent>();
  private readonly connections = new Map<string, Record<string, FieldValue>>();
  private readonly steps = new Map<string, TraceEvent>();
  // A call's request also holds for its return, throw, settle, yield and resume (same call ordinal).
  private readonly calls = new Map<string, number>();

  constructor(private readonly later: Later) {}

  /**
   * The lowest index a later event may still change here (Infinity: none): a request's start
   * (any later event may name it), a step's start not ended. scope dump's streaming
   * (src/dump/stream.ts) writes what lies below it while the link pass reads on.
   */
  openFrom(): number {
    return Math.min(this.firstStart, lowestIndex(this.steps.values()));
  }

  private firstStart = Number.POSITIVE_INFINITY;

  step(event: TraceEvent): void {
    const { starts, connections, steps, calls, later } = this;
    const thread = `${event.pid}/${event.tid}`;
    const f = event.fields;
    if (event.kind.startsWith("function_") && typeof f.call === "number") {
      const key = `${thread}/${f.call}`;
      if (event.kind === "function_call") {
        if (typeof f.request === "number") calls.set(key, f.request);
      } else if (f.request === undefined) {
        const request = calls.get(key);
        if (request !== undefined) f.request = request;
      }
    }
    if (event.kind === "http_connection") {
      connections.set(`${thread}/${f.connection}`, f);
      return;
    }
    if (requestStarts.has(event.kind)) {
      starts.set(`${thread}/${f.requestId}`, event);
      if (event.index < this.firstStart) this.firstStart = event.index;
      if (event.kind === "http_server_request") applyNow.set(event, LinkStep.requests, connectionFields(connections.get(`${thread}/${f.connection}`)));
    }
    const own = typeof f.requestId === "number" ? starts.get(`${thread}/${f.requestId}`) : undefined;
    if (own && own !== event) {
      f.requestIndex = own.index;
      if (requestEnds.has(event.kind)) {
        later.set(own, LinkStep.requests, {
          status: f.status ?? 0,
          requestBytes: f.requestBytes === undefined ? 0 : f.requestBytes,
          responseBytes: f.responseBytes === undefined ? 0 : f.responseBytes,
          end: f.end ?? null,
          durationNs: Number(event.timestampNs - own.timestampNs),
          endIndex: event.index,
        });
      } else if (event.kind === "http_client_connection") {
        later.set(own, LinkStep.requests, { connection: f.connection ?? 0, connectionOrdinal: f.ordinal ?? 0 });
        later.set(own, LinkStep.requests, connectionFields(connections.get(`${thread}/${f.connection}`)));
      } else if (event.kind === "http_traceparent") {
        later.set(own, LinkStep.requests, { traceparent: f.traceparent ?? null });
      } else if (event.kind === "http_route") {
        // An operation's route (a GraphQL operation, tRPC procedures) says which: exports name the request by it (otlp.ts).
        later.set(own, LinkStep.requests, f.framework === "graphql" || f.framework === "trpc" ? { route: f.route ?? null, framework: f.framework } : { route: f.route ?? null });
      } else if (event.kind === "http_step_start") {
        f.durationNs = null;
        steps.set(`${thread}/${f.requestId}/${f.step}`, event);
      } else if (event.kind === "http_step_end") {
        // A step's start gets its outcome and duration; the two are linked both ways.
        const key = `${thread}/${f.requestId}/${f.step}`;
        const begun = steps.get(key);
        if (begun) {
          steps.delete(key);
          later.link(begun, LinkStep.requests, event.index);
          event.linkedTo.push(begun.index);
          later.set(begun, LinkStep.requests, { durationNs: Number(event.timestampNs - begun.timestampNs), failed: f.failed ?? false, ...(f.failed ? { errorType: f.errorType ?? null, errorMessage: f.errorMessage ?? null } : {}) });
        }
      } else if (event.kind === "http_error") {
        later.set(own, LinkStep.requests, { errorCode: f.code ?? null, errorMessage: f.message ?? null });
      }
    }
    // Caused by a request (a client request made while handling one, a query, a call).
    if (typeof f.request === "number" && f.requestIndex === undefined) {
      const cause = starts.get(`${thread}/${f.request}`);
      if (cause) f.requestIndex = cause.index;
    }
  }
}

/** A request's addresses, from its connection's http_connection (none: nothing). */
function connectionFields(c: Record<string, FieldValue> | undefined): Record<string, FieldValue> {
  if (!c) return {};
  return { localAddress: c.localAddress ?? null, localPort: c.localPort ?? 0, remoteAddress: c.remoteAddress ?? null, remotePort: c.remotePort ?? 0 };
}

/**
 * A query's (or pool wait's) start and end carry the same id per thread: each is linked to
 * the other, and the start gets the outcome (`durationNs`, and for a query `rows`, `failed`,
 * `errorCode`, `errorMessage`), so one event says everything about it, and the end gets the
 * start's `request`. A start without an end (the process ended first) has `durationNs: null`.
 */
export class DatabaseLinks {
  private readonly open = new Map<string, TraceEvent>();
  private readonly connections = new Map<string, Record<string, FieldValue>>();

  constructor(private readonly later: Later) {}

  /** The lowest index a later event may still change here (a query or wait not ended), Infinity: none (RequestLinks.openFrom). */
  openFrom(): number {
    return lowestIndex(this.open.values());
  }

  step(event: TraceEvent): void {
    if (event.kind === "db_connection") {
      this.connections.set(`${event.pid}/${event.tid}/${event.fields.connection}`, event.fields);
      return;
    }
    const start = event.kind === "db_query" ? "q" : event.kind === "db_pool_wait" ? "w" : undefined;
    const end = event.kind === "db_query_end" ? "q" : event.kind === "db_pool_wait_end" ? "w" : undefined;
    if (start) {
      event.fields.durationNs = null;
      // Its database and server, from the db_connection its thread wrote before it.
      if (typeof event.fields.connection === "number") Object.assign(event.fields, dbConnectionFields(this.connections.get(`${event.pid}/${event.tid}/${event.fields.connection}`)));
      this.open.set(`${start}/${event.pid}/${event.tid}/${event.fields.query ?? event.fields.wait}`, event);
    } else if (end) {
      const key = `${end}/${event.pid}/${event.tid}/${event.fields.query ?? event.fields.wait}`;
      const begun = this.open.get(key);
      if (!begun) return;
      this.open.delete(key);
      this.later.link(begun, LinkStep.database, event.index);
      event.linkedTo.push(begun.index);
      // The end belongs to the same request (a dump nests it there too).
      if (begun.fields.request !== undefined) event.fields.request = begun.fields.request;
      const f = event.fields;
      this.later.set(begun, LinkStep.database, {
        durationNs: Number(event.timestampNs - begun.timestampNs),
        ...(end === "q" ? { rows: f.rows ?? null } : {}),
        failed: f.failed ?? false,
        ...(f.failed ? { errorCode: f.errorCode ?? null, errorMessage: f.errorMessage ?? null } : {}),
        // A connection only the end could name (the start's thread knew none yet).
        ...(begun.fields.connection === undefined && typeof f.connection === "number"
          ? { connection: f.connection, ...dbConnectionFields(this.connections.get(`${event.pid}/${event.tid}/${f.connection}`)) }
          : {}),
      });
    }
  }
}

/** A query's or wait's database, server and user, from its db_connection (none known: nothing). */
function dbConnectionFields(c: Record<string, FieldValue> | undefined): Record<string, FieldValue> {
  if (!c) return {};
  return { database: c.database ?? null, serverAddress: c.serverAddress ?? null, serverPort: c.serverPort || null, user: c.user ?? null };
}

/**
 * The agent records a receive immediately before the program's listeners run, in the
 * same thread and the same ordered stream as function events. So the first function
 * call on that thread after the receive, with no other runtime event in between, is the
 * instrumented handler (or the first instrumented function it calls) of that message:
 * the call gets `handlesMessage` (the receive's index), the receive `handledBy`. Unless
 * the thread registered a "message" listener that is not instrumented (function_listener
 * with no function: `worker.once("message", resolve)`) and the call is not one of its
 * registered "message" listeners: then that other listener handled the message, and the
 * call is whatever ran next (a promise continuation), not its handler.
 */
export class HandlerLinks {
  private readonly pending = new Map<string, TraceEvent>();
  private readonly listeners = new Map<string, { functions: Set<FieldValue>; opaque: boolean }>();

  constructor(private readonly later: Later) {}

  /** The lowest index a later event may still change here (a receive whose handler may come), Infinity: none (RequestLinks.openFrom). */
  openFrom(): number {
    return lowestIndex(this.pending.values());
  }

  step(event: TraceEvent): void {
    const { pending, listeners } = this;
    const thread = `${event.pid}/${event.tid}`;
    if (event.kind === "message_receive") {
      pending.set(thread, event);
    } else if (event.kind === "function_listener") {
      if (event.fields.event !== "message") return;
      let known = listeners.get(thread);
      if (!known) listeners.set(thread, (known = { functions: new Set(), opaque: false }));
      if (event.fields.function === null) known.opaque = true;
      else known.functions.add(event.fields.function ?? null);
    } else if (event.kind === "function_call") {
      const receive = pending.get(thread);
      if (!receive) return;
      pending.delete(thread);
      const known = listeners.get(thread);
      if (known?.opaque && !known.functions.has(event.fields.function ?? null)) return;
      event.fields.handlesMessage = receive.index;
      this.later.set(receive, LinkStep.handlers, { handledBy: event.index });
    } else if (!event.kind.startsWith("function_")) {
      pending.delete(thread);
    }
  }
}

export { EventKind };
