/**
 * The one call the agent makes when `scope run --functions` is given: reads the
 * configuration from the environment (SCOPE_FUNCTIONS, JSON of MatchConfig, inherited by
 * child processes and workers), starts the runtime on the agent's sink and turns the
 * load hooks on. Returns the runtime (flush/close/orderedSink), or undefined when off.
 */
import type { TypeChecks } from "../agent/shared/preview";
import { installBunCallSitePositions, installCallSitePositions, installContextCallSitePositions } from "./callsites";
import type { MatchConfig, Matcher } from "./match";
import { enableNodeInstrumentation } from "./node-hooks";
import { setPrefault } from "./oxc-raw";
import { FunctionRuntime, installHook, installRealm, keepSource, type Realm, type RecordSink } from "./runtime";
import { FUNCTION_SELECTION_KIND, SelectionTracker, SharedSelection, selectionPatterns, sharedSelectionBuffer } from "./selection";

/** The pipeline itself, for `scope bench`'s transform throughput (the code traced programs run). */
export { instrument, transformedCount } from "./instrument";

export const FUNCTIONS_ENV = "SCOPE_FUNCTIONS";

/** The configuration in $SCOPE_FUNCTIONS: "1" (defaults) or a MatchConfig as JSON. */
export function functionsConfig(env: Record<string, string | undefined>): MatchConfig | undefined {
  const text = env[FUNCTIONS_ENV];
  if (!text || text === "0") return undefined;
  if (text === "1") return {};
  try {
    return JSON.parse(text) as MatchConfig;
  } catch {
    return undefined;
  }
}

export interface StartOptions {
  sink: RecordSink;
  str?: (text: string, intern?: boolean) => number;
  /** A fresh string id the runtime writes itself (the agent's Recorder.reserveId). */
  stringId?: () => number;
  types: TypeChecks;
  /** The bundled esm-loader (Node only). */
  esmLoader?: string;
  env?: Record<string, string | undefined>;
  /** "node" installs the CommonJS and ESM hooks; "bun" leaves hooking to the Bun plugin. */
  runtime: "node" | "bun";
  /** The transform cache directory (cache.ts); default $SCOPE_TRANSFORM_CACHE. */
  cacheDir?: string;
  /** Records per recordBatch (runtime.ts); default 256. */
  batchSize?: number;
  /** The request the running code belongs to (0: none), for function_call field d. */
  request?: () => number;
  /** When `request` can first be non-zero (runtime.ts RuntimeOptions.requestsBegin). */
  requestsBegin?: (begin: () => void) => void;
  /** scope.node's prefault (Node): a large source's parse pages mapped on a libuv thread (oxc-raw.ts prefaultParse). */
  prefault?: (view: Uint8Array, from: number, to: number) => unknown;
  /** Bun: text to append to an ES module the plugin loads (the agent's ES-build statement: src/agent/bun/esm-plugin.ts). */
  append?: (path: string) => string;
}

export function startFunctionTracing(options: StartOptions): FunctionRuntime | undefined {
  const env = options.env ?? process.env;
  const config = functionsConfig(env);
  if (!config) return undefined;
  const cacheDir = options.cacheDir ?? env.SCOPE_TRANSFORM_CACHE;
  const runtime = new FunctionRuntime({
    sink: options.sink,
    str: options.str,
    stringId: options.stringId,
    types: options.types,
    batchSize: options.batchSize,
    request: options.request,
    requestsBegin: options.requestsBegin,
    hotCallsPerSecond: config.hotCallsPerSecond,
    hotSample: config.hotSample,
    maxOverhead: config.maxOverhead === undefined ? undefined : config.maxOverhead / 100,
    previewDepth: config.previewDepth,
    previewChars: config.previewChars,
  });
  installHook(runtime);
  const tracker = selectionTracker(runtime, config, options);
  const observe = tracker ? (matcher: Matcher) => tracker.observe(matcher) : undefined;
  if (options.runtime === "node") {
    const selection = tracker ? sharedSelectionBuffer(tracker.patterns.length) : undefined;
    if (tracker && selection) tracker.sharedIn = new SharedSelection(selection);
    setPrefault(options.prefault);
    // Code instrumented for another node:vm context (jest's) finds the hook there, and its stacks their untraced positions.
    const enterRealm = (realm: Realm) => installRealm(realm) && (installContextCallSitePositions(realm.error), true);
    enableNodeInstrumentation({ config, esmLoader: options.esmLoader, cacheDir, observe, selection, vmRuntime: { enterRealm, keepSource } });
    // A program that formats stacks itself sees the columns it has untraced (callsites.ts).
    installCallSitePositions(config.sourceMaps !== false);
  } else {
    installBunCallSitePositions();
    const { instrumentPlugin } = require("./bun-plugin") as typeof import("./bun-plugin");
    Bun.plugin(instrumentPlugin(config, undefined, cacheDir, observe, options.append));
  }
  return runtime;
}

/**
 * The selection report (selection.ts) of this thread, when the settings choose files or
 * functions by pattern: its records go through the runtime's ordered sink; function names
 * come from each table the runtime registers; the report of what matched nothing is
 * written when the thread ends (after the runtime's own exit flush, before the agent's
 * trace_stop).
 */
function selectionTracker(runtime: FunctionRuntime, config: MatchConfig, options: StartOptions): SelectionTracker | undefined {
  const patterns = selectionPatterns(config);
  const str = options.str;
  if (patterns.length === 0 || !str) return undefined;
  const sink = runtime.orderedSink();
  const tracker = new SelectionTracker(patterns, {
    record: (flags, a, b, c, d, e) => sink.record(FUNCTION_SELECTION_KIND, flags, a, b, c, d, e),
    str: (text) => str(text, true),
  });
  const hook = runtime.hook;
  const register = hook.f;
  hook.f = function f(this: unknown, file, table, listeners, source, shiftsFile, shifts) {
    // The file's column shifts passed on (a file without a map of scope's needs them for
    // its stack positions); the original places after them are not, as before.
    const base = Reflect.apply(register, this, [file, table, listeners, source, shiftsFile, shifts]) as number;
    try {
      const names: string[] = [];
      for (let i = 0; i + 3 < table.length; i += 4) names.push(String(table[i]));
      tracker.functions(names);
    } catch {
      // The report is never worth the program.
    }
    return base;
  };
  if (typeof process === "object" && typeof process.on === "function") process.on("exit", () => tracker.finish());
  return tracker;
}
