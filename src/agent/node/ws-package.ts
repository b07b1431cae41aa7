/**
 * Node's `ws` package (8.x: its WebSocket class, the client's and a WebSocketServer's
 * connections alike): messages on ChannelKind.websocket and each connection's open and close
 * (src/agent/shared/websocket.ts, the thread's one WebSocketChannels). In the agent's second
 * chunk: the core hands over `ws/lib/websocket.js`'s exports once the file ran, when the
 * program loads it (lazy.ts, triggers.ts wsFile), by require or import (ws's ES wrapper
 * requires it), nothing at a thread's start.
 *
 * On WebSocket.prototype (the class is the file's `module.exports`; a server makes its
 * connections with it, or with the program's subclass of it):
 * - `send` (its own): a send on the connection's channel, server → client at a server's
 *   connection (`_isServer`), client → server at a client. One that throws (while
 *   connecting) or is made while closing or closed (ws discards it and calls the callback
 *   with an error) is marked failed. Arguments, `this`, result and errors are the program's.
 * - `emit` (an own one in front of EventEmitter's, which it calls, read at each call):
 *   ws emits each message once as 'message' (data, isBinary), whatever the program listens
 *   with (on, once, onmessage and addEventListener are listeners of that emit), so a receive
 *   is recorded once before any listener runs, listened to or not. A text message
 *   (isBinary false, data a Buffer or ArrayBuffer) is previewed as its text (decoded for the
 *   preview only; the program gets its data untouched), a binary one as its data. 'open',
 *   'error' and 'close' (code, reason) are the connection's channel_open and channel_close.
 *   An emit the program makes itself on a socket is counted the same way.
 *
 * engine.io's WebSocket transport (engine.io/build/transports/websocket.js, socket.io's server):
 * a broadcast (`io.emit`, `io.to(room).emit`) is framed once by socket.io-adapter and written
 * to each recipient's connection with ws's internal `socket._sender.sendFrame`, not `send`; the
 * transport's `send(packets)` is wrapped, and each packet it will write so (its own test,
 * `_canSendPreEncodedFrame`) is a send on that ws connection's channel, previewed as the frame's
 * payload (a text frame's text, decoded once per frame for all its recipients).
 */
import type { Channel, Tracer } from "./hooks";
import { websocketChannels, WebSocketSide, type WebSocketChannels } from "../shared/websocket";
import { renamed } from "../shared/reflect";

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** A text message up to this many bytes is decoded whole for its preview (its size then exact from the text); above, its start only. */
const WHOLE_TEXT_BYTES = 1024;

interface WsSocket {
  _isServer?: unknown;
  _url?: unknown;
  _protocol?: unknown;
  _socket?: { remoteAddress?: unknown; remotePort?: unknown } | null;
  readyState?: unknown;
}

/**
 * Hooks a WebSocket class of ws's shape once (its prototype's own `send`, `emit` inherited):
 * Node's ws (wsPackageFiles) and Bun's own `ws` module, a port of it with the same methods,
 * events and fields (src/agent/bun/websocket.ts, at the program's require of "ws").
 */
export function hookWsClass(tracer: Tracer, WebSocketClass: unknown, hooked: WeakSet<object>): void {
  if (typeof WebSocketClass !== "function") return;
  const proto = (WebSocketClass as { prototype?: unknown }).prototype;
  if (proto === null || typeof proto !== "object" || hooked.has(proto)) return;
  hooked.add(proto);
  hookWsWebSocket(tracer, proto as Record<string, unknown>);
}

/** The chunk's hand-over (lazy.ts): hooks ws's WebSocket class when its file has run. */
export function wsPackageFiles(tracer: Tracer): (filename: string, exports: unknown) => void {
  const hooked = new WeakSet<object>();
  return (filename, exports) => {
    if (!filename.endsWith("websocket.js")) return;
    // (Not by "engine.io" alone: engine.io-client's own copy of ws is under node_modules/engine.io-client.)
    if (/[\\/]engine\.io[\\/]build[\\/]transports[\\/]websocket\.js$/.test(filename)) hookEngineIoTransport(tracer, (exports as { WebSocket?: unknown } | null)?.WebSocket, hooked);
    else hookWsClass(tracer, exports, hooked);
  };
}

