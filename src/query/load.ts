/**
 * Loads a trace file into a SQLite database (schema.ts) in one pass over its chunks,
 * decoding each 64-byte record straight from the batch (no RawEvent, no BigInt unless a
 * value needs more than 53 bits, no TraceEvent model): the model's per-event objects
 * were the bottleneck (BENCHMARKS.md "scope query"). What model.ts links after sorting,
 * this pass links per thread in file order, which is each producer's own order (a
 * producer writes its lane, and its overflow, in the order it recorded):
 *
 * - calls: a stack per thread of the synchronous calls running (a return or throw pops
 *   down to its call, so a call whose end was never recorded ends with its caller);
 *   async and generator calls are never a parent (no event marks an await), and a call
 *   recorded without its end (the calls level: no argument preview) is a leaf;
 * - requests, steps, queries, pool waits: by their per-thread ids; messages by their
 *   key (channel, owner, sub-id, direction, ordinal) after the pass, receives being
 *   written by other producers.
 */
import type { Database } from "bun:sqlite";
import { EventKind, eventKindName, ExitFlag, RECORD_SIZE } from "../core/layout";
import { ChannelKindName, DbSystemName, ExitReasonName, GcKindName, HttpClientName, HttpEndName, HttpProtocolName, LongTaskKindName, mergedCollectorPid, SpawnMethodName } from "../core/model";
import { ChannelCloseFlag, ChannelKind, DB_CONNECTION_UNIT, HttpEndFlag, LoopSampleFlag, MEMORY_SAMPLE_WORKER, STEP_ORDINAL_LIMIT, StepStartFlag } from "../core/layout";
import { readTrace, type TraceEnd, type TraceHeader, type TraceReadError, type TraceState } from "../core/trace-file";
import { damageText } from "../core/trace-ending";
import { BulkInsert, type SqlValue } from "./bulk";
import { MARK_EVERY } from "./schema";
import { StringLoader } from "./strings";

const K = EventKind;
const TWO_32 = 4294967296;
const SAFE_HIGH = 0x200000; // a high word below 2^21: the u64 is below 2^53, exact as a number

/** Call outcomes (calls.outcome). */
const Outcome = { return: 1, throw: 2, resolve: 3, reject: 4 } as const;

const SYNC = 0;
const ASYNC = 1;
const GENERATOR = 2;

interface FunctionInfo {
  id: number;
  kind: number;
}

interface OpenCall {
  id: number;
  fn: number;
  ordinal: number;
  /** The function_call's own fields c (argument preview), d (request id), e (state). */
  args: number | bigint;
  /** The argument preview's text id when it was taken into the call's row (else 0: in string_rows). */
  argsText: number;
  requestId: number | bigint;
  state: number | bigint;
  startNs: number;
  childNs: number;
  parent: OpenCall | null;
  depth: number;
  request: number | null;
  kind: number;
  onStack: boolean;
}

interface RequestRow {
  id: number;
  kind: "server" | "client";
  pid: number;
  tid: number;
  requestId: number;
  method: number;
  target: number;
  route: number;
  framework: number;
  status: number | null;
  startNs: number;
  endNs: number | null;
  requestBytes: number | null;
  responseBytes: number | null;
  end: string | null;
  errorCode: number;
  errorMessage: number;
  traceparent: number;
  parent: number | null;
  protocol: string | null;
  api: string | null;
  connection: number;
}

interface StepRow {
  id: number;
  request: number | null;
  step: number;
  name: number;
  stepKind: number;
  route: number;
  startNs: number;
  endNs: number | null;
  failed: number | null;
  errorType: number;
  errorMessage: number;
  thread: ThreadState;
}

interface DbRow {
  id: number;
  localId: number;
  system: string;
  text: number;
  textCut: number;
  params: number;
  open: number;
  idle: number;
  startNs: number;
  endNs: number | null;
  rows: number | null;
  failed: number | null;
  errorCode: number;
  errorMessage: number;
  request: number | null;
  thread: ThreadState;
  /** Its db_connection's fields (string ids; port 0: none), or undefined. */
  target: DbTarget | undefined;
}

/** A db_connection (layout version 6): string ids of its database, server and user, and its port. */
interface DbTarget {
  database: number;
  address: number;
  port: number;
  user: number;
}

interface MessageEnd {
  event: number;
  thread: ThreadState;
  ns: number;
  key: string;
  channel: number;
  owner: number;
  direction: number;
  subId: number;
  ordinal: number;
  size: number;
  preview: number;
  failed: number;
  request: number | null;
  handler: number | null;
}

interface Connection {
  local: number;
  localPort: number;
  remote: number;
  remotePort: number;
}

interface ExitInfo {
  /** null: the collector recorded the ending with the status unknown (ExitFlag.unknown). */
  code: number | null;
  signal: number;
  errorType: number;
  errorMessage: number;
  reason: string;
  /** Who recorded it: the process (or thread), or the collector on its behalf (process_exit / thread_exit flags ExitFlag.collector). */
  by: "process" | "collector" | "parent";
}

interface ThreadState {
  /** The thread's number in this database (threads.thread): events and strings are keyed by it. */
  no: number;
  pid: number;
  tid: number;
  firstNs: number;
  lastNs: number;
  events: number;
  /** The longest call that ended (for windows: a call overlapping one starts at most this long before it). */
  maxCallNs: number;
  main: boolean;
  /** By function id (the agent numbers them from 1, per thread). */
  functions: (FunctionInfo | undefined)[];
  /** Ids past SMALL_FUNCTION_ID (not seen from the agents: a damaged or foreign trace). */
  functionsBig: Map<number, FunctionInfo> | null;
  stack: OpenCall[];
  /** Open calls not on the stack (async calls, suspended generators), by ordinal: a call on the stack is found there. */
  open: Map<number, OpenCall>;
  requests: Map<number, RequestRow>;
  connections: Map<number, Connection>;
  steps: Map<string, StepRow>;
  /** The open steps of each request (by its id): a server response with HttpEndFlag.stepsEnd ends them. */
  requestSteps: Map<number, StepRow[]>;
  queries: Map<number, DbRow>;
  waits: Map<number, DbRow>;
  /** db_connection records by their id. */
  dbTargets: Map<number, DbTarget>;
  pendingContext: number;
  pendingReceive: MessageEnd | null;
  messageListeners: { functions: Set<number>; opaque: boolean } | null;
  exit: ExitInfo | null;
  spawn: { entry: number; spawner: ThreadState } | null;
  exitedCode: number | null;
}

