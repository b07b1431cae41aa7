/**
 * Packages whose ES module build no CommonJS step sees, hooked as the runtime loads one of
 * their files (Bun: a Bun.plugin onLoad, src/agent/bun/esm-plugin.ts; Node 22.15+/24: a
 * `load` hook through module.registerHooks, src/agent/node/esm-hooks.ts): one statement is
 * appended to the file (after a newline: its last line may be a comment; nothing else in it
 * changes, lines included) that hands some of its top-level bindings to the agent, through a
 * function kept on the global under a registered symbol. The agent hooks them as it hooks the
 * same classes from the package's CommonJS build.
 *
 * Adding a package's ES build is one entry of ESM_HOOKS: the package (its reachability test),
 * the file inside it, the bindings the statement hands over, the event group it is for. The
 * agents hook only where one entry of an enabled group is reachable (packagesReachable).
 */

/** One hooked file of a package's ES build. */
export interface EsmHook {
  /** What the agent's handler is told (the integration that takes the bindings). */
  id: "postgres" | "hono-router" | "hono-base" | "koa-router" | "koa-application" | "elysia" | "graphql" | "trpc";
  /** The package (node_modules/<package>/package.json: the reachability test). */
  package: string;
  /** The file, as the end of a path (either separator) or of a file: URL. */
  file: RegExp;
  /** The file's top-level bindings handed over (each `undefined` where the file has none of that name). */
  bindings: readonly string[];
  group: "http" | "db";
  /**
   * Bindings the agent may replace (each a `var`, `let` or class binding of the file): the
   * statement assigns back the value the agent left in the object it was handed (Hono's
   * HonoBase class, before the files that extend it run).
   */
  replace?: readonly string[];
  /** Only in Bun: an ES file whose import of a CommonJS one Bun serves without the CommonJS step (Node's step sees that one). A plugin's contents are an ES module: a CommonJS file itself is never an entry. */
  bunOnly?: boolean;
}

let hooksMade: readonly EsmHook[] | undefined;

/** The registry (made at first use: no regular expression made at a thread's start). */
export function esmHooks(): readonly EsmHook[] {
  return (hooksMade ??= [
    // postgres.js's src/query.js: its Query class (src/agent/node/db/postgres.ts).
    { id: "postgres", package: "postgres", file: /[\\/]node_modules[\\/]postgres[\\/]src[\\/]query\.js$/, bindings: ["Query"], group: "db" },
    // Its src/types.js: `stringify`, which sees each query with its connection's options (which database and server), replaced.
    { id: "postgres", package: "postgres", file: /[\\/]node_modules[\\/]postgres[\\/]src[\\/]types\.js$/, bindings: ["stringify"], replace: ["stringify"], group: "db" },
    // Its src/large.js: the function each `postgres()` hands its `sql` to, through which `sql.listen` is wrapped (LISTEN/NOTIFY's notifications).
    { id: "postgres", package: "postgres", file: /[\\/]node_modules[\\/]postgres[\\/]src[\\/]large\.js$/, bindings: ["largeObject"], group: "db" },
    // Hono's routers (dist/, not dist/cjs/): their classes' `add` (src/agent/node/hono.ts).
    {
      id: "hono-router",
      package: "hono",
      file: /[\\/]node_modules[\\/]hono[\\/]dist[\\/]router[\\/](?:(?:smart|reg-exp|trie|linear|pattern)-router[\\/]router|reg-exp-router[\\/]prepared-router)\.js$/,
      bindings: ["SmartRouter", "RegExpRouter", "TrieRouter", "LinearRouter", "PatternRouter", "PreparedRegExpRouter"],
      group: "http",
    },
    // Hono's HonoBase (its `var Hono`, exported as HonoBase): replaced by a Proxy that sees each app made, for app.onError's step (src/agent/node/hono.ts).
    { id: "hono-base", package: "hono", file: /[\\/]node_modules[\\/]hono[\\/]dist[\\/]hono-base\.js$/, bindings: ["Hono"], replace: ["Hono"], group: "http" },
    // @koa/router's ES build: its Router class (src/agent/node/koa.ts, as its dist/index.js).
    { id: "koa-router", package: "@koa/router", file: /[\\/]node_modules[\\/]@koa[\\/]router[\\/]dist[\\/]index\.mjs$/, bindings: ["Router"], group: "http" },
    // Koa's ES entry (dist/koa.mjs): its import of the CommonJS Application (lib/application.js,
    // which Bun then loads without the CommonJS step; Node's step sees it): src/agent/node/koa.ts.
    { id: "koa-application", package: "koa", file: /[\\/]node_modules[\\/]koa[\\/]dist[\\/]koa\.mjs$/, bindings: ["mod"], group: "http", bunOnly: true },
    // Elysia's ES build (dist/index.mjs): the Memoirist class it imports, its router (src/agent/node/elysia.ts).
    { id: "elysia", package: "elysia", file: /[\\/]node_modules[\\/]elysia[\\/]dist[\\/]index\.mjs$/, bindings: ["Memoirist"], group: "http" },
    // graphql-js 16's ES build (its `module` field, which Bun takes; it has no `exports`, so Node's
    // `import` loads its CommonJS `main`, which the CommonJS step sees): the executor's
    // collectFields and locatedError (src/agent/node/graphql.ts).
    { id: "graphql", package: "graphql", file: /[\\/]node_modules[\\/]graphql[\\/]execution[\\/]collectFields\.mjs$/, bindings: ["collectFields"], replace: ["collectFields"], group: "http", bunOnly: true },
    { id: "graphql", package: "graphql", file: /[\\/]node_modules[\\/]graphql[\\/]error[\\/]locatedError\.mjs$/, bindings: ["locatedError"], replace: ["locatedError"], group: "http", bunOnly: true },
    // tRPC's ES entry (dist/index.mjs): the initTRPC builder it imports (src/agent/node/trpc.ts).
    { id: "trpc", package: "@trpc/server", file: /[\\/]node_modules[\\/]@trpc[\\/]server[\\/]dist[\\/]index\.mjs$/, bindings: ["initTRPC"], group: "http" },
  ]);
}

