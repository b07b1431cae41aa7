/**
 * OpenTelemetry spans from a trace (`scope export --otlp`, `scope run --otlp`), serialized
 * by @opentelemetry/otlp-transformer (OTLP/HTTP protobuf or JSON; in JSON ids are hex).
 *
 * - Server requests are SERVER spans ("GET /users/:id": method and route), client requests
 *   CLIENT spans ("GET"), queries CLIENT spans
 *   with the database semantic conventions (db.system.name, db.query.text, ...), pool waits
 *   INTERNAL spans ("pg pool wait": time waiting for a connection, no database call, so no
 *   db.* attributes a backend would list it by), message sends PRODUCER spans and receives
 *   CONSUMER spans (a child of the send, and linked to it), named "send worker#1" by
 *   their channel (kind and sub-id: stable from run to run; the owner pid an attribute),
 *   function calls INTERNAL spans (with `functions`), framework steps INTERNAL spans
 *   ("middleware jsonParser", "handler getUser /users/:id": the other exporters' names) under
 *   their request, or under the step they ran inside, with `scope.step.framework` (their
 *   request's route's framework, when it named a route).
 * - A child process (`fork child`: its spawn to its exit as its spawner saw it, with its pid,
 *   command line and exit code) and a worker (`worker compute.js`) are INTERNAL spans under
 *   what ran on their spawner's thread then (lifetimes.ts pairs the records); what the child or
 *   worker does outside any request of its own is their child. A WebSocket connection at one
 *   end (`websocket server`) is an INTERNAL span from its open to its close under the request
 *   upgraded to it.
 * - What began while a framework step of its request was running (a query, pool wait, client
 *   request, message send, a call not inside another call) is that step's child: the innermost step of its
 *   request begun before it and not ended yet (the records name the request, not the step, so
 *   by time on the request's thread); else the request's.
 * - A request, client request, query or pool wait that never finished (the process crashed
 *   or exited, or the trace ends, with it in flight: a flight-recorder dump of a crash holds
 *   exactly these) is a span all the same, ending at its process's last record, status
 *   ERROR "... never finished ..." and `scope.unfinished: true` (Perfetto and Chrome JSON
 *   draw it to its thread's last event marked `unfinished`; `scope query` has it with a NULL
 *   end_ns; `scope view` marks it unfinished). While streaming, an open one waits for its end
 *   and is sent as unfinished only at the end. A call that never returned is no span (the
 *   calls level records no returns).
 * - Trace ids join the program's traces: a server request that received a traceparent
 *   takes its trace id and parent span id (without one, the client request that reached it,
 *   found by the model by connection, is its parent); a client request that sent one takes its trace
 *   id and, as its own span id, the parent id it sent, so the server span of the service it
 *   called (scope's or that service's own instrumentation) is its child. Everything a
 *   request caused (queries, client requests, messages, calls) is in the request's trace.
 *   Other ids are derived from the trace's identity (host, collector pid, start time) and
 *   the record's own ids (pid, tid, request id, query id, call ordinal, message key), not
 *   from positions in the file, so a span exported twice, or streamed and exported, has
 *   the same ids, and spans can be made batch by batch (stream.ts).
 * - One resource per process: service.name (given, or the program's script name), host.name,
 *   process.pid, process.parent_pid, process.command_line, process.runtime.name/version.
 */
import { createHash } from "node:crypto";
import { SpanKind, SpanStatusCode, type Attributes, type HrTime, type Link, type SpanContext } from "@opentelemetry/api";
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { hostPid, messageKey, type TraceEvent } from "../core/model";
import { VERSION } from "../version";
import { LifetimeEnds, lifetimeKind, lifetimeStartKey } from "./lifetimes";
import { operationRoute, shapeOf, type ProcessInfo, type Slice, type TraceShape } from "./slices";

export type OtlpFormat = "protobuf" | "json";

export interface OtlpOptions {
  /** service.name for every process (default: its script's name). */
  serviceName?: string;
  /** Function calls as INTERNAL spans. */
  functions: boolean;
  hostName: string;
  /** Identity of the trace for derived ids (host, collector pid, start time). */
  seed: string;
  /** CLOCK_MONOTONIC and CLOCK_REALTIME read together (trace header anchors). */
  monotonicAnchorNs: bigint;
  realtimeAnchorNs: bigint;
}

