/**
 * Load-time instrumentation in Node: the CommonJS path (Module.prototype._compile, the
 * one place every CommonJS source passes through, including files that ESM `import`s
 * as CommonJS) and the ESM path (module.register with the loader in esm-loader.ts,
 * which runs on Node's hooks thread). The agent calls `enableNodeInstrumentation`
 * when `scope run --functions` is given; the runtime (runtime.ts) is installed apart.
 */
import { fileURLToPath, pathToFileURL } from "node:url";
import { instrumentVia, openTransformCache } from "./cache";
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
  const cache = openTransformCache(options.cacheDir, options.config);
  const warn = options.warn ?? ((line: string) => process.stderr.write(line));
  const original = Module.prototype._compile;
  Module.prototype._compile = function compile(this: CompilableModule, content: string, filename: string, ...rest: unknown[]) {
    let code = content;
    if (typeof content === "string" && typeof filename === "string" && matcher.file(filename)) {
      try {
        const result = instrumentVia(cache, content, filename, { matcher, module: false, readFile: siblingReader(filename) });
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

/** Registers the ESM load hook (Node ≥ 20.6). Returns false when module.register is missing. */
export function registerEsmHook(options: NodeHookOptions): boolean {
  const nodeModule = require("node:module") as { register?: (specifier: string, options?: object) => void };
  if (!options.esmLoader || typeof nodeModule.register !== "function") return false;
  const url = /^[a-z]+:/i.test(options.esmLoader) ? options.esmLoader : pathToFileURL(options.esmLoader).href;
  nodeModule.register(url, { data: { config: options.config, cacheDir: options.cacheDir } });
  return true;
}

/** Both paths, and source maps on so stack traces show original positions. */
export function enableNodeInstrumentation(options: NodeHookOptions): void {
  installCommonJsHook(options);
  registerEsmHook(options);
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
