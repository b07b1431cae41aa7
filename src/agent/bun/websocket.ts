/**
 * WebSocket messages in Bun (channels: src/agent/shared/websocket.ts).
 * - Bun.serve's `websocket` handlers (wrapped by http.ts's Bun.serve/reload wrapper): a
 *   connection's channel is made at its `open` (an `open` is added when the program has
 *   none: Bun calls it the same way, the program sees nothing of it); each `message` is
 *   recorded as a receive before the program's handler runs. The connection's class
 *   (ServerWebSocket) is reached from the first connection: its send/sendText/sendBinary are
 *   sends on the connection's channel (a result of 0, "dropped", marks the send failed; -1,
 *   backpressure, is a send), publish/publishText/publishBinary and the server's publish
 *   sends on the topic's channel (its subscribers' receives are at their clients).
 * - The `WebSocket` client (global): send on the instance's channel (made at its first send
 *   or 'message' listener), and its 'message' events through the program's own listeners
 *   (addEventListener on EventTarget.prototype and the `onmessage` accessor, wrapped by
 *   messages.ts as for workers: trusted events only, once per event).
 * Handlers and methods keep their `this`, arguments, results and errors.
 */
import type { Recorder } from "../shared/recorder";
import { websocketChannels, type WebSocketChannels, WebSocketSide } from "../shared/websocket";
import type { Channel, Tracer } from "../node/hooks";
import { renamed } from "../shared/reflect";
import type { WorkerMessages } from "./messages";
import { hookWsClass } from "../node/ws-package";

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const SEND_NAMES = ["send", "sendText", "sendBinary"];
const PUBLISH_NAMES = ["publish", "publishText", "publishBinary"];

/** Bun.serve's `websocket` option: connections, their messages and sends. */
export class ServerSockets {
  private readonly connections = new WeakMap<object, Channel>();
  private readonly hooked = new WeakSet<object>();
  private readonly channels: WebSocketChannels;
  private readonly recorder: Recorder;

  constructor(tracer: Tracer) {
    this.channels = websocketChannels(tracer);
    this.recorder = tracer.recorder;
  }

  /** The program's `websocket` object seen through one whose open and message record (its other properties, own or inherited, read through). */
  wrap(websocket: unknown): unknown {
    if (websocket === null || typeof websocket !== "object") return websocket;
    const handlers = websocket as { open?: unknown; message?: unknown; close?: unknown };
    const open = handlers.open;
    const message = handlers.message;
    const close = handlers.close;
    const optional = (handler: unknown) => handler === undefined || handler === null || typeof handler === "function";
    if (typeof message !== "function" || !optional(open) || !optional(close)) return websocket;
    const sockets = this;
    const wrapped = Object.create(websocket) as Record<string, unknown>;
    wrapped.open = renamed(typeof open === "function" ? (open as AnyFunction) : function open() {}, function (this: unknown, ws: unknown) {
      sockets.recorder.safe(() => sockets.opened(ws));
      if (typeof open === "function") return Reflect.apply(open as AnyFunction, this, arguments);
    });
    // close(ws, code, reason): the connection's channel_close (a `close` added when the program has none, as `open`).
    wrapped.close = renamed(typeof close === "function" ? (close as AnyFunction) : function close() {}, function (this: unknown, ws: unknown, code: unknown, reason: unknown) {
      sockets.recorder.safe(() => sockets.closed(ws, code, reason));
      if (typeof close === "function") return Reflect.apply(close as AnyFunction, this, arguments);
    });
    wrapped.message = renamed(message as AnyFunction, function (this: unknown, ws: unknown, data: unknown) {
      const channel = ws !== null && typeof ws === "object" ? sockets.connections.get(ws) : undefined;
      if (channel !== undefined) {
        try {
          sockets.channels.receive(channel, data);
        } catch (error) {
          sockets.recorder.fail(error);
        }
      }
      return Reflect.apply(message as AnyFunction, this, arguments);
    });
    return wrapped;
  }

  /** A server: its publish (on its class, once). */
  server(server: unknown): void {
    if (server === null || typeof server !== "object") return;
    const proto = Object.getPrototypeOf(server) as object | null;
    if (proto !== null && !this.hooked.has(proto)) {
      this.hooked.add(proto);
      this.hookPublish(proto, "publish");
    }
  }

  private opened(ws: unknown): void {
    if (ws === null || typeof ws !== "object") return;
    const proto = Object.getPrototypeOf(ws) as object | null;
    if (proto !== null && !this.hooked.has(proto)) {
      this.hooked.add(proto);
      for (const name of SEND_NAMES) this.hookSend(proto, name);
      for (const name of PUBLISH_NAMES) this.hookPublish(proto, name);
    }
    if (this.connections.has(ws)) return;
    const channel = this.channels.connection(WebSocketSide.server);
    this.connections.set(ws, channel);
    const address = (ws as { remoteAddress?: unknown }).remoteAddress;
    this.channels.opened(channel, typeof address === "string" && address !== "" ? address : undefined, undefined);
  }

  private closed(ws: unknown, code: unknown, reason: unknown): void {
    const channel = ws !== null && typeof ws === "object" ? this.connections.get(ws) : undefined;
    if (channel !== undefined) this.channels.closed(channel, code, reason, undefined);
  }

  private hookSend(proto: object, name: string): void {
    const original = (proto as Record<string, unknown>)[name];
    if (typeof original !== "function") return;
    const sockets = this;
    const dropped = (result: unknown) => result === 0;
    replace(proto, name, renamed(original, function (this: unknown, data: unknown) {
      const channel = this !== null && typeof this === "object" ? sockets.connections.get(this) : undefined;
      if (channel === undefined) return Reflect.apply(original as AnyFunction, this, arguments);
      return sockets.channels.send(channel, original as AnyFunction, this, arguments, data, dropped);
    }));
  }