// W3C trace context: an all-zero trace id or parent id is invalid (the header is ignored, as
// a receiver must): taken, it made spans of trace 0 or span 0 that backends drop or merge.
const W3C = /^00-(?!0{32})([0-9a-f]{32})-(?!0{16})([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface Parent {
  traceId: string;
  spanId: string;
}

/** Database systems as OpenTelemetry names them (db.system.name); the client library as scope knows it. */
const dbSystems: Record<string, string> = { pg: "postgresql", "postgres.js": "postgresql", "better-sqlite3": "sqlite", "bun:sqlite": "sqlite", ioredis: "redis", redis: "redis", "bun:redis": "redis", mysql2: "mysql", "bun:sql": "postgresql", "bun:sql mysql": "mysql" };

export function serviceNameOf(argv: string | null, runtime: string | null): string {
  const script = scriptOf(argv);
  if (script) return script.split("/").pop()!.replace(/\.(c|m)?(j|t)sx?$/, "") || script;
  return runtime?.split(" ")[0] ?? "unknown_service";
}

/**
 * The script a trace_start's command line runs: its first word after the runtime's options;
 * none for code given on the command line (`node -e <code>`: the agent lists the runtime's
 * options there, Recorder.traceStart), whose words are the code's.
 */
function scriptOf(argv: string | null): string | undefined {
  const parts = argv?.split(" ") ?? [];
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    if (!part) continue;
    if (/^(-e|-p|-pe|--eval|--print)(=|$)/.test(part)) return undefined;
    if (/^(-r|--require|--import|--loader|--experimental-loader|--preload)$/.test(part)) i++;
    else if (!part.startsWith("-")) return part;
  }
  return undefined;
}

/**
 * Makes spans from events, batch by batch: what it learns of requests (their trace and span
 * ids) is kept (bounded) for the events of later batches that they caused.
 */
export class OtlpSpanMaker {
  private readonly resources = new Map<number, Resource>();
  private readonly processes = new Map<number, ProcessInfo>();
  /** `${pid}/${tid}/${requestId}` → the request's span (bounded: oldest forgotten first). */
  private readonly requests = new Map<string, Parent>();
  /** This batch's client requests' spans, by their start's index (for the server requests they reached). */
  private readonly peers = new Map<number, Parent>();
  /** Each process's last record so far: where what never finished ends. */
  private readonly lastNs = new Map<number, bigint>();
  /**
   * `${pid}/${tid}/${requestId}` → the request's framework steps, for what began inside one
   * (bounded like requests). `batchSteps`: the current spans() call's own (unbounded: a whole
   * trace's), looked at first.
   */
  private readonly steps = new Map<string, StepEntry[]>();
  private batchSteps: Map<string, StepEntry[]> | null = null;
  /** messageKey → the trace of its send (bounded like requests). */
  private readonly messageTraces = new Map<string, string>();
  /**
   * `${pid}/${tid}` of a child process's main thread or of a worker → the span of its spawn
   * (bounded like requests): what the child does outside any request of its own is that span's child.
   */
  private readonly origins = new Map<string, Parent>();
  /** A spawn's, worker's or connection's ids by its start (lifetimes.ts key and time), once taken (bounded like requests). */
  private readonly lifetimes = new Map<string, { context: Parent; parent?: Parent }>();
  /**
   * Requests that ended "upgraded" (a WebSocket's handshake), by `${pid}/${tid}/` and the
   * peer's address (server) or the URL (client), each key's latest 16 in start order: the
   * connection that opened at that end is their child.
   */
  private readonly upgrades = new Map<string, { startNs: bigint; context: Parent }[]>();
  private readonly scope = { name: "scope", version: VERSION };

  constructor(private readonly options: OtlpOptions) {}

  private hash(...parts: (string | number)[]): string {
    return createHash("sha256").update(`${this.options.seed}/${parts.join("/")}`).digest("hex");
  }

  private spanIdOf(...parts: (string | number)[]): string {
    return this.hash(...parts).slice(0, 16);
  }

  private time(ns: bigint): HrTime {
    const unix = this.options.realtimeAnchorNs + (ns - this.options.monotonicAnchorNs);
    return [Number(unix / 1_000_000_000n), Number(unix % 1_000_000_000n)];
  }

  private resourceOf(pid: number): Resource {
    let resource = this.resources.get(pid);
    if (!resource) {
      const process = this.processes.get(pid);
      const runtime = process?.runtime?.split(" ") ?? [];
      const attributes: Attributes = {
        "service.name": this.options.serviceName ?? serviceNameOf(process?.argv ?? null, process?.runtime ?? null),
        "host.name": process?.host ?? this.options.hostName,
        "process.pid": process?.hostPid ?? pid,
        "telemetry.sdk.name": "scope",
        "telemetry.sdk.version": VERSION,
      };
      if (process?.parentPid) attributes["process.parent_pid"] = process.parentPid;
      if (process?.argv) attributes["process.command_line"] = process.argv;
      if (runtime[0]) attributes["process.runtime.name"] = runtime[0];
      if (runtime[1]) attributes["process.runtime.version"] = runtime[1].replace(/^v/, "");
      this.resources.set(pid, (resource = resourceFromAttributes(attributes)));
    }
    return resource;
  }

  /** The request span an event was caused by (its `request` id on its thread), if known. */
  private causeOf(event: TraceEvent): Parent | undefined {
    const request = event.fields.request;
    return typeof request === "number" ? this.requests.get(`${event.pid}/${event.tid}/${request}`) : undefined;
  }

  /** A record's time, for its process's last (the stream's records that make no event, such as calls without `functions`). */
  seen(pid: number, ns: bigint): void {
    const last = this.lastNs.get(pid);
    if (last === undefined || ns > last) this.lastNs.set(pid, ns);
  }

  /**
   * A framework step of a request (its http_step_start), for what begins inside it: kept until
   * 100 000 requests later. The walk adds each as it goes by; spans() its batch's.
   */
  addStep(event: TraceEvent): void {
    const key = `${event.pid}/${event.tid}/${event.fields.requestId}`;
    const entry = stepEntry(event);
    const list = this.steps.get(key);
    if (list) list.push(entry);
    else {
      this.steps.set(key, [entry]);
      if (this.steps.size > 100_000) this.steps.delete(this.steps.keys().next().value!);
    }
  }

  /**
   * The step of `request` (its span's ids) that an event of that request began inside: the
   * innermost (latest begun) of its steps begun before it and not ended when it began (a
   * step whose end is not known yet, or never came, is running).
   */
  private stepAt(event: TraceEvent, requestId: unknown, request: Parent): Parent | undefined {
    const inner = this.innerStep(event, requestId);
    return inner ? this.stepParent(event, requestId, request, inner) : undefined;
  }

  private innerStep(event: TraceEvent, requestId: unknown): StepEntry | undefined {
    const key = `${event.pid}/${event.tid}/${requestId}`;
    const list = this.batchSteps?.get(key) ?? this.steps.get(key);
    if (!list) return undefined;
    const at = event.timestampNs;
    let inner: StepEntry | undefined;
    for (const step of list) {
      if (step.startNs >= at || (step.endNs !== null && step.endNs <= at)) continue;
      if (!inner || step.startNs > inner.startNs || (step.startNs === inner.startNs && step.step > inner.step)) inner = step;
    }
    return inner;
  }

  private stepParent(event: TraceEvent, requestId: unknown, request: Parent, step: StepEntry): Parent {
    return { traceId: request.traceId, spanId: this.spanIdOf(event.pid, event.tid, "step", String(requestId), String(step.step)) };
  }

  /** What an event of a request began inside: the step running then, else the request itself. */
  private within(event: TraceEvent, cause: Parent | undefined): Parent | undefined {
    return cause ? (this.stepAt(event, event.fields.request, cause) ?? cause) : undefined;
  }

  private remember(key: string, parent: Parent): void {
    bounded(this.requests, key, parent);
  }

  /** The span of the spawn or worker start that made this event's thread (its process's main thread, or a worker), if known. */
  private originOf(event: { pid: number; tid: number }): Parent | undefined {
    return this.origins.size ? this.origins.get(`${event.pid}/${event.tid}`) : undefined;
  }

  /** What an event of no request began inside: the step or request running then, else the spawn that made its thread. */
  private withinOrOrigin(event: TraceEvent, cause: Parent | undefined): Parent | undefined {
    return this.within(event, cause) ?? this.originOf(event);
  }

  /**
   * Spans of the events given (a whole trace, or one batch of a stream after the ones
   * before). `unfinished`: requests, queries and pool waits that never ended are spans too
   * (a whole trace; a stream's last look), else they wait for their ends (a stream's batch).
   * `held`: receives among the events that make no span yet (a stream's, waiting for their sends).
   */
  spans(events: TraceEvent[], shape: TraceShape = shapeOf(events), unfinished = true, held?: ReadonlySet<TraceEvent>): ReadableSpan[] {
    this.peers.clear();
    for (const thread of shape.threads) this.seen(thread.pid, thread.lastNs);
    for (const process of shape.processes) this.know(process);
    const out: ReadableSpan[] = [];
    // Framework steps by request: spans with their request, and parents of what began inside them.
    const stepsOf = new Map<string, Slice[]>();
    for (const slice of shape.slices) {
      if (slice.kind !== "step") continue;
      const key = `${slice.pid}/${slice.tid}/${slice.start.fields.requestId}`;
      const list = stepsOf.get(key);
      if (list) list.push(slice);
      else stepsOf.set(key, [slice]);
    }
    const batchSteps = (this.batchSteps = new Map<string, StepEntry[]>());
    // The framework of each request that named its route (its http_route): its steps' scope.step.framework.
    const frameworks = new Map<string, string>();
    if (stepsOf.size) for (const event of events) if (event.kind === "http_route") noteFramework(frameworks, event);
    // Requests, spawns and connections' ends first (in time order, as the walk meets them), so what they caused finds their ids.
    const lifetimeEnds = new LifetimeEnds(events);
    const opens: TraceEvent[] = [];
    const timeline: { ns: bigint; index: number; slice?: Slice; start?: TraceEvent; end?: TraceEvent }[] = [];
    for (const slice of shape.slices) if (slice.kind === "server" || slice.kind === "client") timeline.push({ ns: slice.startNs, index: slice.start.index, slice });
    for (const event of events) {
      if (event.kind === "process_spawn" || event.kind === "thread_spawn") timeline.push({ ns: event.timestampNs, index: event.index, start: event, end: lifetimeEnds.of(event) });
      else if (event.kind === "channel_open") {
        // A connection's ids at its close (its upgrade request has ended then); one never closed at the end.
        const end = lifetimeEnds.of(event);
        if (end) timeline.push({ ns: end.timestampNs, index: end.index, start: event, end });
        else opens.push(event);
      }
    }
    timeline.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : a.index - b.index));
    for (const { slice: request, start, end } of timeline) {
      if (start) {
        const ids = this.lifetimeIds(start);
        if (end || unfinished) out.push(this.lifetimeSpan(start, end ?? null, ids));
        continue;
      }
      const slice = request!;
      // A server request's steps: those begun while it ran (the walk's and a stream's: begun before its end went by).
      const key = `${slice.pid}/${slice.tid}/${slice.start.fields.requestId}`;
      const steps = slice.kind === "server" ? stepsOf.get(key)?.filter((step) => !slice.finished || step.startNs <= slice.endNs) : undefined;
      if (steps?.length) batchSteps.set(key, steps.map((step) => stepEntry(step.start)));
      const ids = this.requestIds(slice);
      if (!slice.finished && !unfinished) continue;
      out.push(this.requestSpan(slice, ids));
      for (const step of steps ?? []) out.push(this.stepSpan(step, ids.context, frameworks.get(key)));
    }
    // Calls nest on their thread (sync calls inside the call that made them).
    if (this.options.functions) {
      const byThread = new Map<string, Slice[]>();
      for (const slice of shape.slices) {
        if (slice.kind !== "call") continue;
        const key = `${slice.pid}/${slice.tid}`;
        const list = byThread.get(key);
        if (list) list.push(slice);
        else byThread.set(key, [slice]);
      }
      for (const list of byThread.values()) {
        list.sort((a, b) => (a.startNs !== b.startNs ? (a.startNs < b.startNs ? -1 : 1) : a.endNs > b.endNs ? -1 : a.endNs < b.endNs ? 1 : 0));
        const open = new CallNesting();
        for (const slice of list) {
          const span = this.call(slice, open);
          if (span) out.push(span);
        }
      }
    }
    for (const slice of shape.slices) {
      if ((slice.kind !== "query" && slice.kind !== "pool_wait") || (!slice.finished && !unfinished)) continue;
      out.push(this.querySpan(slice));
    }
    if (unfinished) for (const open of opens) out.push(this.lifetimeSpan(open, null, this.lifetimeIds(open)));
    for (const event of events) if ((event.kind === "message_send" || event.kind === "message_receive") && !held?.has(event)) out.push(this.messageSpan(event));
    // What a later batch (a stream's) begins inside these steps finds them.
    this.batchSteps = null;
    for (const [key, list] of batchSteps) {
      this.steps.delete(key);
      this.steps.set(key, list);
      if (this.steps.size > 100_000) this.steps.delete(this.steps.keys().next().value!);
    }
    return out;
  }

  /** A process as the trace shows it (its command line once its trace_start is seen): its resource. */
  know(process: ProcessInfo): void {
    const known = this.processes.get(process.pid);
    if (!known || (!known.argv && process.argv)) {
      this.processes.set(process.pid, process);
      this.resources.delete(process.pid);
    }
  }

  /**
   * A request's ids, taken at its start and in time order (what it caused, and the server
   * requests a client request reached, find them): remembered for those.
   */
  requestIds(slice: Slice): { context: Parent; parent?: Parent } {
    const f = slice.start.fields;
    const key = `${slice.pid}/${slice.tid}/${f.requestId}`;
    const known = this.requests.get(key);
    const tp = typeof f.traceparent === "string" ? W3C.exec(f.traceparent) : null;
    let result: { context: Parent; parent?: Parent };
    if (slice.kind === "server") {
      const spanId = this.spanIdOf(slice.pid, slice.tid, "request", String(f.requestId));
      // Without a traceparent, the client request that reached it (model's peerIndex), when its span is known.
      const peer = typeof f.peerIndex === "number" ? this.peers.get(f.peerIndex) : undefined;
      result = tp
        ? { context: { traceId: tp[1]!, spanId }, parent: { traceId: tp[1]!, spanId: tp[2]! } }
        : peer
          ? { context: { traceId: peer.traceId, spanId }, parent: peer }
          : { context: { traceId: this.hash("trace", slice.pid, slice.tid, String(f.requestId)).slice(0, 32), spanId } };
    } else {
      // Made outside any request: under the spawn that made its thread, as in a program started with its parent's trace context.
      const cause = this.causeOf(slice.start) ?? this.originOf(slice.start);
      const spanId = tp ? tp[2]! : this.spanIdOf(slice.pid, slice.tid, "request", String(f.requestId));
      const traceId = tp ? tp[1]! : (cause?.traceId ?? this.hash("trace", slice.pid, slice.tid, String(f.requestId)).slice(0, 32));
      result = { context: { traceId, spanId }, parent: cause && cause.traceId === traceId ? this.within(slice.start, this.causeOf(slice.start)) ?? cause : undefined };
    }
    // A stream's later look can know more of a request begun in an earlier one (its traceparent
    // record, which follows its start; the client request that reached it): its ids from then on.
    if (!known || ((known.traceId !== result.context.traceId || known.spanId !== result.context.spanId) && (tp || result.parent))) this.remember(key, result.context);
    if (f.end === "upgraded") this.noteUpgrade(slice, result.context);
    if (slice.kind === "client") {
      this.peers.set(slice.start.index, result.context);
      if (this.peers.size > 100_000) this.peers.delete(this.peers.keys().next().value!);
    }
    return result;
  }

  /**
   * A request that ended "upgraded": the parent of the connection that opens at its end
   * (server: the peer's address, which the connection's channel_open names; client: its URL,
   * the connection's as ws:// or wss://).
   */
  private noteUpgrade(slice: Slice, context: Parent): void {
    const f = slice.start.fields;
    const where = slice.kind === "server" ? (typeof f.remoteAddress === "string" ? `${f.remoteAddress}:${f.remotePort}` : undefined) : typeof f.url === "string" ? f.url : undefined;
    if (where === undefined) return;
    const key = `${slice.pid}/${slice.tid}/${where}`;
    const list = this.upgrades.get(key) ?? [];
    if (list.some((known) => known.context.spanId === context.spanId)) return;
    list.push({ startNs: slice.startNs, context });
    if (list.length > 16) list.shift();
    this.upgrades.delete(key);
    bounded(this.upgrades, key, list);
  }

  /** The upgraded request a connection opened from: at its end, the latest begun before it with its peer (server) or URL (client). */
  private upgradeOf(open: TraceEvent): Parent | undefined {
    const where = open.fields.where;
    if (typeof where !== "string" || this.upgrades.size === 0) return undefined;
    const url = open.fields.side === "client" ? where.replace(/^ws(s?):/, "http$1:") : where;
    let found: { startNs: bigint; context: Parent } | undefined;
    for (const upgrade of this.upgrades.get(`${open.pid}/${open.tid}/${url}`) ?? []) if (upgrade.startNs <= open.timestampNs && (!found || upgrade.startNs >= found.startNs)) found = upgrade;
    return found?.context;
  }

  /**
   * A child process's, worker's or connection's ids (lifetimes.ts), taken once: a spawn's at
   * its start, in time order with the requests' (the child's own spans, made later, find it
   * as their origin); a connection's at its close, when the request it was upgraded from has
   * ended. A spawn's parent is what ran on its thread then (the step or request it was
   * spawned in, by its request_context; else the spawn that made that thread); a
   * connection's, the request it was upgraded from, else its thread's origin.
   */
  lifetimeIds(start: TraceEvent): { context: Parent; parent?: Parent } {
    const key = `${lifetimeStartKey(start)!}/${start.timestampNs}`;
    const known = this.lifetimes.get(key);
    if (known) return known;
    const kind = lifetimeKind(start);
    const parent = kind === "connection" ? (this.upgradeOf(start) ?? this.originOf(start)) : this.withinOrOrigin(start, this.causeOf(start));
    const context = { traceId: parent?.traceId ?? this.hash("trace", key).slice(0, 32), spanId: this.spanIdOf(key) };
    const ids = parent ? { context, parent } : { context };
    bounded(this.lifetimes, key, ids);
    if (kind === "process") {
      // The child's pid in the trace (a merged trace's pids carry their input above the host's pid).
      const childPid = start.pid - hostPid(start.pid) + Number(start.fields.childPid);
      if (start.fields.childPid) bounded(this.origins, `${childPid}/0`, context);
    } else if (kind === "worker") bounded(this.origins, `${start.pid}/${start.fields.threadId}`, context);
    return ids;
  }

  /**
   * A child process's, worker's or connection's span (INTERNAL), from its start to its end
   * as its spawner or its end saw it (`end` null: never ended in the trace, unfinished as a
   * request is, to its process's last record).
   */
  lifetimeSpan(start: TraceEvent, end: TraceEvent | null, ids: { context: Parent; parent?: Parent }): ReadableSpan {
    const kind = lifetimeKind(start);
    const f = start.fields;
    const attributes = kind === "process" ? processAttributes(start, end) : kind === "worker" ? workerAttributes(start, end) : connectionAttributes(start, end);
    attributes["thread.id"] = start.tid;
    const name = kind === "process" ? `${f.method} ${programName(typeof f.command === "string" ? f.command : null)}` : kind === "worker" ? `worker ${entryName(f.entry)}` : `${f.channel} ${typeof f.side === "string" ? f.side : "connection"}`;
    if (!end) {
      attributes["scope.unfinished"] = true;
      const last = this.lastNs.get(start.pid) ?? start.timestampNs;
      const message = `${unfinishedLifetime[kind]} never finished: the trace ends with it running (the process crashed, exited or was stopped); it ran at least until its process's last record`;
      return this.readable(start.pid, name, SpanKind.INTERNAL, ids.context, ids.parent, start.timestampNs, last > start.timestampNs ? last : start.timestampNs, attributes, [], { code: SpanStatusCode.ERROR, message });
    }
    this.lifetimes.delete(`${lifetimeStartKey(start)!}/${start.timestampNs}`);
    return this.readable(start.pid, name, SpanKind.INTERNAL, ids.context, ids.parent, start.timestampNs, end.timestampNs, attributes, [], lifetimeStatus(kind, end));
  }

  /** A request's span, with the ids requestIds gave it at its start. */
  requestSpan(slice: Slice, ids: { context: Parent; parent?: Parent }): ReadableSpan {
    return this.span(slice, slice.kind === "server" ? SpanKind.SERVER : SpanKind.CLIENT, ids.context, ids.parent, requestAttributes(slice), httpSpanName(slice));
  }

  /**
   * A framework step's span (INTERNAL) in its request's trace: a child of the step it began
   * inside, else of the request (`request`: the request's own ids; `framework`: the
   * framework its request's route names, if it named one).
   */
  stepSpan(slice: Slice, request: Parent, framework?: string): ReadableSpan {
    const f = slice.start.fields;
    const context = { traceId: request.traceId, spanId: this.spanIdOf(slice.pid, slice.tid, "step", String(f.requestId), String(f.step)) };
    const parent = this.stepAt(slice.start, f.requestId, request) ?? request;
    const attributes = stepAttributes(slice);
    if (framework) attributes["scope.step.framework"] = framework;
    return this.span(slice, SpanKind.INTERNAL, context, parent, attributes);
  }

  /**
   * A call's ids, given its thread's calls so far (`open`: by start, the longer first at the
   * same start): its span if it ended (a call that never returned is no span, but is the
   * parent of the calls inside it).
   */
  call(slice: Slice, open: CallNesting): ReadableSpan | undefined {
    const enclosing = open.enclosing(slice.startNs, slice.endNs);
    const cause = this.causeOf(slice.start);
    const f = slice.start.fields;
    // The nearer of the call it runs inside and the step running when it began: Express runs the
    // next layer inside the previous one's next() call, but its step ended there.
    const step = cause ? this.innerStep(slice.start, f.request) : undefined;
    const sameTrace = enclosing && (!cause || enclosing.traceId === cause.traceId);
    const parent = sameTrace && (!step || step.startNs <= open.enclosingStartNs!) ? enclosing : step ? this.stepParent(slice.start, f.request, cause!, step) : (cause ?? this.originOf(slice));
    const spanId = this.spanIdOf(slice.pid, slice.tid, "call", String(f.call));
    const context = { traceId: parent?.traceId ?? this.hash("trace", slice.pid, slice.tid, "call", String(f.call)).slice(0, 32), spanId };
    open.push(slice.startNs, slice.endNs, context);
    return slice.finished ? this.span(slice, SpanKind.INTERNAL, context, parent, callAttributes(slice)) : undefined;
  }

  /** A query's or pool wait's span (under the request that made it, or the step of it running then). */
  querySpan(slice: Slice): ReadableSpan {
    const parent = this.withinOrOrigin(slice.start, this.causeOf(slice.start));
    const f = slice.start.fields;
    const id = slice.kind === "query" ? `query/${f.query}` : `wait/${f.wait}`;
    const context = { traceId: parent?.traceId ?? this.hash("trace", slice.pid, slice.tid, id).slice(0, 32), spanId: this.spanIdOf(slice.pid, slice.tid, id) };
    // A pool wait is time spent waiting for a connection inside the program, no call to the database.
    return this.span(slice, slice.kind === "query" ? SpanKind.CLIENT : SpanKind.INTERNAL, context, parent, slice.kind === "query" ? dbAttributes(slice) : poolWaitAttributes(slice));
  }

  /** Whether the send of the message `key` (model messageKey) has had its span made. */
  knowsSend(key: string): boolean {
    return this.messageTraces.has(key);
  }

  /** A message_send's PRODUCER span or a message_receive's CONSUMER span (in time order: a receive finds its send's trace). */
  messageSpan(event: TraceEvent): ReadableSpan {
    const key = messageKey(event);
    const send: Parent = { traceId: "", spanId: this.spanIdOf("message", key, "send") };
    const f = event.fields;
    // The channel by its kind and sub-id (a worker's threadId, a port's or broadcast's id, 0
    // for IPC): stable from run to run, so a backend lists one operation per channel, not one
    // per run as with the owner's pid in the name (messaging conventions: "{operation} {destination}").
    const destination = `${f.channel}#${f.channelSubId}`;
    const operation = event.kind === "message_send" ? "send" : "receive";
    const attributes: Attributes = {
      "messaging.system": String(f.channel),
      "messaging.destination.name": destination,
      "messaging.operation.name": operation,
      "messaging.operation.type": operation,
      "messaging.message.body.size": typeof f.sizeBytes === "number" ? f.sizeBytes : 0,
      "scope.message.ordinal": Number(f.ordinal),
      "scope.message.channel_owner_pid": Number(f.channelOwnerPid),
      "thread.id": event.tid,
    };
    // A message's trace: the request that sent it, else its own (the same at both ends).
    const traceOfMessage = this.hash("trace", "message", key).slice(0, 32);
    if (event.kind === "message_send") {
      // Under the request that sent it, or the framework step of it running then; else the spawn that made its thread.
      const parent = this.withinOrOrigin(event, this.causeOf(event));
      send.traceId = parent?.traceId ?? traceOfMessage;
      bounded(this.messageTraces, key, send.traceId);
      return this.instantSpan(event, `send ${destination}`, SpanKind.PRODUCER, send, parent, attributes);
    }
    // The send's trace (its request's), as the send made it (in this batch or an earlier one).
    send.traceId = this.messageTraces.get(key) ?? traceOfMessage;
    const context = { traceId: send.traceId, spanId: this.spanIdOf("message", key, "receive") };
    const link: Link = { context: { traceId: send.traceId, spanId: send.spanId, traceFlags: 1 } };
    return this.instantSpan(event, `receive ${destination}`, SpanKind.CONSUMER, context, send, attributes, [link]);
  }

  private span(slice: Slice, kind: SpanKind, context: Parent, parent: Parent | undefined, attributes: Attributes, name = slice.name): ReadableSpan {
    attributes["thread.id"] = slice.tid;
    if (!slice.finished) {
      // Never ended: it ran at least until its process's last record (later than its thread's when another thread outlived it).
      attributes["scope.unfinished"] = true;
      const last = this.lastNs.get(slice.pid) ?? slice.endNs;
      const message = `${unfinishedWhat[slice.kind] ?? slice.kind} never finished: the trace ends with it in flight (the process crashed, exited or was stopped); it ran at least until its process's last record`;
      return this.readable(slice.pid, name, kind, context, parent, slice.startNs, last > slice.endNs ? last : slice.endNs, attributes, [], { code: SpanStatusCode.ERROR, message });
    }
    const failed = slice.failed;
    const message = typeof slice.start.fields.errorMessage === "string" ? slice.start.fields.errorMessage : slice.end && typeof slice.end.fields.errorMessage === "string" ? slice.end.fields.errorMessage : undefined;
    return this.readable(slice.pid, name, kind, context, parent, slice.startNs, slice.endNs, attributes, [], failed ? { code: SpanStatusCode.ERROR, ...(message ? { message } : {}) } : { code: SpanStatusCode.UNSET });
  }

  private instantSpan(event: TraceEvent, name: string, kind: SpanKind, context: Parent, parent: Parent | undefined, attributes: Attributes, links: Link[] = []): ReadableSpan {
    return this.readable(event.pid, name, kind, context, parent, event.timestampNs, event.timestampNs, attributes, links, { code: SpanStatusCode.UNSET });
  }

  private readable(pid: number, name: string, kind: SpanKind, context: Parent, parent: Parent | undefined, startNs: bigint, endNs: bigint, attributes: Attributes, links: Link[], status: { code: SpanStatusCode; message?: string }): ReadableSpan {
    const spanContext: SpanContext = { traceId: context.traceId, spanId: context.spanId, traceFlags: 1 };
    const durationNs = endNs - startNs;
    return {
      name,
      kind,
      spanContext: () => spanContext,
      parentSpanContext: parent ? { traceId: parent.traceId, spanId: parent.spanId, traceFlags: 1 } : undefined,
      startTime: this.time(startNs),
      endTime: this.time(endNs),
      status,
      attributes,
      links,
      events: [],
      duration: [Number(durationNs / 1_000_000_000n), Number(durationNs % 1_000_000_000n)],
      ended: true,
      resource: this.resourceOf(pid),
      instrumentationScope: this.scope,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
  }
}

