/**
 * Load-time instrumentation in Node: the CommonJS path (Module.prototype._compile, the
 * one place every CommonJS source passes through, including files that ESM `import`s
 * as CommonJS, and ES modules loaded by `require()`, see instrumentCompiled) and the ESM
 * path (Node 22.15+ and 24: module.registerHooks, in this thread, esm-in-thread.ts; before
 * that, module.register with the loader in esm-loader.ts, which runs on Node's hooks
 * thread). The agent calls `enableNodeInstrumentation`
 * when `scope run --functions` is given; the runtime (runtime.ts) is installed apart.
 */
import { dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { keepFrameName } from "../agent/shared/reflect";
import { installCallSitePositions, raiseStackTraceLimit, restoreStackTraceLimit, setNodeModuleSites } from "./callsites";
import { instrumentVia, openTransformCache, readCodeCache, writeCodeCache, type Cached, type CodeCacheSlot, type TransformCache } from "./cache";
import { hasInThreadHooks, registerInThreadEsmHook, type HandedSources } from "./esm-in-thread";
import { warningLine } from "./instrument";
import { mayLoadModules } from "./loads-modules";
import { Matcher, nodeGivesRealPaths, type MatchConfig } from "./match";
import { SCRIPT_WRAPPER } from "./print";
import { installVmHooks, type VmRuntime } from "./vm-hooks";

export interface NodeHookOptions {
  config: MatchConfig;
  /** The built esm-loader module (a file path or URL); no ESM hook when absent. */
  esmLoader?: string;
  /** The transform cache directory (cache.ts); none: every start transforms. */
  cacheDir?: string;
  /** Where warning lines go; default process.stderr. */
  warn?: (line: string) => void;
  /** Given the hook's Matcher to observe (the selection report, selection.ts). */
  observe?: (matcher: Matcher) => void;
  /** The selection report's buffer shared with the ESM loader (selection.ts SharedSelection). */
  selection?: SharedArrayBuffer;
  /** The runtime's side of node:vm code (vm-hooks.ts): readying other contexts, keeping sources. */
  vmRuntime?: VmRuntime;
}

interface CompilableModule {
  _compile(content: string, filename: string, ...rest: unknown[]): unknown;
  exports: unknown;
  require(id: string): unknown;
}

type Compile = CompilableModule["_compile"];

const installedKey = Symbol.for("scope.instrument.cjs");

/** The `_compile` hook's Matcher and cache, which the in-thread ESM hook shares; what that hook handed a require(). */
let commonJs: { matcher: Matcher; cache: TransformCache | undefined; warn: (line: string) => void; handed?: HandedSources } | undefined;

/** Instruments CommonJS sources as Node compiles them. Idempotent; returns false when already on. */
export function installCommonJsHook(options: NodeHookOptions, esm?: DeferredEsmHook): boolean {
  const host = globalThis as Record<symbol, unknown>;
  if (host[installedKey]) return false;
  host[installedKey] = true;
  const Module = require("node:module") as unknown as { prototype: CompilableModule };
  const matcher = new Matcher(options.config);
  matcher.loadedIsReal = nodeGivesRealPaths();
  options.observe?.(matcher);
  // Entries and code caches are written by libuv's threads while the program starts (cache.ts writeLater).
  const cache = openTransformCache(options.cacheDir, options.config, { writeLater: true });
  const warn = options.warn ?? ((line: string) => process.stderr.write(line));
  const original = Module.prototype._compile;
  keepFrameName(original, "_compile");
  const cached = cache ? codeCacheCompiler(original) : undefined;
  // Sources compiled through node:vm under a matched filename (vite-node's): vm-hooks.ts;
  // not scope's own (this bundle's directory, the loader's: the agent's chunks).
  const own = [__dirname];
  if (options.esmLoader) own.push(dirname(options.esmLoader.startsWith("file:") ? fileURLToPath(options.esmLoader) : options.esmLoader));
  installVmHooks(matcher, warn, own, options.vmRuntime);
  let probed = false;
  const state: NonNullable<typeof commonJs> = (commonJs = { matcher, cache, warn });
  Module.prototype._compile = function compile(this: CompilableModule, content: string, filename: string, ...rest: unknown[]) {
    let code = content;
    let loadsModules: boolean | undefined;
    let compiled: Cached | undefined;
    if (typeof content === "string" && typeof filename === "string" && !handedToCompile(state.handed, content, filename, rest[0]) && matcher.file(filename)) {
      try {
        const result = instrumentCompiled(cache, matcher, content, filename, rest[0]);
        loadsModules = result.loadsModules;
        if (result.status === "instrumented") compiled = result;
        else if (result.status === "failed") warn(warningLine(filename, result.reason));
      } catch (error) {
        warn(warningLine(filename, error instanceof Error ? error.message : String(error)));
      }
    }
    // The ESM hooks, when deferred, are on before any source that could load an ES module runs.
    if (esm?.pending === true && typeof content === "string") esm.before(content, loadsModules, rest[0]);
    // The module's top level runs with this frame (and the agent's `.js` wrapper) on the
    // stack: V8 keeps that many more frames, which every formatter is handed without (callsites.ts).
    // (No catch here: Node reports an uncaught error at the place it was last thrown from.)
    const raise = raiseStackTraceLimit();
    try {
      if (compiled?.status === "instrumented") {
        if (compiled.codeCache && cached && compiled.code.length >= CODE_CACHE_MIN_CHARS) {
          if (!probed && raise !== undefined) {
            probed = true;
            setNodeModuleSites(nodeModuleSites(original));
          }
          return cached(this, compiled.code, filename, compiled.codeCache, rest, compiled.wrapped);
        }
        code = compiled.code;
      }
      return Reflect.apply(original, this, [code, filename, ...rest]);
    } finally {
      if (raise !== undefined) restoreStackTraceLimit(raise);
    }
  };
  return true;
}

/** Whether the in-thread ESM hook instrumented this source already (a require() of an ES module passes both). */
function handedToCompile(handed: HandedSources | undefined, content: string, filename: string, format: unknown): boolean {
  if (handed === undefined || typeof format !== "string" || !format.startsWith("module") || handed.get(filename) !== content) return false;
  handed.delete(filename);
  return true;
}

/**
 * One source reaching `_compile`, in the goal Node will run it in. Node ≥ 20.19 (22.12)
 * also routes `require()` of an ES module through here (require(esm)): its
 * `Module._extensions[".js"]` passes a third argument, the format: "module" for .mjs and
 * .js under `"type": "module"` (Node then compiles the given source as a module in
 * loadESMFromCJS, past every module.register hook, so this is the only place to
 * instrument it), "commonjs" for .cjs and `"type": "commonjs"`, nothing for a .js
 * without a type, which Node compiles as CommonJS and, when that fails on ESM syntax,
 * as a module (detection) — so a script that does not parse is retried as a module.
 * The module goal is transformed exactly as esm-loader.ts does it (same options, same
 * file: URL as the source name), so both paths share one cache entry per file.
 */
export function instrumentCompiled(cache: TransformCache | undefined, matcher: Matcher, content: string, filename: string, format: unknown): Cached {
  const readFile = siblingReader(filename);
  const asModule = () => instrumentVia(cache, content, filename, { matcher, module: true, readFile, sourceName: pathToFileURL(filename).href });
  if (typeof format === "string" && format.startsWith("module")) return asModule();
  // The script goal's code also inside the CommonJS wrapper, for codeCacheCompiler (print.ts SCRIPT_WRAPPER).
  const script = instrumentVia(cache, content, filename, { matcher, module: false, readFile, wrap: true });
  if (script.status !== "failed" || (typeof format === "string" && format.startsWith("commonjs"))) return script;
  const module = asModule();
  // Neither goal parses: report the script's reason (what Node tries first).
  return module.status === "failed" ? script : module;
}

/** Smaller modules compile in well under a millisecond: not worth a second file to read. */
const CODE_CACHE_MIN_CHARS = 16 * 1024;

/** A source map comment's name (V8 takes the last one in a script). */
const MAP_NAME = "sourceMappingURL=";

/**
 * What Node's `_compile` does for a CommonJS module (Node 20: lib/internal/modules/cjs/loader.js,
 * makeRequireFunction in helpers.js), with V8's code cache: the instrumented code compiled as
 * a vm.Script with the cached data of its cache entry (cache.ts), or, the first time, without
 * it and the data made after the module ran. The wrapper's head is a line of its own and the
 * script starts at line -1, so lines and columns are the code's. Only code without `import()`
 * (or a direct `eval`, which could hold one) comes here (cache.ts): Node 20 loses a script's
 * import() callback when V8 compiles it from cached data, and the one it would use,
 * USE_MAIN_CONTEXT_DEFAULT_LOADER (the default loader, as from Node's own wrapper), warns
 * that it is experimental at its first use. Node registers a module's source map only from its own compile, so
 * the map comment is handed to `original` alone first: Node keeps the map (decoded, as
 * always, but only the comment's one line measured) for the module, and runs an empty
 * module body. Undefined (Node's `_compile` as before) where that is not Node's own
 * `_compile` (another hook came first), without USE_MAIN_CONTEXT_DEFAULT_LOADER (Node before
 * 20.12), under a policy (it checks the compiled text), --inspect-brk (it pauses in the main
 * module's first line), coverage (NODE_V8_COVERAGE reads the lines Node measured) or, for
 * the module at hand, once Module.wrap or Module.wrapper was replaced.
 */
export function codeCacheCompiler(original: Compile): ((module: CompilableModule, code: string, filename: string, slot: CodeCacheSlot, rest: unknown[], wrapped?: string) => unknown) | undefined {
  const vm = require("node:vm") as typeof import("node:vm") & { constants?: { USE_MAIN_CONTEXT_DEFAULT_LOADER?: symbol } };
  const loader = vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
  // Node's own Script, taken before vm-hooks.ts wraps it: this code is instrumented already.
  const Script = vm.Script;
  if (!loader || typeof original !== "function" || !/\bwrapSafe\(/.test(Function.prototype.toString.call(original))) return undefined;
  const flags = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].join(" ");
  if (/--(experimental-policy|policy-integrity|inspect-brk)/.test(flags) || process.env.NODE_V8_COVERAGE) return undefined;
  const Module = require("node:module") as unknown as {
    _extensions: unknown;
    _cache: unknown;
    _resolveFilename(request: string, parent: unknown, isMain: boolean, options?: unknown): string;
    _resolveLookupPaths(request: string, parent: unknown): unknown;
    wrap: unknown;
    wrapper: unknown;
  };
  // A program (or a tool of it) that replaces Module.wrap or Module.wrapper gets Node's
  // compile, which then uses its wrapper.
  const [nodeWrap, nodeWrapper] = [Module.wrap, Module.wrapper];
  const { dirname } = require("node:path") as typeof import("node:path");
  const makeRequire = (module: CompilableModule) => {
    const require = function require(path: string) {
      return module.require(path);
    } as ((path: string) => unknown) & Record<string, unknown>;
    // Named as Node's (the bundler renames a function called `require`): `require.name`, and its frame (callsites.ts).
    Object.defineProperty(require, "name", { value: "require", configurable: true });
    const resolve = function resolve(request: string, options?: unknown) {
      return Module._resolveFilename(request, module, false, options);
    } as ((request: string, options?: unknown) => string) & { paths?: (request: string) => unknown };
    resolve.paths = function paths(request: string) {
      return Module._resolveLookupPaths(request, module);
    };
    require.resolve = resolve;
    Object.defineProperty(require, "main", { value: (process as { mainModule?: unknown }).mainModule, writable: true, enumerable: true, configurable: true });
    require.extensions = Module._extensions;
    require.cache = Module._cache;
    return require;
  };
  // Named: its frame stands where Node's `_compile` would (callsites.ts CACHED_COMPILE).
  return function compileCached(module, code, filename, slot, rest, wrapped) {
    if (Module.wrap !== nodeWrap || Module.wrapper !== nodeWrapper) return Reflect.apply(original, module, [code, filename, ...rest]);
    // The map print.ts appended is the code's last line; any other map comment (a file's own,
    // left in place with `sourceMaps: false`): Node's compile, which reads it as untraced.
    const named = code.lastIndexOf(MAP_NAME);
    if (named >= 0) {
      const lineStart = code.lastIndexOf("\n", named) + 1;
      if (code.indexOf("\n", named) < code.length - 1 || !code.startsWith("//# ", lineStart) || named !== lineStart + 4) return Reflect.apply(original, module, [code, filename, ...rest]);
      Reflect.apply(original, module, [code.slice(lineStart), filename, ...rest]);
    }
    // A hashbang is allowed only at the very start of a script: kept as a comment, same length.
    const body = code.startsWith("#!") ? `//${code.slice(2)}` : code;
    const cachedData = readCodeCache(slot);
    // The transform's own wrapped text when it made one (a first start): the same characters, already flat.
    const source = wrapped !== undefined && body === code ? wrapped : `${SCRIPT_WRAPPER.head}${body}${SCRIPT_WRAPPER.tail}`;
    const script = new Script(source, { filename, lineOffset: -1, cachedData, importModuleDynamically: loader as never });
    const wrapper = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    const exports = module.exports;
    const result = Reflect.apply(wrapper, exports, [exports, makeRequire(module), module, filename, dirname(filename)]);
    if (cachedData === undefined || script.cachedDataRejected === true) {
      try {
        writeCodeCache(slot, script.createCachedData(), true);
      } catch {
        // No code cache this time: the next start compiles from the text again.
      }
    }
    return result;
  };
}

/**
 * The CallSites of Node's own `_compile` running a module's top level (`Module._compile
 * (node:internal/modules/cjs/loader:…)`) and of the `require` Node hands a module
 * (`require (node:internal/modules/helpers:…)`), from a module of one statement compiled by
 * it: codeCacheCompiler runs a module in place of the one and hands it its own `require`,
 * and a trace shows Node's frames there as untraced (callsites.ts). Undefined: not found.
 */
function nodeModuleSites(original: Compile): { compile: unknown; require: unknown } | undefined {
  const errors = Error as ErrorConstructor & { prepareStackTrace?: unknown };
  const saved = errors.prepareStackTrace;
  const limit = Object.getOwnPropertyDescriptor(errors, "stackTraceLimit");
  const frame = (trace: unknown, index: number, pattern: RegExp) => {
    const site = Array.isArray(trace) ? trace[index] : undefined;
    return typeof site === "object" && site !== null && pattern.test(String(site)) ? site : undefined;
  };
  try {
    const Module = require("node:module") as unknown as new (id: string, parent?: unknown) => CompilableModule;
    const probe = new Module("<scope: module frames>");
    // Node's `require` calls the module's own: the frame of Node's `require` is the second (the first, this one, is scope's).
    probe.require = () => new Error().stack;
    errors.prepareStackTrace = (_error: unknown, trace: unknown) => trace;
    Error.stackTraceLimit = 10;
    Reflect.apply(original, probe, ["module.exports = [new Error().stack, require('')];", "<scope: module frames>"]);
    const [top, required] = probe.exports as unknown[];
    const compile = frame(top, 1, /^Module\.(?:_compile|<anonymous>) \(node:/);
    const require_ = frame(required, 0, /^require \(node:/);
    return compile !== undefined && require_ !== undefined ? { compile, require: require_ } : undefined;
  } catch {
    return undefined;
  } finally {
    errors.prepareStackTrace = saved;
    if (limit) Object.defineProperty(errors, "stackTraceLimit", limit);
  }
}

/**
 * Registers the ESM load hook: in this thread where Node has module.registerHooks and the
 * `_compile` hook is on (esm-in-thread.ts), else on Node's hooks thread through
 * module.register (Node ≥ 20.6). Returns false when neither is there.
 */
export function registerEsmHook(options: NodeHookOptions): boolean {
  if (commonJs !== undefined && options.esmLoader && hasInThreadHooks()) {
    commonJs.handed = registerInThreadEsmHook(commonJs.matcher, commonJs.cache, commonJs.warn);
    return true;
  }
  const nodeModule = require("node:module") as { register?: (specifier: string, options?: object) => void };
  if (!options.esmLoader || typeof nodeModule.register !== "function") return false;
  const url = /^[a-z]+:/i.test(options.esmLoader) ? options.esmLoader : pathToFileURL(options.esmLoader).href;
  const register = nodeModule.register;
  const threads = osThreadCount();
  runningOwnTicks(() => Reflect.apply(register, nodeModule, [url, { data: { config: options.config, cacheDir: options.cacheDir, selection: options.selection } }]));
  // No hooks thread before, and none the program's options start later (`--loader`, an
  // `--import` that may register): scope's took a threadId the program's workers had untraced.
  if ((threads === undefined || (osThreadCount() ?? 0) > threads) && !programStartsHooks()) markHooksThread(nodeModule);
  return true;
}

/** Node options with which the program may start a hooks thread of its own (then it is not scope's doing). */
const PROGRAM_HOOKS_OPTIONS = /(?:^|\s)(?:--import|--loader|--experimental-loader)(?=[\s=]|$)/;

function programStartsHooks(): boolean {
  return PROGRAM_HOOKS_OPTIONS.test(`${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`);
}

/**
 * "each": every worker this thread starts starts a hooks thread of scope's (Node without
 * module.registerHooks); the core agent makes it "started" at the first, after which the
 * workers' threadIds are higher than untraced (a CommonJS program's three workers: 1, 3, 5).
 */
const workerHooksThreadKey = Symbol.for("scope.instrument.workerHooksThread");

/**
 * Set while the hooks thread scope started is one the program would not have untraced: it
 * took the next worker threadId, so the program's workers get ids one higher (its first 2,
 * not 1). The core agent flags their thread_spawn records (ThreadSpawnFlag.afterScopeHooksThread),
 * and `scope run` says so once (src/run/hooks-thread-report.ts). Cleared at the program's own
 * module.register, which would have started that thread untraced.
 */
const hooksThreadKey = Symbol.for("scope.instrument.hooksThread");

function markHooksThread(nodeModule: { register?: (...args: never[]) => unknown }): void {
  const host = globalThis as Record<symbol, unknown>;
  host[hooksThreadKey] = true;
  const original = nodeModule.register;
  if (typeof original !== "function") return;
  const register = function register(this: unknown, ...args: unknown[]) {
    host[hooksThreadKey] = false;
    if (nodeModule.register === register) nodeModule.register = original;
    return Reflect.apply(original as (...args: unknown[]) => unknown, this, args);
  };
  Object.defineProperty(register, "name", { value: original.name });
  Object.defineProperty(register, "length", { value: original.length });
  nodeModule.register = register;
}

/** The process's OS threads (Linux: /proc/self/task); undefined where that cannot be read. */
function osThreadCount(): number | undefined {
  try {
    return (require("node:fs") as typeof import("node:fs")).readdirSync("/proc/self/task").length;
  } catch {
    return undefined;
  }
}

/** Ticks a callback queues that queue ticks again: run this many rounds, the rest left to Node. */
const OWN_TICK_ROUNDS = 8;

/**
 * Runs `start` and then, before returning, the `process.nextTick` callbacks Node queued
 * during it, which stay off the program's tick queue. `module.register` starts Node's hooks
 * thread, and `new Worker` queues three (the resume of its stdout and stderr pipes, the
 * 'worker' event). Left queued, they make the main thread's next drain go through
 * processTicksAndRejections, whose runMicrotasks() then runs the program's next promise
 * jobs: on Node 24, which loads an ES module entry from the hooks thread synchronously, that
 * is the entry's evaluation (ModuleJob.run after its `await this.#instantiate()`), and every
 * stack its top level takes, or a function it calls, or code after a top-level `await`, ends
 * in `at process.processTicksAndRejections` where untraced V8 runs the jobs from Node's
 * native checkpoint with no frame below (the same for a module a CommonJS program imports
 * later; on Node 20 and 22, which load it through async requests, whenever an answer came
 * while they were queued). Run here, none is left: the program's queue is as untraced
 * (BENCHMARKS.md "The ES module entry's stacks on Node 24: the hooks thread's ticks run at
 * register").
 */
function runningOwnTicks(start: () => void): void {
  const descriptor = Object.getOwnPropertyDescriptor(process, "nextTick");
  if (!descriptor || !("value" in descriptor) || descriptor.writable !== true || descriptor.configurable !== true) return start();
  let queued: { callback: (...args: unknown[]) => void; args: unknown[] }[] = [];
  const collect = (callback: (...args: unknown[]) => void, ...args: unknown[]) => {
    queued.push({ callback, args });
  };
  Object.defineProperty(process, "nextTick", { ...descriptor, value: collect });
  try {
    start();
    for (let round = 0; round < OWN_TICK_ROUNDS && queued.length > 0; round++) {
      const ticks = queued;
      queued = [];
      for (const { callback, args } of ticks) {
        try {
          Reflect.apply(callback, undefined, args);
        } catch (error) {
          // A tick that throws is the program's uncaught exception, as from Node's queue.
          Reflect.apply(descriptor.value as typeof process.nextTick, process, [() => { throw error; }]);
        }
      }
    }
  } finally {
    Object.defineProperty(process, "nextTick", descriptor);
    // What is left (past the rounds, or all of it when `start` threw) goes to Node's queue, as before.
    for (const { callback, args } of queued) Reflect.apply(descriptor.value as typeof process.nextTick, process, [callback, ...args]);
  }
}

/**
 * Both paths, and stack traces with the positions the program has untraced: on Node 20.19+
 * from the column shifts (callsites.ts; every file's, its lines counted as V8 counts them,
 * line-ends.ts), where Node's source maps stay as the program set them (turned on by scope,
 * a program's files with maps of their own would have their frames mapped where they are
 * not untraced: `node dist/app.js` printing src/app.ts positions); elsewhere through
 * scope's inline maps, with Node's source maps on.
 */
export function enableNodeInstrumentation(options: NodeHookOptions): void {
  if (options.config.sourceMaps !== false && options.config.shiftsForStacks === undefined && nodeFormatsThroughProperty() && installCallSitePositions(true)) {
    // Both hooks (and the cache key) see it: files without a map of their own get none of
    // scope's; the accessor just installed gives every formatter their untraced positions.
    options = { ...options, config: { ...options.config, shiftsForStacks: true } };
  }
  const host = globalThis as Record<symbol, unknown>;
  // Every worker registers at start (esmNeededAtStart): through module.register, a hooks thread of its own.
  if (options.esmLoader && !hasInThreadHooks() && !programStartsHooks()) host[workerHooksThreadKey] = "each";
  const eager = host[installedKey] ? "hooks already on" : esmNeededAtStart(options);
  if (eager !== undefined) {
    installCommonJsHook(options);
    host[esmStateKey] = registerEsmHook(options) ? `registered at start (${eager})` : "none";
  } else {
    installCommonJsHook(options, deferEsmHook(options));
  }
  if (options.config.sourceMaps === false || options.config.shiftsForStacks === true) return;
  enableSourceMaps();
}

function enableSourceMaps(): void {
  const proc = process as { setSourceMapsEnabled?: (on: boolean) => void };
  proc.setSourceMapsEnabled?.(true);
}

/**
 * Whether stack positions can be restored from column shifts alone (MatchConfig.shiftsForStacks):
 * Node ≥ 20.19 keeps its own formatter at `Error.prepareStackTrace` and calls what is there
 * for every stack, so callsites.ts (installed next, over that same plain property) sees
 * every trace, Node's own formatting included. Older Node formats without asking when the
 * program put nothing there: files keep scope's inline map. SCOPE_INLINE_MAPS=1 keeps the
 * maps anyway (to compare).
 */
function nodeFormatsThroughProperty(): boolean {
  if (process.env.SCOPE_INLINE_MAPS === "1") return false;
  const descriptor = Object.getOwnPropertyDescriptor(Error, "prepareStackTrace");
  return descriptor !== undefined && "value" in descriptor && descriptor.writable === true && descriptor.configurable === true && typeof descriptor.value === "function" && descriptor.value.name === "ErrorPrepareStackTrace";
}

/** Reads a relative `sourceMappingURL` next to `filename` (to chain an input map). */
export function siblingReader(filename: string): (url: string) => string | undefined {
  return (url) => {
    try {
      const { readFileSync } = require("node:fs") as typeof import("node:fs");
      const base = filename.startsWith("file:") ? fileURLToPath(filename) : filename;
      const target = url.startsWith("file:") ? fileURLToPath(url) : require("node:path").resolve(require("node:path").dirname(base), url);
      return readFileSync(target, "utf8");
    } catch {
      return undefined;
    }
  };
}

/**
 * The ESM hooks registered only when needed. module.register starts Node 20's hooks
 * thread and blocks until it runs (~100 ms of a start, BENCHMARKS.md "Start-up"), so a
 * CommonJS program that never loads an ES module should not pay it. With a CommonJS entry
 * (esmNeededAtStart), an ES module can reach Node's loader only from code that runs later:
 * every CommonJS source passes `_compile` first, where `before` registers the hooks when the
 * source could load one (loads-modules.ts: import(), an evaluator, Module.runMain; the
 * parser's word for instrumented files, kept in the transform cache's entry); and a
 * program's own `module.register` registers scope's first, in the order it has today.
 * `globalThis[Symbol.for("scope.instrument.esm")]` says which happened (tests read it).
 */
export interface DeferredEsmHook {
  pending: boolean;
  /** `format`: what Node passed `_compile` ("module" for a require() of an ES module). */
  before(content: string, loadsModules: boolean | undefined, format?: unknown): void;
}

/**
 * A require() of an ES module (require(esm), Node ≥ 20.19 / 22.12) compiles the module at
 * `_compile` with the format "module", and Node's ES loader then loads what it imports:
 * on Node 22 and 24 through module.register's hooks, so they are registered first (else an
 * ES-only package a CommonJS program requires, kysely 0.28+, is instrumented at its entry
 * file only). Node 20's require(esm) runs no registered hook for the imports: there the
 * hooks thread would be started for nothing, so they stay deferred.
 */
const requireEsmRunsHooks = Number(process.versions.node?.split(".")[0]) >= 22;

const esmStateKey = Symbol.for("scope.instrument.esm");

function deferEsmHook(options: NodeHookOptions): DeferredEsmHook {
  const host = globalThis as Record<symbol, unknown>;
  const nodeModule = require("node:module") as { register?: (specifier: string, ...rest: unknown[]) => void };
  const programRegister = nodeModule.register;
  const hook: DeferredEsmHook = {
    pending: true,
    before(content, loadsModules, format) {
      if (loadsModules ?? mayLoadModules(content)) register("a module that could load one");
      else if (requireEsmRunsHooks && typeof format === "string" && format.startsWith("module")) register("a require() of an ES module");
    },
  };
  function register(why: string): void {
    if (!hook.pending) return;
    hook.pending = false;
    if (nodeModule.register === patched) nodeModule.register = programRegister;
    host[esmStateKey] = registerEsmHook(options) ? `registered before ${why}` : "none";
  }
  const patched = function register_(this: unknown, ...args: unknown[]) {
    register("the program's module.register");
    // Its own call would have started the hooks thread untraced: no threadId of the program's moved.
    host[hooksThreadKey] = false;
    return Reflect.apply(programRegister as (...args: unknown[]) => void, this, args);
  };
  if (typeof programRegister === "function") {
    Object.defineProperty(patched, "name", { value: programRegister.name });
    Object.defineProperty(patched, "length", { value: programRegister.length });
    nodeModule.register = patched;
  }
  host[esmStateKey] = "deferred";
  return hook;
}

/** Node options after which the program's entry or preloads may be ES modules (or scope cannot tell). */
const ESM_OPTIONS = /(?:^|\s)(?:--import|--loader|--experimental-loader|--experimental-default-type|--input-type|--test|--watch|--experimental-vm-modules|--experimental-detect-module|--experimental-wasm-modules|--experimental-network-imports|--experimental-policy|--interactive|-i)(?=[\s=]|$)/;

/**
 * Why the ESM hooks must be on before the program starts, or undefined when its entry is
 * CommonJS and nothing ran before scope (then deferEsmHook). The entry is CommonJS as
 * Node 20 decides it (run_main.js shouldUseESMLoader): no option that loads modules or
 * changes the default type, a `.cjs` file, or a `.js` or extensionless file outside a
 * `"type": "module"` package whose text compiles as a CommonJS function (else Node's
 * syntax detection runs it as a module); `-e`/`-p` code without the word `import`.
 */
function esmNeededAtStart(options: NodeHookOptions): string | undefined {
  try {
    if (!options.esmLoader) return "no loader";
    if (!(require("node:worker_threads") as typeof import("node:worker_threads")).isMainThread) return "a worker";
    const argv = process.execArgv;
    if (ESM_OPTIONS.test(`${argv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`)) return "an option";
    const path = require("node:path") as typeof import("node:path");
    const fs = require("node:fs") as typeof import("node:fs");
    // Only scope's own files (its agents next to the loader, native addons) may have run
    // before: another preload could hold an import().
    const own = path.dirname(options.esmLoader.startsWith("file:") ? fileURLToPath(options.esmLoader) : options.esmLoader);
    const Module = require("node:module") as unknown as { _cache: Record<string, unknown>; _findPath(request: string, paths: unknown, isMain: boolean): string | false };
    for (const file of Object.keys(Module._cache)) if (!file.startsWith(own + path.sep) && !file.endsWith(".node")) return `${file} loaded before scope`;
    const evalAt = argv.findIndex((arg) => /^(-e|-p|-pe|--eval|--print)$/.test(arg) || /^--(eval|print)=/.test(arg));
    if (evalAt >= 0) {
      const code = argv[evalAt]!.includes("=") ? argv[evalAt]!.slice(argv[evalAt]!.indexOf("=") + 1) : argv[evalAt + 1];
      return typeof code === "string" && !code.includes("import") && !mayLoadModules(code) ? undefined : "eval code";
    }
    const main = process.argv[1];
    if (!main) return "no entry";
    const entry = Module._findPath(path.resolve(main), null, true);
    if (!entry) return "entry not found";
    const extension = path.extname(entry);
    if (extension === ".cjs") return undefined;
    if (extension !== ".js" && extension !== "") return `a ${extension} entry`;
    for (let dir = path.dirname(entry); ; dir = path.dirname(dir)) {
      const text = readIfFile(fs, path.join(dir, "package.json"));
      if (text !== undefined) {
        const type = (JSON.parse(text) as { type?: unknown }).type;
        if (type === "module") return "a module package";
        break;
      }
      if (path.dirname(dir) === dir || path.basename(dir) === "node_modules") break;
    }
    const text = fs.readFileSync(entry, "utf8");
    if (/\b(?:import|export|await)\b/.test(text)) {
      const vm = require("node:vm") as typeof import("node:vm");
      try {
        vm.compileFunction(text.startsWith("#!") ? `//${text.slice(2)}` : text, ["exports", "require", "module", "__filename", "__dirname"], { filename: entry });
      } catch {
        return "an entry that is not CommonJS";
      }
    }
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : "unknown";
  }
}

function readIfFile(fs: typeof import("node:fs"), file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}