/** A hooked ws WebSocket class's prototype → its connections' channels (what engine.io's transport writes to). */
const channelsOf = new WeakMap<object, (socket: object) => Channel>();

/** The channel of a ws connection (found by its prototype chain: ws's class or the program's subclass of it), else undefined. */
function wsChannelOf(socket: unknown): Channel | undefined {
  if (socket === null || typeof socket !== "object") return undefined;
  for (let proto = Object.getPrototypeOf(socket) as object | null, depth = 0; proto !== null && depth < 4; proto = Object.getPrototypeOf(proto) as object | null, depth++) {
    const channelOf = channelsOf.get(proto);
    if (channelOf !== undefined) return channelOf(socket);
  }
  return undefined;
}

interface EngineIoPacket {
  options?: { wsPreEncodedFrame?: unknown } | null;
}

function hookEngineIoTransport(tracer: Tracer, TransportClass: unknown, hooked: WeakSet<object>): void {
  const proto = typeof TransportClass === "function" ? ((TransportClass as { prototype?: unknown }).prototype as Record<string, unknown> | undefined) : undefined;
  if (proto === undefined || proto === null || typeof proto !== "object" || hooked.has(proto)) return;
  const send = proto.send;
  if (typeof send !== "function" || typeof proto._canSendPreEncodedFrame !== "function") return;
  hooked.add(proto);
  const { recorder } = tracer;
  const text = textPreview();
  // The last frame decoded and its text: a broadcast writes one frame to each recipient in turn.
  let lastFrame: unknown;
  let lastValue: unknown;
  const valueOf = (frame: unknown): unknown => {
    if (frame === lastFrame) return lastValue;
    // ws's Sender.frame: [header, payload] (a server's frames are not masked); opcode 1: text.
    let value: unknown = frame;
    if (Array.isArray(frame) && frame.length === 2) {
      const header = frame[0] as Uint8Array;
      const payload = frame[1];
      value = payload;
      if (header instanceof Uint8Array && (header[0]! & 0x0f) === 1) value = text(payload, Number.MAX_SAFE_INTEGER)?.text ?? payload;
    }
    lastFrame = frame;
    lastValue = value;
    return value;
  };
  const preEncoded = (transport: Record<string, unknown>, packets: unknown[]) => {
    const canSend = transport._canSendPreEncodedFrame as (packet: unknown) => unknown;
    let channel: Channel | undefined;
    for (const packet of packets) {
      const frame = (packet as EngineIoPacket | null)?.options?.wsPreEncodedFrame;
      if (frame === undefined || Reflect.apply(canSend, transport, [packet]) !== true) continue;
      channel ??= wsChannelOf(transport.socket);
      if (channel === undefined) return;
      tracer.send(channel, valueOf(frame));
    }
  };
  const sendHook = renamed(send as AnyFunction, function (this: unknown, packets: unknown) {
    if (this !== null && typeof this === "object" && Array.isArray(packets) && recorder.groups.message === true) recorder.safe(() => preEncoded(this as Record<string, unknown>, packets));
    return Reflect.apply(send as AnyFunction, this, arguments);
  });
  Object.defineProperty(proto, "send", { ...Object.getOwnPropertyDescriptor(proto, "send"), value: sendHook });
}