/** The registered symbol's name the statement reads the agent's function under. */
const HANDLER_KEY = "scope.esm.loaded";

/** The statement appended to a hooked file: calls the agent's function with the entry's id and bindings. */
export function esmStatement(hook: EsmHook): string {
  const bindings = hook.bindings.map((name) => `${name}: typeof ${name} === "undefined" ? undefined : ${name}`).join(", ");
  const call = (object: string) => `globalThis[Symbol.for(${JSON.stringify(HANDLER_KEY)})]?.(${JSON.stringify(hook.id)}, ${object});`;
  if (hook.replace === undefined) return `\n;${call(`{ ${bindings} }`)}\n`;
  // A block: its constant is no binding of the module's.
  const back = hook.replace.map((name) => `if (scope$bindings.${name} !== undefined && scope$bindings.${name} !== ${name}) ${name} = scope$bindings.${name};`).join(" ");
  return `\n;{ const scope$bindings = { ${bindings} }; ${call("scope$bindings")} ${back} }\n`;
}

/** The hook whose file `path` (a path or a file: URL) is, among `hooks`. */
export function esmHookOf(hooks: readonly EsmHook[], path: string): EsmHook | undefined {
  for (const hook of hooks) if (hook.file.test(path)) return hook;
  return undefined;
}

/** One pattern that takes every file of `hooks` (the loader's first test of each module). */
export function esmFiles(hooks: readonly EsmHook[]): RegExp {
  return new RegExp(hooks.map((hook) => `(?:${hook.file.source})`).join("|"));
}

export type EsmHandler = (id: EsmHook["id"], bindings: Record<string, unknown>) => void;

/**
 * The function the statement calls (not enumerable, not writable: a program walking the
 * global does not see it, and cannot replace it by accident).
 */
export function setEsmHandler(handler: EsmHandler): void {
  Object.defineProperty(globalThis, Symbol.for(HANDLER_KEY), { value: handler, configurable: true, enumerable: false, writable: false });
}

/**
 * The entries of the enabled groups whose package the program can import: a
 * node_modules/<package>/package.json up the node_modules folders from the entry's directory
 * or the working directory (where an `import` looks: Node's ES module resolution, Bun's with a
 * node_modules folder). Only then is a hook put on the runtime's loader, so other programs run
 * without one (a few stat calls at start instead). Not a resolver: Node's CommonJS one runs
 * more of its loader at every start (BENCHMARKS.md "postgres.js's ES build in Node"), and Bun's
 * (Bun.resolveSync) auto-installs a package it cannot find when no node_modules folder is
 * there: a download into the user's cache, and Bun's own warnings on the program's stderr, for
 * a program that never imports it. A package that a Bun program gets by auto-install is in
 * Bun's cache, where the file patterns do not look: not traced.
 */
export function reachableHooks(from: (string | undefined)[], groups: { http: boolean; db: boolean }, bun = false): EsmHook[] {
  const { existsSync } = require("node:fs") as typeof import("node:fs");
  const path = require("node:path") as typeof import("node:path");
  const wanted = esmHooks().filter((hook) => groups[hook.group] && (bun || hook.bunOnly !== true));
  const packages = [...new Set(wanted.map((hook) => hook.package))];
  const found = new Set<string>();
  for (const start of from) {
    if (!start) continue;
    for (let dir = start; found.size < packages.length; ) {
      if (path.basename(dir) !== "node_modules") {
        for (const name of packages) if (!found.has(name) && existsSync(path.join(dir, "node_modules", name, "package.json"))) found.add(name);
      }
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return wanted.filter((hook) => found.has(hook.package));
}
