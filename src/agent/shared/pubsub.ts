/**
 * Messages a database server pushes to a subscriber: Redis pub/sub (SUBSCRIBE, PSUBSCRIBE,
 * SSUBSCRIBE: node-redis, ioredis) and PostgreSQL's LISTEN/NOTIFY (pg's 'notification'),
 * recorded as `message_receive` records (no kind of their own) on a channel of kind
 * ChannelKind.redis_pubsub or pg_notify (zig/layout.zig), before the library hands the message
 * to the program's listeners.
 *
 * A channel is one subscriber connection (a client), direction 1 (server → client); its
 * sub-id is made here from the thread id and a counter, so two clients never share one. The
 * sender is another connection (PUBLISH, NOTIFY: queries, recorded as such), often in another
 * process, and nothing in the message names it: receives are never paired and carry their own
 * size (the payload's bytes) and preview, as a WebSocket's do: the channel's name (and the
 * pattern that matched it) with the payload, `{channel: "jobs", message: "42"}`, at most
 * PREVIEW_MAX_CHARS characters. The payload is previewed as every message's value is (the
 * message group's rule; --redact-pattern applies); the SUBSCRIBE and PUBLISH commands keep
 * their arguments out of their texts (redis-command.ts).
 */
import { ChannelKind, Kind, LongTaskKind, MAX_SUB_ID, channelField } from "./kinds";
import { markTurn } from "./loop";
import { PREVIEW_MAX_CHARS } from "./preview-limits";
import type { Recorder } from "./recorder";

/**
 * This thread's id, read at the first subscriber. Not a static import of node:worker_threads:
 * in Bun the agent's bundle would then bind the module's ES namespace at its start, before the
 * agent replaces `Worker` on it, and a program's `import { Worker } from "node:worker_threads"`
 * got the unwrapped class (no thread_spawn, no messages: spec/functions-run's Bun test).
 */
function ownThreadId(): number {
  return (require("node:worker_threads") as typeof import("node:worker_threads")).threadId;
}

/** Direction of a pushed message: server → client (a WebSocket's numbering). */
const FROM_SERVER = 1;
/** Bytes of a Buffer payload decoded for its preview (a character is at most 4). */
const PREVIEW_BYTES = PREVIEW_MAX_CHARS * 4;

interface Subscriber {
  field: number;
  received: number;
}

let counter = 0;

/** One channel kind's subscribers (per thread: one instance per integration). */
export class PubSubReceives {
  private readonly subscribers = new WeakMap<object, Subscriber>();
  private lastOwner: object | undefined;
  private last: Subscriber | undefined;

  constructor(
    private readonly recorder: Recorder,
    private readonly kind: number,
  ) {}

  /**
   * A message `owner` (the client, or the object the library keeps per subscriber connection)
   * received on `channel` (a Buffer or string; `pattern` the pattern it matched, when one did):
   * `payload` a Buffer or string (another value: previewed by its type). `extra`: a field more
   * for the preview (PostgreSQL's notifying backend).
   */
  receive(owner: object, channel: unknown, payload: unknown, pattern?: unknown, extra?: string): void {
    let subscriber = owner === this.lastOwner ? this.last! : this.subscribers.get(owner);
    if (subscriber === undefined) {
      const subId = (ownThreadId() * 0x100000 + (counter++ % 0x100000)) % MAX_SUB_ID;
      subscriber = { field: channelField(this.kind, FROM_SERVER, subId), received: 0 };
      this.subscribers.set(owner, subscriber);
    }
    this.lastOwner = owner;
    this.last = subscriber;
    const ordinal = subscriber.received++;
    markTurn(LongTaskKind.message);
    const recorder = this.recorder;
    if (recorder.stopped) return;
    const head = pattern === undefined ? "{channel: " : `{pattern: ${quoted(pattern)}, channel: `;
    let text = `${head}${quoted(channel)}, ${this.kind === ChannelKind.redis_pubsub ? "message" : "payload"}: ${quoted(payload)}${extra ?? ""}}`;
    if (text.length > PREVIEW_MAX_CHARS) text = `${text.slice(0, PREVIEW_MAX_CHARS - 1)}…`;
    recorder.eventWithString(Kind.message_receive, ordinal, subscriber.field, process.pid, sizeOf(payload), text);
  }
}

/** A channel name or payload as the preview shows it: a string (a Buffer's start decoded) quoted, at most PREVIEW_MAX_CHARS. */
function quoted(value: unknown): string {
  let text: string;
  if (typeof value === "string") text = value.length > PREVIEW_MAX_CHARS ? value.slice(0, PREVIEW_MAX_CHARS) : value;
  // A Buffer's own toString with an end (a view made over its bytes costs three times more).
  else if (Buffer.isBuffer(value)) text = value.toString("utf8", 0, PREVIEW_BYTES);
  else if (value instanceof Uint8Array) text = Buffer.from(value.buffer, value.byteOffset, Math.min(value.byteLength, PREVIEW_BYTES)).toString("utf8");
  else if (value === null || value === undefined) return String(value);
  else return `[${typeof value}]`;
  return JSON.stringify(text.length > PREVIEW_MAX_CHARS ? text.slice(0, PREVIEW_MAX_CHARS) : text);
}

function sizeOf(payload: unknown): number {
  if (typeof payload === "string") return Buffer.byteLength(payload);
  return payload instanceof Uint8Array ? payload.byteLength : 0;
}