interface ConnectionRow {
  id: number;
  thread: ThreadState;
  field: number;
  owner: number;
  address: number;
  protocol: number;
  openNs: number | null;
  closeNs: number | null;
  code: number | null;
  reason: number;
  error: number;
  clean: number | null;
  openEvent: number | null;
  closeEvent: number | null;
}

interface ProcessRow {
  pid: number;
  parentPid: number | null;
  start: ThreadState | null;
  argv: number;
  runtime: number;
  cwd: number;
  spawnedByEvent: number | null;
  spawner: ThreadState | null;
  command: number;
  spawnMethod: string | null;
  childExit: { code: number | null; signal: number } | null;
}

export interface LoadSummary {
  header: TraceHeader;
  /** Records read from the file (string records included). */
  records: number;
  /** Rows of `events` (every record but string fragments). */
  events: number;
  calls: number;
  state: TraceState;
  end: TraceEnd | null;
  error: TraceReadError | null;
  /** Wall time of the load (ms). */
  loadMs: number;
  /** Wall time of its phases (ms): the pass over the records, the tables written after it. */
  phases: Record<string, number>;
}

/** The u64 at word `at`: a number when exact, else the i64 of the same bits as a bigint. */
function u64(words: Uint32Array, at: number): number | bigint {
  const high = words[at + 1]!;
  const low = words[at]!;
  if (high < SAFE_HIGH) return high * TWO_32 + low;
  return BigInt.asIntN(64, (BigInt(high) << 32n) | BigInt(low));
}

/** A field holding an id or count: as a number (ids never pass 2^53; past it, precision goes). */
function num(value: number | bigint): number {
  return typeof value === "number" ? value : Number(BigInt.asUintN(64, value));
}

/** A field holding an i64 (exit codes). */
function signed(value: number | bigint): number {
  if (typeof value === "bigint") return Number(value);
  return value >= 2 ** 63 ? value - 2 ** 64 : value;
}

const SMALL_FUNCTION_ID = 1 << 20;

function setFunction(t: ThreadState, functionId: number, info: FunctionInfo): void {
  if (functionId < SMALL_FUNCTION_ID) t.functions[functionId] = info;
  else (t.functionsBig ??= new Map()).set(functionId, info);
}

export class TraceLoader {
  private readonly threads = new Map<number, ThreadState>();
  private readonly threadsByText = new Map<string, ThreadState>();
  private readonly processes = new Map<number, ProcessRow>();
  /** A merged trace's inputs' collectors (their trace_source events name them). */
  private readonly mergedCollectors = new Set<number>();
  private readonly kindsSeen = new Set<number>();
  /** kindsSeen as flags by kind (a u16): one load per event instead of a set lookup. */
  private readonly kindSeen = new Uint8Array(65536);
  private readonly functionRows: { id: number; thread: ThreadState; functionId: number; name: number; file: number; line: number; column: number; flags: number }[] = [];
  private readonly requestRows: RequestRow[] = [];
  private readonly stepRows: StepRow[] = [];
  private readonly queryRows: DbRow[] = [];
  private readonly waitRows: DbRow[] = [];
  /** channel_open / channel_close (WebSocket connections), one row per end; the open ones by owner pid and channel field. */
  private readonly connectionRows: ConnectionRow[] = [];
  private readonly openConnections = new Map<string, ConnectionRow>();
  /** gc, loop and memory rows (strings resolved at the end: a long task's origin). */
  private readonly gcRows: SqlValue[][] = [];
  private readonly loopRows: { row: SqlValue[]; thread: ThreadState; origin: number }[] = [];
  private readonly memoryRows: SqlValue[][] = [];
  private readonly sends = new Map<string, MessageEnd>();
  private readonly failedSends: MessageEnd[] = [];
  private readonly receives: MessageEnd[] = [];
  private readonly events: BulkInsert;
  private readonly calls: BulkInsert;
  private readonly strings: StringLoader;
  private readonly marks: BulkInsert;
  private readonly leafCalls: BulkInsert;
  private readonly plainCalls: BulkInsert;
  /** Per function (functions.id): calls, summed duration and self time of those that ended, the longest. */
  private fnCalls = new Float64Array(64);
  private fnEnded = new Float64Array(64);
  private fnTotalNs = new Float64Array(64);
  private fnSelfCalls = new Float64Array(64);
  private fnSelfNs = new Float64Array(64);
  private fnMaxNs = new Float64Array(64);
  private eventCount = 0;
  /** Set by interpret when the record became part of a call_rows row (no event_rows row of its own). */
  private absorbed = false;
  private threadCount = 0;
  private functionCount = 0;
  private lastThread: ThreadState | null = null;
  private anchorNs = 0;
  private anchorBig = 0n;

  constructor(private readonly db: Database) {
    // Function calls and their ends are rows of call_rows, not of event_rows (one row per call instead of three).
    this.events = new BulkInsert(db, "event_rows", ["id", "thread", "ts_ns", "kind", "flags", "a", "b", "c", "d", "e"]);
    this.marks = new BulkInsert(db, "event_marks", ["thread", "ts_ns", "id"], "OR IGNORE");
    this.calls = new BulkInsert(db, "call_rows", [
      "id", "function", "thread", "start_ns", "end_ns", "end_event", "outcome", "self_ns", "parent", "depth", "request",
      "ordinal", "args", "request_id", "state", "end_c", "end_d", "end_e", "args_text_id", "end_text_id",
    ]);
    // The usual ended call: outside a request, no state, its end's d and e 0: a narrower row (those columns' defaults).
    this.plainCalls = new BulkInsert(db, "call_rows", [
      "id", "function", "thread", "start_ns", "end_ns", "end_event", "outcome", "self_ns", "parent", "depth",
      "ordinal", "args", "end_c", "args_text_id", "end_text_id",
    ]);
    // A call recorded at the calls level has no end: a narrower row (the end columns are not read without an end_event).
    this.leafCalls = new BulkInsert(db, "call_rows", ["id", "function", "thread", "start_ns", "parent", "depth", "request", "ordinal", "request_id", "state"]);
    this.strings = new StringLoader(db);
  }

