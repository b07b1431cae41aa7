/**
 * The Node agent's second chunk (node-extras.cjs: HTTP, Express/Fastify, pg/postgres/
 * better-sqlite3; src/agent/node/extras.ts), loaded by a thread when it first needs it,
 * not at its start. Every worker thread runs the core at its start, and running the
 * integrations' start there (their module top levels, eleven handler closures, two
 * `Module._extensions` wrappers) and deserialising their code was a third of what a traced
 * worker start added (BENCHMARKS.md, "Worker start: the second chunk").
 *
 * What stays at start, in the core (so nothing is missed):
 * - HTTP: a subscription to each channel a thread's first HTTP message can come on
 *   (HTTP_FIRST_CHANNELS: a server's connection or request, a client's socket or request,
 *   fetch's request), a small function that on the first message loads the chunk, puts
 *   the integration's own handlers on every channel it handles (HTTP_CHANNELS) in the
 *   stubs' place, and hands that message on. The other channels (responses, fetch's
 *   headers, trailers, errors) only follow one of these within the same request. These
 *   stubs are themselves subscribed only when the first module that publishes on one of
 *   those channels gets it (hookHttpChannelsWhenMade): until then, one wrapper.
 * - Frameworks and databases: a test of each file of node_modules the program loads
 *   against the files the integrations hook (src/agent/node/triggers.ts), which hands a
 *   match's exports to them after the file ran (the first match loads the chunk): in Node
 *   without a frame on the file's stack (loaded-files.ts), elsewhere a
 *   `Module._extensions[".js"]` wrapper. It stays the integrations' only hook: a file that
 *   matches can start loading before the chunk is there and end after (pg's client.js
 *   requires query.js while it runs), so it is handed over at its end either way.
 * Loading the chunk for any one of them starts all three (those of the enabled groups).
 *
 * The chunk is compiled as the core is (chunk-load.ts): `vm.Script` with a V8 code cache
 * next to it (`node-extras.cjs.<V8 version>-<arch>.v8cache`), written by the first thread
 * that loads it without an accepted one. A chunk that cannot be read or run is one agent
 * error (counted in trace_stop) and leaves HTTP, frameworks and databases unrecorded in
 * that thread; the program runs the same.
 */
import { defaultLoopSettings, flushLoopMonitor, keepRuntimeTimers, loopSettings, markTurn, startLoopMonitor, useNativeGc } from "../shared/loop";
import { currentRequest, enterRequest, newConnectionId, newRequestId, releaseRequestContext, requestsBegin, runInRequest, tagRequest } from "../shared/request-context";
import { DEFAULT_SECRET_KEYS, REDACTED, redaction, redactionOf, redactPattern, redactText, redactUserinfo } from "../shared/redact";
import { keepFrameName, renamed } from "../shared/reflect";
import { WebSocketChannels, WebSocketSide, websocketChannels } from "../shared/websocket";
import { compileChunk, type Chunk } from "./chunk-load";
import { EXTRAS_FILE, EXTRAS_SHARED_PREFIX } from "./chunks";
import type * as ExtrasModule from "./extras";
import type { Tracer } from "./hooks";
import { builtinLoaded, diagnosticsChannel } from "./builtins";
import { whenChannelMade } from "./channel-made";
import { whenFilesLoaded } from "./loaded-files";
import { hookEsmBuilds } from "./esm-hooks";
import { HTTP_CHANNELS, HTTP_FIRST_CHANNELS, isHookedDirectory, isHookedFile, type HttpChannel } from "./triggers";

type Extras = typeof ExtrasModule;
type Handler = (message: unknown) => void;
type Extension = (module: { exports: unknown }, filename: string) => unknown;
interface ModuleClass {
  _extensions?: Record<string, Extension>;
}

let sharedMade: Record<string, Record<string, unknown>> | undefined;

