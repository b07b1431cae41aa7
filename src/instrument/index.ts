/**
 * Function tracing by source instrumentation. What the agent, the CLI and build
 * pipelines use:
 * - `instrument(code, file, options)`: the pipeline for one file (instrument.ts);
 * - `FunctionRuntime` + `installHook`: what the injected code calls (runtime.ts);
 * - `enableNodeInstrumentation`: Node CommonJS + ESM load hooks (node-hooks.ts; the
 *   ESM loader is esm-loader.ts, bundled on its own and passed as `esmLoader`);
 * - `instrumentPlugin`: Bun.plugin at run time and Bun.build ahead of time (bun-plugin.ts);
 * - `instrumentPath`: `scope instrument <dir|file> --out <dir>` (aot.ts).
 */
export { instrument, warningLine, type InstrumentOptions, type Instrumented } from "./instrument";
export { Matcher, defaultLevel, globToRegExp, type Level, type MatchConfig, type Rule } from "./match";
export { FunctionRuntime, FunctionKind, SETTLE_REJECTED, installHook, uninstallHook, type Hook, type RecordSink, type RuntimeOptions } from "./runtime";
export { enableNodeInstrumentation, installCommonJsHook, registerEsmHook, type NodeHookOptions } from "./node-hooks";
export { instrumentPlugin } from "./bun-plugin";
export { instrumentPath, type AotSummary } from "./aot";
export { TransformCache, openTransformCache, instrumentVia } from "./cache";
export { FunctionFlag, type FunctionInfo } from "./transform";
export { MARKER, HOOK_KEY } from "./print";
export { startFunctionTracing, functionsConfig, FUNCTIONS_ENV, type StartOptions } from "./agent";
