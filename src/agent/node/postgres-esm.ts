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
 * - Otherwise (Node 20.6+): `module.register` of a loader given as a `data:` URL, doing the
 *   same on Node's hooks thread. Registering starts that thread (+0.16 G instructions, a
 *   third of a small traced program's start: BENCHMARKS.md "postgres.js's ES build in
 *   Node"), so only when the entry may be an ES module (instrument/entry-kind.ts, the test by
 *   which function tracing defers its own ESM hook): a CommonJS program loads postgres.js's
 *   CommonJS build through require() (its dynamic import() of the ES build is not seen on
 *   Node 20). With `--functions`, its esm-loader is registered before (install.ts): this one
 *   runs first and calls it through nextLoad, so the statement follows the instrumented code.
 *   Here in the core, not in the second chunk: loading that at start would load it in every
 *   CommonJS program with postgres.js installed (spec/agent-extras.test.ts); what this adds
 *   to every worker's start is not readable (BENCHMARKS.md, same subsection).
 *
 * A worker thread gets no hook (a query a worker makes through the ES build is not seen).
 * Returns how it hooked (or why not), also kept on the global under
 * Symbol.for("scope.db.postgres.esm") (tests read it).
 */
import { POSTGRES_QUERY_STATEMENT, postgresQueryFile, postgresReachable, setPostgresQueryHandler } from "../shared/postgres-esm";
import { entryMayBeModule } from "../../instrument/entry-kind";

interface LoadResult {
  format?: string | null;
  source?: string | ArrayBuffer | Uint8Array | null;
}

interface NodeModule {
  registerHooks?: (hooks: { load(url: string, context: object, nextLoad: (url: string, context?: object) => LoadResult): LoadResult }) => unknown;
  register?: (specifier: string) => void;
}

export function hookPostgresEsm(onQuery: (Query: unknown) => void, agentDirectory: string | undefined): string {
  const state = postgresEsmHook(onQuery, agentDirectory);
  Object.defineProperty(globalThis, Symbol.for("scope.db.postgres.esm"), { value: state, configurable: true, enumerable: false, writable: false });
  return state;
}

function postgresEsmHook(onQuery: (Query: unknown) => void, agentDirectory: string | undefined): string {
  const nodeModule = require("node:module") as NodeModule;
  const { registerHooks, register } = nodeModule;
  if (typeof registerHooks !== "function" && typeof register !== "function") return "no module hooks";
  const path = require("node:path") as typeof import("node:path");
  const main = process.argv[1];
  const from = [main ? path.dirname(path.resolve(main)) : undefined, process.cwd()];
  // First (most programs stop here): a few stat calls.
  if (!postgresReachable(from, (dir) => installedFrom(path, dir))) return "not reachable";
  const file = postgresQueryFile();
  if (typeof registerHooks === "function") {
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
  // Node 20: the entry's kind only now (it looks the entry up through Node's CommonJS loader).
  const why = entryMayBeModule(agentDirectory ?? "\0");
  if (why === undefined) return "a CommonJS entry";
  setPostgresQueryHandler(onQuery);
  register!.call(nodeModule, `data:text/javascript,${encodeURIComponent(loaderSource(file))}`);
  return `register (${why})`;
}

/**
 * Where an ES module's `import "postgres"` looks (Node's ESM resolution: node_modules folders
 * up from the importer, no NODE_PATH): throws when no node_modules/postgres/package.json is
 * there. A few stat calls; not Node's CommonJS resolver (createRequire().resolve), which
 * answers for require() and runs more of Node's loader at every start (BENCHMARKS.md
 * "postgres.js's ES build in Node").
 */
function installedFrom(path: typeof import("node:path"), from: string): void {
  const { existsSync } = require("node:fs") as typeof import("node:fs");
  for (let dir = from; ; ) {
    if (path.basename(dir) !== "node_modules" && existsSync(path.join(dir, "node_modules", "postgres", "package.json"))) return;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("postgres is not installed");
    dir = parent;
  }
}

function textOf(source: string | ArrayBuffer | Uint8Array): string {
  return typeof source === "string" ? source : new TextDecoder().decode(source);
}

/** The loader module registered on Node 20: the hook above, as text for Node's hooks thread. */
function loaderSource(file: RegExp): string {
  return `const file = new RegExp(${JSON.stringify(file.source)});
export async function load(url, context, nextLoad) {
  if (!file.test(url)) return nextLoad(url, context);
  const result = await nextLoad(url, context);
  if (result.format !== "module" || result.source == null) return result;
  const source = typeof result.source === "string" ? result.source : new TextDecoder().decode(result.source);
  return { ...result, source: source + ${JSON.stringify(POSTGRES_QUERY_STATEMENT)} };
}
`;
}
