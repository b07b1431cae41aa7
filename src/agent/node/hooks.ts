/**
 * The Node hooks: process and thread lifecycle, child processes, and messages.
 *
 * Pairing: every point-to-point channel is FIFO, so each end counts the messages it
 * sends and the messages it receives per direction; the n-th receive pairs with the
 * n-th send. Nothing is added to the program's messages. Sends are recorded just
 * before the runtime queues them (a thread terminated right after a send must not
 * lose it); a send the runtime rejects by throwing is marked failed (flags bit 0) and
 * its ordinal reused. Receives are recorded before the program's listeners run.
 */
import type * as ChildProcessModule from "node:child_process";
import type * as WorkerThreads from "node:worker_threads";
import { ChannelKind, ExitReason, Kind, LongTaskKind, SpawnMethod, ThreadSpawnFlag, channelField } from "../shared/kinds";
import type { TypeChecks } from "../shared/preview";
import type { Recorder } from "../shared/recorder";
import { tagRequest } from "../shared/request-context";
import { envWithScope, lacksNodeOptions } from "../shared/child-env";
import { envFileNodeOptions, isNodeCommand } from "../shared/env-file";
import { builtinLoaded, diagnosticsChannel } from "./builtins";
import { whenChannelMade } from "./channel-made";
import { startIntegrationsWhenUsed } from "./lazy";
import { installPortHooks, type PortContext } from "./ports";
import { hookWebSocketClientWhenLoaded } from "./websocket";
import { constructTarget, keepFrameName, renamed } from "../shared/reflect";
import { flushLoopMonitor, loopSettings, markTurn, startLoopMonitor } from "../shared/loop";

/** One direction pair of a FIFO channel as seen from one end. */
export interface Channel {
  kind: number;
  subId: number;
  ownerPid: number;
  sendDirection: number;
  receiveDirection: number;
  /** Field b of this end's sends and of its receives (channelField), computed once: newChannel. */
  sendField: number;
  receiveField: number;
  sent: number;
  received: number;
  /** BroadcastChannel only: ordinals this end sent and will therefore not receive. */
  ownSent?: number[];
}

/**
 * A channel's state, the only way one is made: its two fields b (channelField of the kind, each
 * direction and the sub-id) computed here once, so that a send and a receive read a property
 * instead of computing it (`sendEvent` then 87 bytes of bytecode, under the 100 that Maglev
 * inlines: BENCHMARKS.md "The pool's first sends and compiles").
 */
export function newChannel(kind: number, subId: number, ownerPid: number, sendDirection: number, receiveDirection: number, sent = 0, received = 0): Channel {
  return {
    kind,
    subId,
    ownerPid,
    sendDirection,
    receiveDirection,
    sendField: channelField(kind, sendDirection, subId),
    receiveField: channelField(kind, receiveDirection, subId),
    sent,
    received,
  };
}

export interface Tracer {
  recorder: Recorder;
  types: TypeChecks;
  pid: number;
  tid: number;
  /** Records a send about to be handed to the runtime; returns its ordinal. */
  send(channel: Channel, message: unknown): number;
  /** The runtime threw instead of queueing send `ordinal`: marks it failed and reuses the ordinal. */
  sendFailed(channel: Channel, ordinal: number): void;
  /** Records a receive about to be handed to the program (the value is not looked at). */
  receive(channel: Channel, message?: unknown): void;
}

/** message_send flags bit 0: the runtime rejected this send (see zig/layout.zig). */
const MESSAGE_SEND_FAILED = 1;

export function makeTracer(recorder: Recorder, tid: number): Tracer {
  const types = require("node:util").types as TypeChecks;
  // The per-message path: one walk for preview and size, one native call for the event and
  // its preview, no closure per message. The walk writes the preview's UTF-8 into the
  // addon's scratch, which the call reads: no string is built, flattened and converted
  // (Recorder.eventWithPreview; BENCHMARKS.md "Per-message cost"). `send` and `sendEvent` stay
  // small (a send's functions' bytecode within TurboFan's cumulative inlining budget, so that
  // Node 24 inlines all of them into the program's handler: BENCHMARKS.md "A send's JavaScript
  // on Node 24").
  const sendEvent = (channel: Channel, ordinal: number, value: unknown) => {
    try {
      // A send made while handling a request names it (a receive is not caused by one).
      tagRequest(recorder);
      recorder.eventWithPreview(Kind.message_send, ordinal, channel.sendField, channel.ownerPid, value, types);
    } catch (error) {
      recorder.fail(error);
    }
  };
  return {
    recorder,
    types,
    pid: process.pid,
    tid,
    send(channel, value) {
      const ordinal = channel.sent++;
      // Recording stopped: no preview walk (the ordinals still count, as the channel's do).
      if (!recorder.stopped) sendEvent(channel, ordinal, value);
      return ordinal;
    },
    sendFailed(channel, ordinal) {
      channel.sent = ordinal;
      recorder.event(Kind.message_send, ordinal, channel.sendField, channel.ownerPid, 0, 0, MESSAGE_SEND_FAILED);
    },
    // The receive carries no preview: it is paired with its send, whose preview it shares
    // (the decoder copies it), so the value is walked once per message, not twice.
    receive(channel) {
      const ordinal = channel.received++;
      markTurn(LongTaskKind.message);
      recorder.event(Kind.message_receive, ordinal, channel.receiveField, channel.ownerPid);
    },
  };
}