  /** Reads `path` to its end (or to its first damaged chunk) into the database. */
  load(path: string): LoadSummary {
    const started = performance.now();
    const trace = readTrace(path);
    this.anchorBig = trace.header.monotonicAnchorNs;
    this.anchorNs = Number(this.anchorBig);
    let records = 0;
    const phases: Record<string, number> = {};
    let mark = performance.now();
    const phase = (name: string) => {
      const now = performance.now();
      phases[name] = now - mark;
      mark = now;
    };
    for (const batch of trace.batches(16384, true)) {
      records += batch.byteLength / RECORD_SIZE;
      this.batch(batch);
    }
    this.events.finalize();
    this.marks.finalize();
    this.strings.finish();
    this.finishThreads();
    this.calls.finalize();
    this.plainCalls.finalize();
    this.leafCalls.finalize();
    phase("pass");
    this.writeTables();
    phase("tables");
    const state = trace.state;
    const summary: LoadSummary = {
      header: trace.header,
      records,
      events: this.eventCount,
      calls: this.calls.rows + this.plainCalls.rows + this.leafCalls.rows,
      state,
      end: trace.end,
      error: trace.error,
      loadMs: 0,
      phases,
    };
    this.writeMeta(path, summary);
    this.strings.close();
    summary.loadMs = performance.now() - started;
    return summary;
  }

  private thread(pid: number, tid: number): ThreadState {
    const last = this.lastThread;
    if (last !== null && last.pid === pid && last.tid === tid) return last;
    let thread: ThreadState | undefined;
    if (tid < SAFE_HIGH) {
      const key = pid * SAFE_HIGH + tid;
      thread = this.threads.get(key);
      if (!thread) this.threads.set(key, (thread = this.newThread(pid, tid)));
    } else {
      const key = `${pid}/${tid}`;
      thread = this.threadsByText.get(key);
      if (!thread) this.threadsByText.set(key, (thread = this.newThread(pid, tid)));
    }
    this.lastThread = thread;
    return thread;
  }

  private newThread(pid: number, tid: number): ThreadState {
    return {
      no: ++this.threadCount,
      pid,
      tid,
      firstNs: Number.NaN,
      lastNs: Number.NaN,
      events: 0,
      maxCallNs: 0,
      main: false,
      functions: [],
      functionsBig: null,
      stack: [],
      open: new Map(),
      requests: new Map(),
      connections: new Map(),
      steps: new Map(),
      requestSteps: new Map(),
      queries: new Map(),
      waits: new Map(),
      dbTargets: new Map(),
      pendingContext: 0,
      pendingReceive: null,
      messageListeners: null,
      exit: null,
      spawn: null,
      exitedCode: null,
    };
  }

  private process(pid: number): ProcessRow {
    let row = this.processes.get(pid);
    if (!row) {
      row = { pid, parentPid: null, start: null, argv: 0, runtime: 0, cwd: 0, spawnedByEvent: null, spawner: null, command: 0, spawnMethod: null, childExit: null };
      this.processes.set(pid, row);
    }
    return row;
  }

  private batch(bytes: Uint8Array): void {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // The batches are whole records in an aligned buffer (trace-file.ts batches): a record's
    // fields read as u32 words (little-endian, as the host: x86-64 and arm64).
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
    const events = this.events;
    const values = events.buffer;
    const kinds = this.kindsSeen;
    const kindSeen = this.kindSeen;
    const anchorNs = this.anchorNs;
    for (let w = 0; w < words.length; w += RECORD_SIZE >> 2) {
      const head = words[w + 1]!;
      const kind = head & 0xffff;
      const flags = head >>> 16;
      const pid = words[w + 4]!;
      const tid = words[w + 5]!;
      const thread = this.thread(pid, tid);
      if (kind === K.string) {
        this.strings.add(thread.no, buffer, words, w << 2, words[w + 6]!, words[w + 7]!, flags);
        continue;
      }
      const tsHigh = words[w + 3]!;
      const ts = tsHigh < SAFE_HIGH ? tsHigh * TWO_32 + words[w + 2]! - anchorNs : Number(((BigInt(tsHigh) << 32n) | BigInt(words[w + 2]!)) - this.anchorBig);
      const a = u64(words, w + 6);
      const b = u64(words, w + 8);
      const c = u64(words, w + 10);
      const d = u64(words, w + 12);
      const e = u64(words, w + 14);
      const id = ++this.eventCount;
      if (thread.events % MARK_EVERY === 0) this.marks.add(thread.no, ts, id);
      if (kindSeen[kind] === 0) {
        kindSeen[kind] = 1;
        kinds.add(kind);
      }
      if (thread.events === 0) thread.firstNs = ts;
      thread.events++;
      thread.lastNs = ts;
      this.absorbed = false;
      this.interpret(thread, id, ts, kind, flags, a, b, c, d, e);
      this.strings.release(thread.no);
      if (!this.absorbed) {
        values.push(id, thread.no, ts, kind, flags, a, b, c, d, e);
        events.pushed();
      }
    }
  }

