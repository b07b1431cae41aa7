/**
 * `scope export --otlp` in bounded memory: the spans of a streamed trace (src/dump/stream.ts
 * `TraceStream`), made as its events go by in index order, the same spans OtlpSpanMaker.spans
 * makes of the whole trace (otlp.ts; the order of the spans differs, which OTLP does not define).
 *
 * - Ahead (`OtlpAhead`, from the stream's link pass): the threads' last times and the
 *   processes' command lines (a span's resource; where what never finished ends), and with
 *   --otlp-functions each call's end (slices.ts `CallEnds`: time, kind, failure and its error,
 *   ~9 bytes a call), which decides at a call's start how it nests.
 * - Held: a request, query or pool wait from its start until its end event goes by (its ids
 *   are taken at its start, in time order, as the whole-trace maker takes them), a server
 *   request's framework steps begun while it runs (spans with it at its end; the maker keeps
 *   their times for what begins inside them, bounded), the child processes, workers and
 *   connections begun and not ended (a spawn's ids taken at its start), the calls
 *   open on each thread (their ends and ids), and the events of the current timestamp (a
 *   timestamp's calls nest the longer first; whatever they look up was begun by then).
 * - What never finished is a span at once: its end (its thread's last record, its process's)
 *   is known ahead; but a server request that never ended waits for the walk's end, its
 *   steps being still to come.
 */
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import type { TraceEvent } from "../core/model";
import type { LinkWatch } from "../dump/stream";
import { lifetimeEndKey, lifetimeStartKey } from "./lifetimes";
import { CallNesting, type OtlpSpanMaker, type Parent } from "./otlp";
import { CallEnds, endIndexOf, spanSlice, stepSlice, ThreadsAndProcesses, type Slice } from "./slices";

/** What a call's span shows of its end: its error, when it threw or rejected with one. */
export type CallFailure = { errorType?: unknown; errorMessage?: unknown } | undefined;

/** What the walk needs before the events: gathered by TraceStream.link's pass (add each event there). */
export class OtlpAhead {
  readonly names: ThreadsAndProcesses;
  readonly calls: CallEnds<CallFailure> | undefined;

  constructor(sources: TraceEvent[], functions: boolean) {
    this.names = new ThreadsAndProcesses(sources);
    this.calls = functions ? new CallEnds<CallFailure>(failureOf) : undefined;
  }

  /** Given to TraceStream.link: each event as the link pass gives it (its own fields are all this needs). */
  readonly watch: LinkWatch = {
    event: (event) => {
      this.names.add(event);
      this.calls?.add(event);
    },
  };
}

function failureOf(end: TraceEvent): CallFailure {
  const { errorType, errorMessage } = end.fields;
  return typeof errorType === "string" || typeof errorMessage === "string" ? { errorType, errorMessage } : undefined;
}

interface Open {
  start: TraceEvent;
  ids: { context: Parent; parent?: Parent } | undefined;
  /** A server request's framework steps begun so far (their http_step_start, with durationNs). */
  steps?: TraceEvent[];
  /** A server request's framework, once its route (http_route) went by. */
  framework?: string;
}

export class OtlpWalk {
  /** Requests, queries and pool waits begun, by their end's index. */
  private readonly waiting = new Map<number, Open>();
  /** Server requests begun and not ended, by `${pid}/${tid}/${requestId}`: where their steps go. */
  private readonly serving = new Map<string, Open>();
  /** Server requests that never ended (a crash's): made at the end, with their steps. */
  private readonly unended: Open[] = [];
  private readonly nesting = new Map<string, CallNesting>();
  /** Child processes, workers and connections begun and not ended (lifetimes.ts key): a spawn's ids taken at its start, a connection's at its close. */
  private readonly living = new Map<string, { start: TraceEvent; ids?: { context: Parent; parent?: Parent } }>();
  /** The current timestamp's calls, and its other events that make spans. */
  private calls: Slice[] = [];
  private others: (() => void)[] = [];
  private at: bigint | undefined;

  constructor(
    private readonly maker: OtlpSpanMaker,
    private readonly ahead: OtlpAhead,
    private readonly emit: (span: ReadableSpan) => void,
  ) {
    for (const thread of ahead.names.threads.values()) maker.seen(thread.pid, thread.lastNs);
    for (const process of ahead.names.processes.values()) maker.know(process);
  }

  /** What the walk holds now: begun requests, queries and pool waits, calls nesting, the current timestamp's events. */
  get held(): number {
    let calls = 0;
    for (const open of this.nesting.values()) calls += open.size;
    let steps = 0;
    for (const open of this.serving.values()) steps += open.steps?.length ?? 0;
    return this.waiting.size + this.unended.length + this.living.size + steps + calls + this.calls.length + this.others.length;
  }

