/**
 * Every file Bun runs untraced runs the same under `scope run --functions` (and
 * `--package`), whatever decides its module kind: the extension, the package's type,
 * what it contains (import, require, both, neither, module.exports, top-level await,
 * "use strict", a require of an ES module, a JSON import), and how it is loaded (the entry
 * point, an `import`, a `require()`). Bun decides the kind of a runtime plugin's text by
 * its contents alone (bun-module-kind.ts), so a file Bun runs as an ES module that calls
 * `require` ran nothing at all under the plugin and exited 0. Compared byte for byte with
 * Bun untraced (stdout, stderr, exit status), and each file's function is recorded.
 *
 * Bounded: the entry points are children of one driver (one bun each, three at a time);
 * the imports and the requires are one process each.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup as cleanupRuns, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { runCli } from "./harness";
import { esModuleText } from "../src/instrument/bun-module-kind";

afterAll(cleanupRuns);

const extensions = [".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".tsx", ".jsx"];
const packageTypes: Record<string, string> = { typeless: "{}", "type-module": '{ "type": "module" }', "type-commonjs": '{ "type": "commonjs" }' };
/** The contents: a head (first, for a directive), and what the file prints after its kind. */
const contents: Record<string, { head: string; shows: string }> = {
  importOnly: { head: 'import { sep } from "node:path";', shows: "sep" },
  requireOnly: { head: 'const { sep } = require("node:path");', shows: "sep" },
  both: { head: 'import { sep } from "node:path";\nconst { sep: sep2 } = require("node:path");', shows: "sep + sep2" },
  neither: { head: "const sep = 1;", shows: "sep" },
  moduleExports: { head: "module.exports = { a: 1 };", shows: "module.exports.a" },
  topLevelAwait: { head: "const sep = await Promise.resolve(2);", shows: "sep" },
  useStrict: { head: '"use strict";\nconst sep = typeof require;', shows: "sep" },
  dirname: { head: "const sep = typeof __dirname;", shows: "sep" },
  requireEsm: { head: 'const dep = require("./esm-dep.mjs");', shows: "dep.v" },
  jsonImport: { head: 'import data from "./data.json" with { type: "json" };', shows: "data.a" },
};

/** Contents with an `import` whatever else: an ES module by every rule (the imports and requires have them). */
const ENTRY_SKIPS = new Set(["both", "jsonImport"]);

/** One case file: its kind (CommonJS has the wrapper's `arguments`), a function of its own called once. */
function caseFile(id: string, name: string): string {
  const { head, shows } = contents[name]!;
  const fn = `f_${id.replace(/\W/g, "_")}`;
  return `${head}\nfunction ${fn}() { return ${shows}; }\nconsole.log(${JSON.stringify(id)}, typeof arguments === "object" ? "commonjs" : "esm", ${fn}());\n`;
}

interface Layout {
  root: string;
  /** Per way of loading: the case files (absolute), in order. */
  files: Record<"entry" | "import" | "require", string[]>;
}