  private interpret(t: ThreadState, id: number, ts: number, kind: number, flags: number, a: number | bigint, b: number | bigint, c: number | bigint, d: number | bigint, e: number | bigint): void {
    // request_context names the request of its thread's next event.
    let context = 0;
    if (t.pendingContext !== 0 && kind !== K.request_context) {
      context = t.pendingContext;
      t.pendingContext = 0;
    }
    // A receive is handled by the thread's next call when nothing else happens in between.
    if (t.pendingReceive !== null && (kind < K.function_table || kind > K.function_level)) t.pendingReceive = null;
    switch (kind) {
      case K.drop:
        // Records of this thread were lost just before (ARCHITECTURE.md "Records lost: calls
        // nest again from depth 0"): the calls on its stack may have ended among them, so
        // they end here as at the trace's end (no end) and later calls start from depth 0.
        // A collector's marker names the collector, whose thread has no calls. An event still.
        this.unstack(t, null);
        return;
      case K.function_call:
        if (flags !== 0) return; // not a call this version knows how to rebuild: an event of its own
        return this.call(t, id, ts, num(a), num(b), c, d, e);
      case K.function_return:
        if (flags !== 0) return;
        return this.end(t, id, ts, num(b), Outcome.return, c, d, e);
      case K.function_throw:
        if (flags !== 0) return;
        return this.end(t, id, ts, num(b), Outcome.throw, c, d, e);
      case K.function_settle:
        if ((flags & ~1) !== 0) return;
        return this.end(t, id, ts, num(b), (flags & 1) !== 0 ? Outcome.reject : Outcome.resolve, c, d, e);
      case K.function_yield:
        return this.yieldCall(t, num(b));
      case K.function_resume:
        return this.resume(t, num(b));
      case K.function_table: {
        const functionId = num(a);
        const fid = this.newFunction();
        setFunction(t, functionId, { id: fid, kind: (flags & 1) !== 0 ? ASYNC : (flags & 2) !== 0 ? GENERATOR : SYNC });
        this.functionRows.push({ id: fid, thread: t, functionId, name: num(b), file: num(c), line: num(d), column: num(e), flags });
        return;
      }
      case K.function_listener: {
        if (this.strings.text(t.no, num(b)) !== "message") return;
        t.messageListeners ??= { functions: new Set(), opaque: false };
        if (num(a) === 0) t.messageListeners.opaque = true;
        else t.messageListeners.functions.add(num(a));
        return;
      }
      case K.trace_source: {
        const collector = mergedCollectorPid(num(a), this.str(t, num(e)));
        if (collector !== null) this.mergedCollectors.add(collector);
        return;
      }
      case K.trace_start: {
        if (num(e) === 1) {
          t.main = true;
          const p = this.process(t.pid);
          p.parentPid = num(a) || null;
          p.start = t;
          p.argv = num(b);
          p.runtime = num(c);
          p.cwd = num(d);
        }
        return;
      }
      case K.process_exit:
      case K.thread_exit: {
        if ((flags & ExitFlag.collector) !== 0) {
          // The collector's ending (layout version 3; a worker's, ended with its process:
          // version 4): the real status; a correction keeps the error the process's own said.
          const unknown = (flags & ExitFlag.unknown) !== 0;
          const own = (flags & ExitFlag.corrects) !== 0 ? t.exit : null;
          const signal = num(b);
          // Version 5: a worker's ending from its parent's thread_exited: exit_by "parent", as a process's known only from its parent's child_exit.
          const by = (flags & ExitFlag.parent) !== 0 ? "parent" : "collector";
          t.exit = { code: unknown || signal !== 0 ? null : signed(a), signal, errorType: own?.errorType ?? 0, errorMessage: own?.errorMessage ?? 0, reason: unknown ? "unknown" : signal !== 0 ? "signal" : "exit", by };
          return;
        }
        t.exit = { code: signed(a), signal: num(b), errorType: num(c), errorMessage: num(d), reason: ExitReasonName[num(e)] ?? String(num(e)), by: "process" };
        return;
      }
      case K.child_exit: {
        const code = typeof b === "bigint" && b === -1n ? null : signed(b);
        this.process(num(a)).childExit = { code, signal: num(c) };
        return;
      }
      case K.process_spawn: {
        const child = this.process(num(a));
        child.parentPid ??= t.pid;
        child.spawnedByEvent = id;
        child.spawner = t;
        child.command = num(b);
        child.spawnMethod = SpawnMethodName[num(c)] ?? String(num(c));
        return;
      }
      case K.thread_spawn:
        this.thread(t.pid, num(a)).spawn = { entry: num(b), spawner: t };
        this.lastThread = t;
        return;
      case K.thread_exited:
        this.thread(t.pid, num(a)).exitedCode = signed(b);
        this.lastThread = t;
        return;
      case K.message_send:
      case K.message_receive:
        return this.message(t, id, ts, kind, flags, num(a), num(b), num(c), num(d), num(e), context);
      case K.request_context:
        t.pendingContext = num(a);
        return;
      case K.http_server_request:
      case K.http_client_request: {
        const server = kind === K.http_server_request;
        const row: RequestRow = {
          id,
          kind: server ? "server" : "client",
          pid: t.pid,
          tid: t.tid,
          requestId: num(a),
          method: num(b),
          target: num(c),
          route: 0,
          framework: 0,
          status: null,
          startNs: ts,
          endNs: null,
          requestBytes: null,
          responseBytes: null,
          end: null,
          errorCode: 0,
          errorMessage: 0,
          traceparent: 0,
          parent: server ? null : (t.requests.get(num(d))?.id ?? null),
          protocol: server ? (HttpProtocolName[flags & 15] ?? "unknown") + ((flags & 16) !== 0 ? "+TLS" : "") : null,
          api: server ? null : (HttpClientName[num(e)] ?? String(num(e))),
          connection: server ? num(d) : 0,
        };
        t.requests.set(row.requestId, row);
        this.requestRows.push(row);
        return;
      }
      case K.http_server_response:
      case K.http_client_response: {
        const row = t.requests.get(num(a));
        if (!row) return;
        row.status = num(b);
        row.requestBytes = (flags & 1) !== 0 ? null : num(c);
        row.responseBytes = (flags & 2) !== 0 ? null : num(d);
        row.end = HttpEndName[num(e)] ?? String(num(e));
        row.endNs = ts;
        // Layout version 2: the request's steps still open end here, not failed.
        const open = t.requestSteps.get(num(a));
        if (open !== undefined) {
          t.requestSteps.delete(num(a));
          if ((flags & HttpEndFlag.stepsEnd) !== 0 && kind === K.http_server_response) {
            for (const step of open) {
              t.steps.delete(`${num(a)}/${step.step}`);
              step.endNs = ts;
              step.failed = 0;
            }
          }
        }
        return;
      }
      case K.http_connection:
        t.connections.set(num(a), { local: num(b), localPort: num(c), remote: num(d), remotePort: num(e) });
        return;
      case K.db_connection:
        t.dbTargets.set(num(a), { database: num(b), address: num(c), port: num(d), user: num(e) });
        return;
      case K.http_client_connection: {
        const row = t.requests.get(num(a));
        if (row) row.connection = num(b);
        return;
      }
      case K.http_traceparent: {
        const row = t.requests.get(num(a));
        if (row) row.traceparent = num(b);
        return;
      }
      case K.http_route: {
        const row = t.requests.get(num(a));
        if (row) {
          row.route = num(b);
          row.framework = num(c);
        }
        return;
      }
      case K.http_error: {
        const row = t.requests.get(num(a));
        if (row) {
          row.errorCode = num(b);
          row.errorMessage = num(c);
        }
        return;
      }
      case K.http_step_start: {
        // Layout version 2: the request's route rode on its handler's start (b: ordinal + framework * 2^20).
        const routed = (flags & StepStartFlag.route) !== 0;
        if (routed) {
          const row = t.requests.get(num(a));
          if (row) {
            row.route = num(e);
            row.framework = Math.floor(num(b) / STEP_ORDINAL_LIMIT);
          }
        }
        const step: StepRow = {
          id,
          request: t.requests.get(num(a))?.id ?? null,
          step: routed ? num(b) % STEP_ORDINAL_LIMIT : num(b),
          name: num(c),
          stepKind: num(d),
          route: num(e),
          startNs: ts,
          endNs: null,
          failed: null,
          errorType: 0,
          errorMessage: 0,
          thread: t,
        };
        t.steps.set(`${num(a)}/${step.step}`, step);
        const open = t.requestSteps.get(num(a));
        if (open === undefined) t.requestSteps.set(num(a), [step]);
        else open.push(step);
        this.stepRows.push(step);
        return;
      }
      case K.http_step_end: {
        const key = `${num(a)}/${num(b)}`;
        const step = t.steps.get(key);
        if (!step) return;
        t.steps.delete(key);
        const open = t.requestSteps.get(num(a));
        if (open !== undefined) {
          const at = open.indexOf(step);
          if (at >= 0) open.splice(at, 1);
          if (open.length === 0) t.requestSteps.delete(num(a));
        }
        step.endNs = ts;
        step.failed = flags & 1;
        step.errorType = num(c);
        step.errorMessage = num(d);
        return;
      }
      case K.db_query:
      case K.db_pool_wait: {
        const query = kind === K.db_query;
        const row: DbRow = {
          id,
          localId: num(a),
          system: DbSystemName[num(e) % DB_CONNECTION_UNIT] ?? String(num(e) % DB_CONNECTION_UNIT),
          text: query ? num(b) : 0,
          textCut: flags & 1,
          params: query ? num(c) : 0,
          open: query ? 0 : num(b),
          idle: query ? 0 : num(c),
          startNs: ts,
          endNs: null,
          rows: null,
          failed: null,
          errorCode: 0,
          errorMessage: 0,
          request: num(d) === 0 ? null : (t.requests.get(num(d))?.id ?? null),
          thread: t,
          target: num(e) >= DB_CONNECTION_UNIT ? t.dbTargets.get(Math.floor(num(e) / DB_CONNECTION_UNIT)) : undefined,
        };
        (query ? t.queries : t.waits).set(row.localId, row);
        (query ? this.queryRows : this.waitRows).push(row);
        return;
      }
      case K.gc: {
        // Written after it ended: b = ns from its start to this record.
        const start = ts - num(b);
        this.gcRows.push([id, t.pid, t.tid, GcKindName[num(c)] ?? String(num(c)), start, start + num(a), num(a), (flags & 4) !== 0 ? 1 : 0, flags, num(d) || null, num(e) || null]);
        return;
      }
      case K.long_task: {
        const start = ts - num(b);
        this.loopRows.push({ row: [id, t.pid, t.tid, "long_task", start, start + num(a), num(a), LongTaskKindName[num(c)] ?? String(num(c)), null, num(e), null, null, null, null, null], thread: t, origin: num(d) });
        return;
      }
      case K.loop_sample: {
        const sampled = num(d) !== 0;
        const utilisation = (flags & LoopSampleFlag.utilisationUnknown) !== 0 ? null : num(e) / 1e6;
        this.loopRows.push({ row: [id, t.pid, t.tid, "sample", ts, ts, null, null, null, null, sampled ? num(a) : null, sampled ? num(b) : null, sampled ? num(c) : null, sampled ? num(d) : null, utilisation], thread: t, origin: 0 });
        return;
      }
      case K.memory_sample:
        this.memoryRows.push([id, t.pid, t.tid, ts, num(a), num(b), num(c), num(d), num(e), (flags & MEMORY_SAMPLE_WORKER) !== 0 ? 1 : 0]);
        return;
      case K.channel_open: {
        const row: ConnectionRow = { id, thread: t, field: num(a), owner: num(b), address: num(c), protocol: num(d), openNs: ts, closeNs: null, code: null, reason: 0, error: 0, clean: null, openEvent: id, closeEvent: null };
        this.connectionRows.push(row);
        this.openConnections.set(`${row.owner}/${row.field}`, row);
        return;
      }
      case K.channel_close: {
        const key = `${num(b)}/${num(a)}`;
        let row = this.openConnections.get(key);
        if (row) this.openConnections.delete(key);
        else this.connectionRows.push((row = { id, thread: t, field: num(a), owner: num(b), address: 0, protocol: 0, openNs: null, closeNs: null, code: null, reason: 0, error: 0, clean: null, openEvent: null, closeEvent: null }));
        row.closeNs = ts;
        row.closeEvent = id;
        row.code = num(c) || null;
        row.reason = num(d);
        row.error = num(e);
        row.clean = (flags & ChannelCloseFlag.unclean) === 0 ? 1 : 0;
        return;
      }
      case K.db_query_end:
      case K.db_pool_wait_end: {
        const open = kind === K.db_query_end ? t.queries : t.waits;
        const row = open.get(num(a));
        if (!row) return;
        open.delete(row.localId);
        row.endNs = ts;
        row.rows = typeof b === "bigint" && b === -1n ? null : num(b);
        row.failed = flags & 1;
        row.errorCode = num(c);
        row.errorMessage = num(d);
        // A connection only the end could name (the start named none).
        if (row.target === undefined && num(e) >= DB_CONNECTION_UNIT) row.target = t.dbTargets.get(Math.floor(num(e) / DB_CONNECTION_UNIT));
        return;
      }
    }
  }

