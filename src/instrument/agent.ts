/**
 * The one call the agent makes when `scope run --functions` is given: reads the
 * configuration from the environment (SCOPE_FUNCTIONS, JSON of MatchConfig, inherited by
 * child processes and workers), starts the runtime on the agent's sink and turns the
 * load hooks on. Returns the runtime (flush/close/orderedSink), or undefined when off.
 */
import type { TypeChecks } from "../agent/shared/preview";
import type { MatchConfig } from "./match";
import { enableNodeInstrumentation } from "./node-hooks";
import { FunctionRuntime, installHook, type RecordSink } from "./runtime";

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
    hotCallsPerSecond: config.hotCallsPerSecond,
    hotSample: config.hotSample,
    previewDepth: config.previewDepth,
    previewChars: config.previewChars,
  });
  installHook(runtime);
  if (options.runtime === "node") enableNodeInstrumentation({ config, esmLoader: options.esmLoader, cacheDir });
  else {
    const { instrumentPlugin } = require("./bun-plugin") as typeof import("./bun-plugin");
    Bun.plugin(instrumentPlugin(config, undefined, cacheDir));
  }
  return runtime;
}
