/**
 * ES modules instrumented in the loading thread (Node 22.15+ and 24: `module.registerHooks`,
 * synchronous hooks). module.register's loader (esm-loader.ts) runs on a hooks thread that
 * registering starts: ~100 ms of a start, and that thread takes a worker threadId (one in each
 * traced worker too), so the program's first Worker would get 2, a CommonJS program's three
 * workers 1, 3, 5 (ARCHITECTURE.md "ESM hooks registered when needed"). Here the
 * hook shares the `_compile` hook's Matcher and transform cache; CommonJS stays with
 * `_compile` (scope's own V8 code cache: BENCHMARKS.md "Start-up on Node 22 and 24: the
 * in-thread load hook"), so every source that is not an ES module is passed on untouched.
 *
 * In-thread hooks run before module.register's (Node calls them first whatever the order of
 * registering): behind a program's `--import tsx`, scope sees the JavaScript tsx made (with
 * its map, chained: instrument.ts), where on the hooks thread it saw the TypeScript and
 * handed its own map on.
 */
import { fileURLToPath } from "node:url";
import type { TransformCache } from "./cache";
import { instrumentedSource, type LoadResult } from "./esm-load";
import { warningLine } from "./instrument";
import type { Matcher } from "./match";

interface NodeModule {
  registerHooks?: (hooks: { load(url: string, context: object, nextLoad: (url: string, context?: object) => LoadResult): LoadResult }) => unknown;
}

/**
 * What the hook instrumented for a require(), by file, until `_compile` sees it: a `require()` of an ES module
 * (Node 22.12+) passes the load hook and then `_compile` with the format "module"
 * (node-hooks.ts instrumentCompiled), which must not transform it again.
 */
export type HandedSources = Map<string, string>;

/** A require() (its resolve's "require" condition), which goes on to `_compile`; an import does not. */
function required(context: object): boolean {
  const conditions = (context as { conditions?: unknown }).conditions;
  return Array.isArray(conditions) && conditions.includes("require");
}

/** Whether this Node has the synchronous hooks (SCOPE_ESM_HOOKS_THREAD=1: module.register instead, to compare). */
export function hasInThreadHooks(): boolean {
  if (process.env.SCOPE_ESM_HOOKS_THREAD === "1") return false;
  return typeof (require("node:module") as NodeModule).registerHooks === "function";
}

export function registerInThreadEsmHook(matcher: Matcher, cache: TransformCache | undefined, writeWarning: (line: string) => void): HandedSources {
  const nodeModule = require("node:module") as NodeModule;
  const handed: HandedSources = new Map();
  // Node may load a module more than once (e.g. the entry point): one warning per file.
  const warned = new Set<string>();
  const warn = (file: string, reason: string) => {
    if (warned.has(file)) return;
    warned.add(file);
    writeWarning(warningLine(file, reason));
  };
  nodeModule.registerHooks!.call(nodeModule, {
    load(url, context, nextLoad) {
      const result = nextLoad(url, context);
      const source = instrumentedSource(matcher, cache, url, result, warn);
      if (source === undefined) return result;
      if (required(context)) handed.set(fileURLToPath(url), source);
      return { ...result, source };
    },
  });
  return handed;
}