export function startTracing(recorder: Recorder, threads: typeof WorkerThreads, tid: number): void {
  const main = threads.isMainThread;
  recorder.traceStart(`node ${process.version}`, main);
  const tracer = makeTracer(recorder, tid);
  hookExit(tracer, main);
  const groups = recorder.groups;
  // IPC channels of children are found by the child-process hooks: needed for messages too.
  if (groups.process || groups.message) recorder.safe(() => (main ? hookChildProcesses(tracer) : hookChildProcessesWhenReached(tracer)));
  if (groups.thread || groups.message) recorder.safe(() => hookWorkers(tracer, threads));
  // HTTP, Express/Fastify and databases: their code (the agent's second chunk) is loaded
  // when a diagnostics channel shows HTTP in use or the program loads a library they hook.
  // The `ws` package (message group) is handed over the same way, when the program loads it.
  if (groups.http || groups.db || groups.message) recorder.safe(() => startIntegrationsWhenUsed(tracer, moduleClass(), main));
  if (groups.message) {
    recorder.safe(() => hookOwnIpc(tracer));
    const context: PortContext = { tracer, threads };
    recorder.safe(() => installPortHooks(context));
    recorder.safe(() => hookWebSocketClientWhenLoaded(tracer));
  }
  // A worker's node:fs is measured from the program's first reach of it (loop.ts).
  const fsWhenReached = main ? undefined : (wrap: () => void) => whenBuiltinReached(recorder, "fs", wrap);
  if (groups.loop || groups.memory) recorder.safe(() => startLoopMonitor(recorder, "node", !main, loopSettings(process.env.SCOPE_LOOP), fsWhenReached));
}

// ---------------------------------------------------------------------------------
// Exits: recorded by the process (or worker) itself, after its own 'exit' listeners.

interface ErrorInfo {
  type: string;
  message: string;
}

/** Reads a data property along the prototype chain without running getters or traps. */
function dataProperty(types: TypeChecks, value: unknown, key: string): unknown {
  let object = value;
  for (let depth = 0; depth < 8 && object !== null && typeof object === "object"; depth++) {
    if (types.isProxy(object)) return undefined;
    const descriptor = Object.getOwnPropertyDescriptor(object, key);
    if (descriptor) return "value" in descriptor ? descriptor.value : undefined;
    object = Object.getPrototypeOf(object);
  }
  return undefined;
}

function errorInfo(recorder: Recorder, types: TypeChecks, error: unknown): ErrorInfo {
  // The walk's chunk is loaded here if this thread has not sent yet (walk-load.ts).
  const describe = (value: unknown) => recorder.walk()?.preview(value, types) ?? "";
  if (error === null || (typeof error !== "object" && typeof error !== "function")) {
    return { type: typeof error, message: describe(error) };
  }
  const name = dataProperty(types, error, "name");
  const constructor = dataProperty(types, error, "constructor");
  const constructorName = typeof constructor === "function" ? dataProperty(types, constructor, "name") : undefined;
  const message = dataProperty(types, error, "message");
  return {
    type: typeof name === "string" ? name : typeof constructorName === "string" ? constructorName : "Object",
    message: typeof message === "string" ? message : describe(error),
  };
}

let threadEndCallback: (() => void) | undefined;

/**
 * Runs `callback` once, after this thread's trace_stop is recorded (the loader's code cache
 * rewrite in a worker: src/agent/node/code-cache.ts). Nothing runs when the thread ends
 * without its JavaScript (terminate(), a fatal error).
 */
export function onThreadEnd(callback: () => void): void {
  threadEndCallback = callback;
}

/**
 * The own end is recorded once, after the program's 'exit' listeners, from whichever
 * comes last of: the wrapped emit('exit') returning (the event loop ran dry, or
 * process.exit's own emit), and process.reallyExit (what process.exit calls after its
 * emit, in the main thread and in workers). A process.exit() inside an 'exit' listener
 * does not emit again: it goes straight to reallyExit with the final code, so the end is
 * recorded there, before the thread stops (mocha's runner ends this way).
 */
