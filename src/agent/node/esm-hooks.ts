/**
 * Packages' ES module builds in Node (the registry: src/agent/shared/esm-hooks.ts, shared with
 * Bun's plugin): `import postgres from "postgres"`, `import { Hono } from "hono"`, `import
 * Router from "@koa/router"` resolve (the "import" condition) to files that never pass the
 * CommonJS step the core watches (lazy.ts, triggers.ts). So, in the main thread with an entry
 * of an enabled group whose package is reachable from the entry's directory or the working
 * directory, a `load` hook appends the entry's statement to its file (its lines unchanged),
 * which hands the file's bindings to `onLoaded` (the integrations, through the second chunk:
 * lazy.ts):
 *
 * - Node with `module.registerHooks` (22.15+, 24): a synchronous hook in this thread, which
 *   tests the URL first (one pattern of the reachable entries' files) and passes every other
 *   module straight through.
 * - Node 20 (no `registerHooks`): no hook. Its only loader hook, `module.register`, runs on a
 *   hooks thread that registering starts: ~0.4 s of the main thread's wall time and +0.16 G
 *   instructions at start (BENCHMARKS.md "postgres.js's ES build in Node"), and that thread
 *   takes threadId 1, so the program's own workers would get other ids: a change to the
 *   program scope does not make by default. Node 20 records these packages through their
 *   CommonJS builds (require) only (ARCHITECTURE.md "Packages' ES builds").
 *
 * Here in the core, not in the second chunk: loading that at start would load it in every
 * CommonJS program with one of these packages installed (spec/agent-extras.test.ts).
 *
 * A worker thread gets no hook (a package a worker imports through its ES build is not seen).
 * Returns how it hooked (or why not), also kept on the global under Symbol.for("scope.esm")
 * (tests read it).
 */
import { esmFiles, esmHookOf, esmStatement, reachableHooks, setEsmHandler, type EsmHandler } from "../shared/esm-hooks";

interface LoadResult {
  format?: string | null;
  source?: string | ArrayBuffer | Uint8Array | null;
}

interface NodeModule {
  registerHooks?: (hooks: { load(url: string, context: object, nextLoad: (url: string, context?: object) => LoadResult): LoadResult }) => unknown;
}

export function hookEsmBuilds(groups: { http: boolean; db: boolean }, onLoaded: EsmHandler): string {
  const state = esmHook(groups, onLoaded);
  Object.defineProperty(globalThis, Symbol.for("scope.esm"), { value: state, configurable: true, enumerable: false, writable: false });
  return state;
}

function esmHook(groups: { http: boolean; db: boolean }, onLoaded: EsmHandler): string {
  const nodeModule = require("node:module") as NodeModule;
  const { registerHooks } = nodeModule;
  if (typeof registerHooks !== "function") return "no registerHooks";
  const path = require("node:path") as typeof import("node:path");
  const main = process.argv[1];
  const from = [main ? path.dirname(path.resolve(main)) : undefined, process.cwd()];
  // First (most programs stop here): a few stat calls.
  const hooks = reachableHooks(from, groups);
  if (hooks.length === 0) return "not reachable";
  const files = esmFiles(hooks);
  setEsmHandler(onLoaded);
  registerHooks.call(nodeModule, {
    load(url, context, nextLoad) {
      if (!files.test(url)) return nextLoad(url, context);
      const result = nextLoad(url, context);
      const hook = esmHookOf(hooks, url);
      if (hook === undefined || result.format !== "module" || result.source == null) return result;
      return { ...result, source: textOf(result.source) + esmStatement(hook) };
    },
  });
  return `registerHooks ${hooks.map((hook) => hook.id).join(",")}`;
}

function textOf(source: string | ArrayBuffer | Uint8Array): string {
  return typeof source === "string" ? source : new TextDecoder().decode(source);
}
