/**
 * Bun hooks: trace start/stop, the process's own exit (code, uncaught error),
 * Bun.spawn/Bun.spawnSync and node:child_process children, worker threads (spawn,
 * the agent preloaded into them, the parent's view of their end), and messages: worker
 * postMessage both ways, MessageChannel ports (also transferred), BroadcastChannel and
 * IPC both ways (messages.ts), paired like Node's (ARCHITECTURE.md, "Messages").
 * Workers of node:worker_threads: Bun 1.4.5 builds them on a Web Worker it captured
 * before the agent ran (so the global `Worker` proxy never sees them) but passes the
 * program's options through, `preload` included; the agent wraps the module's `Worker`
 * export and adds itself to `preload` the same way (see hookNodeWorkers).
 */
import { ChannelKind, ExitReason, Kind, SpawnMethod } from "../shared/kinds";
import { describe, previewWalk, type TypeChecks } from "../shared/preview";
import type * as FunctionsAgent from "../../instrument/agent";
import type { FunctionRuntime } from "../../instrument/runtime";
import { Recorder } from "../shared/recorder";
import { currentRequest, requestsBegin, tagRequest } from "../shared/request-context";
import { disabledByFile, recordingEnded } from "../shared/disable";
import { parseGroups } from "../shared/sink";
import { startBunAsyncTracking } from "./async";
import { hookBunHttp } from "./http";
import { hookWebSocketClient, hookWsPackageWhenRequired } from "./websocket";
import { openSink } from "./sink";
import { envWithScope, lacksNodeOptions, setAgentDirectory } from "../shared/child-env";
import { envFileNodeOptions, isNodeCommand } from "../shared/env-file";
import { childProcessCall, hookChildProcesses, isInternalMessage, makeTracer, newChannel, wrapSend, type Channel, type Tracer } from "../node/hooks";
import { bunPostgres, startBunDatabaseTracing } from "./db";
import { databaseFiles } from "../node/db/loader";
import { esmBuildSuffix, hookBunEsmBuilds } from "./esm-plugin";
import type { DbRecorder } from "../shared/db";
import { frameworkFiles } from "../node/frameworks";
import { isHookedFile } from "../node/triggers";
import { hookBunLibraryFiles } from "./library-files";
import { flushLoopMonitor, keepRuntimeTimers, loopSettings, startLoopMonitor } from "../shared/loop";
import { hookBunOwnIpc, hookNodeWorkerParentSide, hookPorts, hookWorkerGlobalListeners, hookWorkerParentSide, hookWorkerSide, WorkerMessages, workerChannel } from "./messages";

const attachedKey = Symbol.for("scope.agent.attached");

export function install(): void {
  const host = globalThis as Record<symbol, unknown>;
  if (host[attachedKey]) return;
  host[attachedKey] = true;
  if (disabledByFile(process.env)) return;
  // Inside a worker, before node:worker_threads is first loaded: its parentPort binds
  // the global's listener methods when created (see messages.ts).
  const groups = parseGroups(process.env.SCOPE_EVENTS);
  const messages = new WorkerMessages();
  let globalListeners: ReturnType<typeof hookWorkerGlobalListeners>;
  if (!Bun.isMainThread && groups.message && process.env.SCOPE_RING) {
    try {
      globalListeners = hookWorkerGlobalListeners(messages);
    } catch {
      globalListeners = undefined;
    }
  }
  const threads = require("node:worker_threads") as typeof import("node:worker_threads");
  const main = threads.isMainThread;
  const tid = main ? 0 : threads.threadId;
  let recorder: Recorder;
  let functionsError: unknown;
  try {
    const sink = openSink(process.env, tid);
    // Function tracing through the Bun plugin; this sink has no recordBatch, so each event
    // is written at once, and orderedSink() keeps the agent's own events in order anyway.
    let runtime: FunctionRuntime | undefined;
    if (process.env.SCOPE_FUNCTIONS) {
      try {
        // Its own bundle (parser, transform): only processes traced with --functions load it.
        const agentPath = process.env.SCOPE_FUNCTIONS_AGENT;
        if (!agentPath) throw new Error("SCOPE_FUNCTIONS is set without SCOPE_FUNCTIONS_AGENT");
        const functions = require(agentPath) as typeof FunctionsAgent;
        runtime = functions.startFunctionTracing({
          sink,
          str: (text, intern) => recorder?.str(text, intern) ?? 0,
          stringId: () => recorder?.reserveId() ?? 0,
          types: require("node:util").types as TypeChecks,
          runtime: "bun",
          request: currentRequest,
          requestsBegin,
          append: esmBuildSuffix,
        });
      } catch (error) {
        functionsError = error;
      }
    }
    recorder = new Recorder(runtime ? runtime.orderedSink() : sink, groups, previewWalk);
    if (functionsError !== undefined) recorder.fail(functionsError);
  } catch (error) {
    if (main && !recordingEnded(process.env.SCOPE_RING)) {
      try {
        process.stderr.write(`scope: agent not attached in pid ${process.pid} (${(error as Error)?.message}); running untraced\n`);
      } catch {
        // stderr may be closed.
      }
    }
    return;
  }
  recorder.safe(() => start(recorder, main, messages, globalListeners, threads));
}