function hookExit(tracer: Tracer, main: boolean): void {
  const { recorder, types } = tracer;
  let reason: number = ExitReason.normal;
  let fatal: ErrorInfo | undefined;
  let done = false;
  // Set when an 'exit' listener threw: no JavaScript of the thread runs after this exception.
  let threwInExit: { code: unknown } | undefined;

  process.on("uncaughtExceptionMonitor", (error, origin) => {
    recorder.safe(() => {
      // With an 'uncaughtException' listener or capture callback the program survives it.
      const handled = process.listenerCount("uncaughtException") > 0 || process.hasUncaughtExceptionCaptureCallback();
      if (!handled) {
        fatal = errorInfo(recorder, types, error);
        reason = origin === "unhandledRejection" ? ExitReason.unhandledRejection : ExitReason.uncaughtException;
      }
      if (threwInExit === undefined) return;
      // Node ends with process.exitCode, else (unhandled, main thread) 1, else emit's code.
      const code = !handled && main && typeof process.exitCode !== "number" ? 1 : finalCode(threwInExit.code);
      finish(code);
    });
  });

  const finish = (exitCode: number) => {
    if (done) return;
    done = true;
    // The loop monitor's last samples and undelivered GC entries, before the end.
    flushLoopMonitor();
    // The own exit belongs to its group (process or thread); trace_stop is a marker, always on.
    if (main ? recorder.groups.process : recorder.groups.thread) recorder.event(
      main ? Kind.process_exit : Kind.thread_exit,
      exitCode,
      0,
      recorder.str(fatal?.type),
      recorder.message(fatal?.message),
      reason,
    );
    recorder.event(Kind.trace_stop, recorder.errors, recorder.unrecorded);
    const after = threadEndCallback;
    threadEndCallback = undefined;
    after?.();
  };
  // After the listeners the code is process.exitCode when a listener set it, else emit's.
  const finalCode = (code: unknown) => (typeof process.exitCode === "number" ? process.exitCode : Number(code) || 0);

  const host = process as unknown as { reallyExit?: (code?: number) => unknown };
  const originalReallyExit = host.reallyExit;
  const wrappedReallyExit = typeof originalReallyExit === "function";
  if (wrappedReallyExit) {
    // Its argument is the code the thread ends with.
    host.reallyExit = renamed(originalReallyExit, function reallyExit(this: unknown, code?: number) {
      recorder.safe(() => finish(Number(code) || 0));
      return Reflect.apply(originalReallyExit, this, arguments);
    });
  }
  let emittingExit = 0;
  const originalExit = process.exit;
  const exit = function exit(this: unknown, code?: number | string | null) {
    if (reason === ExitReason.normal) reason = ExitReason.processExit;
    // Without a reallyExit to wrap, a nested exit inside an 'exit' listener ends here.
    if (emittingExit > 0 && !wrappedReallyExit) recorder.safe(() => finish(code === undefined || code === null ? finalCode(0) : Number(code) || 0));
    return Reflect.apply(originalExit, this, arguments);
  } as typeof process.exit;
  Object.defineProperty(exit, "length", { value: originalExit.length });
  process.exit = exit;

  wrapEmit(process, tracer, (event, code) => {
    if (event !== "exit") return;
    emittingExit++;
    return (threw) => {
      emittingExit--;
      // A listener threw: the rest do not run and the thread ends from the fatal-exception
      // path, which emits 'uncaughtExceptionMonitor' first (finished there, see above).
      if (threw) threwInExit = { code };
      else recorder.safe(() => finish(finalCode(code)));
    };
  });
}

/** Receives the event and its first two arguments (all any hook needs: no array per emit). */
type EmitHook = (event: string | symbol, arg0: unknown, arg1: unknown) => ((threw: boolean) => void) | void;
const emitHooks = new WeakMap<object, EmitHook[]>();

/**
 * Wraps `target.emit` once (own, non-enumerable property) and runs the hooks: a hook
 * runs before the listeners and may return a function to run after them (told whether a
 * listener threw).
 */
export function wrapEmit(target: { emit: (...args: never[]) => boolean }, tracer: Tracer, hook: EmitHook): void {
  const existing = emitHooks.get(target);
  if (existing) {
    existing.push(hook);
    return;
  }
  const hooks = [hook];
  emitHooks.set(target, hooks);
  const original = target.emit as (this: unknown, ...args: unknown[]) => boolean;
  // The original called with the caller's own argument count, as the port hooks do: Reflect.apply
  // with `arguments` copies them into a list first (the agent is sloppy-mode code, so through
  // the slow mapped-arguments path), once per event: every message a Worker delivers to its
  // parent passes here (BENCHMARKS.md "Per-message cost: ... 2026-12-04").
  const callEmit = Function.prototype.call.bind(original) as (self: unknown, ...args: unknown[]) => boolean;
  const recorder = tracer.recorder;
  const emit = function emit(this: unknown, event: string | symbol, arg0: unknown, arg1: unknown) {
    let after: ((threw: boolean) => void)[] | undefined;
    for (let i = 0; i < hooks.length; i++) {
      try {
        const then = hooks[i]!.call(this, event, arg0, arg1);
        if (then) (after ??= []).push(then);
      } catch (error) {
        recorder.fail(error);
      }
    }
    if (!after) {
      const count = arguments.length;
      if (count === 2) return callEmit(this, event, arg0);
      if (count === 1) return callEmit(this, event);
      if (count === 3) return callEmit(this, event, arg0, arg1);
      return Reflect.apply(original, this, arguments);
    }
    let threw = true;
    try {
      const result = Reflect.apply(original, this, arguments);
      threw = false;
      return result;
    } finally {
      for (const then of after) then(threw);
    }
  };
  // Same length as a rest-parameter emit (and as EventEmitter's own).
  Object.defineProperty(emit, "length", { value: 1 });
  // One key order for every data descriptor the core makes (one shape: BENCHMARKS.md "Fourteenth look").
  Object.defineProperty(target, "emit", { value: emit, writable: true, enumerable: false, configurable: true });
}

// ---------------------------------------------------------------------------------
// Child processes: every asynchronous method ends in ChildProcess.prototype.spawn.

const U64_NONE = -1;
let signalNumbers: Record<string, number> | undefined;
/** A signal's number by name (node:os loaded on the first child's end, not at start). */
function signalNumber(name: string): number {
  signalNumbers ??= require("node:os").constants.signals as Record<string, number>;
  return signalNumbers[name] ?? 0;
}

export function isInternalMessage(message: unknown): boolean {
  if (message === null || typeof message !== "object") return false;
  const descriptor = Object.getOwnPropertyDescriptor(message, "cmd");
  const cmd = descriptor && "value" in descriptor ? descriptor.value : undefined;
  return typeof cmd === "string" && cmd.length > 5 && cmd.startsWith("NODE_");
}

/** >0 while a node:child_process method runs (Bun's implementation calls Bun.spawn inside). */
export const childProcessCall = { depth: 0 };

/** util.promisify.custom: a registered symbol, the same in Node and Bun (no need to load util). */
const promisifyCustom = Symbol.for("nodejs.util.promisify.custom");