  private newFunction(): number {
    const id = ++this.functionCount;
    if (id >= this.fnCalls.length) {
      const grow = (from: Float64Array) => {
        const to = new Float64Array(from.length * 2);
        to.set(from);
        return to;
      };
      this.fnCalls = grow(this.fnCalls);
      this.fnEnded = grow(this.fnEnded);
      this.fnTotalNs = grow(this.fnTotalNs);
      this.fnSelfCalls = grow(this.fnSelfCalls);
      this.fnSelfNs = grow(this.fnSelfNs);
      this.fnMaxNs = grow(this.fnMaxNs);
    }
    return id;
  }

  private call(t: ThreadState, id: number, ts: number, functionId: number, ordinal: number, argsField: number | bigint, requestField: number | bigint, state: number | bigint): void {
    this.absorbed = true;
    const args = num(argsField);
    const requestId = num(requestField);
    let info = functionId < SMALL_FUNCTION_ID ? t.functions[functionId] : t.functionsBig?.get(functionId);
    if (!info) {
      // No table entry (lost): a function row of its own, named by its id.
      info = { id: this.newFunction(), kind: SYNC };
      setFunction(t, functionId, info);
      this.functionRows.push({ id: info.id, thread: t, functionId, name: 0, file: 0, line: 0, column: 0, flags: 0 });
    }
    const stack = t.stack;
    const parent = stack.length === 0 ? null : stack[stack.length - 1]!;
    const request = requestId === 0 ? null : (t.requests.get(requestId)?.id ?? null);
    const receive = t.pendingReceive;
    if (receive !== null) {
      t.pendingReceive = null;
      const listeners = t.messageListeners;
      if (!listeners?.opaque || listeners.functions.has(functionId)) receive.handler = id;
    }
    const depth = parent === null ? 0 : parent.depth + 1;
    if (args === 0) {
      // Recorded at the calls level: no end will come; a leaf.
      this.fnCalls[info.id]!++;
      this.leafCalls.buffer.push(id, info.id, t.no, ts, parent === null ? null : parent.id, depth, request, ordinal, requestField, state);
      this.leafCalls.pushed();
      return;
    }
    const argsText = this.strings.take(t.no, args);
    const call: OpenCall = { id, fn: info.id, ordinal, args: argsField, argsText, requestId: requestField, state, startNs: ts, childNs: 0, parent, depth, request, kind: info.kind, onStack: false };
    if (info.kind === ASYNC) {
      t.open.set(ordinal, call);
      return;
    }
    call.onStack = true;
    stack.push(call);
  }