function start(
  recorder: Recorder,
  main: boolean,
  messages: WorkerMessages,
  globalListeners: ReturnType<typeof hookWorkerGlobalListeners>,
  threads: typeof import("node:worker_threads"),
): void {
  recorder.traceStart(`bun ${Bun.version}`, main, `--preload=${import.meta.path}`);
  const types = require("node:util").types as TypeChecks;
  let reason: number = ExitReason.normal;
  let fatal: { type: string; message: string } | undefined;
  process.on("uncaughtExceptionMonitor", (error, origin) => {
    recorder.safe(() => {
      if (process.listenerCount("uncaughtException") > 0) return;
      const isError = error instanceof Error;
      fatal = { type: isError ? error.name : typeof error, message: isError ? error.message : describe(error, types).preview };
      reason = origin === "unhandledRejection" ? ExitReason.unhandledRejection : ExitReason.uncaughtException;
      // Thrown by an 'exit' listener: Bun ends the thread with 1 and runs no more listeners.
      if ((process as { _exiting?: unknown })._exiting === true) finish(1);
    });
  });
  const originalExit = process.exit;
  process.exit = function exit(this: unknown) {
    if (reason === ExitReason.normal) reason = ExitReason.processExit;
    return Reflect.apply(originalExit, this, arguments);
  } as typeof process.exit;
  let done = false;
  const finish = (exitCode: number) => {
    if (done) return;
    done = true;
    // The loop monitor's last samples, before the end.
    flushLoopMonitor();
    // The own exit belongs to its group (process or thread); trace_stop is a marker, always on.
    if (main ? recorder.groups.process : recorder.groups.thread) recorder.event(main ? Kind.process_exit : Kind.thread_exit, exitCode, 0, recorder.str(fatal?.type), recorder.message(fatal?.message), reason);
    recorder.event(Kind.trace_stop, recorder.errors, recorder.unrecorded);
  };
  // process.exit() ends in process.reallyExit(code) after the 'exit' listeners, also when
  // called inside one of them (no second emit): its argument is the final code.
  const host = process as unknown as { reallyExit?: (code?: number) => unknown };
  const originalReallyExit = host.reallyExit;
  if (typeof originalReallyExit === "function") {
    host.reallyExit = function reallyExit(this: unknown, code?: number) {
      recorder.safe(() => finish(Number(code) || 0));
      return Reflect.apply(originalReallyExit, this, arguments);
    } as typeof originalReallyExit;
  }
  // A natural end: Bun emits 'exit' natively (no emit to wrap), so the agent's listener is
  // kept the last one and sees the code the program's listeners left.
  const onExit = (code: number) => recorder.safe(() => finish(typeof process.exitCode === "number" ? process.exitCode : code));
  process.on("exit", onExit);
  recorder.safe(() => keepExitListenerLast(onExit, () => done));
  // node:child_process and process.send/'message' in Bun: the same hooks as in Node
  // (Bun's ChildProcess is Node's shape: prototype.spawn, emit, send).
  const tracer = makeTracer(recorder, main ? 0 : require("node:worker_threads").threadId);
  // Where the agents are, for a child given an env of its own (shared/child-env.ts).
  setAgentDirectory(import.meta.dir);
  if (recorder.groups.process || recorder.groups.message) recorder.safe(() => hookBunSpawn(tracer));
  if (recorder.groups.process || recorder.groups.message) recorder.safe(() => hookChildProcesses(tracer));
  // Bun.serve and fetch wrapped now (globals, nothing loaded); node:http when the program reaches it.
  // (Bun.serve's websocket handlers are recorded with messages: http.ts and websocket.ts.)
  if (recorder.groups.http || recorder.groups.message) recorder.safe(() => hookBunHttp(tracer));
  let frameworks: ReturnType<typeof frameworkFiles> | undefined;
  if (recorder.groups.http) recorder.safe(() => (frameworks = frameworkFiles(recorder)));
  const frameworksEsm = frameworks?.esm;
  if (recorder.groups.thread || recorder.groups.message) recorder.safe(() => messages.hookListenerMethods(EventTarget.prototype));
  if (recorder.groups.message) {
    recorder.safe(() => hookBunOwnIpc(tracer));
    messages.tracer = tracer;
    recorder.safe(() => hookWorkerParentSide(tracer, messages, globalThis.Worker));
    if (!main && globalListeners) recorder.safe(() => hookWorkerSide(tracer, messages, threads, globalListeners));
    recorder.safe(() => hookPorts(tracer, messages, threads));
    recorder.safe(() => hookWebSocketClient(tracer, messages));
    recorder.safe(() => hookWsPackageWhenRequired(tracer));
  }
  if (recorder.groups.thread || recorder.groups.message) {
    recorder.safe(() => hookWorkers(tracer, messages));
    recorder.safe(() => hookNodeWorkers(tracer, messages, threads));
  }
  let db: DbRecorder | undefined;
  if (recorder.groups.db) recorder.safe(() => (db = startBunDatabaseTracing(recorder, types)));
  // Frameworks' and database clients' CommonJS files, with Bun's own `.js` loader step in place (library-files.ts).
  const databases = db === undefined ? undefined : databaseFiles(db);
  if (frameworks !== undefined || databases !== undefined) {
    const groups = recorder.groups;
    recorder.safe(() =>
      hookBunLibraryFiles(
        require("node:module"),
        // Groups read at each file: a stopped recorder turns them off.
        (filename) => isHookedFile(filename, groups.http && frameworks !== undefined, groups.db && databases !== undefined),
        (filename, exports) => {
          frameworks?.(filename, exports);
          databases?.(filename, exports);
        },
        (fn) => recorder.safe(fn),
      ),
    );
  }
  // Packages' ES builds (postgres.js, Hono, @koa/router): esm-plugin.ts.
  if (recorder.groups.http || recorder.groups.db)
    recorder.safe(() =>
      hookBunEsmBuilds(recorder, (id, bindings) => {
        if (id === "postgres") {
          if (db !== undefined) bunPostgres(db, bindings);
        } else frameworksEsm?.(id, bindings);
      }),
    );
  // scope run --async: what Bun lets a wrapper see (no async_hooks); off by default, and then nothing of it runs.
  const asyncLevel = process.env.SCOPE_ASYNC;
  // The loop monitor's own intervals are made with Bun's setInterval, not the one --async wraps.
  if (recorder.groups.loop || recorder.groups.memory) keepRuntimeTimers();
  if (asyncLevel === "callbacks" || asyncLevel === "promises") recorder.safe(() => startBunAsyncTracking(recorder, asyncLevel));
  // The main thread syncs built-ins' ES facades after its wrapping (loop.ts).
  const syncBuiltinESMExports = main ? () => (require("node:module") as { syncBuiltinESMExports?: () => void }).syncBuiltinESMExports?.() : undefined;
  if (recorder.groups.loop || recorder.groups.memory) recorder.safe(() => startLoopMonitor(recorder, "bun", !main, loopSettings(process.env.SCOPE_LOOP), undefined, syncBuiltinESMExports));
}