/** Each way of loading has its own tree (a file runs once, by the first load). */
function layout(name = "module-kinds", exts = extensions): Layout {
  const root = join(scratchDir(), name);
  const files: Layout["files"] = { entry: [], import: [], require: [] };
  for (const way of ["entry", "import", "require"] as const) {
    for (const [type, json] of Object.entries(packageTypes)) {
      const dir = join(root, way, type);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "package.json"), json);
      writeFileSync(join(dir, "esm-dep.mjs"), "export const v = 3;\n");
      writeFileSync(join(dir, "data.json"), '{ "a": 4 }\n');
      for (const ext of exts) {
        // Entry points cost a bun each: not the contents an `import` makes an ES module under every rule.
        for (const name of Object.keys(contents).filter((name) => way !== "entry" || !ENTRY_SKIPS.has(name))) {
          const path = join(dir, `${name}${ext}`);
          writeFileSync(path, caseFile(`${way}/${type}/${name}${ext}`, name));
          files[way].push(path);
        }
      }
    }
  }
  // A package the settings select (--package): type module, a file that calls require.
  const pkg = join(root, "node_modules", "modkind-pkg");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, "package.json"), '{ "name": "modkind-pkg", "version": "1.0.0", "type": "module", "main": "index.js" }');
  writeFileSync(join(pkg, "index.js"), caseFile("modkind-pkg", "requireOnly"));
  writeFileSync(join(pkg, "dirname.js"), caseFile("modkind-pkg/dirname", "dirname"));
  const show = (way: string) => `const files = ${JSON.stringify(files[way as keyof Layout["files"]])};\n`;
  // Entry points: children of one driver, three at a time; each child's own output and status.
  writeFileSync(
    join(root, "entries.mjs"),
    `${show("entry")}const results = {};
let next = 0;
async function worker() {
  while (next < files.length) {
    const file = files[next++];
    const child = Bun.spawn(["bun", file], { cwd: file.slice(0, file.lastIndexOf("/")), stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, status] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    results[file] = { status, stdout, stderr };
  }
}
await Promise.all([worker(), worker(), worker()]);
console.log(JSON.stringify(results));
`,
  );
  const each = (call: string) =>
    `for (const file of files) {\n  try { ${call}; } catch (error) { console.log("threw", file, String(error?.message).split("\\n")[0]); }\n}\n`;
  // What the load gives (a namespace, exports) is compared too: its names.
  const keys = (value: string) => `console.log("keys", Object.keys(${value}).join())`;
  writeFileSync(join(root, "imports.mjs"), `${show("import")}${each(keys("await import(file)"))}await import("modkind-pkg");\nawait import("modkind-pkg/dirname.js");\n`);
  writeFileSync(join(root, "requires.cjs"), `${show("require")}${each(keys("require(file) ?? {}"))}require("modkind-pkg");\nrequire("modkind-pkg/dirname.js");\n`);
  return { root, files };
}

async function functionCalls(out: string): Promise<string[]> {
  const dump = await runCli(["dump", "--json", out]);
  expect(dump.exitCode, dump.stderr).toBe(0);
  return dump.stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { kind: string; function?: string })
    .filter((event) => event.kind === "function_call")
    .map((event) => event.function!.split(" ")[0]!);
}

/** The function names of the case files that printed a line (so ran) in `stdout`. */
function ranFunctions(stdout: string): string[] {
  return stdout
    .split("\n")
    .map((line) => /^(\S+) (?:commonjs|esm) /.exec(line)?.[1])
    .filter((id): id is string => id !== undefined)
    .map((id) => `f_${id.replace(/\W/g, "_")}`);
}

describe("Bun: every file Bun runs runs the same under --functions", () => {
  const env = { XDG_CACHE_HOME: join(scratchDir(), "module-kinds-cache") };
  const { root, files } = layout();
  // The package by --package, the case files by --include (--package alone selects only the package).
  const scopeArgs = ["--package", "modkind-pkg", "--include", "import/**", "--include", "require/**"];

  test("as the entry point: extension × package type × contents", async () => {
    const [plain, traced] = await Promise.all([runUntraced(["bun", "entries.mjs"], { cwd: root }), runTraced(["bun", "entries.mjs"], { scopeArgs: ["--functions"], env, cwd: root })]);
    expect(plain.status).toBe(0);
    expect(traced.status).toBe(0);
    const before = JSON.parse(plain.stdout) as Record<string, { status: number; stdout: string; stderr: string }>;
    const after = JSON.parse(traced.stdout) as typeof before;
    const differences = files.entry.filter((file) => JSON.stringify(before[file]) !== JSON.stringify(after[file]));
    expect(differences.map((file) => `${file.slice(root.length + 1)}: untraced ${JSON.stringify(before[file])}, traced ${JSON.stringify(after[file])}`)).toEqual([]);
    // Bun ran (nearly) all of them: the test looks at running files.
    const ran = files.entry.filter((file) => before[file]!.status === 0 && before[file]!.stdout !== "");
    expect(ran.length).toBeGreaterThan(files.entry.length * 0.8);
    const calls = new Set(await functionCalls(traced.out));
    const missing = ran.flatMap((file) => ranFunctions(before[file]!.stdout)).filter((fn) => !calls.has(fn));
    expect(missing).toEqual([]);
  }, 120_000);

  for (const [way, driver] of [["import", "imports.mjs"], ["require", "requires.cjs"]] as const) {
    test(`by ${way}: extension × package type × contents, and a --package file`, async () => {
      const [plain, traced] = await Promise.all([runUntraced(["bun", driver], { cwd: root }), runTraced(["bun", driver], { scopeArgs, env, cwd: root })]);
      expect({ status: traced.status, stdout: traced.stdout, stderr: traced.stderr }).toEqual({ status: plain.status, stdout: plain.stdout, stderr: plain.stderr });
      const ran = ranFunctions(plain.stdout);
      expect(ran.length).toBeGreaterThan(files[way].length * 0.7);
      expect(ran).toContain("f_modkind_pkg");
      // The names each load gave were printed (compared above with the rest).
      expect(plain.stdout.split("\n").filter((line) => /^keys .*\ba\b/.test(line)).length).toBeGreaterThan(10);
      const calls = new Set(await functionCalls(traced.out));
      expect(ran.filter((fn) => !calls.has(fn))).toEqual([]);
    }, 60_000);
  }
});