/**
 * `firstMethod`: the method of a child being created right now, when the hooks are installed
 * from inside that call (hookChildProcessesWhenReached); its spawn() is the next one.
 */
export function hookChildProcesses(tracer: Tracer, firstMethod = 0): void {
  const { recorder } = tracer;
  const cp = require("node:child_process") as typeof ChildProcessModule & Record<string, unknown>;
  let method = 0;
  let pendingMethod = firstMethod;
  const asyncMethods = { spawn: SpawnMethod.spawn, fork: SpawnMethod.fork, exec: SpawnMethod.exec, execFile: SpawnMethod.execFile };
  const asWrapped = (original: (...args: unknown[]) => unknown, code: number, optionsAt: number) =>
    renamed(original, function (this: unknown) {
      const outer = method;
      if (outer === 0) method = code;
      const args = childProcessCall.depth === 0 ? withChildEnv(arguments, optionsAt) : arguments;
      childProcessCall.depth++;
      try {
        return Reflect.apply(original, this, args);
      } finally {
        method = outer;
        childProcessCall.depth--;
      }
    });
  for (const [name, code] of Object.entries(asyncMethods)) {
    const original = cp[name] as (...args: unknown[]) => unknown;
    const optionsAt = name === "exec" ? 1 : 0;
    const wrapper = asWrapped(original, code, optionsAt);
    // exec and execFile carry util.promisify.custom (resolving to {stdout, stderr}, the
    // promise's .child set): without it util.promisify(execFile) resolved to stdout alone.
    // Node's calls the original it closed over, so it is wrapped the same way; defined as
    // Node defines it (not enumerable, not writable, not configurable).
    const custom = (original as unknown as Record<symbol, unknown>)[promisifyCustom];
    if (typeof custom === "function") Object.defineProperty(wrapper, promisifyCustom, { enumerable: false, value: asWrapped(custom as (...args: unknown[]) => unknown, code, optionsAt) });
    cp[name] = wrapper;
  }

  const proto = cp.ChildProcess.prototype as unknown as { spawn: (this: ChildProcessModule.ChildProcess, options: unknown) => unknown; emit: never };
  const originalSpawn = proto.spawn;
  proto.spawn = renamed(originalSpawn, function (this: ChildProcessModule.ChildProcess, options: unknown) {
    // Taken before the call: a spawn that throws does not leave it to the next child.
    const current = method || pendingMethod || SpawnMethod.spawn;
    pendingMethod = 0;
    const result = Reflect.apply(originalSpawn, this, arguments);
    recorder.safe(() => onSpawned(tracer, this, options, current));
    return result;
  });
  const exited = new WeakSet<object>();
  wrapEmit(proto, tracer, function (this: ChildProcessModule.ChildProcess, event, first, second) {
    if (event === "exit" && !exited.has(this) && recorder.groups.process) {
      exited.add(this);
      const code = first;
      const signal = second;
      recorder.event(
        Kind.child_exit,
        this.pid ?? 0,
        typeof code === "number" ? code : U64_NONE,
        typeof signal === "string" ? signalNumber(signal) : 0,
      );
    } else if (event === "message") {
      const channel = childChannels.get(this);
      if (channel && !isInternalMessage(first)) tracer.receive(channel, first);
    }
  });

  const syncMethods = { spawnSync: SpawnMethod.spawnSync, execSync: SpawnMethod.execSync, execFileSync: SpawnMethod.execFileSync };
  for (const [name, code] of Object.entries(syncMethods)) {
    const original = cp[name] as (...args: unknown[]) => unknown;
    const optionsAt = name === "execSync" ? 1 : 0;
    cp[name] = renamed(original, function (this: unknown, ...given: unknown[]) {
      let result: unknown;
      const args = childProcessCall.depth === 0 ? (withChildEnv(given, optionsAt) as unknown[]) : given;
      if (!recorder.groups.process) return Reflect.apply(original, this, args);
      const outer = childProcessCall.depth++;
      // execSync and execFileSync return only the output: the child's pid, status and
      // signal are taken from the spawn underneath, seen for the length of the call.
      let seen: ReturnType<typeof seeSyncSpawn>;
      if (outer === 0 && code !== SpawnMethod.spawnSync) {
        try {
          seen = seeSyncSpawn();
        } catch (error) {
          recorder.fail(error);
        }
      }
      // The spawn's time: when the call began (its record is written when it returns, after
      // the child's own records), on the sink's clock; 0 where the sink has none.
      const startedNs = outer === 0 ? recorder.now() : 0;
      try {
        result = Reflect.apply(original, this, args);
      } catch (error) {
        const child = seen?.end();
        if (outer === 0) recorder.safe(() => onSyncEnded(tracer, code, args, child ?? error, startedNs));
        throw error;
      } finally {
        childProcessCall.depth--;
      }
      const child = seen?.end();
      // execSync runs through spawnSync: only the outermost call is the program's.
      if (outer > 0) return result;
      recorder.safe(() => onSyncEnded(tracer, code, args, child ?? result, startedNs));
      return result;
    });
  }
}

/**
 * The arguments of a node:child_process call whose options give an `env`, with a copy of the
 * options whose env has scope's part (child-env.ts); `args` itself otherwise, or when the
 * copy cannot be made (the call then gets the program's own objects, and Node's errors).
 * `optionsAt`: 1 for exec/execSync (command, options); 0 for the others, whose options come
 * second unless the second argument is the array of arguments (or null), as Node reads them.
 * Node's child_process reads the env's inherited variables too (`for...in`).
 */
