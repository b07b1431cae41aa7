/**
 * `scope run --otlp <endpoint>`: spans sent while the program runs. A timer in the `scope`
 * process follows the trace file as the collector writes it (follow.ts: only whole chunks
 * already written, so the drain never waits), makes spans of what ended (otlp.ts, the same
 * ids a later `scope export --otlp` gives), queues them (bounded) and sends them in
 * batches, one request at a time, retrying with backoff while the endpoint is down.
 *
 * - Never in the way: the program and the drain thread do not wait for any of this; what
 *   does not fit the queue is counted and not sent; the trace file is written in full
 *   whatever the endpoint does.
 * - Batch to batch: records that later records complete are carried to the next look: the
 *   starts of requests, queries and calls still open (and a request's own records: its
 *   traceparent, route, connection), plus what names things (function tables, connections,
 *   process starts), and a thread's last request_context (it names the request of that
 *   thread's next record: a send's in the next look); a child process's, worker's or
 *   connection's start until its end (lifetimes.ts). A carried start makes its span once its end arrives.
 * - At the end (after the collector closed the trace) the rest is read and sent, for at
 *   most `flushMs`, with the carried starts that never ended as unfinished spans (ERROR,
 *   ending at their process's last record: the spans `scope export --otlp` makes of them);
 *   the summary line says how many spans were sent, rejected and not sent.
 */
import { StringTable, type DecodedRecord } from "../core/events";
import { eventKindName } from "../core/layout";
import { interpret, messageKey, UNPAIRED_CHANNELS, type TraceEvent } from "../core/model";
import { readTraceBytes } from "../core/trace-file";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { TraceFollower } from "./follow";
import { LifetimeEnds, lifetimeStartKey } from "./lifetimes";
import { OtlpSpanMaker, serializeSpans, type OtlpFormat } from "./otlp";
import { sendOtlp } from "./otlp-send";
import { shapeOf } from "./slices";
import { otlpOptionsOf } from "./export";

export interface StreamOptions {
  endpoint: string;
  format: OtlpFormat;
  functions: boolean;
  serviceName?: string;
  /** The trace file the collector writes. */
  trace: string;
  /** Spans held for sending at most (default 20 000); past it spans are counted, not sent. */
  queueSpans?: number;
  /** Spans per request (default 1024). */
  batchSpans?: number;
  /** How often the file is looked at (default 250 ms). */
  pollMs?: number;
  /** How long finish() may send what is left (default 5 s). */
  flushMs?: number;
  /** Chunks of the file read at most a look (default 64). */
  lookChunks?: number;
  /**
   * How long a receive waits for its send's record (default HOLD_MS), counted in looks
   * (holdMs / pollMs): a spec reading a record a look holds for more looks than a run needs.
   */
  holdMs?: number;
}

export interface StreamTotals {
  made: number;
  sent: number;
  /** Taken by the endpoint and dropped (its partial_success.rejected_spans), with its last message. */
  rejected: number;
  rejectedMessage: string | null;
  /** Not sent: the queue was full. */
  queueFull: number;
  /** Not sent: the endpoint did not take them before the end. */
  undelivered: number;
  requests: number;
  lastError: string | null;
}

/** Record kinds that name things later records use: kept for every later look. */
const definitions = new Set(["function_table", "http_connection", "trace_start"]);
/** A request's own records (same thread and requestId), carried with its open start. */
const aboutRequest = new Set(["http_traceparent", "http_route", "http_client_connection", "http_error", "http_step_start", "http_step_end"]);
/** A call's own records: no span without --otlp-functions, and most of a --functions trace. */
const callKinds = new Set(["function_call", "function_return", "function_throw", "function_settle", "function_yield", "function_resume", "attach_function_call"]);
const CARRIED_MAX = 200_000;
/** How long a receive waits for its send (8 looks at the default pollMs). */
const HOLD_MS = 2_000;
const DEFINITIONS_MAX = 100_000;

const kindOf = (record: DecodedRecord) => (typeof record.kind === "string" ? record.kind : (eventKindName[record.kind] ?? `kind_${record.kind}`));
const keyOf = (pid: number, tid: number, ns: bigint, kind: string) => `${pid}/${tid}/${ns}/${kind}`;

/**
 * The request_context records (scope's tag for a message send's or spawn's request) that are
 * their thread's last among `records`: the event they name is in a later look, so they are carried to it.
 */
function trailingContexts(records: DecodedRecord[]): Iterable<DecodedRecord> {
  const pending = new Map<string, DecodedRecord>();
  for (const record of records) {
    if (kindOf(record) === "request_context") pending.set(`${record.pid}/${record.tid}`, record);
    else if (pending.size) pending.delete(`${record.pid}/${record.tid}`);
  }
  return pending.values();
}

