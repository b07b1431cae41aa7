/**
 * WebSocket messages, for both runtimes' agents: channels and the receive with a preview.
 *
 * A connection is a channel of ChannelKind.websocket (zig/layout.zig): direction 0 is
 * client → server, 1 is server → client, at both ends. Its sub-id is made here from the
 * thread id and a counter per side; the low two bits tell the side (0 a server's
 * connection, 1 a client's, 2 a server's topic for publish), so a client and a server in
 * one process never share a key. Nothing travels in a WebSocket frame and nothing ties a
 * client's connection to the server's in another process, so the two ends are never
 * paired: each end records its receives with their own size and preview (the walk a send
 * makes), where the other channels' receives carry none. A connection's open and close are
 * channel_open / channel_close records (zig/layout.zig) on the same channel field.
 *
 * One instance per thread (`websocketChannels`), whoever hooks: Bun.serve and Bun's client,
 * undici's client in Node's core, the `ws` package in its second chunk (which takes this
 * module from the core: chunks.ts EXTRAS_SHARED), so their connections' sub-ids never meet.
 */
import { ChannelCloseFlag, ChannelKind, Kind, LongTaskKind, MAX_SUB_ID } from "./kinds";
import { markTurn } from "./loop";
import { PREVIEW_MAX_CHARS } from "./preview-limits";
import { newChannel, type Channel, type Tracer } from "../node/hooks";

export const WebSocketSide = { server: 0, client: 1, topic: 2 } as const;

let shared: WebSocketChannels | undefined;

/** This thread's channels (one counter per side), made at the first use. */
export function websocketChannels(tracer: Tracer): WebSocketChannels {
  return (shared ??= new WebSocketChannels(tracer));
}

/** The close code of a connection that ended without a closing handshake (RFC 6455 7.1.5). */
const ABNORMAL_CLOSURE = 1006;

export class WebSocketChannels {
  private counters = [0, 0];
  private readonly topics = new Map<string, Channel>();

  constructor(private readonly tracer: Tracer) {}

  get recorder(): Tracer["recorder"] {
    return this.tracer.recorder;
  }

  /** A new connection's channel, at the server (`side` 0) or at a client (1). */
  connection(side: 0 | 1): Channel {
    const n = this.counters[side]!++ % 0x100000;
    const subId = ((this.tracer.tid * 0x100000 + n) * 4 + side) % MAX_SUB_ID;
    return side === WebSocketSide.server ? newChannel(ChannelKind.websocket, subId, process.pid, 1, 0) : newChannel(ChannelKind.websocket, subId, process.pid, 0, 1);
  }

  /** A topic's channel (a server's publish reaches its subscribers: one send, no receive here). Bounded: past 4096 topics it starts over. */
  topic(name: string): Channel {
    let channel = this.topics.get(name);
    if (channel === undefined) {
      if (this.topics.size >= 4096) this.topics.clear();
      let h = 0x811c9dc5;
      for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
      channel = newChannel(ChannelKind.websocket, (h * 4 + WebSocketSide.topic) % MAX_SUB_ID, process.pid, 1, 0);
      this.topics.set(name, channel);
    }
    return channel;
  }

  /** The connection of `channel` opened: `where` a client's URL or a server's peer address, `protocol` its subprotocol. */
  opened(channel: Channel, where: unknown, protocol: unknown): void {
    const recorder = this.tracer.recorder;
    if (recorder.stopped) return;
    const text = (value: unknown) => (typeof value === "string" && value !== "" ? recorder.str(value, false) : 0);
    recorder.event(Kind.channel_open, connectionField(channel), channel.ownerPid, text(where), text(protocol));
  }

  /**
   * The connection of `channel` closed: its code (0: none known), reason, and the error
   * reported on it (its message, "" when it had none; undefined: no error). `clean`: whether the closing handshake
   * took place (undefined: known from the code, 1006 is not).
   */
  closed(channel: Channel, code: unknown, reason: unknown, error: string | undefined, clean?: boolean): void {
    const recorder = this.tracer.recorder;
    if (recorder.stopped) return;
    const number = typeof code === "number" && Number.isInteger(code) && code >= 0 && code < 0x10000 ? code : 0;
    let flags = error === undefined ? 0 : ChannelCloseFlag.error;
    if (clean === false || (clean === undefined && number === ABNORMAL_CLOSURE)) flags |= ChannelCloseFlag.unclean;
    const reasonId = typeof reason === "string" && reason !== "" ? recorder.str(reason.length > 256 ? reason.slice(0, 256) : reason, false) : 0;
    recorder.event(Kind.channel_close, connectionField(channel), channel.ownerPid, number, reasonId, error === undefined || error === "" ? 0 : recorder.message(error, false), flags);
  }

  /** A message received on `channel`, recorded with its size and preview, before the program sees it. */
  receive(channel: Channel, value: unknown): void {
    const recorder = this.tracer.recorder;
    const ordinal = channel.received++;
    markTurn(LongTaskKind.message);
    if (!recorder.stopped) recorder.eventWithPreview(Kind.message_receive, ordinal, channel.receiveField, channel.ownerPid, value, this.tracer.types);
  }

  /**
   * A text message received on `channel` whose start only was decoded (`text`), its size
   * given: previewed as the walk previews a string (quoted, cut with an ellipsis).
   */
  receivePreview(channel: Channel, text: string, size: number): void {
    const recorder = this.tracer.recorder;
    const ordinal = channel.received++;
    markTurn(LongTaskKind.message);
    if (recorder.stopped) return;
    const quoted = JSON.stringify(text.length > PREVIEW_MAX_CHARS ? text.slice(0, PREVIEW_MAX_CHARS) : text);
    recorder.eventWithString(Kind.message_receive, ordinal, channel.receiveField, channel.ownerPid, size, quoted.length > PREVIEW_MAX_CHARS ? `${quoted.slice(0, PREVIEW_MAX_CHARS - 1)}…` : quoted);
  }

  /**
   * A send of `value` through `send` (called as the program called it, its result and errors
   * unchanged). `dropped(result)`: the runtime answered that it did not send it (the send is
   * then marked failed, as one that throws).
   */
  send(channel: Channel, send: (this: unknown, ...args: unknown[]) => unknown, self: unknown, args: IArguments, value: unknown, dropped: (result: unknown) => boolean): unknown {
    const tracer = this.tracer;
    const ordinal = tracer.send(channel, value);
    let result: unknown;
    try {
      result = Reflect.apply(send, self, args);
    } catch (error) {
      tracer.sendFailed(channel, ordinal);
      throw error;
    }
    try {
      if (dropped(result)) tracer.sendFailed(channel, ordinal);
    } catch (error) {
      tracer.recorder.fail(error);
    }
    return result;
  }
}

/** The connection's field a: the channel's field with direction 0 (client → server). */
function connectionField(channel: Channel): number {
  return channel.sendDirection === 0 ? channel.sendField : channel.receiveField;
}