function withChildEnv(args: ArrayLike<unknown>, optionsAt: number): ArrayLike<unknown> {
  const at = optionsAt !== 0 ? optionsAt : isOptions(args[1]) ? 1 : 2;
  return withEnvAt(args, at, true, optionsAt === 0 ? envFileOptionsOf(args, at) : undefined);
}

/**
 * spawn/execFile (and their Sync forms) of `node --env-file=F …`: the NODE_OPTIONS in F, when
 * Node would have applied it untraced (the child's environment has no NODE_OPTIONS of the
 * program's); scope's own in the child's environment would make Node ignore it (env-file.ts).
 */
function envFileOptionsOf(args: ArrayLike<unknown>, at: number): string | undefined {
  try {
    const command = args[0];
    if (!(isNodeCommand(command) || command === process.execPath) || !Array.isArray(args[1])) return undefined;
    const options = isOptions(args[at]) ? (args[at] as { env?: unknown; cwd?: unknown }) : undefined;
    if (!lacksNodeOptions(options?.env)) return undefined;
    const cwd = options?.cwd;
    return envFileNodeOptions(args[1], typeof cwd === "string" ? cwd : process.cwd());
  } catch {
    return undefined;
  }
}

const isOptions = (value: unknown): value is object => typeof value === "object" && value !== null && !Array.isArray(value);

/** `args` with a copy of the options at `at` whose `env` object has scope's part (child-env.ts); `args` itself when there is none to add or on any error. */
function withEnvAt(args: ArrayLike<unknown>, at: number, inherited: boolean, nodeOptions?: string): ArrayLike<unknown> {
  try {
    const given = args[at];
    // No options of the program's (nothing there, or execFile's callback): an object made to carry the env file's NODE_OPTIONS.
    const made = !isOptions(given) && nodeOptions !== undefined && (given === undefined || typeof given === "function");
    const options = isOptions(given) ? given : made ? {} : undefined;
    if (options === undefined) return args;
    let env = (options as { env?: unknown }).env;
    // No env of the program's: the inherited one, given explicitly only to carry an env file's NODE_OPTIONS.
    if (env === undefined && nodeOptions !== undefined) env = process.env;
    if (typeof env !== "object" || env === null) return args;
    const childEnv = envWithScope(env, inherited, nodeOptions);
    if (childEnv === undefined) return args;
    // The program's options object is not changed: a copy with its prototype and properties.
    const copy = Object.create(Object.getPrototypeOf(options), Object.getOwnPropertyDescriptors(options)) as object;
    Object.defineProperty(copy, "env", { value: childEnv, writable: true, enumerable: true, configurable: true });
    const next = Array.prototype.slice.call(args);
    if (made && given !== undefined) next.splice(at, 0, copy);
    else next[at] = copy;
    return next;
  } catch {
    return args;
  }
}

/**
 * A worker hooks node:child_process when the program first reaches it, not at start:
 * loading it (with net, dgram and their streams) was most of the agent's cost per worker
 * start, for workers that never spawn anything (BENCHMARKS.md, "Worker start").
 *
 * Reached through: `require`/`createRequire` (Module._load, wrapped until then),
 * `process.getBuiltinModule`, and any ChildProcess being constructed (the runtime's
 * 'child_process' diagnostics channel, published before its spawn(), so an async spawn of an
 * ES module's import is caught with its method read from the stack). A worker whose entry
 * is an ES module (no CommonJS main and no eval script once the preload's microtask runs,
 * which is before any module body) hooks at once, as the main thread does. Not caught: a
 * CommonJS worker that gets the module only through dynamic import() and whose first use
 * is a *Sync method (spawnSync, execSync, execFileSync) before any asynchronous child.
 */
export function hookChildProcessesWhenReached(tracer: Tracer): void {
  const { recorder } = tracer;
  if (builtinLoaded("child_process")) return hookChildProcesses(tracer);
  const channels = diagnosticsChannel();
  let firstMethod = 0;
  const onChild = () => {
    // A program's Error.prepareStackTrace made read-only throws here (strict code): no method, never an error in the program's spawn.
    try {
      firstMethod = methodOnStack();
    } catch {
      firstMethod = 0;
    }
    reach();
  };
  // The channel subscribed once internal/child_process makes it (channel-made.ts), not at start.
  let subscribed = false;
  let reached = false;
  const subscribe = () => {
    if (!reached) channels.subscribe("child_process", onChild);
    subscribed = !reached;
  };
  const reach = whenBuiltinReached(recorder, "child_process", () => {
    reached = true;
    if (subscribed) channels.unsubscribe("child_process", onChild);
    hookChildProcesses(tracer, firstMethod);
    // ES modules that imported it already see the wrapped exports too.
    moduleClass().syncBuiltinESMExports?.();
  });
  if (builtinLoaded("internal/child_process", true) || !whenChannelMade(channels, ["child_process"], () => recorder.safe(subscribe))) subscribe();
}

/** A settled promise, for a microtask of the agent's own (whenBuiltinReached). */
const resolved = Promise.resolve();

/**
 * Calls `reached` once, when a worker's program first reaches built-in `id`: through
 * `require`/`createRequire` (Module._load, wrapped until then) or `process.getBuiltinModule`,
 * before the module is handed over, so what `reached` changes in its exports is what the
 * program gets, and Node's public loader syncs the module's ES facade with it in that same
 * load (an ES module importing it by name later gets it too: every public load syncs). A
 * worker whose entry is an ES module (no CommonJS main and no eval script once the preload's
 * microtask runs, which is before any module body or import) is called at once, as the main
 * thread is. Not caught: a module reached only through a CommonJS worker's import() (an
 * ES facade made without it), unless the caller also calls the returned function, which
 * does the same at once (once in all).
 */
