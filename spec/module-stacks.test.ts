/**
 * Stacks taken while a CommonJS module's top level runs, under `scope run` without
 * --functions: the agent's core hands the exports of the library files its integrations hook
 * to them after the file ran (src/agent/node/lazy.ts hookLibraryFiles) with no function of
 * scope's on the file's stack (src/agent/node/loaded-files.ts), so a startup error reads as
 * untraced: same frames, as many of the program's within V8's default 10. Checked on this
 * machine's Node (20) and, where scripts/node-install.sh put them, Node 22 and 24: CommonJS
 * requires three deep, a CommonJS module an ES module imports, an uncaught error at a top
 * level, and library files the integrations hook (an Express layer.js that requires a file
 * while it runs, pg's client.js and query.js) whose `module` the program inspects.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { isHookedDirectory, isHookedFile } from "../src/agent/node/triggers";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { nodeVersions, repoRoot } from "./harness";

afterAll(cleanup);

/**
 * The module as the program sees it: its own keys in order and `loaded`; once loaded, each
 * own property's kind too (while a watched file runs, its `loaded` is an accessor: the one
 * difference, loaded-files.ts).
 */
const describeModule = `function describeModule(m) {
  const kinds = Object.keys(m).map((key) => key + (m.loaded ? ":" + ("value" in Object.getOwnPropertyDescriptor(m, key) ? "data" : "accessor") : ""));
  return JSON.stringify({ kinds, loaded: m.loaded });
}`;

const files: Record<string, string> = {
  "main.cjs": `function report(label, error) { console.log(label, String(error.stack).split(process.cwd()).join(".")); }
try { require("./a.cjs"); } catch (error) { report("3 deep:", error); }
const layer = require("express/lib/router/layer.js");
console.log("layer:", layer.describe, describeModule(require.cache[require.resolve("express/lib/router/layer.js")]));
const Client = require("pg/lib/client.js");
console.log("pg:", Client.name, new Client().query.name, describeModule(require.cache[require.resolve("pg/lib/query.js")]));
import("./esm.mjs").then(() => require("./e.cjs"));
${describeModule}
`,
  "a.cjs": `function outer() { return require("./b.cjs"); }\nmodule.exports = outer();\n`,
  "b.cjs": `const middle = () => require("./c.cjs");\nmodule.exports = middle();\n`,
  "c.cjs": `function inner(what) { return new Error("top level of " + what); }\nthrow inner("c.cjs");\n`,
  "esm.mjs": `try { await import("./from-esm.cjs"); } catch (error) { console.log("from an ES module:", String(error.stack).split(process.cwd()).join(".")); }\n`,
  "from-esm.cjs": `function thrower() { throw new RangeError("imported"); }\nthrower();\n`,
  "e.cjs": `require("./f.cjs");\n`,
  "f.cjs": `function make() { return new TypeError("uncaught at a top level"); }\nthrow make();\n`,
  // Matched by the frameworks' path test (triggers.ts frameworkFile), not Express's shape: handed over, left alone.
  "node_modules/express/lib/router/layer.js": `${describeModule}
const during = describeModule(module);
const helper = require("./helper.js");
module.exports = { describe: during + " " + helper };
`,
  "node_modules/express/lib/router/helper.js": `module.exports = String(new Error("required by a watched file").stack).split(process.cwd()).join(".").split("\\n").slice(0, 4).join(" | ");\n`,
  // pg's files (triggers.ts libraryFile), client.js requiring query.js while it runs, as pg does.
  "node_modules/pg/lib/client.js": `const Query = require("./query.js");
class Client { query() { return new Query(); } }
module.exports = Client;
`,
  "node_modules/pg/lib/query.js": `module.exports = class Query { stack() { return new Error("query").stack; } };\n`,
};