  /** The open call `ordinal` of thread `t`: on the stack (usually its top), else waiting in `open`. */
  private openCall(t: ThreadState, ordinal: number): OpenCall | undefined {
    const stack = t.stack;
    for (let at = stack.length - 1; at >= 0; at--) if (stack[at]!.ordinal === ordinal) return stack[at];
    return t.open.get(ordinal);
  }

  /** Takes `call` off its thread's stack; calls above it never ended (written so). `null`: the whole stack. */
  private unstack(t: ThreadState, call: OpenCall | null): void {
    if (call !== null && !call.onStack) return;
    const stack = t.stack;
    while (stack.length !== 0) {
      const top = stack.pop()!;
      top.onStack = false;
      if (top === call) return;
      if (top.kind === GENERATOR) {
        t.open.set(top.ordinal, top); // suspended by a call it did not return from: still open
        continue;
      }
      this.writeCall(t, top, null, null, null, null, null, null);
    }
  }

  private end(t: ThreadState, id: number, ts: number, ordinal: number, outcome: number, c: number | bigint, d: number | bigint, e: number | bigint): void {
    const call = this.openCall(t, ordinal);
    if (!call) return; // its call is not in the trace: an event of its own
    this.absorbed = true;
    if (call.onStack) this.unstack(t, call);
    else t.open.delete(ordinal);
    if (call.kind === SYNC && call.parent !== null && call.parent.onStack) call.parent.childNs += ts - call.startNs;
    // The value's preview (c) or, for a throw or reject, the error's message (d; c is its interned type name).
    const endText = this.strings.take(t.no, num(outcome === Outcome.return || outcome === Outcome.resolve ? c : d));
    this.writeCall(t, call, ts, id, outcome, c, d, e, endText);
  }

  private yieldCall(t: ThreadState, ordinal: number): void {
    const call = this.openCall(t, ordinal);
    if (!call || !call.onStack) return;
    this.unstack(t, call);
    t.open.set(ordinal, call);
  }

  private resume(t: ThreadState, ordinal: number): void {
    const call = t.open.get(ordinal);
    if (!call || call.onStack || call.kind === ASYNC) return;
    t.open.delete(ordinal);
    call.onStack = true;
    t.stack.push(call);
  }

  private writeCall(
    thread: ThreadState,
    call: OpenCall,
    endNs: number | null,
    endEvent: number | null,
    outcome: number | null,
    endC: number | bigint | null,
    endD: number | bigint | null,
    endE: number | bigint | null,
    endText = 0,
  ): void {
    const self = endNs === null || call.kind !== SYNC ? null : endNs - call.startNs - call.childNs;
    const fn = call.fn;
    this.fnCalls[fn]!++;
    if (endNs !== null) {
      const duration = endNs - call.startNs;
      if (duration > thread.maxCallNs) thread.maxCallNs = duration;
      this.fnEnded[fn]!++;
      this.fnTotalNs[fn]! += duration;
      if (duration > this.fnMaxNs[fn]!) this.fnMaxNs[fn] = duration;
      if (self !== null) {
        this.fnSelfCalls[fn]!++;
        this.fnSelfNs[fn]! += self;
      }
    }
    if (call.request === null && call.requestId === 0 && call.state === 0 && endD === 0 && endE === 0) {
      this.plainCalls.buffer.push(
        call.id, call.fn, thread.no, call.startNs, endNs, endEvent, outcome, self, call.parent === null ? null : call.parent.id, call.depth,
        call.ordinal, call.args, endC, call.argsText === 0 ? null : call.argsText, endText === 0 ? null : endText,
      );
      this.plainCalls.pushed();
      return;
    }
    this.calls.buffer.push(
      call.id, call.fn, thread.no, call.startNs, endNs, endEvent, outcome, self, call.parent === null ? null : call.parent.id, call.depth, call.request,
      call.ordinal, call.args, call.requestId, call.state, endC, endD, endE, call.argsText === 0 ? null : call.argsText, endText === 0 ? null : endText,
    );
    this.calls.pushed();
  }

  private message(t: ThreadState, id: number, ts: number, kind: number, flags: number, ordinal: number, b: number, owner: number, size: number, preview: number, context: number): void {
    const end: MessageEnd = {
      event: id,
      thread: t,
      ns: ts,
      key: `${b}/${owner}/${ordinal}`,
      channel: b & 0xff,
      direction: (b >>> 8) & 0xff,
      subId: Math.floor(b / 0x10000),
      owner,
      ordinal,
      size,
      preview,
      failed: flags & 1,
      request: context === 0 ? null : (t.requests.get(context)?.id ?? null),
      handler: null,
    };
    if (kind === K.message_receive) {
      this.receives.push(end);
      t.pendingReceive = end;
      return;
    }
    // A failed send's ordinal is reused by the next send on the channel: only the last counts.
    const earlier = this.sends.get(end.key);
    if (earlier) this.failedSends.push(earlier);
    this.sends.set(end.key, end);
  }

  /** Calls still open at the end of the trace: written without an end. */
  private finishThreads(): void {
    for (const t of this.allThreads()) {
      // Those on the stack and those waiting, in the order they started.
      const open = [...t.stack, ...t.open.values()].sort((x, y) => x.id - y.id);
      for (const call of open) this.writeCall(t, call, null, null, null, null, null, null);
      t.open.clear();
      t.stack.length = 0;
    }
  }

  private allThreads(): ThreadState[] {
    return [...this.threads.values(), ...this.threadsByText.values()];
  }

