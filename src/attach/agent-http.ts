/**
 * HTTP and child processes in a process scope attached to: only what the runtime publishes
 * on diagnostics channels, so every hook is a subscription that `remove()` takes back and
 * nothing of the program is patched (src/agent/node/http.ts patches prototypes lazily,
 * which cannot be undone safely while the program runs on).
 *
 * Recorded: node:http(s) server requests (start, end when the response finished) and
 * client requests (start, end at the response head), with the records of src/agent/shared/
 * http.ts; spawned children (process_spawn, child_exit). Not recorded (no channel in Node
 * 20): body sizes (flagged unknown), a server response that never finished (its request
 * stays open), client errors and aborts, fetch, HTTP/2, messages. A server request is the
 * request context of what its handler does (request-context.ts), as under scope run. A request that began
 * before the attach has no start in the trace and its end is not recorded.
 */
import type * as Http from "node:http";
import type * as Net from "node:net";
import { HttpClient, HttpEnd, HttpEndFlag, Kind, SpawnMethod } from "../agent/shared/kinds";
import { clientRequestStart, newConnection, protocolFlags, rawHeader, requestEnd, serverRequestStart, type Connection, type RequestState } from "../agent/shared/http";
import type { Recorder } from "../agent/shared/recorder";
import { enterRequest } from "../agent/shared/request-context";

type Channels = typeof import("node:diagnostics_channel");
type Subscriber = (message: unknown, name: string | symbol) => void;

const SIZES_UNKNOWN = HttpEndFlag.requestSizeUnknown | HttpEndFlag.responseSizeUnknown;
const U64_NONE = -1;

export interface Hooks {
  remove(): void;
}

/** The channels subscribed, all to one function (onPublish). */
const CHANNELS = ["http.server.request.start", "http.server.response.finish", "http.client.request.start", "http.client.response.finish", "child_process"];

export function hookHttpChannels(recorder: Recorder, channels: Channels): Hooks {
  // WeakMaps (not stamps on the runtime's objects): after the detach nothing of scope's stays on them.
  const servers = new WeakMap<object, RequestState>();
  const clients = new WeakMap<object, RequestState>();
  const connections = new WeakMap<object, Connection>();
  const children = new Set<ChildHook>();

  // One subscriber for every channel, dispatching by the channel's name, with the handlers
  // written in it: too large for V8 to inline into Node's publish(). An inlined subscriber
  // stays in publish's optimized code (its deoptimization data) after the unsubscribe,
  // and with it this bundle's whole script (its ~0.8 MB source): measured, BENCHMARKS.md
  // "Memory an attach leaves behind". Not inlined, everything of it goes with the detach.
  const onPublish: Subscriber = function onPublish(data: unknown, name: string | symbol): void {
    try {
      switch (name) {
        case "http.server.request.start": {
          const { request, socket } = data as { request: Http.IncomingMessage; socket: Net.Socket };
          const tls = (socket as { encrypted?: boolean }).encrypted === true;
          let connection = connections.get(socket);
          if (!connection) {
            connection = newConnection(recorder, { localAddress: socket.localAddress, localPort: socket.localPort, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort }, tls, false);
            connections.set(socket, connection);
          }
          const flags = protocolFlags(request.httpVersionMajor, request.httpVersionMinor, tls);
          const state = serverRequestStart(recorder, request.method, request.url, connection, flags, rawHeader(request.rawHeaders, "traceparent"));
          servers.set(request, state);
          // Published inside the runtime's call that emits 'request' (as under scope run): the
          // request becomes the context of the program's handler and of what it starts, so
          // framework steps, queries and client requests name it (released at the detach).
          enterRequest(state.id);
          return;
        }
        case "http.server.response.finish": {
          const message = data as { request: Http.IncomingMessage; response: Http.ServerResponse };
          const state = servers.get(message.request);
          if (!state) return; // began before the attach
          servers.delete(message.request);
          state.status = message.response.statusCode;
          requestEnd(recorder, Kind.http_server_response, state, HttpEnd.finished, SIZES_UNKNOWN);
          return;
        }
        case "http.client.request.start": {
          const request = (data as { request: Http.ClientRequest }).request;
          // The Host header has the port (as scope run's agent writes it); request.host has not.
          const host = request.getHeader("host");
          const url = `${request.protocol}//${typeof host === "string" ? host : request.host}${request.path}`;
          const api = request.protocol === "https:" ? HttpClient.https : HttpClient.http;
          clients.set(request, clientRequestStart(recorder, request.method, url, api, undefined));
          return;
        }
        case "http.client.response.finish": {
          const message = data as { request: Http.ClientRequest; response: Http.IncomingMessage };
          const state = clients.get(message.request);
          if (!state) return;
          clients.delete(message.request);
          state.status = message.response.statusCode ?? 0;
          requestEnd(recorder, Kind.http_client_response, state, HttpEnd.finished, SIZES_UNKNOWN);
          return;
        }
        case "child_process": {
          // Published in the ChildProcess constructor, before its spawn(): the pid is there one microtask later.
          const child = (data as { process: ChildProcessLike }).process;
          queueMicrotask(() =>
            recorder.safe(() => {
              const hook = new ChildHook(recorder, child, children);
              if (hook.listening) children.add(hook);
            }),
          );
          return;
        }
      }
    } catch (error) {
      recorder.fail(error);
    }
  };
  for (const name of CHANNELS) channels.subscribe(name, onPublish);
  return {
    remove() {
      for (const name of CHANNELS) channels.unsubscribe(name, onPublish);
      for (const child of children) child.remove();
      children.clear();
    },
  };
}

interface ChildProcessLike {
  pid?: number;
  spawnargs?: string[];
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  removeListener(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** A child spawned while attached: its spawn now, its exit by a listener the detach removes. */
class ChildHook {
  readonly listening: boolean;
  private readonly onExit: (code: unknown, signal: unknown) => void;

  constructor(
    recorder: Recorder,
    private readonly child: ChildProcessLike,
    owners: Set<ChildHook>,
  ) {
    const pid = child.pid ?? 0;
    const command = Array.isArray(child.spawnargs) ? child.spawnargs.join(" ") : "";
    recorder.event(Kind.process_spawn, pid, recorder.str(command), SpawnMethod.spawn);
    this.onExit = (code, signal) => {
      owners.delete(this);
      const signalNumber = typeof signal === "string" ? ((require("node:os").constants.signals as Record<string, number>)[signal] ?? 0) : 0;
      recorder.event(Kind.child_exit, pid, typeof code === "number" ? code : U64_NONE, signalNumber);
    };
    this.listening = pid !== 0;
    if (this.listening) child.once("exit", this.onExit as (...args: unknown[]) => void);
  }

  remove(): void {
    this.child.removeListener("exit", this.onExit as (...args: unknown[]) => void);
  }
}