function whenBuiltinReached(recorder: Recorder, id: string, reached: () => void): () => void {
  const host = process as unknown as { getBuiltinModule?: (id: string) => unknown; mainModule?: unknown; _eval?: unknown };
  const Module = moduleClass();
  const originalLoad = Module._load;
  const originalGetBuiltin = Object.getOwnPropertyDescriptor(process, "getBuiltinModule");
  const scheme = `node:${id}`;
  let done = false;
  const reach = () => {
    if (done) return;
    done = true;
    // Leave no trace of the wait where nothing else wrapped these since.
    if (Module._load === load) Module._load = originalLoad;
    if (originalGetBuiltin && host.getBuiltinModule === getBuiltinModule) Object.defineProperty(process, "getBuiltinModule", originalGetBuiltin);
    recorder.safe(reached);
  };
  keepFrameName(originalLoad, "_load");
  const load = renamed(originalLoad, function (this: unknown, request: string) {
    if (!done && (request === id || request === scheme)) reach();
    return Reflect.apply(originalLoad, this, arguments);
  });
  Module._load = load;
  let getBuiltinModule: unknown;
  const originalGet = originalGetBuiltin?.value as ((id: unknown) => unknown) | undefined;
  if (originalGetBuiltin && typeof originalGet === "function") {
    getBuiltinModule = renamed(originalGet, function (this: unknown, request: unknown) {
      if (!done && (request === id || request === scheme)) reach();
      return Reflect.apply(originalGet, this, arguments);
    });
    Object.defineProperty(process, "getBuiltinModule", { ...originalGetBuiltin, value: getBuiltinModule });
  }
  // After the preload and a CommonJS entry's first run, before an ES module entry's body: a
  // job on V8's microtask queue, where queueMicrotask puts it too, but without Node's
  // queueMicrotask (an AsyncResource and its async-hook calls, ~10 of Node's functions
  // compiled in every worker for this one task; BENCHMARKS.md "Ninth look"). It cannot throw.
  resolved.then(() => {
    if (!done && host.mainModule === undefined && host._eval === undefined) reach();
  });
  return reach;
}

interface ModuleClass {
  _load: (request: string, parent: unknown, isMain: boolean) => unknown;
  syncBuiltinESMExports?: () => void;
}

/**
 * The CommonJS Module class, from a loaded module (this bundle is one) rather than
 * require("node:module"), whose public wrapper loads the ES module loader too (~0.3 ms).
 */
function moduleClass(): ModuleClass {
  const cache = (require as { cache?: Record<string, { constructor?: unknown } | undefined> }).cache;
  for (const key in cache) {
    const constructor = cache[key]?.constructor as Partial<ModuleClass> | undefined;
    if (typeof constructor?._load === "function") return constructor as ModuleClass;
  }
  return require("node:module") as ModuleClass;
}

/** The outermost node:child_process method on the stack (read once, without the program's prepareStackTrace). */
function methodOnStack(): number {
  const ErrorClass = Error as unknown as { prepareStackTrace?: unknown; stackTraceLimit: number };
  const prepare = Object.getOwnPropertyDescriptor(ErrorClass, "prepareStackTrace");
  const limit = ErrorClass.stackTraceLimit;
  let sites: { getFunctionName(): string | null; getFileName(): string | undefined }[] = [];
  try {
    ErrorClass.prepareStackTrace = (_error: unknown, callSites: typeof sites) => callSites;
    ErrorClass.stackTraceLimit = 32;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder);
    sites = Array.isArray(holder.stack) ? holder.stack : [];
  } finally {
    if (prepare) Object.defineProperty(ErrorClass, "prepareStackTrace", prepare);
    else delete ErrorClass.prepareStackTrace;
    ErrorClass.stackTraceLimit = limit;
  }
  const methods: Record<string, number> = { spawn: SpawnMethod.spawn, fork: SpawnMethod.fork, exec: SpawnMethod.exec, execFile: SpawnMethod.execFile };
  let found = 0;
  for (const site of sites) {
    const name = site.getFunctionName();
    if (site.getFileName() === "node:child_process" && name !== null && methods[name] !== undefined) found = methods[name]!;
  }
  return found;
}

const childChannels = new WeakMap<object, Channel>();

function onSpawned(tracer: Tracer, child: ChildProcessModule.ChildProcess, options: unknown, method: number): void {
  const { recorder } = tracer;
  const envPairs = (options as { envPairs?: unknown })?.envPairs;
  const cluster = Array.isArray(envPairs) && envPairs.some((pair) => typeof pair === "string" && pair.startsWith("NODE_UNIQUE_ID="));
  const pid = child.pid ?? 0;
  const command = Array.isArray(child.spawnargs) ? child.spawnargs.join(" ") : "";
  if (recorder.groups.process) {
    const commandId = recorder.str(command);
    tagRequest(recorder);
    recorder.event(Kind.process_spawn, pid, commandId, cluster ? SpawnMethod.clusterFork : method);
  }
  const target = child as unknown as { send?: (...args: unknown[]) => boolean };
  if (!recorder.groups.message || typeof target.send !== "function" || pid === 0) return;
  const channel = newChannel(cluster ? ChannelKind.cluster : ChannelKind.ipc, 0, pid, 0, 1);
  childChannels.set(child, channel);
  wrapSend(tracer, target as { send: (...args: unknown[]) => boolean; connected?: boolean }, channel);
}