/**
 * Re-adds `listener` at the end of process's 'exit' listeners whenever the program adds
 * one after it (Bun runs a snapshot of the listeners, so during the emit nothing moves).
 * The re-add is seen by a 'newListener'/'removeListener' listener of the program.
 */
function keepExitListenerLast(listener: (code: number) => void, ended: () => boolean): void {
  const emitter = process as unknown as Record<string, (this: unknown, ...args: unknown[]) => unknown>;
  const add = emitter.on!;
  const remove = emitter.removeListener!;
  for (const name of ["on", "addListener", "once", "prependListener", "prependOnceListener"]) {
    const original = emitter[name];
    if (typeof original !== "function") continue;
    const replacement = function (this: unknown, event: unknown) {
      const result = Reflect.apply(original, this, arguments);
      if (event === "exit" && this === process && !ended()) {
        try {
          const listeners = process.listeners("exit");
          if (listeners[listeners.length - 1] !== listener) {
            Reflect.apply(remove, process, ["exit", listener]);
            Reflect.apply(add, process, ["exit", listener]);
          }
        } catch {
          // Never fail the program's own call.
        }
      }
      return result;
    };
    Object.defineProperty(replacement, "name", { value: original.name, configurable: true });
    Object.defineProperty(replacement, "length", { value: original.length, configurable: true });
    Object.defineProperty(process, name, { value: replacement, writable: true, configurable: true, enumerable: false });
  }
}