/**
 * A thread's calls as they nest (sync calls inside the call that made them): the calls begun
 * so far, by start (the longer first at the same start), with their ends (a call that never
 * returned: its thread's last record) and span ids.
 */
export class CallNesting {
  private readonly starts: bigint[] = [];
  private readonly ends: bigint[] = [];
  private readonly contexts: Parent[] = [];

  /** The call a call from `startNs` to `endNs` runs inside, if any: the latest begun that has not ended and ends no sooner. */
  enclosing(startNs: bigint, endNs: bigint): Parent | undefined {
    const { ends, contexts } = this;
    while (ends.length && ends[ends.length - 1]! <= startNs) {
      ends.pop();
      contexts.pop();
      this.starts.pop();
    }
    return ends.length && ends[ends.length - 1]! >= endNs ? contexts[contexts.length - 1] : undefined;
  }

  /** The start of the call `enclosing` last found (the innermost held). */
  get enclosingStartNs(): bigint | undefined {
    return this.starts[this.starts.length - 1];
  }

  push(startNs: bigint, endNs: bigint, context: Parent): void {
    this.starts.push(startNs);
    this.ends.push(endNs);
    this.contexts.push(context);
  }

  /** Calls held (begun and not yet passed by a later one's start). */
  get size(): number {
    return this.ends.length;
  }
}

