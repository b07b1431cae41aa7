/**
 * The Bun agent's hook of the integrations' library files (src/agent/bun/library-files.ts):
 * a `Module.prototype.require` wrapper that resolves only ids whose last segment is one a
 * hooked file is required by (`mayBeHooked`). Every `require("…")` literal in the packages
 * installed here that resolves to a hooked file must pass that test, or the file would be
 * missed in Bun; most other requires must not (they cost a resolution).
 */
import { expect, test } from "bun:test";
import { createRequire } from "node:module";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { mayBeHooked } from "../src/agent/bun/library-files";
import { isHookedFile } from "../src/agent/node/triggers";
import { repoRoot } from "./harness";

test("every require in node_modules that reaches a hooked file is one the Bun agent resolves; most others are not", () => {
  const reached = new Set<string>();
  const missed: string[] = [];
  let requires = 0;
  let candidates = 0;
  const literal = /\brequire\(\s*(['"])([^'"\n]+)\1\s*\)/g;
  const scan = (file: string) => {
    const text = readFileSync(file, "utf8");
    let resolver: NodeJS.Require | undefined;
    for (const match of text.matchAll(literal)) {
      const id = match[2]!;
      requires++;
      const candidate = mayBeHooked(id, { filename: file });
      if (candidate) candidates++;
      let resolved: string;
      try {
        resolved = (resolver ??= createRequire(file)).resolve(id);
      } catch {
        continue;
      }
      if (!isHookedFile(resolved, true, true)) continue;
      reached.add(resolved.slice(resolved.lastIndexOf("node_modules/") + 13));
      if (!candidate) missed.push(`${file}: require(${JSON.stringify(id)}) -> ${resolved}`);
    }
  };
  const walk = (directory: string) => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && /\.c?js$/.test(entry.name)) scan(path);
    }
  };
  walk(join(repoRoot, "node_modules"));
  expect(missed).toEqual([]);
  // Reached by a package's own require (the entries fastify/fastify.js and koa/lib/application.js
  // by a program's `require("fastify")`, `require("koa")`: their names are in the set too).
  for (const file of ["express/lib/router/layer.js", "express/lib/router/index.js", "router/lib/layer.js", "fastify/lib/hooks.js", "pg/lib/client.js", "pg/lib/query.js", "pg-pool/index.js", "postgres/cjs/src/query.js", "better-sqlite3/lib/database.js", "ioredis/built/Redis.js", "mysql2/lib/base/connection.js", "hono/dist/cjs/hono-base.js", "hono/dist/cjs/router/trie-router/router.js"])
    expect(reached).toContain(file);
  for (const id of ["fastify", "koa", "@koa/router", "pg-pool"]) expect(mayBeHooked(id, { filename: "/app/main.js" })).toBe(true);
  // A program's own relative require is never resolved for this, whatever its name.
  expect(mayBeHooked("./client", { filename: "/app/src/main.js" })).toBe(false);
  expect(candidates).toBeLessThan(requires / 5);
  console.log(`${requires} require literals, ${candidates} resolved by the hook, ${reached.size} hooked files reached`);
});