const signalNumbers: Record<string, number> = require("node:os").constants.signals;

/**
 * Bun.spawn and Bun.spawnSync: process_spawn and child_exit (process group), and the parent
 * side of Bun's own IPC (message group): a child started with the `ipc` option gets the
 * channel a node:child_process fork gets (its `send` counted as there, its `ipc` callback's
 * deliveries received), paired with the child's process.send/'message' (auditbun).
 */
/**
 * Bun.spawn/Bun.spawnSync arguments whose options give an `env`, with a copy of the options
 * whose env has scope's part (shared/child-env.ts; Bun reads the env's own properties);
 * `args` itself otherwise, or when the copy cannot be made.
 */
function withChildEnv(args: unknown[]): unknown[] {
  try {
    const at = Array.isArray(args[0]) ? 1 : 0;
    const given = args[at] as { env?: unknown; cmd?: unknown; cwd?: unknown } | undefined;
    const options = given !== null && typeof given === "object" ? given : undefined;
    // `node --env-file=F …`: F's NODE_OPTIONS where Node would apply it untraced (shared/env-file.ts).
    const cmd = at === 1 ? args[0] : options?.cmd;
    const fromFile = Array.isArray(cmd) && isNodeCommand(cmd[0]) && lacksNodeOptions(options?.env)
      ? envFileNodeOptions(cmd.slice(1), typeof options?.cwd === "string" ? options.cwd : process.cwd())
      : undefined;
    const programEnv = options?.env !== null && typeof options?.env === "object" ? options.env : fromFile !== undefined ? process.env : undefined;
    if (programEnv === undefined || (options === undefined && given !== undefined)) return args;
    const env = envWithScope(programEnv, false, fromFile);
    if (env === undefined) return args;
    const next = [...args];
    // Bun reads the options' own properties, as the ipc copy below does.
    next[at] = { ...options, env };
    return next;
  } catch {
    return args;
  }
}