  private hookPublish(proto: object, name: string): void {
    const original = (proto as Record<string, unknown>)[name];
    if (typeof original !== "function") return;
    const sockets = this;
    const never = () => false;
    replace(proto, name, renamed(original, function (this: unknown, topic: unknown, data: unknown) {
      if (typeof topic !== "string") return Reflect.apply(original as AnyFunction, this, arguments);
      return sockets.channels.send(sockets.channels.topic(topic), original as AnyFunction, this, arguments, data, never);
    }));
  }
}

/** Replaces a method, its attributes kept (Bun's ServerWebSocket and Server methods are writable, not configurable: assigned). */
function replace(owner: object, name: string, value: AnyFunction): void {
  const descriptor = Object.getOwnPropertyDescriptor(owner, name);
  if (descriptor?.configurable === false) {
    if (descriptor.writable !== true) throw new Error(`${name} is read-only`);
    (owner as Record<string, unknown>)[name] = value;
    return;
  }
  Object.defineProperty(owner, name, { value, writable: descriptor?.writable ?? true, enumerable: descriptor?.enumerable ?? false, configurable: true });
}

/**
 * The global `WebSocket` client: its instances get a channel when first used (a send, a
 * 'message' listener, onmessage), kept in `messages.channels` so that messages.ts's listener
 * wrapping records their deliveries (as receives with a preview: WorkerMessages.received).
 */
export function hookWebSocketClient(tracer: Tracer, messages: WorkerMessages): void {
  const WebSocketClass = (globalThis as unknown as { WebSocket?: abstract new (...args: never[]) => object }).WebSocket;
  if (typeof WebSocketClass !== "function") return;
  const channels = websocketChannels(tracer);
  messages.websocket = channels;
  const channelOf = (target: object): Channel | undefined => {
    let channel = messages.channels.get(target);
    if (channel === undefined && target instanceof WebSocketClass) {
      channel = channels.connection(WebSocketSide.client);
      messages.channels.set(target, channel);
      const made = channel;
      tracer.recorder.safe(() => watchClient(channels, target, made));
    }
    return channel;
  };
  messages.lazyChannel = channelOf;
  const proto = WebSocketClass.prototype as object;
  messages.hookHandlerAccessor(proto);
  const send = (proto as Record<string, unknown>).send;
  if (typeof send !== "function") return;
  replace(proto, "send", renamed(send, function (this: unknown, data: unknown) {
    const channel = this !== null && typeof this === "object" ? channelOf(this) : undefined;
    if (channel === undefined) return Reflect.apply(send as AnyFunction, this, arguments);
    // A send while closing or closed is discarded by the runtime: marked failed.
    const state = (this as { readyState?: unknown }).readyState;
    return channels.send(channel, send as AnyFunction, this, arguments, data, () => state === 2 || state === 3);
  }));
}

/**
 * A client's open and close, from its channel's making (its first send or 'message'
 * listener): listeners of the agent's own for 'open' (while still connecting; a client first
 * used once open has its channel_open stamped then), 'error' and 'close' (code, reason,
 * wasClean), added with EventTarget's addEventListener: Bun dispatches its events natively,
 * past any JavaScript method. The program's listeners and handlers are untouched.
 */
function watchClient(channels: WebSocketChannels, socket: object, channel: Channel): void {
  const add = EventTarget.prototype.addEventListener;
  const client = socket as { readyState?: unknown; url?: unknown; protocol?: unknown };
  const recorder = channels.recorder;
  const opened = () => recorder.safe(() => channels.opened(channel, client.url, client.protocol));
  if (client.readyState === 1) opened();
  else if (client.readyState === 0) Reflect.apply(add, socket, ["open", opened, { once: true }]);
  let error: string | undefined;
  Reflect.apply(add, socket, ["error", (event: { message?: unknown }) => (error = typeof event?.message === "string" ? event.message : ""), { once: true }]);
  const closed = (event: { code?: unknown; reason?: unknown; wasClean?: unknown }) => recorder.safe(() => channels.closed(channel, event.code, event.reason, error, typeof event.wasClean === "boolean" ? event.wasClean : undefined));
  Reflect.apply(add, socket, ["close", closed, { once: true }]);
}

/**
 * Bun's own `ws` module (what `ws` resolves to in Bun: a port of the package onto Bun's
 * native sockets, with ws's WebSocket class, methods and events): hooked as Node's ws is
 * (src/agent/node/ws-package.ts) when the program requires "ws" (Module.prototype.require,
 * so also createRequire's require). Loading it costs milliseconds, so the agent never loads
 * it itself, and Bun's `import` of a builtin passes no hook: a program that only imports ws
 * as an ES module is not recorded (as node:http, http.ts).
 */
export function hookWsPackageWhenRequired(tracer: Tracer): void {
  const Module = require("node:module") as { prototype: { require: (this: unknown, id: string) => unknown } };
  const original = Module.prototype.require;
  if (typeof original !== "function") return;
  const hooked = new WeakSet<object>();
  let done = false;
  Module.prototype.require = renamed(original as AnyFunction, function (this: unknown, id: unknown) {
    // Any other module: the original in tail position (tailCall in shared/patches.ts).
    if (done || (id !== "ws" && id !== "ws/index.js")) return Reflect.apply(original, this, arguments);
    const exports = Reflect.apply(original, this, arguments);
    done = true;
    tracer.recorder.safe(() => hookWsClass(tracer, (exports as { WebSocket?: unknown } | null)?.WebSocket ?? exports, hooked));
    return exports;
  }) as (this: unknown, id: string) => unknown;
}