/** The start of an unfinished span's status message. */
const unfinishedWhat: Partial<Record<Slice["kind"], string>> = { server: "the request", client: "the client request", query: "the query", pool_wait: "the pool wait", step: "the step" };

/** A framework step as the maker keeps it: its ordinal, start and end (null: not ended, or not yet). */
interface StepEntry {
  step: number;
  startNs: bigint;
  endNs: bigint | null;
}

/** A request's http_route: its framework, by `${pid}/${tid}/${requestId}` (the last route named wins, as the model's). */
function noteFramework(frameworks: Map<string, string>, route: TraceEvent): void {
  const framework = route.fields.framework;
  if (typeof framework === "string" && framework) frameworks.set(`${route.pid}/${route.tid}/${route.fields.requestId}`, framework);
}

function stepEntry(start: TraceEvent): StepEntry {
  const duration = start.fields.durationNs;
  return { step: Number(start.fields.step), startNs: start.timestampNs, endNs: typeof duration === "number" ? start.timestampNs + BigInt(duration) : null };
}

/**
 * A framework step's attributes: http.route on a handler's (the route it serves, as the HTTP
 * conventions name it), code.function.name (the function the framework called), and
 * scope's own: scope.step.kind (the framework's: middleware, hook, handler, error), scope.step.ordinal (its place in
 * its request); error.type when it threw or passed an error on.
 */