export class OtlpStream {
  private readonly follower: TraceFollower;
  // A long run records more strings than any bound: the oldest go, so what ends now keeps its names.
  private readonly strings = new StringTable({ maxStrings: 1_000_000, evictOldest: true });
  private maker: OtlpSpanMaker | null = null;
  private definitions: DecodedRecord[] = [];
  private carried: DecodedRecord[] = [];
  /** Receives held for their sends (holdReceives): key → looks held so far. */
  private held = new Map<string, number>();
  private queue: ReadableSpan[] = [];
  private sending: Promise<void> | null = null;
  private deadline = Number.POSITIVE_INFINITY;
  private readonly timer: ReturnType<typeof setInterval>;
  private failure: string | null = null;
  /** Aborts the request under way when the flush time is over. */
  private readonly abort = new AbortController();
  readonly totals: StreamTotals = { made: 0, sent: 0, rejected: 0, rejectedMessage: null, queueFull: 0, undelivered: 0, requests: 0, lastError: null };

  private constructor(private readonly options: StreamOptions) {
    this.follower = new TraceFollower(options.trace);
    this.timer = setInterval(() => this.tick(), options.pollMs ?? 250);
  }

  static start(options: StreamOptions): OtlpStream {
    return new OtlpStream(options);
  }

  /** One look: never throws into the run (a failure stops streaming and is reported). */
  private tick(): void {
    if (this.failure) return;
    try {
      this.take();
      this.pump();
    } catch (error) {
      this.failure = (error as Error).message;
    }
  }

  private take(): number {
    const records = this.follower.poll(this.options.lookChunks);
    if (records.length === 0) return 0;
    if (!this.maker) {
      const header = readTraceBytes(this.follower.headerBytes()!).header;
      this.maker = new OtlpSpanMaker(otlpOptionsOf({ header }, this.options.functions, this.options.serviceName));
    }
    const fresh: DecodedRecord[] = [];
    const calls = this.options.functions;
    for (const record of records) {
      if (this.strings.add(record)) continue;
      if (calls || !callKinds.has(kindOf(record))) fresh.push(record);
      else this.maker.seen(record.pid, record.timestampNs); // its process's last record, as an export sees it
    }
    const combined = [...this.definitions, ...this.carried, ...fresh];
    const events = interpret(combined, (pid, tid, id) => this.strings.get(pid, tid, id));
    // Held receives stay among the events, making no span yet: the model's indexes (a request's
    // end's among them) are positions in this list (filtered out, a request ending after a held
    // receive lost its end, was carried to the last look and sent unfinished).
    const held = this.holdReceives(events);
    const shape = shapeOf(events);
    this.enqueue(this.maker.spans(events, shape, false, held));

    // What the next look needs: definitions, and the open slices' starts with their requests' own records.
    for (const record of fresh) if (definitions.has(kindOf(record))) this.definitions.push(record);
    if (this.definitions.length > DEFINITIONS_MAX) this.definitions = this.definitions.filter((r) => kindOf(r) !== "http_connection").concat(this.definitions.filter((r) => kindOf(r) === "http_connection").slice(-DEFINITIONS_MAX / 2));
    const keep = new Set<string>();
    for (const receive of held) keep.add(keyOf(receive.pid, receive.tid, receive.timestampNs, receive.kind));
    const openRequests = new Set<string>();
    for (const slice of shape.slices) {
      if (slice.finished) continue;
      keep.add(keyOf(slice.pid, slice.tid, slice.startNs, slice.start.kind));
      if (slice.kind === "server" || slice.kind === "client") openRequests.add(`${slice.pid}/${slice.tid}/${slice.start.fields.requestId}`);
    }
    // A child process, worker or connection not ended yet: its start waits for its end (its ids were taken in this look).
    const lifetimeEnds = new LifetimeEnds(events);
    for (const event of events) if (lifetimeStartKey(event) !== undefined && !lifetimeEnds.of(event)) keep.add(keyOf(event.pid, event.tid, event.timestampNs, event.kind));
    if (openRequests.size) {
      for (const event of events) if (aboutRequest.has(event.kind) && openRequests.has(`${event.pid}/${event.tid}/${event.fields.requestId}`)) keep.add(keyOf(event.pid, event.tid, event.timestampNs, event.kind));
    }
    // A thread's last record a request_context: it names the request of that thread's next event, in a later look.
    const looked = [...this.carried, ...fresh];
    for (const context of trailingContexts(looked)) keep.add(keyOf(context.pid, context.tid, context.timestampNs, "request_context"));
    const carried: DecodedRecord[] = [];
    for (const record of looked) if (keep.has(keyOf(record.pid, record.tid, record.timestampNs, kindOf(record)))) carried.push(record);
    this.carried = carried.length > CARRIED_MAX ? carried.slice(-CARRIED_MAX) : carried;
    return records.length;
  }

