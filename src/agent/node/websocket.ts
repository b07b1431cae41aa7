/**
 * The global `WebSocket` client in Node 22+ (undici's; Node 20 has none without a flag):
 * messages on ChannelKind.websocket (src/agent/shared/websocket.ts), a channel per instance
 * made at its first send or 'message' listener.
 * - Sends: WebSocket.prototype.send (one that throws, e.g. while connecting, is marked
 *   failed; so is one made while closing or closed, which the runtime discards).
 * - Receives: the program's own 'message' listeners, wrapped as they are added through
 *   addEventListener (defined on WebSocket.prototype, in front of EventTarget's; undici's
 *   `onmessage` setter adds its handler through it too). A message event is recorded once
 *   however many listeners see it, before the first runs. undici dispatches its events as
 *   untrusted ones (isTrusted false), so, unlike Bun, a MessageEvent the program dispatches
 *   itself on the socket is counted too.
 * Listener identity is kept (one wrapper per (socket, listener): removal, duplicates and
 * `once` as untraced). Nothing is hooked at all when the global is missing.
 */
import { WebSocketChannels, WebSocketSide } from "../shared/websocket";
import type { Channel, Tracer } from "./hooks";
import { renamed } from "../shared/reflect";

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

export function hookWebSocketClient(tracer: Tracer): void {
  const WebSocketClass = (globalThis as unknown as { WebSocket?: abstract new (...args: never[]) => object }).WebSocket;
  if (typeof WebSocketClass !== "function") return;
  const proto = WebSocketClass.prototype as Record<string, unknown>;
  const add = proto.addEventListener as AnyFunction;
  const remove = proto.removeEventListener as AnyFunction;
  const send = proto.send as AnyFunction;
  if (typeof add !== "function" || typeof remove !== "function" || typeof send !== "function") return;
  const { recorder } = tracer;
  const channels = new WebSocketChannels(tracer);
  const sockets = new WeakMap<object, Channel>();
  const channelOf = (socket: unknown): Channel | undefined => {
    if (socket === null || typeof socket !== "object" || !(socket instanceof WebSocketClass)) return undefined;
    let channel = sockets.get(socket);
    if (channel === undefined) sockets.set(socket, (channel = channels.connection(WebSocketSide.client)));
    return channel;
  };
  const seen = new WeakSet<object>();
  const wrappers = new WeakMap<object, WeakMap<object, AnyFunction>>();

  const define = (name: string, value: AnyFunction) => Object.defineProperty(proto, name, { value, writable: true, enumerable: true, configurable: true });
  define("send", renamed(send, function (this: unknown, data: unknown) {
    const channel = channelOf(this);
    if (channel === undefined) return Reflect.apply(send, this, arguments);
    const state = (this as { readyState?: unknown }).readyState;
    return channels.send(channel, send, this, arguments, data, () => state === 2 || state === 3);
  }));

  define("addEventListener", renamed(add, function addEventListener(this: unknown, type: unknown, listener: unknown) {
    if (type !== "message" || listener === null || (typeof listener !== "function" && typeof listener !== "object")) return Reflect.apply(add, this, arguments);
    const channel = channelOf(this);
    if (channel === undefined) return Reflect.apply(add, this, arguments);
    let byListener = wrappers.get(this as object);
    if (byListener === undefined) wrappers.set(this as object, (byListener = new WeakMap()));
    let wrapper = byListener.get(listener as object);
    if (wrapper === undefined) {
      wrapper = function (this: unknown, event: unknown) {
        if (event !== null && typeof event === "object" && !seen.has(event)) {
          seen.add(event);
          try {
            channels.receive(channel, (event as { data?: unknown }).data);
          } catch (error) {
            recorder.fail(error);
          }
        }
        if (typeof listener === "function") return Reflect.apply(listener as AnyFunction, this, arguments);
        return Reflect.apply((listener as { handleEvent: AnyFunction }).handleEvent, listener, arguments);
      };
      byListener.set(listener as object, wrapper);
    }
    const args = Array.prototype.slice.call(arguments);
    args[1] = wrapper;
    return Reflect.apply(add, this, args);
  }));

  define("removeEventListener", renamed(remove, function removeEventListener(this: unknown, type: unknown, listener: unknown) {
    const wrapper = type === "message" && this !== null && typeof this === "object" && listener !== null && (typeof listener === "object" || typeof listener === "function") ? wrappers.get(this)?.get(listener as object) : undefined;
    if (wrapper === undefined) return Reflect.apply(remove, this, arguments);
    const args = Array.prototype.slice.call(arguments);
    args[1] = wrapper;
    return Reflect.apply(remove, this, args);
  }));
}