function stepAttributes(slice: Slice): Attributes {
  const f = slice.start.fields;
  const a: Attributes = { "scope.step.kind": typeof f.stepKind === "string" && f.stepKind ? f.stepKind : "step" };
  if (typeof f.step === "number") a["scope.step.ordinal"] = f.step;
  if (typeof f.name === "string" && f.name) a["code.function.name"] = f.name;
  if (typeof f.route === "string" && f.route) a["http.route"] = f.route;
  if (slice.failed) a["error.type"] = typeof f.errorType === "string" && f.errorType ? f.errorType : "error";
  return a;
}

function put(attributes: Attributes, key: string, value: unknown): void {
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") attributes[key] = value;
}

/**
 * An HTTP span's name as the semantic conventions have it: "{method} {http.route}" for a
 * server request with a route, else "{method}" (never the path or URL, nor the status: a
 * backend lists span names as operations, one per /users/1, /users/2, ...). The path, URL
 * and status are attributes.
 */
function httpSpanName(slice: Slice): string {
  const f = slice.start.fields;
  // A GraphQL operation ("query GetCat", its conventions' span name) or tRPC procedures ("query cat.byId"): the route itself.
  if (slice.kind === "server" && operationRoute(f)) return f.route as string;
  const method = typeof f.method === "string" && f.method ? f.method : "HTTP";
  return slice.kind === "server" && typeof f.route === "string" && f.route ? `${method} ${f.route}` : method;
}


