/**
 * postgres.js's ES module build in Node: `import postgres from "postgres"` resolves (the
 * "import" condition) to node_modules/postgres/src/*.js, which never passes the CommonJS
 * step the core watches (lazy.ts, triggers.ts libraryFile: postgres/cjs/src/query.js). So,
 * in the main thread with the db group on and postgres.js reachable from the entry's
 * directory or the working directory (src/agent/shared/postgres-esm.ts, shared with Bun's
 * plugin), a `load` hook appends one statement to postgres.js's src/query.js (its lines
 * unchanged) that hands `Query` to `onQuery` (the integration, src/agent/node/db/postgres.ts,
 * through the second chunk: lazy.ts):
 *
 * - Node with `module.registerHooks` (22.15+, 24): a synchronous hook in this thread, which
 *   tests the URL first and passes every other module straight through.
 * - Node 20 (no `registerHooks`): no hook. Its only loader hook, `module.register`, runs on a
 *   hooks thread that registering starts: ~0.4 s of the main thread's wall time and +0.16 G
 *   instructions at start (BENCHMARKS.md "postgres.js's ES build in Node"), and that thread
 *   takes threadId 1, so the program's own workers would get other ids: a change to the
 *   program scope does not make by default. Node 20's postgres.js queries are recorded through
 *   its CommonJS build (require) only (ARCHITECTURE.md "Databases").
 *
 * Here in the core, not in the second chunk: loading that at start would load it in every
 * CommonJS program with postgres.js installed (spec/agent-extras.test.ts); what this adds
 * to every worker's start is not readable (BENCHMARKS.md, same subsection).
 *
 * A worker thread gets no hook (a query a worker makes through the ES build is not seen).
 * Returns how it hooked (or why not), also kept on the global under
 * Symbol.for("scope.db.postgres.esm") (tests read it).
 */
import { POSTGRES_QUERY_STATEMENT, postgresQueryFile, postgresReachable, setPostgresQueryHandler } from "../shared/postgres-esm";

interface LoadResult {
  format?: string | null;
  source?: string | ArrayBuffer | Uint8Array | null;
}

interface NodeModule {
  registerHooks?: (hooks: { load(url: string, context: object, nextLoad: (url: string, context?: object) => LoadResult): LoadResult }) => unknown;
}

export function hookPostgresEsm(onQuery: (Query: unknown) => void): string {
  const state = postgresEsmHook(onQuery);
  Object.defineProperty(globalThis, Symbol.for("scope.db.postgres.esm"), { value: state, configurable: true, enumerable: false, writable: false });
  return state;
}

function postgresEsmHook(onQuery: (Query: unknown) => void): string {
  const nodeModule = require("node:module") as NodeModule;
  const { registerHooks } = nodeModule;
  if (typeof registerHooks !== "function") return "no registerHooks";
  const path = require("node:path") as typeof import("node:path");
  const main = process.argv[1];
  const from = [main ? path.dirname(path.resolve(main)) : undefined, process.cwd()];
  // First (most programs stop here): a few stat calls.
  if (!postgresReachable(from)) return "not reachable";
  const file = postgresQueryFile();
  setPostgresQueryHandler(onQuery);
  registerHooks.call(nodeModule, {
    load(url, context, nextLoad) {
      if (!file.test(url)) return nextLoad(url, context);
      const result = nextLoad(url, context);
      if (result.format !== "module" || result.source == null) return result;
      return { ...result, source: textOf(result.source) + POSTGRES_QUERY_STATEMENT };
    },
  });
  return "registerHooks";
}

function textOf(source: string | ArrayBuffer | Uint8Array): string {
  return typeof source === "string" ? source : new TextDecoder().decode(source);
}