for (const { name, path, installed } of nodeVersions) {
  if (!installed) {
    test.skip(`${name}: not installed at ${path} (scripts/node-install.sh 22 24), not checked`, () => {});
    continue;
  }
  test(`${name}: without --functions, stacks taken during CommonJS top levels (required, imported by an ES module, uncaught, in library files the integrations hook) are the untraced ones`, async () => {
    const dir = join(scratchDir(), `module-stacks-nofunctions-${name.replace(" ", "")}`);
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
    const argv = [path, "main.cjs"];
    const plain = await runUntraced(argv, { cwd: dir });
    // The oracle: V8's default 10 frames end at b.cjs's top level (Node 20) or at middle() in
    // b.cjs (22, 24: one more loader frame a level); a frame of scope's would push it out.
    expect(plain.stdout).toContain("3 deep: Error: top level of c.cjs\n    at inner (./c.cjs:1:31)\n    at Object.<anonymous> (./c.cjs:2:7)\n    at Module._compile (node:");
    expect(plain.stdout).toMatch(/\n    at (Object\.<anonymous> \(\.\/b\.cjs:2:18\)|middle \(\.\/b\.cjs:1:22\))\nlayer:/);
    expect(plain.stdout).toContain('"kinds":["id","path","exports","filename","loaded","children","paths"');
    expect(plain.stdout).toContain("from an ES module: RangeError: imported\n    at thrower (./from-esm.cjs:1:28)");
    expect(plain.stderr).toContain("TypeError: uncaught at a top level");
    expect(plain.status).toBe(1);
    const run = await runTraced(argv, { cwd: dir });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: plain.status, stdout: plain.stdout, stderr: plain.stderr });
    expect(ofKind(run.events, "agent_error")).toEqual([]);
  });
}

test("every file of node_modules the integrations hook is in a directory the core watches (triggers.ts isHookedDirectory), each group on its own", () => {
  const hooked: string[] = [];
  let directories = 0;
  let watched = 0;
  const walk = (directory: string) => {
    directories++;
    if (isHookedDirectory(directory, true, true, true)) watched++;
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".js") && isHookedFile(path, true, true, true)) {
        hooked.push(path.slice(path.indexOf("node_modules")));
        expect({
          path,
          http: isHookedDirectory(dirname(path), isHookedFile(path, true, false), false),
          db: isHookedDirectory(dirname(path), false, isHookedFile(path, false, true)),
          ws: isHookedDirectory(dirname(path), false, false, isHookedFile(path, false, false, true)),
        }).toEqual({
          path,
          http: isHookedFile(path, true, false),
          db: isHookedFile(path, false, true),
          ws: isHookedFile(path, false, false, true),
        });
      }
    }
  };
  walk(join(repoRoot, "node_modules"));
  const names = new Set(hooked.map((path) => path.replace(/^.*node_modules\//, "")));
  for (const file of ["express/lib/router/layer.js", "router/lib/layer.js", "fastify/fastify.js", "fastify/lib/hooks.js", "pg/lib/client.js", "pg/lib/query.js", "pg-pool/index.js", "postgres/cjs/src/query.js", "better-sqlite3/lib/database.js", "ws/lib/websocket.js"]) expect(names).toContain(file);
  // Few directories armed: most files cost the wrapper call and string tests only.
  expect(watched).toBeLessThan(directories / 50);
});

test("a directory whose last letters no hooked directory has is turned away before any endsWith test (triggers.ts isHookedDirectory)", () => {
  // A program's own scripts/lib or utils/lib, express/lib, java/lib: "…s/lib" and "…a/lib" once
  // reached the endsWith tests (building their directory table in that thread) since ws/lib and koa/lib were added.
  const turnedAway = ["/home/u/app/scripts/lib", "/home/u/app/utils/lib", "/home/u/app/node_modules/express/lib", "/opt/java/lib", "/srv/x/tools2/lib"];
  const original = String.prototype.endsWith;
  let calls = 0;
  String.prototype.endsWith = function (this: string, ...args: Parameters<typeof original>) {
    calls++;
    return original.apply(this, args);
  };
  try {
    for (const directory of turnedAway) expect(isHookedDirectory(directory, true, true, true)).toBe(false);
  } finally {
    String.prototype.endsWith = original;
  }
  expect(calls).toBe(0);
  for (const directory of ["/a/node_modules/ws/lib", "/a/node_modules/koa/lib", "/a/node_modules/mysql2/lib", "/a/node_modules/pg/lib", "/a/node_modules/better-sqlite3/lib", "/a/node_modules/router/lib", "/a/node_modules/fastify/lib"]) {
    expect(isHookedDirectory(directory, true, true, true)).toBe(true);
  }
});