function hookWsWebSocket(tracer: Tracer, proto: Record<string, unknown>): void {
  const send = proto.send;
  const parent = Object.getPrototypeOf(proto) as Record<string, unknown> | null;
  if (typeof send !== "function" || !Object.hasOwn(proto, "send") || Object.hasOwn(proto, "emit") || parent === null || typeof parent.emit !== "function") return;
  const { recorder } = tracer;
  const channels = websocketChannels(tracer);
  const sockets = new WeakMap<object, Channel>();
  /** The message of the 'error' a socket emitted, until its 'close'. */
  const errors = new WeakMap<object, string>();
  const channelOf = (socket: object): Channel => {
    let channel = sockets.get(socket);
    if (channel === undefined) sockets.set(socket, (channel = channels.connection((socket as WsSocket)._isServer === true ? WebSocketSide.server : WebSocketSide.client)));
    return channel;
  };
  const text = textPreview();
  channelsOf.set(proto, channelOf);

  // ws's send called from here itself (not through channels.send), so an error it throws has
  // one frame of scope's in its stack, this wrapper's, named as the method.
  const sendHook = renamed(send as AnyFunction, function (this: unknown, data: unknown) {
    if (this === null || typeof this !== "object") return Reflect.apply(send as AnyFunction, this, arguments);
    const channel = channelOf(this);
    const state = (this as WsSocket).readyState;
    const ordinal = tracer.send(channel, data);
    let result: unknown;
    try {
      result = Reflect.apply(send as AnyFunction, this, arguments);
    } catch (error) {
      // CONNECTING: ws throws.
      tracer.sendFailed(channel, ordinal);
      throw error;
    }
    // CLOSING or CLOSED: ws discards it (its callback gets an error).
    if (state !== 1) tracer.sendFailed(channel, ordinal);
    return result;
  });
  const emit = renamed(parent.emit as AnyFunction, function emit(this: unknown, type: unknown, data: unknown, isBinary: unknown) {
    if (this !== null && typeof this === "object") {
      if (type === "message") {
        try {
          received(channels, channelOf(this), data, isBinary, text);
        } catch (error) {
          recorder.fail(error);
        }
      } else if (type === "open" || type === "close" || type === "error") {
        const socket = this;
        recorder.safe(() => lifecycle(channels, channelOf(socket), socket as WsSocket, errors, type, data, isBinary, text));
      }
    }
    return Reflect.apply(parent.emit as AnyFunction, this, arguments);
  });
  Object.defineProperty(proto, "send", { ...Object.getOwnPropertyDescriptor(proto, "send"), value: sendHook });
  Object.defineProperty(proto, "emit", { value: emit, writable: true, enumerable: false, configurable: true });
}

type TextOf = (data: unknown, limit: number) => { text: string; bytes: number } | undefined;

/** A text message's receive: its text as the preview; a binary one's data as it is. */
function received(channels: WebSocketChannels, channel: Channel, data: unknown, isBinary: unknown, text: TextOf): void {
  // Binary, or recording stopped (the receive then only counts: nothing to decode).
  if (isBinary !== false || channels.recorder.stopped) return channels.receive(channel, data);
  const decoded = text(data, WHOLE_TEXT_BYTES);
  if (decoded === undefined) return channels.receive(channel, data);
  if (decoded.bytes <= WHOLE_TEXT_BYTES) return channels.receive(channel, decoded.text);
  // A long text: its start decoded, its size the whole message's (as a sent string's: bytes + 2 quotes).
  channels.receivePreview(channel, decoded.text, decoded.bytes + 2);
}

function lifecycle(channels: WebSocketChannels, channel: Channel, socket: WsSocket, errors: WeakMap<object, string>, type: "open" | "close" | "error", data: unknown, reason: unknown, text: TextOf): void {
  if (type === "open") {
    const peer = socket._socket;
    const where = socket._isServer === true ? (peer && typeof peer.remoteAddress === "string" ? `${peer.remoteAddress}:${String(peer.remotePort)}` : undefined) : socket._url;
    channels.opened(channel, where, socket._protocol);
  } else if (type === "error") {
    const message = (data as { message?: unknown } | null)?.message;
    errors.set(socket, typeof message === "string" && message !== "" ? message : String(data));
  } else {
    const decoded = text(reason, 256);
    channels.closed(channel, data, decoded?.text, errors.get(socket));
    errors.delete(socket);
  }
}

/** A Buffer's (or ArrayBuffer's) first `limit` bytes as UTF-8 text, with its whole size; undefined for anything else. Node's own functions, read once. */
function textPreview(): TextOf {
  const BufferClass = Buffer;
  const isBuffer = BufferClass.isBuffer;
  const toText = BufferClass.prototype.utf8Slice as ((this: Buffer, start: number, end: number) => string) | undefined;
  const from = BufferClass.from;
  return (data, limit) => {
    let buffer: Buffer;
    if (isBuffer(data)) buffer = data;
    else if (data instanceof ArrayBuffer) buffer = from(data);
    else return undefined;
    const bytes = buffer.length;
    const end = bytes < limit ? bytes : limit;
    const text = toText !== undefined ? Reflect.apply(toText, buffer, [0, end]) : buffer.toString("utf8", 0, end);
    return { text, bytes };
  };
}