/**
 * Counts an IPC send that `send` will queue: connected, not internal ('NODE_' cmd).
 * Recorded before the write, so a receiver can never see a message whose send is
 * not yet in the trace; a send that throws (unserialisable) is marked failed.
 */
export function wrapSend(tracer: Tracer, target: { send: (...args: unknown[]) => boolean; connected?: boolean }, channel: Channel): void {
  const original = target.send;
  const send = renamed(original, function (this: typeof target, message: unknown) {
    const counted = this.connected === true && !isInternalMessage(message);
    const ordinal = counted ? tracer.send(channel, message) : -1;
    try {
      return Reflect.apply(original, this, arguments);
    } catch (error) {
      if (counted) tracer.sendFailed(channel, ordinal);
      throw error;
    }
  });
  Object.defineProperty(target, "send", { value: send, writable: true, enumerable: false, configurable: true });
}

interface SyncChild {
  pid: unknown;
  status: unknown;
  signal: unknown;
}

/**
 * Watches the spawn under an execSync/execFileSync until end(): Node's spawn_sync binding
 * (process.binding, the same object Node's own spawnSync calls; not when
 * --pending-deprecation wraps process.binding, whose first call would print DEP0111 in
 * the program's place), Bun's Bun.spawnSync. Put back at end(), whatever happened. The
 * last child spawned in the call is the one reported (execSync spawns one).
 */
function seeSyncSpawn(): { end(): SyncChild | undefined } | undefined {
  let child: SyncChild | undefined;
  const host = globalThis as { Bun?: Record<string, unknown> };
  let target: Record<string, unknown>;
  let name: string;
  let read: (result: Record<string, unknown>) => SyncChild;
  if (host.Bun !== undefined) {
    target = host.Bun;
    name = "spawnSync";
    read = (result) => ({ pid: result.pid, status: result.exitCode, signal: result.signalCode });
  } else {
    const binding = (process as unknown as { binding?: ((name: string) => Record<string, unknown>) & { name?: string } }).binding;
    if (typeof binding !== "function" || binding.name !== "binding") return undefined;
    target = binding("spawn_sync");
    name = "spawn";
    read = (result) => ({ pid: result.pid, status: result.status, signal: result.signal });
  }
  const original = target[name];
  if (typeof original !== "function") return undefined;
  const watching = function (this: unknown) {
    const result = Reflect.apply(original, this, arguments) as unknown;
    if (result !== null && typeof result === "object") {
      try {
        child = read(result as Record<string, unknown>);
      } catch {
        // A getter of the runtime's that throws: this child keeps pid 0.
      }
    }
    return result;
  };
  target[name] = watching;
  return {
    end() {
      if (target[name] === watching) target[name] = original;
      return child;
    },
  };
}

/** A synchronous call's child, recorded when the call returned: its spawn at `startedNs` (the call's start), its end now. */
function onSyncEnded(tracer: Tracer, method: number, args: unknown[], outcome: unknown, startedNs: number): void {
  const { recorder } = tracer;
  const parts = [args[0], ...(Array.isArray(args[1]) ? args[1] : [])].filter((part) => typeof part === "string");
  const result = (outcome ?? {}) as { pid?: unknown; status?: unknown; signal?: unknown };
  const pid = typeof result.pid === "number" ? result.pid : 0;
  const command = recorder.str(parts.join(" "));
  // Its request, as an asynchronous spawn's (the context names the thread's next record, this one).
  tagRequest(recorder);
  recorder.eventAt(startedNs, Kind.process_spawn, pid, command, method);
  if (pid === 0) return;
  const signal = typeof result.signal === "string" ? signalNumber(result.signal) : 0;
  recorder.event(Kind.child_exit, pid, typeof result.status === "number" ? result.status : U64_NONE, signal);
}

/** The key of this process's own IPC channel to its parent: ipc, or cluster in a cluster worker. */
export function ownIpcChannel(): Channel {
  // Node loads node:cluster while it bootstraps a cluster worker, before any preload: when it
  // is not loaded this is a plain forked child, and loading it here would cost every such
  // child its start-up. (Bun has no moduleLoadList: asked as before.)
  const list = (process as { moduleLoadList?: unknown }).moduleLoadList;
  const cluster = Array.isArray(list) && !list.includes("NativeModule cluster") ? false : require("node:cluster").isWorker === true;
  return newChannel(cluster ? ChannelKind.cluster : ChannelKind.ipc, 0, process.pid, 1, 0);
}

/** This process's own IPC channel to its parent (a forked child or a cluster worker). */
export function hookOwnIpc(tracer: Tracer): void {
  const target = process as unknown as { send?: (...args: unknown[]) => boolean; connected?: boolean };
  if (typeof target.send !== "function" || !require("node:worker_threads").isMainThread) return;
  const channel = ownIpcChannel();
  wrapSend(tracer, target as { send: (...args: unknown[]) => boolean }, channel);
  wrapEmit(process, tracer, (event, message) => {
    if (event === "message" && !isInternalMessage(message)) tracer.receive(channel, message);
  });
}

// ---------------------------------------------------------------------------------
// Worker threads: spawn and the parent's view of the end.

export const workerThreadIds = new WeakMap<object, number>();

/**
 * ThreadSpawnFlag.afterScopeHooksThread when a worker's threadId is higher than untraced: an
 * ES module hooks thread the functions agent started in this thread took one, or (Node
 * without module.registerHooks) a worker this thread started before, whose agent starts one
 * at its start (src/instrument/node-hooks.ts markHooksThread).
 */