  /** A string of thread `t` (0: null). */
  private str(t: ThreadState, id: number): string | null {
    return this.strings.text(t.no, id);
  }

  private writeTables(): void {
    const db = this.db;
    const kinds = new BulkInsert(db, "kinds", ["kind", "name"]);
    for (const kind of [...this.kindsSeen].sort((x, y) => x - y)) kinds.add(kind, eventKindName[kind] ?? `kind_${kind}`);
    kinds.finalize();

    const functions = new BulkInsert(db, "functions", [
      "id", "thread", "pid", "tid", "function_id", "name", "file", "line", "column", "async", "generator", "flags",
      "calls", "ended", "total_ns", "self_ns", "max_ns",
    ]);
    for (const f of this.functionRows) {
      const t = f.thread;
      const name = f.name === 0 && f.file === 0 ? `<function ${f.functionId}>` : (this.str(t, f.name) ?? "<anonymous>");
      const id = f.id;
      functions.add(f.id, t.no, t.pid, t.tid, f.functionId, name, this.str(t, f.file), f.line, f.column, f.flags & 1, (f.flags >> 1) & 1, f.flags,
        this.fnCalls[id]!, this.fnEnded[id]!, this.fnEnded[id]! === 0 ? null : this.fnTotalNs[id]!, this.fnSelfCalls[id]! === 0 ? null : this.fnSelfNs[id]!,
        this.fnEnded[id]! === 0 ? null : this.fnMaxNs[id]!);
    }
    functions.finalize();

    const threads = new BulkInsert(db, "threads", ["thread", "pid", "tid", "main", "entry", "parent_tid", "start_ns", "end_ns", "exit_code", "exit_reason", "error_type", "error_message", "events", "max_call_ns", "exit_by"]);
    for (const t of this.allThreads()) {
      const exit = t.exit;
      threads.add(
        t.no,
        t.pid,
        t.tid,
        t.main || t.tid === 0 ? 1 : 0,
        t.spawn ? this.str(t.spawn.spawner, t.spawn.entry) : null,
        t.spawn ? t.spawn.spawner.tid : null,
        Number.isNaN(t.firstNs) ? null : t.firstNs,
        Number.isNaN(t.lastNs) ? null : t.lastNs,
        exit ? exit.code : t.exitedCode,
        exit ? exit.reason : null,
        exit ? this.str(t, exit.errorType) : null,
        exit ? this.str(t, exit.errorMessage) : null,
        t.events,
        t.maxCallNs,
        exit ? exit.by : t.exitedCode !== null ? "parent" : null,
      );
    }
    threads.finalize();

    const processes = new BulkInsert(db, "processes", [
      "pid", "parent_pid", "runtime", "argv", "cwd", "spawned_by_event", "command", "spawn_method", "start_ns", "end_ns",
      "exit_code", "exit_signal", "exit_reason", "error_type", "error_message", "events", "collector", "exit_by",
    ]);
    const perProcess = new Map<number, { first: number; last: number; events: number; main: ThreadState | null }>();
    for (const t of this.allThreads()) {
      if (t.events === 0) continue;
      const p = perProcess.get(t.pid) ?? { first: Infinity, last: -Infinity, events: 0, main: null };
      p.first = Math.min(p.first, t.firstNs);
      p.last = Math.max(p.last, t.lastNs);
      p.events += t.events;
      if (t.tid === 0) p.main = t;
      perProcess.set(t.pid, p);
      this.process(t.pid);
    }
    for (const row of this.processes.values()) {
      const seen = perProcess.get(row.pid);
      const main = row.start ?? seen?.main ?? null;
      const exit = main?.exit ?? null;
      processes.add(
        row.pid,
        row.parentPid,
        main ? this.str(main, row.runtime) : null,
        main ? this.str(main, row.argv) : null,
        main ? this.str(main, row.cwd) : null,
        row.spawnedByEvent,
        row.spawner ? this.str(row.spawner, row.command) : null,
        row.spawnMethod,
        seen ? seen.first : null,
        seen ? seen.last : null,
        exit ? exit.code : (row.childExit?.code ?? null),
        exit ? exit.signal || null : row.childExit?.signal || null,
        exit ? exit.reason : null,
        exit && main ? this.str(main, exit.errorType) : null,
        exit && main ? this.str(main, exit.errorMessage) : null,
        seen ? seen.events : 0,
        0,
        exit ? exit.by : row.childExit ? "parent" : null,
      );
    }
    processes.finalize();

    const requests = new BulkInsert(db, "requests", [
      "id", "kind", "pid", "tid", "request_id", "method", "target", "route", "framework", "status", "start_ns", "end_ns", "duration_ns",
      "request_bytes", "response_bytes", "end", "error_code", "error_message", "traceparent", "parent", "protocol", "api",
      "local_address", "local_port", "remote_address", "remote_port",
    ]);
    for (const r of this.requestRows) {
      const t = this.thread(r.pid, r.tid);
      const s = (id: number) => this.str(t, id);
      const connection = r.connection === 0 ? undefined : t.connections.get(r.connection);
      requests.add(
        r.id, r.kind, r.pid, r.tid, r.requestId, s(r.method), s(r.target), s(r.route), s(r.framework), r.status,
        r.startNs, r.endNs, r.endNs === null ? null : r.endNs - r.startNs, r.requestBytes, r.responseBytes, r.end,
        s(r.errorCode), s(r.errorMessage), s(r.traceparent), r.parent, r.protocol, r.api,
        connection ? s(connection.local) : null, connection ? connection.localPort : null,
        connection ? s(connection.remote) : null, connection ? connection.remotePort : null,
      );
    }
    requests.finalize();

    const steps = new BulkInsert(db, "steps", ["id", "request", "pid", "tid", "step", "name", "step_kind", "route", "start_ns", "end_ns", "duration_ns", "failed", "error_type", "error_message"]);
    for (const r of this.stepRows) {
      const s = (id: number) => this.str(r.thread, id);
      steps.add(r.id, r.request, r.thread.pid, r.thread.tid, r.step, s(r.name), s(r.stepKind), s(r.route), r.startNs, r.endNs,
        r.endNs === null ? null : r.endNs - r.startNs, r.failed, s(r.errorType), s(r.errorMessage));
    }
    steps.finalize();

    const queries = new BulkInsert(db, "queries", ["id", "pid", "tid", "query_id", "system", "text", "text_cut", "params", "start_ns", "end_ns", "duration_ns", "rows", "failed", "error_code", "error_message", "request", "database", "server_address", "server_port", "db_user"]);
    for (const r of this.queryRows) {
      const s = (id: number) => this.str(r.thread, id);
      const target = r.target;
      queries.add(r.id, r.thread.pid, r.thread.tid, r.localId, r.system, s(r.text), r.textCut, r.params, r.startNs, r.endNs,
        r.endNs === null ? null : r.endNs - r.startNs, r.rows, r.failed, s(r.errorCode), s(r.errorMessage), r.request,
        target ? s(target.database) : null, target ? s(target.address) : null, target?.port || null, target ? s(target.user) : null);
    }
    queries.finalize();

    const waits = new BulkInsert(db, "pool_waits", ["id", "pid", "tid", "wait_id", "system", "open", "idle", "start_ns", "end_ns", "duration_ns", "failed", "error_code", "error_message", "request", "database", "server_address", "server_port", "db_user"]);
    for (const r of this.waitRows) {
      const s = (id: number) => this.str(r.thread, id);
      const target = r.target;
      waits.add(r.id, r.thread.pid, r.thread.tid, r.localId, r.system, r.open, r.idle, r.startNs, r.endNs,
        r.endNs === null ? null : r.endNs - r.startNs, r.failed, s(r.errorCode), s(r.errorMessage), r.request,
        target ? s(target.database) : null, target ? s(target.address) : null, target?.port || null, target ? s(target.user) : null);
    }
    waits.finalize();

    const connections = new BulkInsert(db, "connections", ["id", "channel", "owner_pid", "sub_id", "side", "pid", "tid", "address", "protocol", "open_ns", "close_ns", "duration_ns", "code", "reason", "error", "clean", "open_event", "close_event"]);
    for (const r of this.connectionRows) {
      const s = (id: number) => this.str(r.thread, id);
      const kind = r.field % 256;
      const subId = Math.floor(r.field / 0x10000);
      // A WebSocket sub-id's low two bits: 0 a server's connection, 1 a client's (agent/shared/websocket.ts).
      const side = kind === ChannelKind.websocket ? (subId % 4 === 0 ? "server" : subId % 4 === 1 ? "client" : null) : null;
      connections.add(r.id, ChannelKindName[kind] ?? `channel_${kind}`, r.owner, subId, side, r.thread.pid, r.thread.tid, s(r.address), s(r.protocol), r.openNs, r.closeNs,
        r.openNs === null || r.closeNs === null ? null : r.closeNs - r.openNs, r.code, s(r.reason), s(r.error), r.clean, r.openEvent, r.closeEvent);
    }
    connections.finalize();

    const gc = new BulkInsert(db, "gc", ["id", "pid", "tid", "gc_kind", "start_ns", "end_ns", "duration_ns", "forced", "flags", "heap_before_bytes", "heap_after_bytes"]);
    for (const row of this.gcRows) gc.add(...row);
    gc.finalize();
    const loop = new BulkInsert(db, "loop", ["id", "pid", "tid", "type", "start_ns", "end_ns", "duration_ns", "task_kind", "origin", "error_ns", "delay_min_ns", "delay_p50_ns", "delay_p99_ns", "delay_max_ns", "utilisation"]);
    for (const { row, thread, origin } of this.loopRows) {
      row[8] = this.str(thread, origin);
      loop.add(...row);
    }
    loop.finalize();
    const memory = new BulkInsert(db, "memory", ["id", "pid", "tid", "ts_ns", "heap_used_bytes", "heap_total_bytes", "external_bytes", "array_buffers_bytes", "rss_bytes", "worker"]);
    for (const row of this.memoryRows) memory.add(...row);
    memory.finalize();

    this.writeMessages();
  }

