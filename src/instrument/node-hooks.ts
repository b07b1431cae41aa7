/**
 * Load-time instrumentation in Node: the CommonJS path (Module.prototype._compile, the
 * one place every CommonJS source passes through, including files that ESM `import`s
 * as CommonJS, and ES modules loaded by `require()`, see instrumentCompiled) and the ESM
 * path (module.register with the loader in esm-loader.ts, which runs on Node's hooks
 * thread). The agent calls `enableNodeInstrumentation`
 * when `scope run --functions` is given; the runtime (runtime.ts) is installed apart.
 */
import { fileURLToPath, pathToFileURL } from "node:url";
import { instrumentVia, openTransformCache, type Cached, type TransformCache } from "./cache";
import { warningLine } from "./instrument";
import { Matcher, type MatchConfig } from "./match";

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
}

interface CompilableModule {
  _compile(content: string, filename: string, ...rest: unknown[]): unknown;
}

const installedKey = Symbol.for("scope.instrument.cjs");

/** Instruments CommonJS sources as Node compiles them. Idempotent; returns false when already on. */
export function installCommonJsHook(options: NodeHookOptions): boolean {
  const host = globalThis as Record<symbol, unknown>;
  if (host[installedKey]) return false;
  host[installedKey] = true;
  const Module = require("node:module") as unknown as { prototype: CompilableModule };
  const matcher = new Matcher(options.config);
  options.observe?.(matcher);
  const cache = openTransformCache(options.cacheDir, options.config);
  const warn = options.warn ?? ((line: string) => process.stderr.write(line));
  const original = Module.prototype._compile;
  Module.prototype._compile = function compile(this: CompilableModule, content: string, filename: string, ...rest: unknown[]) {
    let code = content;
    if (typeof content === "string" && typeof filename === "string" && matcher.file(filename)) {
      try {
        const result = instrumentCompiled(cache, matcher, content, filename, rest[0]);
        if (result.status === "instrumented") code = result.code;
        else if (result.status === "failed") warn(warningLine(filename, result.reason));
      } catch (error) {
        warn(warningLine(filename, error instanceof Error ? error.message : String(error)));
      }
    }
    return Reflect.apply(original, this, [code, filename, ...rest]);
  };
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
  const script = instrumentVia(cache, content, filename, { matcher, module: false, readFile });
  if (script.status !== "failed" || (typeof format === "string" && format.startsWith("commonjs"))) return script;
  const module = asModule();
  // Neither goal parses: report the script's reason (what Node tries first).
  return module.status === "failed" ? script : module;
}

/** Registers the ESM load hook (Node ≥ 20.6). Returns false when module.register is missing. */
export function registerEsmHook(options: NodeHookOptions): boolean {
  const nodeModule = require("node:module") as { register?: (specifier: string, options?: object) => void };
  if (!options.esmLoader || typeof nodeModule.register !== "function") return false;
  const url = /^[a-z]+:/i.test(options.esmLoader) ? options.esmLoader : pathToFileURL(options.esmLoader).href;
  nodeModule.register(url, { data: { config: options.config, cacheDir: options.cacheDir, selection: options.selection } });
  return true;
}

/** Both paths, and source maps on so stack traces show original positions. */
export function enableNodeInstrumentation(options: NodeHookOptions): void {
  installCommonJsHook(options);
  registerEsmHook(options);
  if (options.config.sourceMaps === false) return;
  const proc = process as { setSourceMapsEnabled?: (on: boolean) => void };
  proc.setSourceMapsEnabled?.(true);
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