function hooksThreadShift(): number {
  const host = globalThis as Record<symbol, unknown>;
  const shifted = host[Symbol.for("scope.instrument.hooksThread")] === true || host[Symbol.for("scope.instrument.workerHooksThread")] === "started";
  if (host[Symbol.for("scope.instrument.workerHooksThread")] === "each") host[Symbol.for("scope.instrument.workerHooksThread")] = "started";
  return shifted ? ThreadSpawnFlag.afterScopeHooksThread : 0;
}

function hookWorkers(tracer: Tracer, threads: typeof WorkerThreads): void {
  const { recorder } = tracer;
  const Original = threads.Worker;
  const proxy = new Proxy(Original, {
    construct(target, given, newTarget) {
      // A worker given an `env` of its own gets scope's variables in it, as a child process does
      // (child-env.ts): the agent, preloaded into every thread, reads them from process.env.
      // Worker reads the env's own properties (Object.entries).
      const args = withEnvAt(given, 1, false) as unknown[];
      const worker = Reflect.construct(target, args, constructTarget(proxy, target, newTarget)) as WorkerThreads.Worker;
      recorder.safe(() => {
        const threadId = worker.threadId;
        workerThreadIds.set(worker, threadId);
        const entry = args[0];
        const text = typeof entry === "string" ? entry : entry instanceof URL ? entry.href : "";
        const isEval = (args[1] as { eval?: unknown } | undefined)?.eval === true;
        if (recorder.groups.thread) {
          // Its request (if any) rides on a request_context just before it, as a spawn's: the OTLP export's worker span goes under it.
          const entryId = recorder.str(isEval ? "[eval]" : text);
          tagRequest(recorder);
          recorder.event(Kind.thread_spawn, threadId, entryId, 0, 0, 0, hooksThreadShift());
        }
        onWorkerCreated?.(worker, args[1]);
      });
      return worker;
    },
  });
  (threads as { Worker: unknown }).Worker = proxy;
  const exited = (worker: object, code: unknown) => {
    if (!recorder.groups.thread) return;
    const threadId = workerThreadIds.get(worker);
    if (threadId === undefined) return;
    recorder.event(Kind.thread_exited, threadId, typeof code === "number" ? code : U64_NONE);
  };
  if (hookWorkerExit(Original.prototype, recorder, exited)) return;
  wrapEmit(Original.prototype as never, tracer, function (this: object, event, code) {
    if (event === "exit") exited(this, code);
  });
}

/**
 * A worker's end as its parent hears it, without wrapping Worker's `emit`: every message a
 * worker sends its parent is emitted as a Worker 'message' event, so a wrapper there costs
 * each of them (~190 instructions a parent's receive on Node 20, BENCHMARKS.md "Pool message
 * events by function"), for one 'exit' a worker. Node (20, 22, 24) ends a Worker in one
 * method, `this[kOnExit](code, …)`, called by the handle's `onexit`: it drains both ports (the
 * last messages' receives), calls `this[kDispose]()`, then emits 'error' (a resource limit) and
 * 'exit'. So the code is taken when kOnExit starts and the record written when kDispose does:
 * after the drained messages' receives, before the 'error' and 'exit' listeners, as the emit
 * wrapper wrote it right before the 'exit' listeners. Both methods are replaced on
 * Worker.prototype (own, non-enumerable, as the class defines them), by their symbols' names;
 * false (the emit wrapper then) where either is missing.
 */
function hookWorkerExit(proto: object, recorder: Recorder, exited: (worker: object, code: unknown) => void): boolean {
  const methods = proto as Record<symbol, unknown>;
  const symbols = Object.getOwnPropertySymbols(proto);
  const onExitKey = symbols.find((symbol) => symbol.description === "kOnExit");
  const disposeKey = symbols.find((symbol) => symbol.description === "kDispose");
  if (onExitKey === undefined || disposeKey === undefined) return false;
  const onExit = methods[onExitKey];
  const dispose = methods[disposeKey];
  if (typeof onExit !== "function" || typeof dispose !== "function") return false;
  const callOnExit = Function.prototype.call.bind(onExit) as (self: unknown, ...args: unknown[]) => unknown;
  let ending: object | undefined;
  let endingCode: unknown;
  const replace = (key: symbol, original: unknown, replacement: (this: object, ...args: never[]) => unknown) => {
    const descriptor = Object.getOwnPropertyDescriptor(proto, key)!;
    Object.defineProperty(proto, key, { ...descriptor, value: renamed(original, replacement) });
  };
  replace(onExitKey, onExit, function (this: object, code: unknown, customErr: unknown, customErrReason: unknown) {
    const outer = ending;
    const outerCode = endingCode;
    ending = this;
    endingCode = code;
    try {
      if (arguments.length === 3) return callOnExit(this, code, customErr, customErrReason);
      return Reflect.apply(onExit, this, arguments);
    } finally {
      ending = outer;
      endingCode = outerCode;
    }
  });
  replace(disposeKey, dispose, function (this: object) {
    if (ending === this) {
      ending = undefined;
      try {
        exited(this, endingCode);
      } catch (error) {
        recorder.fail(error);
      }
    }
    return Reflect.apply(dispose, this, arguments);
  });
  return true;
}

/** Set by the port hooks: registers a new worker's public port. */
export let onWorkerCreated: ((worker: WorkerThreads.Worker, options: unknown) => void) | undefined;
export function setOnWorkerCreated(fn: typeof onWorkerCreated): void {
  onWorkerCreated = fn;
}
