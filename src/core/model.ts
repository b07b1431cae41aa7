/**
 * The meaning of decoded records: names each kind's payload fields (as documented in
 * zig/layout.zig), resolves string ids, and links every message receive to its send.
 * Exporters (src/dump/*) work on these TraceEvents only.
 */
import { ChannelKind, EventKind, eventKindName, ExitReason, SpawnMethod, type EventKindName } from "./layout";

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
export const SpawnMethodName = namesOf(SpawnMethod, { clusterFork: "cluster.fork" });
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

const exitFields: Fielder = (r, str) => ({
  code: signed(r.a),
  signal: unsigned(r.b) || null,
  errorType: str(r.c),
  errorMessage: str(r.d),
  reason: ExitReasonName[unsigned(r.e)] ?? String(unsigned(r.e)),
});

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

const fielders: Partial<Record<EventKindName, Fielder>> = {
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
  thread_spawn: (r, str) => ({ threadId: unsigned(r.a), entry: str(r.b) }),
  thread_exited: (r) => ({ threadId: unsigned(r.a), code: signed(r.b) }),
  message_send: messageFields,
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
  function_call: (r, str, fn) => withState(r, str, { function: fn(r.a), call: unsigned(r.b), args: str(r.c) }),
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
  agent_error: (r, str) => ({ message: str(r.a) }),
};

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
function functionTable(raws: RawEvent[], strings: StringLookup): Map<string, string> {
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
 * Interprets raw records (string records excluded by the caller or skipped here),
 * sorts them by time (lanes and processes interleave), and links receives to sends.
 */
export function interpret(raws: Iterable<RawEvent>, strings: StringLookup): TraceEvent[] {
  const list = Array.isArray(raws) ? (raws as RawEvent[]) : [...raws];
  const functions = functionTable(list, strings);
  const events: TraceEvent[] = [];
  for (const raw of list) {
    const kind = kindName(raw.kind);
    if (kind === "string") continue;
    const str: Str = (field) => {
      const id = unsigned(field);
      if (id === 0) return null;
      return strings(raw.pid, raw.tid, id) ?? `<string ${id} missing>`;
    };
    const fn: FunctionName = (field) => functions.get(`${raw.pid}/${raw.tid}/${unsigned(field)}`) ?? `<function ${unsigned(field)}>`;
    const fielder = fielders[kind as EventKindName] ?? rawFields;
    events.push({
      index: 0,
      timestampNs: big(raw.timestampNs),
      kind,
      pid: raw.pid,
      tid: raw.tid,
      fields: fielder(raw, str, fn),
      linkedTo: [],
    });
  }
  events.sort((x, y) => (x.timestampNs < y.timestampNs ? -1 : x.timestampNs > y.timestampNs ? 1 : 0));
  const sends = new Map<string, TraceEvent>();
  events.forEach((event, index) => {
    event.index = index;
    if (event.kind === "message_send") sends.set(messageKey(event), event);
  });
  for (const event of events) {
    if (event.kind !== "message_receive") continue;
    const send = sends.get(messageKey(event));
    if (!send) continue;
    event.linkedTo.push(send.index);
    send.linkedTo.push(event.index);
    // Receives are recorded without size and preview (the send has them: the same value).
    if (event.fields.preview === null || event.fields.preview === undefined) {
      event.fields.sizeBytes = send.fields.sizeBytes ?? 0;
      event.fields.preview = send.fields.preview ?? null;
    }
  }
  linkHandlers(events);
  return events;
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
function linkHandlers(events: TraceEvent[]): void {
  const pending = new Map<string, TraceEvent>();
  const listeners = new Map<string, { functions: Set<FieldValue>; opaque: boolean }>();
  for (const event of events) {
    const thread = `${event.pid}/${event.tid}`;
    if (event.kind === "message_receive") {
      pending.set(thread, event);
    } else if (event.kind === "function_listener") {
      if (event.fields.event !== "message") continue;
      let known = listeners.get(thread);
      if (!known) listeners.set(thread, (known = { functions: new Set(), opaque: false }));
      if (event.fields.function === null) known.opaque = true;
      else known.functions.add(event.fields.function ?? null);
    } else if (event.kind === "function_call") {
      const receive = pending.get(thread);
      if (!receive) continue;
      pending.delete(thread);
      const known = listeners.get(thread);
      if (known?.opaque && !known.functions.has(event.fields.function ?? null)) continue;
      event.fields.handlesMessage = receive.index;
      receive.fields.handledBy = event.index;
    } else if (!event.kind.startsWith("function_")) {
      pending.delete(thread);
    }
  }
}

export { EventKind };