  /** The next event (index order). */
  add(event: TraceEvent): void {
    if (event.timestampNs !== this.at) this.flush();
    this.at = event.timestampNs;
    const open = this.waiting.get(event.index);
    if (open) {
      this.waiting.delete(event.index);
      this.end(open, event);
    }
    switch (event.kind) {
      case "http_server_request":
      case "http_client_request":
      case "db_query":
      case "db_pool_wait": {
        const start: Open = { start: event, ids: undefined };
        // A request's ids now, in time order (what it caused looks them up); a query's at its span.
        if (event.kind === "http_server_request" || event.kind === "http_client_request") start.ids = this.maker.requestIds(spanSlice(event, null, event.timestampNs));
        if (event.kind === "http_server_request") this.serving.set(`${event.pid}/${event.tid}/${event.fields.requestId}`, start);
        const endIndex = endIndexOf(event);
        if (endIndex !== undefined && endIndex > event.index) this.waiting.set(endIndex, start);
        // A server request that never ended: its steps are still to come, so its span waits for the end too.
        else if (event.kind === "http_server_request") this.unended.push(start);
        else this.end(start, null);
        break;
      }
      case "http_step_start": {
        // A step of a request that runs (one begun after its request's end is no span, as in the whole trace).
        const open = this.serving.get(`${event.pid}/${event.tid}/${event.fields.requestId}`);
        if (!open) break;
        (open.steps ??= []).push(event);
        this.maker.addStep(event);
        break;
      }
      case "http_route": {
        const open = this.serving.get(`${event.pid}/${event.tid}/${event.fields.requestId}`);
        if (open && typeof event.fields.framework === "string" && event.fields.framework) open.framework = event.fields.framework;
        break;
      }
      case "function_call": {
        const calls = this.ahead.calls;
        if (!calls) break;
        const end = calls.of(event);
        const endEvent = end ? ({ kind: end.kind, fields: end.kept ?? {} } as TraceEvent) : null;
        this.calls.push({ kind: "call", pid: event.pid, tid: event.tid, startNs: event.timestampNs, endNs: end ? end.ns : this.ahead.names.lastNs(event), finished: end !== undefined, name: String(event.fields.function), start: event, end: endEvent, failed: end?.failed ?? false });
        break;
      }
      case "message_send":
      case "message_receive":
        this.others.push(() => this.emit(this.maker.messageSpan(event)));
        break;
      case "process_spawn":
      case "thread_spawn":
        // Its ids now, in time order with the requests': the child's own spans find it as their origin.
        this.living.set(lifetimeStartKey(event)!, { start: event, ids: this.maker.lifetimeIds(event) });
        break;
      case "channel_open":
        this.living.set(lifetimeStartKey(event)!, { start: event });
        break;
      case "child_exit":
      case "thread_exited":
      case "channel_close": {
        const key = lifetimeEndKey(event)!;
        const living = this.living.get(key);
        if (!living) break;
        this.living.delete(key);
        const ids = living.ids ?? this.maker.lifetimeIds(living.start);
        this.others.push(() => this.emit(this.maker.lifetimeSpan(living.start, event, ids)));
        break;
      }
    }
  }

  /** After the last event: what is still held (an end past the trace: never finished). */
  finish(): void {
    this.flush();
    for (const open of this.waiting.values()) this.end(open, null);
    this.waiting.clear();
    for (const open of this.unended) this.end(open, null);
    this.unended.length = 0;
    for (const { start, ids } of this.living.values()) this.others.push(() => this.emit(this.maker.lifetimeSpan(start, null, ids ?? this.maker.lifetimeIds(start))));
    this.living.clear();
    this.flush();
  }

  /** A request, query or pool wait whose end went by (or never comes: null). */
  private end(open: Open, end: TraceEvent | null): void {
    const slice = spanSlice(open.start, end, end ? end.timestampNs : this.ahead.names.lastNs(open.start));
    if (open.ids) {
      const ids = open.ids;
      if (slice.kind === "server") this.serving.delete(`${slice.pid}/${slice.tid}/${slice.start.fields.requestId}`);
      const steps = open.steps ?? [];
      const framework = open.framework;
      this.others.push(() => {
        this.emit(this.maker.requestSpan(slice, ids));
        for (const step of steps) this.emit(this.maker.stepSpan(stepSlice(step, this.ahead.names.lastNs(step)), ids.context, framework));
      });
    } else this.others.push(() => this.emit(this.maker.querySpan(slice)));
  }

  /** The current timestamp's spans: its calls nested per thread (the longer first), then the rest in order. */
  private flush(): void {
    if (this.calls.length) {
      const calls = this.calls;
      this.calls = [];
      calls.sort((a, b) => (a.endNs > b.endNs ? -1 : a.endNs < b.endNs ? 1 : 0));
      for (const slice of calls) {
        const key = `${slice.pid}/${slice.tid}`;
        let open = this.nesting.get(key);
        if (!open) this.nesting.set(key, (open = new CallNesting()));
        const span = this.maker.call(slice, open);
        if (span) this.emit(span);
      }
    }
    if (this.others.length) {
      const others = this.others;
      this.others = [];
      for (const make of others) make();
    }
  }
}