describe("esModuleText", () => {
  test("`export {};` on a line of its own after the code, before a last source-map comment", () => {
    expect(esModuleText("a()")).toBe("a()\nexport {};\n");
    expect(esModuleText("a() // done")).toBe("a() // done\nexport {};\n");
    expect(esModuleText("a()\n//# sourceMappingURL=data:x")).toBe("a()\nexport {};\n//# sourceMappingURL=data:x");
    expect(esModuleText("a()\n//# sourceMappingURL=data:x\n")).toBe("a()\nexport {};\n//# sourceMappingURL=data:x\n");
    // A map comment that is not the last line: the mark goes at the end.
    expect(esModuleText("a()\n//# sourceMappingURL=data:x\nb()")).toBe("a()\n//# sourceMappingURL=data:x\nb()\nexport {};\n");
  });
});

/**
 * Node's --functions on the same matrix where Node runs it (.js, .mjs, .cjs), by `import` and
 * by `require()`: the same output (scope's own "not instrumented" notes aside, for the files
 * Node refuses too, and Node's once-a-thread "--trace-warnings" hint, which the hooks thread
 * prints a second time), each file's function recorded. Node decides the kind before its hooks see
 * the file, so no such defect was found (2026-12-07; entry points checked by hand in Node 20,
 * 22 and 24).
 */
describe("Node: the same matrix", () => {
  const env = { XDG_CACHE_HOME: join(scratchDir(), "module-kinds-node-cache") };
  const { root, files } = layout("module-kinds-node", [".js", ".mjs", ".cjs"]);
  for (const [way, driver] of [["import", "imports.mjs"], ["require", "requires.cjs"]] as const) {
    test(`by ${way}`, async () => {
      const [plain, traced] = await Promise.all([runUntraced(["node", driver], { cwd: root }), runTraced(["node", driver], { scopeArgs: ["--functions"], env, cwd: root })]);
      // Node's hint "(Use `node --trace-warnings ...`" is printed once per thread that warns: with
      // hooks registered, the hooks thread's warning (MODULE_TYPELESS_PACKAGE_JSON) brings a second.
      const own = (stderr: string) =>
        stderr
          .split("\n")
          .filter((line) => !line.startsWith("scope: ") && !line.startsWith("(Use `node --trace-warnings"))
          .join("\n")
          .replace(/\(node:\d+\)/g, "(node)");
      expect({ status: traced.status, stdout: traced.stdout, stderr: own(traced.stderr) }).toEqual({ status: plain.status, stdout: plain.stdout, stderr: own(plain.stderr) });
      const ran = ranFunctions(plain.stdout).filter((fn) => !fn.startsWith("f_modkind_pkg"));
      expect(ran.length).toBeGreaterThan(files[way].length * 0.5);
      const calls = new Set(await functionCalls(traced.out));
      expect(ran.filter((fn) => !calls.has(fn))).toEqual([]);
    }, 60_000);
  }
});
