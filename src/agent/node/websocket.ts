/**
 * The global `WebSocket` client in Node 22+ (undici's; Node 20 has none without a flag):
 * messages on ChannelKind.websocket (src/agent/shared/websocket.ts), a channel per instance
 * made at its first send or message.
 * - Sends: WebSocket.prototype.send (one that throws, e.g. while connecting, is marked
 *   failed; so is one made while closing or closed, which the runtime discards).
 * - Receives: WebSocket.prototype.dispatchEvent (in front of EventTarget's), through which
 *   undici fires each 'message' event: recorded once, before any listener or `onmessage`
 *   runs, whether the program listens or not and whenever it added its listeners; the
 *   program's listeners are its own (nothing wrapped, `onmessage` reads back as set). undici
 *   dispatches its events as untrusted ones (isTrusted false), so, unlike Bun, a MessageEvent
 *   the program dispatches itself on the socket is counted too.
 *
 * - Open and close: its 'open', 'error' and 'close' events through the same dispatchEvent:
 *   channel_open with its URL and protocol, channel_close with the CloseEvent's code,
 *   reason and wasClean, and the message of an 'error' event before it.
 *
 * When: the global is one of Node's lazy properties, and reading it (even its descriptor)
 * loads undici, a large module, which a thread that never uses fetch or WebSocket does not
 * load. So the hook waits for undici: the core's wait for a diagnostics channel being made
 * (channel-made.ts; undici makes `undici:websocket:open` at its top level, whoever loads it:
 * WebSocket, fetch), and hooks on the next microtask, once undici's evaluation is over and
 * before its first connection can open (a handshake is network round trips away). A send
 * before that microtask (while connecting: the runtime throws) is not recorded.
 */
import { websocketChannels, WebSocketSide } from "../shared/websocket";
import type { Channel, Tracer } from "./hooks";
import { renamed } from "../shared/reflect";
import { builtinLoaded, diagnosticsChannel } from "./builtins";
import { whenChannelMade } from "./channel-made";

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** Hooks the WebSocket client once undici is loaded in this thread (at once if it is). */
export function hookWebSocketClientWhenLoaded(tracer: Tracer): void {
  if (builtinLoaded("internal/deps/undici/undici")) return hookWebSocketClient(tracer);
  const hook = () => queueMicrotask(() => tracer.recorder.safe(() => hookWebSocketClient(tracer)));
  whenChannelMade(diagnosticsChannel(), ["undici:websocket:open"], hook);
}

function hookWebSocketClient(tracer: Tracer): void {
  const WebSocketClass = (globalThis as unknown as { WebSocket?: abstract new (...args: never[]) => object }).WebSocket;
  if (typeof WebSocketClass !== "function") return;
  const proto = WebSocketClass.prototype as Record<string, unknown>;
  const dispatch = proto.dispatchEvent as AnyFunction;
  const send = proto.send as AnyFunction;
  if (typeof dispatch !== "function" || typeof send !== "function") return;
  const { recorder } = tracer;
  const channels = websocketChannels(tracer);
  const sockets = new WeakMap<object, Channel>();
  /** The message of the 'error' event a socket had, until its 'close'. */
  const errors = new WeakMap<object, string>();
  const channelOf = (socket: unknown): Channel | undefined => {
    if (socket === null || typeof socket !== "object" || !(socket instanceof WebSocketClass)) return undefined;
    let channel = sockets.get(socket);
    if (channel === undefined) sockets.set(socket, (channel = channels.connection(WebSocketSide.client)));
    return channel;
  };

  const define = (name: string, value: AnyFunction) => Object.defineProperty(proto, name, { value, writable: true, enumerable: true, configurable: true });
  // undici's send called from here itself (not through channels.send): an error it throws
  // (while connecting) has one frame of scope's, this wrapper's, named as the method.
  define("send", renamed(send, function (this: unknown, data: unknown) {
    const channel = channelOf(this);
    if (channel === undefined) return Reflect.apply(send, this, arguments);
    const state = (this as { readyState?: unknown }).readyState;
    const ordinal = tracer.send(channel, data);
    let result: unknown;
    try {
      result = Reflect.apply(send, this, arguments);
    } catch (error) {
      tracer.sendFailed(channel, ordinal);
      throw error;
    }
    // A send while closing or closed: discarded by the runtime.
    if (state === 2 || state === 3) tracer.sendFailed(channel, ordinal);
    return result;
  }));
  const lifecycle = (socket: unknown, event: Record<string, unknown>, type: unknown) => {
    const channel = channelOf(socket);
    if (channel === undefined) return;
    const self = socket as object;
    if (type === "open") {
      const { url, protocol } = socket as { url?: unknown; protocol?: unknown };
      channels.opened(channel, url, protocol);
    } else if (type === "error") {
      const error = event.error as { message?: unknown } | undefined;
      // undici's ErrorEvent: its message, else its error's; both can be empty (a refused connect:
      // the close then says only that an error came before it, flags bit 0).
      const message = typeof event.message === "string" && event.message !== "" ? event.message : typeof error?.message === "string" ? error.message : "";
      errors.set(self, message);
    } else {
      channels.closed(channel, event.code, event.reason, errors.get(self), typeof event.wasClean === "boolean" ? event.wasClean : undefined);
      errors.delete(self);
    }
  };
  define("dispatchEvent", renamed(dispatch, function dispatchEvent(this: unknown, event: unknown) {
    if (event !== null && typeof event === "object") {
      const type = (event as { type?: unknown }).type;
      if (type === "message") {
        try {
          const channel = channelOf(this);
          if (channel !== undefined) channels.receive(channel, (event as { data?: unknown }).data);
        } catch (error) {
          recorder.fail(error);
        }
      } else if (type === "open" || type === "close" || type === "error") {
        recorder.safe(() => lifecycle(this, event as Record<string, unknown>, type));
      }
    }
    return Reflect.apply(dispatch, this, arguments);
  }));
}