function hookBunSpawn(tracer: Tracer): void {
  const { recorder } = tracer;
  const bun = Bun as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originalSpawn = bun.spawn!;
  const commandOf = (args: unknown[]) => {
    const first = args[0];
    const cmd = Array.isArray(first) ? first : (first as { cmd?: unknown })?.cmd;
    return Array.isArray(cmd) ? cmd.map(String).join(" ") : String(first);
  };
  type Subprocess = { pid: number; exited: Promise<number>; signalCode: string | null; send?: (...args: unknown[]) => boolean; connected?: boolean };
  bun.spawn = function spawn(this: unknown, ...args: unknown[]) {
    // Called by node:child_process: recorded there, with its method.
    if (childProcessCall.depth > 0) return Reflect.apply(originalSpawn, this, args);
    // The options are the first argument (with `cmd`) or the second.
    const at = Array.isArray(args[0]) ? 1 : 0;
    const options = args[at] as { ipc?: unknown } | undefined;
    let channel: Channel | undefined;
    let next = withChildEnv(args);
    let ipcWrapped = false;
    if (recorder.groups.message && options !== null && typeof options === "object" && typeof options.ipc === "function") {
      const ipc = options.ipc as (...ipcArgs: unknown[]) => unknown;
      // Bun reads the options once, at the call: a copy with the callback wrapped.
      const wrapped = function (this: unknown, message: unknown) {
        if (channel && !isInternalMessage(message)) recorder.safe(() => tracer.receive(channel!, message));
        return Reflect.apply(ipc, this, arguments);
      };
      Object.defineProperty(wrapped, "name", { value: ipc.name, configurable: true });
      next = [...next];
      next[at] = { ...(next[at] as object), ipc: wrapped };
      ipcWrapped = true;
    }
    const child = Reflect.apply(originalSpawn, this, next) as Subprocess;
    recorder.safe(() => {
      if (ipcWrapped && child.pid > 0 && typeof child.send === "function") {
        channel = newChannel(ChannelKind.ipc, 0, child.pid, 0, 1);
        wrapSend(tracer, child as { send: (...sendArgs: unknown[]) => boolean; connected?: boolean }, channel);
      }
      if (!recorder.groups.process) return;
      const command = recorder.str(commandOf(args));
      tagRequest(recorder);
      recorder.event(Kind.process_spawn, child.pid, command, SpawnMethod.spawn);
      // A reaction on the exit promise does not keep the program alive.
      child.exited.then(
        (code) => recorder.event(Kind.child_exit, child.pid, child.signalCode ? -1 : code, child.signalCode ? (signalNumbers[child.signalCode] ?? 0) : 0),
        () => undefined,
      );
    });
    return child;
  };
  const originalSync = bun.spawnSync!;
  bun.spawnSync = function spawnSync(this: unknown, ...args: unknown[]) {
    const own = childProcessCall.depth === 0 && recorder.groups.process;
    const given = childProcessCall.depth > 0 ? args : withChildEnv(args);
    // The spawn's time: when the call began (its record is written when it returns, after the
    // child's own records), on the sink's clock; 0 where the sink has none.
    const startedNs = own ? recorder.now() : 0;
    const result = Reflect.apply(originalSync, this, given) as { pid?: number; exitCode: number | null; signalCode?: string | null };
    if (!own || !recorder.groups.process) return result;
    recorder.safe(() => {
      const pid = result.pid ?? 0;
      const command = recorder.str(commandOf(args));
      tagRequest(recorder);
      recorder.eventAt(startedNs, Kind.process_spawn, pid, command, SpawnMethod.spawnSync);
      const signal = result.signalCode ? (signalNumbers[result.signalCode] ?? 0) : 0;
      recorder.event(Kind.child_exit, pid, result.exitCode ?? -1, signal);
    });
    return result;
  };
}

/**
 * A worker given an `env` of its own (the options' copy the Worker wrappers made): scope's
 * variables put in it, as for a child process (shared/child-env.ts); the agent preloaded
 * into the worker reads them from its process.env.
 */
function withWorkerEnv(options: { env?: unknown }): void {
  try {
    if (options.env === null || typeof options.env !== "object") return;
    const env = envWithScope(options.env, false);
    if (env !== undefined) options.env = env;
  } catch {
    // The program's env goes as it is.
  }
}