  private writeMessages(): void {
    const messages = new BulkInsert(this.db, "messages", [
      "channel", "owner_pid", "sub_id", "direction", "ordinal", "send_event", "send_pid", "send_tid", "send_ns",
      "receive_event", "receive_pid", "receive_tid", "receive_ns", "latency_ns", "size_bytes", "preview", "failed", "request", "handler",
    ]);
    const received = new Set<MessageEnd>();
    const rows: [MessageEnd | null, MessageEnd | null][] = [];
    for (const receive of this.receives) {
      const send = this.sends.get(receive.key) ?? null;
      if (send) received.add(send);
      rows.push([send, receive]);
    }
    for (const send of this.sends.values()) if (!received.has(send)) rows.push([send, null]);
    for (const send of this.failedSends) rows.push([send, null]);
    rows.sort(([s1, r1], [s2, r2]) => (s1 ?? r1)!.ns - (s2 ?? r2)!.ns);
    for (const [send, receive] of rows) {
      const any = (send ?? receive)!;
      const preview = send ? this.str(send.thread, send.preview) : this.str(receive!.thread, receive!.preview);
      messages.add(
        ChannelKindName[any.channel] ?? `channel_${any.channel}`, any.owner, any.subId, any.direction, any.ordinal,
        send?.event ?? null, send?.thread.pid ?? null, send?.thread.tid ?? null, send?.ns ?? null,
        receive?.event ?? null, receive?.thread.pid ?? null, receive?.thread.tid ?? null, receive?.ns ?? null,
        send && receive ? receive.ns - send.ns : null,
        send ? send.size : receive!.size, preview, send ? send.failed : 0, send?.request ?? null, receive?.handler ?? null,
      );
    }
    messages.finalize();
  }

  private writeMeta(path: string, summary: LoadSummary): void {
    const meta = new BulkInsert(this.db, "meta", ["key", "value"]);
    const h = summary.header;
    const entries: [string, SqlValue][] = [
      ["trace", path],
      ["host", h.hostName],
      ["argv", h.argv.join(" ")],
      ["start_time", h.startTime.toISOString()],
      ["start_realtime_ns", h.realtimeAnchorNs],
      ["start_monotonic_ns", h.monotonicAnchorNs],
      ["collector_pid", h.collectorPid],
      ["records", summary.records],
      ["events", summary.events],
      ["calls", summary.calls],
      ["state", summary.state],
      ["error", summary.error ? damageText(summary.error) : null],
      ["written", summary.end ? summary.end.written : null],
      ["dropped", summary.end ? summary.end.dropped : null],
      ["overwritten", summary.end ? summary.end.overwritten : null],
    ];
    for (const [key, value] of entries) meta.add(key, value);
    meta.finalize();
    for (const pid of [h.collectorPid, ...this.mergedCollectors]) {
      if (this.processes.has(pid)) this.db.run("UPDATE processes SET collector = 1, runtime = coalesce(runtime, 'scope') WHERE pid = ?", [pid]);
    }
  }
}