/**
 * The core's instances of the chunk's shared modules (chunks.ts, EXTRAS_SHARED), by the id
 * the chunk requires: plain objects of their exports (all functions and constants), not
 * `import * as` namespaces, whose bundled form defines an accessor per export at start,
 * ~0.15 M instructions each in every thread (BENCHMARKS.md, "Worker start: the second chunk").
 * spec/agent-extras.test.ts checks that every export is here. Made at a chunk's first
 * `require` of one of them, not at the thread's start: an object
 * literal run in a new worker costs ~6 K instructions a property (its maps are made anew in
 * every isolate), and these 23 were ~0.15 M of every worker's start (BENCHMARKS.md
 * "Thirteenth look").
 */
export function sharedModules(): Record<string, Record<string, unknown>> {
  return (sharedMade ??= {
    [`${EXTRAS_SHARED_PREFIX}src/agent/shared/request-context.ts`]: { currentRequest, enterRequest, newConnectionId, newRequestId, releaseRequestContext, requestsBegin, runInRequest, tagRequest },
    [`${EXTRAS_SHARED_PREFIX}src/agent/shared/loop.ts`]: { defaultLoopSettings, flushLoopMonitor, keepRuntimeTimers, loopSettings, markTurn, startLoopMonitor, useNativeGc },
    [`${EXTRAS_SHARED_PREFIX}src/agent/shared/redact.ts`]: { DEFAULT_SECRET_KEYS, REDACTED, redaction, redactionOf, redactPattern, redactText, redactUserinfo },
    [`${EXTRAS_SHARED_PREFIX}src/agent/shared/websocket.ts`]: { WebSocketChannels, WebSocketSide, websocketChannels },
  });
}

/** A chunk's `require` of a shared module's id (compileChunk's `shared`): the core's instance; undefined for any other id. */
export function sharedModule(id: string): unknown {
  if (!id.startsWith(EXTRAS_SHARED_PREFIX)) return undefined;
  const module = sharedModules()[id];
  if (module === undefined) throw new Error(`the agent's core has no ${id}`);
  return module;
}

/** This thread's integrations once loaded; null: loading failed (not tried again). */
let started: { http: Record<HttpChannel, Handler> | undefined; onFile: OnFile; onEsm: (id: string, bindings: Record<string, unknown>) => void } | null | undefined;
type OnFile = (filename: string, exports: unknown) => void;

/**
 * Installs the core's side: HTTP's subscriptions (group http), the library-file test
 * (groups http and db) and, in the main thread, the hook of packages' ES builds (groups http
 * and db; esm-hooks.ts: postgres.js's `Query`, Hono's routers, @koa/router's Router handed
 * over as they load). `Module`: the CommonJS Module class.
 */
export function startIntegrationsWhenUsed(tracer: Tracer, Module: object, main: boolean): void {
  const { recorder } = tracer;
  const groups = recorder.groups;
  if (groups.http) hookHttpChannelsWhenMade(tracer);
  if (groups.http || groups.db || groups.message) hookLibraryFiles(tracer, Module as ModuleClass);
  if ((groups.db || groups.http) && main) recorder.safe(() => hookEsmBuilds(groups, (id, bindings) => recorder.safe(() => start(tracer)?.onEsm(id, bindings))));
}

type Channels = typeof import("node:diagnostics_channel");

/**
 * HTTP's stubs (hookHttpChannels) from the moment a module that publishes on one of
 * HTTP_FIRST_CHANNELS gets that channel, not at the thread's start: every such module gets
 * it once, at its top level, through `diagnostics_channel.channel(name)` read off the
 * module's exports at the call (node:net, _http_server, _http_client, Node's bundled undici
 * behind `fetch`, npm's undici; Node 20, 22, 24), however the program reached it (require,
 * import, a dependency's require, fetch's lazy load). So until then `channel` is a wrapper
 * (same name and length) that hands back what Node's gives and, at the first of those names,
 * puts Node's back and subscribes the stubs, before the module's first publish. Where one of
 * them is loaded already (node:net, fetch's undici: a main thread can have them before the
 * preload) or Node's loaded-module list is not there, the stubs go on at once, as before.
 * A worker that never uses HTTP never makes the stubs, their Map or the five subscriptions
 * (ARCHITECTURE.md "Worker start: only what the worker uses").
 */