/**
 * A GraphQL operation's attributes (graphql.operation.type and .name, as its conventions have
 * them), or tRPC's (rpc.system "trpc", rpc.method the procedures' paths, scope.trpc.type).
 */
function operationAttributes(a: Attributes, f: Slice["start"]["fields"]): void {
  const route = f.route as string;
  const space = route.indexOf(" ");
  const type = space < 0 ? route : route.slice(0, space);
  const name = space < 0 ? undefined : route.slice(space + 1);
  if (f.framework === "graphql") {
    a["graphql.operation.type"] = type;
    if (name) a["graphql.operation.name"] = name;
    return;
  }
  a["rpc.system"] = "trpc";
  if (name) a["rpc.method"] = name;
  a["scope.trpc.type"] = type;
}

function requestAttributes(slice: Slice): Attributes {
  const f = slice.start.fields;
  const a: Attributes = {};
  put(a, "http.request.method", f.method);
  if (typeof f.status === "number" && f.status !== 0) a["http.response.status_code"] = f.status;
  if (slice.kind === "server") {
    put(a, "url.path", typeof f.target === "string" ? f.target.split("?")[0] : undefined);
    if (typeof f.target === "string" && f.target.includes("?")) a["url.query"] = f.target.slice(f.target.indexOf("?") + 1);
    if (operationRoute(f)) operationAttributes(a, f);
    else put(a, "http.route", f.route);
    put(a, "client.address", f.remoteAddress);
    if (typeof f.remotePort === "number" && f.remotePort) a["client.port"] = f.remotePort;
    put(a, "server.address", f.localAddress);
    if (typeof f.localPort === "number" && f.localPort) a["server.port"] = f.localPort;
    put(a, "network.protocol.version", typeof f.protocol === "string" ? f.protocol.replace(/^HTTP\//, "") : undefined);
  } else {
    put(a, "url.full", f.url);
    put(a, "server.address", f.remoteAddress);
    if (typeof f.remotePort === "number" && f.remotePort) a["server.port"] = f.remotePort;
    put(a, "scope.http.client", f.api);
  }
  put(a, "scope.http.end", f.end);
  put(a, "error.type", f.errorCode ?? (slice.failed && typeof f.status === "number" && f.status >= 400 ? String(f.status) : undefined));
  return a;
}

function dbAttributes(slice: Slice): Attributes {
  const f = slice.start.fields;
  const system = String(f.system);
  const a: Attributes = { "db.system.name": dbSystems[system] ?? system, "db.system": dbSystems[system] ?? system, "scope.db.client": system };
  if (slice.kind === "query") {
    put(a, "db.query.text", f.text);
    // Redis: the command's name (the text's first word: `GET ?` → GET), as its conventions name the operation.
    if (dbSystems[system] === "redis" && typeof f.text === "string") put(a, "db.operation.name", /^\S+/.exec(f.text)?.[0]);
    if (typeof f.rows === "number") a["db.response.returned_rows"] = f.rows;
    if (typeof f.params === "number") a["scope.db.params"] = f.params;
  }
  // Its db_connection's (layout version 6): the database as db.namespace (Redis: its index),
  // the server's host name, address or unix socket path, and the user (no convention has one).
  put(a, "db.namespace", f.database);
  serverAttributes(a, f);
  put(a, "db.response.status_code", f.errorCode);
  if (slice.failed) a["error.type"] = typeof f.errorCode === "string" ? f.errorCode : "error";
  return a;
}

/** server.address, server.port and scope.db.user of a query's or wait's connection, what is known. */
function serverAttributes(a: Attributes, f: Record<string, unknown>): void {
  put(a, "server.address", f.serverAddress);
  if (typeof f.serverPort === "number" && f.serverPort) a["server.port"] = f.serverPort;
  put(a, "scope.db.user", f.user);
}

/** A pool wait: scope's own attributes and the server's (no db.*: it is no database call). */
function poolWaitAttributes(slice: Slice): Attributes {
  const f = slice.start.fields;
  const a: Attributes = { "scope.db.client": String(f.system) };
  if (typeof f.open === "number") a["scope.pool.open"] = f.open;
  if (typeof f.idle === "number") a["scope.pool.idle"] = f.idle;
  // The pool's database: scope's own name (db.namespace is a database call's); its server as any client's.
  put(a, "scope.db.namespace", f.database);
  serverAttributes(a, f);
  put(a, "scope.pool.error_code", f.errorCode);
  if (slice.failed) a["error.type"] = typeof f.errorCode === "string" ? f.errorCode : "error";
  return a;
}

/** "name (file:line:column)" → code.* attributes. */
function callAttributes(slice: Slice): Attributes {
  const text = String(slice.start.fields.function);
  const match = /^(.*) \((.*):(\d+):(\d+)\)$/.exec(text);
  const a: Attributes = match ? { "code.function.name": match[1]!, "code.file.path": match[2]!, "code.line.number": Number(match[3]), "code.column.number": Number(match[4]) } : { "code.function.name": text };
  put(a, "scope.call.args", slice.start.fields.args);
  if (slice.end?.kind === "function_throw") put(a, "error.type", slice.end.fields.errorType ?? "Error");
  return a;
}

/** Bounded maps of the maker: past 100 000 keys, the oldest goes. */
function bounded<V>(map: Map<string, V>, key: string, value: V): void {
  map.set(key, value);
  if (map.size > 100_000) map.delete(map.keys().next().value!);
}

const unfinishedLifetime = { process: "the child process", worker: "the worker", connection: "the connection" } as const;

/**
 * The program a child ran, for its span's name ("spawn ls", "fork child"): the script a
 * runtime ran (node, bun, deno: a service's name), else the executable's file name. Never
 * the arguments: a backend lists span names as operations.
 */
function programName(command: string | null): string {
  const executable = command?.split(" ").find(Boolean)?.split("/").pop() ?? "";
  if (/^(node|nodejs|bun|deno)$/.test(executable)) {
    const script = scriptOf(command);
    if (script) return script.split("/").pop()!.replace(/\.(c|m)?(j|t)sx?$/, "") || executable;
  }
  return executable || "process";
}

/** A worker's entry for its span's name: its file's name ("compute.js"), or "[eval]". */
function entryName(entry: unknown): string {
  if (typeof entry !== "string" || !entry) return "<unknown>";
  return entry.split(/[/\\]/).pop() || entry;
}

/** A child process: its pid and command line (process conventions), how it was started, and how it ended. */
function processAttributes(start: TraceEvent, end: TraceEvent | null): Attributes {
  const f = start.fields;
  const a: Attributes = { "process.pid": Number(f.childPid), "scope.spawn.method": String(f.method) };
  put(a, "process.command_line", f.command);
  if (end && typeof end.fields.code === "number") a["process.exit.code"] = end.fields.code;
  if (end && typeof end.fields.signal === "number") a["scope.exit.signal"] = end.fields.signal;
  return a;
}

/** A worker: its thread id (thread.id is the spawner's, as on every span), entry and exit code. */
function workerAttributes(start: TraceEvent, end: TraceEvent | null): Attributes {
  const f = start.fields;
  const a: Attributes = { "scope.worker.thread_id": Number(f.threadId) };
  put(a, "scope.worker.entry", f.entry);
  if (end && typeof end.fields.code === "number") a["scope.worker.exit_code"] = end.fields.code;
  return a;
}

/** A connection at one end (a WebSocket's): its channel as a message's, where it went, and how it closed. */
function connectionAttributes(open: TraceEvent, close: TraceEvent | null): Attributes {
  const f = open.fields;
  const a: Attributes = { "messaging.system": String(f.channel), "messaging.destination.name": `${f.channel}#${f.channelSubId}`, "scope.message.channel_owner_pid": Number(f.channelOwnerPid) };
  if (typeof f.side === "string") a["scope.connection.side"] = f.side;
  if (typeof f.where === "string") a[f.side === "client" ? "url.full" : "network.peer.address"] = f.where;
  if (typeof f.protocol === "string") a["scope.connection.protocol"] = f.protocol;
  if (close) {
    const c = close.fields;
    if (typeof c.code === "number") a["scope.connection.close_code"] = c.code;
    if (typeof c.reason === "string") a["scope.connection.close_reason"] = c.reason;
    a["scope.connection.clean"] = c.clean === true;
  }
  return a;
}

/**
 * ERROR for a child that exited non-zero or by a signal, a connection closed on an error. A
 * worker's exit code is no verdict: terminate() ends one with 1, as an uncaught error does.
 */
function lifetimeStatus(kind: "process" | "worker" | "connection", end: TraceEvent): { code: SpanStatusCode; message?: string } {
  const f = end.fields;
  if (kind === "connection") return f.hadError === true ? { code: SpanStatusCode.ERROR, ...(typeof f.error === "string" ? { message: f.error } : {}) } : { code: SpanStatusCode.UNSET };
  if (kind === "worker") return { code: SpanStatusCode.UNSET };
  if (typeof f.signal === "number" && f.signal) return { code: SpanStatusCode.ERROR, message: `ended by signal ${f.signal}` };
  if (typeof f.code === "number" && f.code !== 0) return { code: SpanStatusCode.ERROR, message: `exited with code ${f.code}` };
  return { code: SpanStatusCode.UNSET };
}

export function serializeSpans(spans: ReadableSpan[], format: OtlpFormat): Uint8Array {
  const bytes = (format === "json" ? JsonTraceSerializer : ProtobufTraceSerializer).serializeRequest(spans);
  if (!bytes) throw new Error("the OTLP serializer returned nothing");
  return bytes;
}