function hookWorkers(tracer: Tracer, messages: WorkerMessages): void {
  const { recorder } = tracer;
  const agentPath = (require as unknown as { main?: unknown }) && import.meta.path;
  const Original = globalThis.Worker;
  const proxy = new Proxy(Original, {
    construct(target, args, newTarget) {
      const options = { ...((args[1] as object | undefined) ?? {}) } as { preload?: string | string[]; env?: unknown };
      const preload = options.preload === undefined ? [] : Array.isArray(options.preload) ? options.preload : [options.preload];
      options.preload = [agentPath, ...preload];
      withWorkerEnv(options);
      const worker = Reflect.construct(target, [args[0], options, ...args.slice(2)], newTarget) as Worker & { threadId: number };
      recorder.safe(() => {
        const threadId = worker.threadId;
        if (recorder.groups.message) messages.channels.set(worker, workerChannel(threadId, process.pid, false));
        if (!recorder.groups.thread) return;
        const entry = recorder.str(args[0] instanceof URL ? args[0].href : String(args[0]));
        tagRequest(recorder);
        recorder.event(Kind.thread_spawn, threadId, entry);
        worker.addEventListener("close", (event) => {
          recorder.event(Kind.thread_exited, threadId, (event as unknown as { code?: number }).code ?? 0);
        });
      });
      return worker;
    },
  });
  globalThis.Worker = proxy;
}

/**
 * node:worker_threads Worker: the module's export replaced by a proxy (Bun's ESM named
 * imports of node builtins read the exports object, so both import styles see it) that
 * constructs the original with the agent first in `preload`. The program's options
 * object is copied with its own enumerable properties (Bun spreads it into a new object
 * anyway); an `env` of its own gets scope's variables (withWorkerEnv); everything else
 * (entry, eval, workerData, argv, execArgv, resourceLimits, name, transferList) passes unchanged.
 */
function hookNodeWorkers(tracer: Tracer, messages: WorkerMessages, threads: typeof import("node:worker_threads")): void {
  const { recorder } = tracer;
  const agentPath = import.meta.path;
  const Original = threads.Worker;
  const threadIds = new WeakMap<object, number>();
  const proxy = new Proxy(Original, {
    construct(target, args, newTarget) {
      let next = args;
      const given = args[1];
      if (given === undefined || given === null || typeof given === "object") {
        const options = { ...((given ?? {}) as object) } as { preload?: unknown; env?: unknown };
        const preload = options.preload === undefined ? [] : Array.isArray(options.preload) ? options.preload : [options.preload];
        options.preload = [agentPath, ...preload];
        withWorkerEnv(options);
        next = [args[0], options, ...args.slice(2)];
      }
      const holder: { worker: object | undefined } = { worker: undefined };
      const outer = messages.capturing;
      messages.capturing = holder;
      let worker: import("node:worker_threads").Worker;
      try {
        worker = Reflect.construct(target, next, newTarget) as import("node:worker_threads").Worker;
      } finally {
        messages.capturing = outer;
      }
      holder.worker = worker;
      recorder.safe(() => {
        const threadId = worker.threadId;
        threadIds.set(worker, threadId);
        if (recorder.groups.message) messages.channels.set(worker, workerChannel(threadId, process.pid, false));
        if (!recorder.groups.thread) return;
        const entry = args[0];
        const isEval = (given as { eval?: unknown } | undefined)?.eval === true;
        const entryId = recorder.str(isEval ? "[eval]" : entry instanceof URL ? entry.href : String(entry));
        tagRequest(recorder);
        recorder.event(Kind.thread_spawn, threadId, entryId);
      });
      return worker;
    },
  });
  hookNodeWorkerParentSide(tracer, messages, Original, (worker, code) => {
    const threadId = threadIds.get(worker);
    if (threadId !== undefined && recorder.groups.thread) recorder.event(Kind.thread_exited, threadId, typeof code === "number" ? code : -1);
  });
  (threads as { Worker: unknown }).Worker = proxy;
  // `worker.constructor === Worker` holds as untraced.
  const constructorDescriptor = Object.getOwnPropertyDescriptor(Original.prototype, "constructor");
  if (constructorDescriptor?.writable || constructorDescriptor?.configurable) Object.defineProperty(Original.prototype, "constructor", { ...constructorDescriptor, value: proxy });
}