  /**
   * The receives whose send no look has made a span of yet: held (carried) for up to
   * holdMs, so they join their send's trace. The collector writes records in the
   * order it drains lanes, not in time order across threads: a receive on one thread can
   * reach the file before its send on another (that lane drained later, or the send waited
   * in its thread's overflow), and made then it took a trace of its own (the message's)
   * instead of the sending request's, which `scope export --otlp` of the file gives it.
   */
  private holdReceives(events: TraceEvent[]): Set<TraceEvent> {
    const held = new Set<TraceEvent>();
    const ages = new Map<string, number>();
    const holdLooks = Math.max(1, Math.round((this.options.holdMs ?? HOLD_MS) / (this.options.pollMs ?? 250)));
    let sends: Set<string> | undefined;
    for (const event of events) {
      // A WebSocket's or a database server's pushed message has no send to wait for.
      if (event.kind !== "message_receive" || UNPAIRED_CHANNELS.has(event.fields.channel)) continue;
      const message = messageKey(event);
      if (this.maker!.knowsSend(message)) continue;
      sends ??= new Set(events.filter((e) => e.kind === "message_send").map(messageKey));
      if (sends.has(message)) continue;
      const key = keyOf(event.pid, event.tid, event.timestampNs, event.kind);
      const looks = (this.held.get(key) ?? 0) + 1;
      if (looks > holdLooks) continue;
      ages.set(key, looks);
      held.add(event);
    }
    this.held = ages;
    return held;
  }

  private enqueue(spans: ReadableSpan[]): void {
    this.totals.made += spans.length;
    const room = Math.max(0, (this.options.queueSpans ?? 20_000) - this.queue.length);
    if (spans.length > room) this.totals.queueFull += spans.length - room;
    for (let i = 0; i < Math.min(room, spans.length); i++) this.queue.push(spans[i]!);
  }

  /** Sends the next batch when none is under way; chains itself while spans wait. */
  private pump(): void {
    if (this.sending || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.options.batchSpans ?? 1024);
    this.sending = (async () => {
      let body: Uint8Array;
      try {
        body = serializeSpans(batch, this.options.format);
      } catch (error) {
        this.totals.undelivered += batch.length;
        this.totals.lastError = (error as Error).message;
        return;
      }
      // While the program runs, a batch is retried (with backoff) until the endpoint takes it.
      const result = await sendOtlp(this.options.endpoint, body, this.options.format, { attempts: Number.MAX_SAFE_INTEGER, deadlineMs: () => this.deadline, signal: this.abort.signal });
      this.totals.requests += result.attempts;
      if (result.ok) {
        const refused = Math.min(result.rejected ?? 0, batch.length);
        this.totals.sent += batch.length - refused;
        this.totals.rejected += refused;
        if (result.rejectedMessage) this.totals.rejectedMessage = result.rejectedMessage;
      } else {
        this.totals.undelivered += batch.length;
        this.totals.lastError = result.error ?? "failed";
      }
      if (!result.ok || result.attempts > 1) this.totals.lastError = result.error ?? this.totals.lastError;
    })().finally(() => {
      this.sending = null;
      if (Date.now() < this.deadline) this.pump();
    });
  }

  /** After the trace is closed: reads the rest, sends for at most flushMs, and says how it went. */
  async finish(): Promise<StreamTotals & { failure: string | null }> {
    clearInterval(this.timer);
    const flushMs = this.options.flushMs ?? 5_000;
    this.deadline = Date.now() + flushMs;
    const stop = setTimeout(() => this.abort.abort(new Error("flush time over")), flushMs);
    try {
      while (!this.failure && this.take() > 0);
    } catch (error) {
      this.failure = (error as Error).message;
    }
    if (!this.failure && this.follower.error) this.failure = this.follower.error;
    // What never finished (the carried starts): unfinished spans, as an export makes them.
    if (!this.failure && this.maker && this.carried.length) {
      try {
        const events = interpret([...this.definitions, ...this.carried], (pid, tid, id) => this.strings.get(pid, tid, id));
        this.enqueue(this.maker.spans(events, shapeOf(events), true));
      } catch (error) {
        this.failure = (error as Error).message;
      }
    }
    this.pump();
    while (this.sending) await this.sending;
    clearTimeout(stop);
    this.totals.undelivered += this.queue.length;
    this.queue = [];
    this.follower.close();
    return { ...this.totals, failure: this.failure };
  }
}

/** The summary line of `scope run --otlp`. */
export function streamLine(endpoint: string, totals: StreamTotals & { failure: string | null }): string {
  const lost = totals.queueFull + totals.undelivered;
  const parts = [`otlp: ${totals.sent} of ${totals.made} spans sent to ${endpoint}`];
  // Rejected by the endpoint itself: sending the trace again would not change that (no hint below).
  if (totals.rejected) parts.push(`${totals.rejected} rejected by the endpoint${totals.rejectedMessage ? ` (${totals.rejectedMessage})` : ""}`);
  if (totals.queueFull) parts.push(`${totals.queueFull} not sent (queue full)`);
  if (totals.undelivered) parts.push(`${totals.undelivered} not delivered (${totals.lastError ?? "endpoint did not answer"})`);
  if (totals.failure) parts.push(`streaming stopped: ${totals.failure}`);
  if (lost || totals.failure) parts.push("the trace file has everything: scope export --otlp sends it again");
  return `scope: ${parts.join("; ")}\n`;
}

export type { TraceEvent };