function hookHttpChannelsWhenMade(tracer: Tracer): void {
  const channels = diagnosticsChannel();
  if (builtinLoaded("net", true) || builtinLoaded("internal/deps/undici/undici")) return hookHttpChannels(tracer, channels);
  if (!whenChannelMade(channels, HTTP_FIRST_CHANNELS, () => tracer.recorder.safe(() => hookHttpChannels(tracer, channels)))) hookHttpChannels(tracer, channels);
}

function hookHttpChannels(tracer: Tracer, channels: Channels): void {
  const stubs = new Map<HttpChannel, Handler>();
  for (const name of HTTP_FIRST_CHANNELS) {
    const stub = (message: unknown) => {
      const handlers = start(tracer)?.http;
      if (handlers === undefined || stubs.size === 0) return;
      // The integration's handlers in the stubs' place and on the other channels, so every
      // later message costs what it cost before (Node copies the subscriber list on change:
      // a publish in progress runs the list it started with).
      for (const [first, firstStub] of stubs) channels.unsubscribe(first, firstStub);
      stubs.clear();
      for (const other of HTTP_CHANNELS) channels.subscribe(other, handlers[other]);
      handlers[name](message);
    };
    stubs.set(name, stub);
    channels.subscribe(name, stub);
  }
}

function hookLibraryFiles(tracer: Tracer, Module: ModuleClass): void {
  const { recorder } = tracer;
  const groups = recorder.groups;
  // Groups read at each file: a stopped recorder turns them off.
  const wanted = (filename: string) => started !== null && isHookedFile(filename, groups.http, groups.db, groups.message);
  const handOver = (filename: string, exports: unknown) => recorder.safe(() => start(tracer)?.onFile(filename, exports));
  // Node: no frame of scope's on a module's stack (loaded-files.ts).
  if (whenFilesLoaded(Module, (directory) => started !== null && isHookedDirectory(directory, groups.http, groups.db, groups.message), wanted, handOver)) return;
  // Elsewhere (Bun's node:module): a wrapper of the loader's per-file step, the original in
  // tail position for every file it does not take (shared/patches.ts tailCall), so a frame only
  // under a hooked library's top level (ARCHITECTURE.md "The agent in two chunks").
  const extensions = Module._extensions;
  const original = extensions?.[".js"];
  if (!extensions || typeof original !== "function") return;
  // Untraced (Node 22/24) its frame reads `Object..js`: Module._extensions is a plain object.
  keepFrameName(original, "Object..js");
  const load = renamed(original, function (this: unknown, module: { exports: unknown }, filename: string) {
    if (typeof filename !== "string" || !wanted(filename)) return Reflect.apply(original, this, arguments);
    const result = Reflect.apply(original, this, arguments);
    handOver(filename, module.exports);
    return result;
  });
  extensions[".js"] = load;
}

/** Loads the chunk once and starts its integrations. */
function start(tracer: Tracer): typeof started {
  if (started !== undefined) return started;
  const { recorder } = tracer;
  started = null;
  let chunk: Chunk<Extras>;
  try {
    chunk = compileChunk<Extras>(EXTRAS_FILE, sharedModule);
  } catch (error) {
    recorder.fail(error);
    return started;
  }
  const extras = chunk.exports;
  const groups = recorder.groups;
  let http: Record<HttpChannel, Handler> | undefined;
  let frameworks: ReturnType<Extras["frameworkFiles"]> | undefined;
  let databases: ReturnType<Extras["databaseFileHook"]> | undefined;
  let ws: OnFile | undefined;
  if (groups.http) recorder.safe(() => (http = extras.httpHandlers(tracer)));
  if (groups.http) recorder.safe(() => (frameworks = extras.frameworkFiles(recorder)));
  if (groups.db) recorder.safe(() => (databases = extras.databaseFileHook(recorder, tracer.types)));
  if (groups.message) recorder.safe(() => (ws = extras.wsPackageFiles(tracer)));
  started = {
    http,
    onFile(filename, exports) {
      frameworks?.(filename, exports);
      databases?.onFile(filename, exports);
      ws?.(filename, exports);
    },
    onEsm(id, bindings) {
      if (id === "postgres") databases?.postgres(bindings);
      else frameworks?.esm(id, bindings);
    },
  };
  chunk.saveCache();
  return started;
}
