/**
 * postgres.js's ES module build (node_modules/postgres/src/*.js): what Bun resolves
 * `postgres` to (its "bun" export condition) and what Node resolves an `import` of it to
 * (its "import" condition). No CommonJS step sees it, so the agents append one statement to
 * its src/query.js as the runtime loads it (Bun: a Bun.plugin onLoad, src/agent/bun/db;
 * Node: a `load` hook, src/agent/node/postgres-esm.ts) that hands its `Query` class to a
 * function kept on the global under a registered symbol; the integration
 * (src/agent/node/db/postgres.ts) hooks it there. Nothing else in the file changes, lines
 * included. The one place for that statement, the global and the reachability test.
 */

/** The registered symbol's name the statement reads the agent's function under. */
const QUERY_KEY = "scope.db.postgres.query";

/** The statement appended to postgres.js's src/query.js (after a newline: its last line may be a comment). */
export const POSTGRES_QUERY_STATEMENT = `\n;globalThis[Symbol.for(${JSON.stringify(QUERY_KEY)})]?.(typeof Query === "function" ? Query : undefined);\n`;

/** postgres.js's ES module src/query.js, as a path (either separator) or a file: URL's end. */
export function postgresQueryFile(): RegExp {
  return /[\\/]node_modules[\\/]postgres[\\/]src[\\/]query\.js$/;
}

/**
 * The function the statement calls (not enumerable, not writable: a program walking the
 * global does not see it, and cannot replace it by accident).
 */
export function setPostgresQueryHandler(handler: (Query: unknown) => void): void {
  Object.defineProperty(globalThis, Symbol.for(QUERY_KEY), { value: handler, configurable: true, enumerable: false, writable: false });
}

/**
 * Whether the program can import postgres.js: a node_modules/postgres/package.json up the
 * node_modules folders from the entry's directory or the working directory (where an
 * `import "postgres"` looks: Node's ES module resolution, Bun's with a node_modules folder).
 * Only then is a hook put on the runtime's loader, so other programs run without one (a few
 * stat calls at start instead). Not a resolver: Node's CommonJS one runs more of its loader at
 * every start (BENCHMARKS.md "postgres.js's ES build in Node"), and Bun's (Bun.resolveSync)
 * auto-installs a package it cannot find when no node_modules folder is there: a download from
 * the registry into the user's cache, and Bun's own warnings on the program's stderr, for a
 * program that never imports postgres.js. A program that gets postgres.js by Bun's
 * auto-install has it from Bun's cache, where the hook's file pattern does not look: not traced.
 */
export function postgresReachable(from: (string | undefined)[]): boolean {
  const { existsSync } = require("node:fs") as typeof import("node:fs");
  const path = require("node:path") as typeof import("node:path");
  for (const start of from) {
    if (!start) continue;
    for (let dir = start; ; ) {
      if (path.basename(dir) !== "node_modules" && existsSync(path.join(dir, "node_modules", "postgres", "package.json"))) return true;
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return false;
}
