/**
 * Choosing what to trace on real installs, made by the package managers themselves from
 * npm (pinned): pnpm's store layout, an npm workspace with its packages hoisted to the
 * root, a node_modules that is a symlink to a directory elsewhere, and `npm link`.
 * `--package`, `--include 'node_modules/marked/**'` and `--include '**' + '/marked/**'`
 * select marked's own file (by its real path) and nothing else, under Node (CommonJS and
 * ES modules) and Bun; a pattern that matched nothing is named in the summary with the
 * closest candidates, in a process tree too.
 *
 * The layouts are made once under spec/.cache (gitignored) by the test set-up: npm and
 * pnpm fetch from the npm registry (npm's own cache makes later set-ups offline-fast).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { repoRoot, runCli } from "./harness";

const MARKED = "12.0.2";
const PNPM = "9.15.9";
const root = join(repoRoot, "spec/.cache/fn-packages", `marked-${MARKED}-pnpm-${PNPM}-2`);
const env = { XDG_CACHE_HOME: join(scratchDir(), "cache") };
const bun = process.execPath;

afterAll(cleanup);

function sh(argv: string[], cwd: string, extra: Record<string, string> = {}): void {
  const result = Bun.spawnSync(argv, { cwd, env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false", ...extra }, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")} in ${cwd}: exit ${result.exitCode}\n${result.stdout.toString()}${result.stderr.toString()}`);
}

const write = (path: string, text: string) => {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
};

/** The program: its own function (main) and marked's. */
const renderCjs = `const { marked } = require("marked");
function main() {
  process.stdout.write(marked.parse("# Title\\n\\nSome *emphasis* and \`code\`.\\n"));
}
main();
`;
const renderMjs = `import { marked } from "marked";
function main() {
  process.stdout.write(marked.parse("# Title\\n\\nSome *emphasis* and \`code\`.\\n"));
}
main();
`;
/** A parent that loads nothing of marked and runs render.cjs as a child. */
const parentCjs = `const { spawnSync } = require("node:child_process");
function start() {
  return spawnSync(process.execPath, [require("node:path").join(__dirname, "render.cjs")], { stdio: "inherit" }).status;
}
process.exitCode = start();
`;
/** A main thread that loads nothing of marked and runs render.cjs in a worker. */
const workerCjs = `const { Worker } = require("node:worker_threads");
function start() {
  new Worker(require("node:path").join(__dirname, "render.cjs")).on("exit", (code) => {
    process.exitCode = code;
  });
}
start();
`;
const app = (dir: string, dependencies: Record<string, string> = { marked: MARKED }) => {
  write(join(dir, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true, dependencies }));
  write(join(dir, "render.cjs"), renderCjs);
  write(join(dir, "render.mjs"), renderMjs);
  write(join(dir, "parent.cjs"), parentCjs);
  write(join(dir, "worker.cjs"), workerCjs);
};

interface Layout {
  name: string;
  /** Where the program runs. */
  cwd: string;
  /** marked's CommonJS and ES module files, real paths. */
  cjs: string;
  esm: string;
}

let layouts: Layout[] = [];

/** Each layout made by its package manager; skipped when already made (the stamp file). */
function setUp(): Layout[] {
  const stamp = join(root, "made");
  if (!existsSync(stamp)) {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    // pnpm from npm, run by its own bin.
    const tools = join(root, "tools");
    write(join(tools, "package.json"), JSON.stringify({ private: true }));
    sh(["npm", "install", "--no-save", "--ignore-scripts", `pnpm@${PNPM}`], tools);
    const pnpm = join(tools, "node_modules/pnpm/bin/pnpm.cjs");
    app(join(root, "pnpm"));
    sh(["node", pnpm, "install", "--store-dir", join(root, "pnpm-store"), "--config.confirmModulesPurge=false"], join(root, "pnpm"));
    // An npm workspace: marked hoisted to the root's node_modules, the program in packages/app.
    write(join(root, "workspace/package.json"), JSON.stringify({ name: "ws-root", private: true, workspaces: ["packages/*"] }));
    app(join(root, "workspace/packages/app"));
    sh(["npm", "install", "--ignore-scripts"], join(root, "workspace"));
    // node_modules a symlink to a directory elsewhere.
    write(join(root, "symlinked/deps/package.json"), JSON.stringify({ private: true, dependencies: { marked: MARKED } }));
    sh(["npm", "install", "--ignore-scripts"], join(root, "symlinked/deps"));
    app(join(root, "symlinked/app"), {});
    symlinkSync("../deps/node_modules", join(root, "symlinked/app/node_modules"));
    // npm link: a checkout of marked linked globally (a private prefix), then into the app.
    write(join(root, "linked/fetch/package.json"), JSON.stringify({ private: true, dependencies: { marked: MARKED } }));
    sh(["npm", "install", "--ignore-scripts"], join(root, "linked/fetch"));
    cpSync(join(root, "linked/fetch/node_modules/marked"), join(root, "linked/src/marked"), { recursive: true });
    const prefix = { npm_config_prefix: join(root, "linked/prefix") };
    sh(["npm", "link", "--ignore-scripts"], join(root, "linked/src/marked"), prefix);
    app(join(root, "linked/app"), {});
    sh(["npm", "link", "--ignore-scripts", "marked"], join(root, "linked/app"), prefix);
    writeFileSync(stamp, "");
  }
  const real = (path: string) => realpathSync(path);
  const made = (name: string, cwd: string, marked: string): Layout => ({ name, cwd, cjs: real(join(marked, "lib/marked.cjs")), esm: real(join(marked, "lib/marked.esm.js")) });
  return [
    made("pnpm", join(root, "pnpm"), join(root, `pnpm/node_modules/.pnpm/marked@${MARKED}/node_modules/marked`)),
    made("npm workspace (hoisted)", join(root, "workspace/packages/app"), join(root, "workspace/node_modules/marked")),
    made("symlinked node_modules", join(root, "symlinked/app"), join(root, "symlinked/deps/node_modules/marked")),
    made("npm link", join(root, "linked/app"), join(root, "linked/src/marked")),
  ];
}

beforeAll(() => {
  layouts = setUp();
}, 300_000);

test("the layouts are what the package managers make", () => {
  const [pnpm, workspace, symlinked, linked] = layouts as [Layout, Layout, Layout, Layout];
  expect(pnpm.cjs).toBe(join(root, `pnpm/node_modules/.pnpm/marked@${MARKED}/node_modules/marked/lib/marked.cjs`));
  expect(existsSync(join(workspace.cwd, "node_modules/marked"))).toBe(false);
  expect(workspace.cjs).toBe(join(root, "workspace/node_modules/marked/lib/marked.cjs"));
  expect(realpathSync(join(symlinked.cwd, "node_modules"))).toBe(join(root, "symlinked/deps/node_modules"));
  expect(realpathSync(join(linked.cwd, "node_modules/marked"))).toBe(join(root, "linked/src/marked"));
  expect(linked.cjs).toBe(join(root, "linked/src/marked/lib/marked.cjs"));
});

/** Files of the function tables, and "name line:column" of each table entry, in order. */
function tables(events: TraceEvent[]): { files: string[]; functions: string[] } {
  const entries = ofKind(events, "function_table").map((e) => e.fields as { name: string; file: string; line: number; column: number });
  const files = [...new Set(entries.map((e) => e.file.replace(/^file:\/\//, "")))];
  return { files, functions: entries.map((e) => `${e.name} ${e.line}:${e.column}`) };
}

const called = (events: TraceEvent[]) => [...new Set(ofKind(events, "function_call").map((e) => String((e.fields as { function: string }).function).split(" ")[0]))].sort();

const output = "<h1>Title</h1>\n<p>Some <em>emphasis</em> and <code>code</code>.</p>\n";

/** The functions marked 12.0.2 runs for render.cjs's document (the same in every layout and runtime). */
const markedCalls = [
  "<anonymous>",
  "Marked.#onError",
  "Marked.#parseMarkdown",
  "Marked.constructor",
  "Marked.use",
  "_Lexer.blockTokens",
  "_Lexer.constructor",
  "_Lexer.inline",
  "_Lexer.inlineTokens",
  "_Lexer.lex",
  "_Parser.constructor",
  "_Parser.parse",
  "_Parser.parseInline",
  "_Renderer.codespan",
  "_Renderer.constructor",
  "_Renderer.em",
  "_Renderer.heading",
  "_Renderer.paragraph",
  "_Renderer.text",
  "_TextRenderer.text",
  "_Tokenizer.autolink",
  "_Tokenizer.blockquote",
  "_Tokenizer.br",
  "_Tokenizer.code",
  "_Tokenizer.codespan",
  "_Tokenizer.constructor",
  "_Tokenizer.def",
  "_Tokenizer.del",
  "_Tokenizer.emStrong",
  "_Tokenizer.escape",
  "_Tokenizer.fences",
  "_Tokenizer.heading",
  "_Tokenizer.hr",
  "_Tokenizer.html",
  "_Tokenizer.inlineText",
  "_Tokenizer.lheading",
  "_Tokenizer.link",
  "_Tokenizer.list",
  "_Tokenizer.paragraph",
  "_Tokenizer.reflink",
  "_Tokenizer.space",
  "_Tokenizer.table",
  "_Tokenizer.tag",
  "_Tokenizer.url",
  "_getDefaults",
  "edit",
  "escape$1",
  "getRegex",
  "marked",
  "replace",
  "unescape",
];

const selections: [string, string[]][] = [
  ["--package marked", ["--package", "marked"]],
  ["--include 'node_modules/marked/**'", ["--include", "node_modules/marked/**"]],
  ["--include '**/marked/**'", ["--include", "**/marked/**"]],
];

for (const runtime of ["node", "bun"] as const) {
  describe(runtime, () => {
    for (const index of [0, 1, 2, 3]) {
      test(`layout ${index}: each selection records marked's own file, its functions, nothing else, and no unmatched line`, async () => {
        const layout = layouts[index]!;
        const program = [runtime === "node" ? "node" : bun, "render.cjs"];
        const plain = await runUntraced(program, { cwd: layout.cwd });
        expect(plain).toEqual({ status: 0, stdout: output, stderr: "" });
        const runs = await Promise.all(selections.map(([, args]) => runTraced(program, { cwd: layout.cwd, scopeArgs: args, env })));
        const reference = tables(runs[0]!.events);
        expect(reference.files).toEqual([layout.cjs]);
        expect(reference.functions.length).toBe(129);
        for (const [i, run] of runs.entries()) {
          const label = `${layout.name} ${runtime} ${selections[i]![0]}`;
          expect({ label, status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ label, status: 0, stdout: output, stderr: "" });
          expect({ label, ...tables(run.events) }).toEqual({ label, ...reference });
          expect({ label, called: called(run.events) }).toEqual({ label, called: markedCalls });
          expect(run.summary).not.toContain("matched no");
          expect(run.end.dropped).toBe(0);
        }
      });
    }
  });
}

describe("node", () => {
  test("ES modules (the loader thread's matches reach the summary): marked's ES module file", async () => {
    for (const layout of layouts) {
      const run = await runTraced(["node", "render.mjs"], { cwd: layout.cwd, scopeArgs: ["--package", "marked"], env });
      expect({ name: layout.name, status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ name: layout.name, status: 0, stdout: output, stderr: "" });
      expect({ name: layout.name, files: tables(run.events).files }).toEqual({ name: layout.name, files: [layout.esm] });
      expect(called(run.events)).toEqual(markedCalls);
      expect(run.summary).not.toContain("matched no");
    }
  });

  test("node --preserve-symlinks: the loaders see the path through the link; the real path still finds the package", async () => {
    const pnpm = layouts[0]!;
    for (const args of [["--package", "marked"], ["--include", "node_modules/marked/**"], ["--include", "node_modules/.pnpm/marked@*/**"]]) {
      const run = await runTraced(["node", "--preserve-symlinks", "render.cjs"], { cwd: pnpm.cwd, scopeArgs: args, env });
      expect({ args, status: run.status, stdout: run.stdout }).toEqual({ args, status: 0, stdout: output });
      expect({ args, files: tables(run.events).files }).toEqual({ args, files: [join(pnpm.cwd, "node_modules/marked/lib/marked.cjs")] });
      expect(run.summary).not.toContain("matched no");
    }
  });

  test("a path inside the package; the program's own package by name (workspace)", async () => {
    const [pnpm, workspace] = layouts as [Layout, Layout];
    const inside = await runTraced(["node", "render.cjs"], { cwd: pnpm.cwd, scopeArgs: ["--package", "marked/lib/*.cjs"], env });
    expect(tables(inside.events).files).toEqual([pnpm.cjs]);
    const own = await runTraced(["node", "render.cjs"], { cwd: workspace.cwd, scopeArgs: ["--package", "app"], env });
    expect(tables(own.events)).toEqual({ files: [join(workspace.cwd, "render.cjs")], functions: ["main 2:1"] });
    expect(called(own.events)).toEqual(["main"]);
    // Both: a file either selects.
    const both = await runTraced(["node", "render.cjs"], { cwd: workspace.cwd, scopeArgs: ["--package", "app", "--include", "node_modules/marked/**"], env });
    expect(tables(both.events).files).toEqual([workspace.cjs, join(workspace.cwd, "render.cjs")]);
    expect(both.summary).not.toContain("matched no");
    // node_modules stays out unless a glob names it or the package: every layout, by default and by '**/*.cjs'.
    for (const layout of layouts) {
      for (const args of [["--functions"], ["--include", "**/*.cjs"]]) {
        const run = await runTraced(["node", "render.cjs"], { cwd: layout.cwd, scopeArgs: args, env });
        expect({ name: layout.name, args, ...tables(run.events) }).toEqual({ name: layout.name, args, files: [join(layout.cwd, "render.cjs")], functions: ["main 2:1"] });
      }
    }
  });

  // A glob is relative to the working directory: `./x` and `../x` are resolved against it, and
  // one that names a place outside it (`../`, an absolute path) selects what is there, also a
  // package that is `node_modules/<name>` through a link (npm link, a workspace's sibling).
  test("globs with ./ and ../ or absolute: resolved against the working directory; a linked package's real place outside it", async () => {
    const linked = layouts[3]!;
    const cases: [string, string[]][] = [
      ["../src/marked/lib/*.cjs", [linked.cjs]],
      [join(linked.cwd, "../src/marked/lib/*.cjs"), [linked.cjs]],
      ["./render.cjs", [join(linked.cwd, "render.cjs")]],
      [join(linked.cwd, "render.cjs"), [join(linked.cwd, "render.cjs")]],
    ];
    for (const [glob, files] of cases) {
      const run = await runTraced(["node", "render.cjs"], { cwd: linked.cwd, scopeArgs: ["--include", glob], env });
      expect({ glob, status: run.status, stdout: run.stdout, files: tables(run.events).files }).toEqual({ glob, status: 0, stdout: output, files });
      expect(run.summary).not.toContain("matched no");
    }
  });

  test("patterns that matched nothing: the summary names each, with the closest loaded paths, packages or functions", async () => {
    const pnpm = layouts[0]!;
    const run = await runTraced(["node", "render.cjs"], {
      cwd: pnpm.cwd,
      scopeArgs: ["--package", "markd", "--include", "node_modules/markd/**", "--package", "marked/src/**", "--package", "marked", "--function", "Parser.parze", "--function", "_Lexer.lex"],
      env,
    });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: output, stderr: "" });
    const lines = run.summary.split("\n").filter((line) => line.startsWith("  --") || line.startsWith("    "));
    expect(lines).toEqual([
      "  --include 'node_modules/markd/**' matched no loaded file (2 files looked at in 1 thread); closest loaded paths:",
      "    node_modules/marked/lib/marked.cjs",
      "    render.cjs",
      "  --package markd matched no loaded file (2 files looked at in 1 thread); closest loaded:",
      "    marked",
      "    app",
      "  --package 'marked/src/**' matched no loaded file (2 files looked at in 1 thread); closest loaded:",
      "    marked/lib/marked.cjs",
      "    app",
      "  --function Parser.parze matched no function (103 functions looked at in 1 thread); closest function names:",
      "    _Parser.parse",
      "    _Parser.parseInline",
      "    Marked.parser",
    ]);
    // What did match is in the trace: marked by --package marked, _Lexer.lex by --function.
    const matched = ofKind(run.events, "function_selection").filter((e) => (e.fields as { matched: boolean }).matched).map((e) => e.fields);
    expect(matched).toEqual([
      { pattern: "marked", patternKind: "package", matched: true, first: `node_modules/.pnpm/marked@${MARKED}/node_modules/marked/lib/marked.cjs` },
      { pattern: "_Lexer.lex", patternKind: "function", matched: true, first: "_Lexer.lex" },
    ]);
  });

  test("a process tree: a pattern matched in a child is matched; one matched nowhere is named once, with every process's count", async () => {
    const pnpm = layouts[0]!;
    const matched = await runTraced(["node", "parent.cjs"], { cwd: pnpm.cwd, scopeArgs: ["--package", "marked"], env });
    expect({ status: matched.status, stdout: matched.stdout }).toEqual({ status: 0, stdout: output });
    expect(tables(matched.events).files).toEqual([pnpm.cjs]);
    expect(matched.summary).not.toContain("matched no");
    const unmatched = await runTraced(["node", "parent.cjs"], { cwd: pnpm.cwd, scopeArgs: ["--package", "markd"], env });
    expect(unmatched.summary).toContain("  --package markd matched no loaded file (3 files looked at in 2 threads); closest loaded:\n    marked\n    app\n");
  });

  test("worker threads: a pattern matched in a worker is matched; one matched nowhere is named once, with both threads", async () => {
    const pnpm = layouts[0]!;
    const matched = await runTraced(["node", "worker.cjs"], { cwd: pnpm.cwd, scopeArgs: ["--package", "marked"], env });
    expect({ status: matched.status, stdout: matched.stdout }).toEqual({ status: 0, stdout: output });
    expect(tables(matched.events).files).toEqual([pnpm.cjs]);
    expect(ofKind(matched.events, "function_table").every((e) => e.tid !== 0)).toBe(true);
    expect(matched.summary).not.toContain("matched no");
    const unmatched = await runTraced(["node", "worker.cjs"], { cwd: pnpm.cwd, scopeArgs: ["--package", "markd"], env });
    expect(unmatched.summary).toContain("  --package markd matched no loaded file (3 files looked at in 2 threads); closest loaded:\n    marked\n    app\n");
  });

  test("settings: packages in --functions=@file; a bad package name is one line", async () => {
    const pnpm = layouts[0]!;
    const settings = join(scratchDir(), "packages.json");
    writeFileSync(settings, JSON.stringify({ packages: ["marked"], level: "calls" }));
    const run = await runTraced(["node", "render.cjs"], { cwd: pnpm.cwd, scopeArgs: [`--functions=@${settings}`], env });
    expect(tables(run.events).files).toEqual([pnpm.cjs]);
    expect(ofKind(run.events, "function_return")).toEqual([]);
    for (const [args, message] of [
      [["--package", "@scope"], 'scope: --functions: --package "@scope": a scoped name is @scope/name'],
      [["--package", ""], "scope: --functions: --package \"\": expected a package name"],
      [['--functions={"packages":["node_modules/marked"]}'], 'scope: --functions: "packages": "node_modules/marked": expected a package name'],
    ] as const) {
      const result = await runCli(["run", ...args, "--out", join(scratchDir(), "x.bin"), "--", "node", "-e", "0"], { cwd: pnpm.cwd });
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr.startsWith(message)).toBe(true);
    }
  });

  test("scope instrument --package: marked's files in pnpm's store instrumented, the program copied as is", async () => {
    const pnpm = layouts[0]!;
    const out = join(scratchDir(), "aot");
    const result = await runCli(["instrument", pnpm.cwd, "--out", out, "--package", "marked/lib/marked.cjs"]);
    expect(result.exitCode, result.stderr).toBe(0);
    // The walk follows symlinks: pnpm's node_modules/marked link is written as a copy too.
    expect(result.stdout).toStartWith("scope: 2 files instrumented (258 functions)");
    for (const copy of [`node_modules/.pnpm/marked@${MARKED}/node_modules/marked/lib/marked.cjs`, "node_modules/marked/lib/marked.cjs"]) {
      expect(readFileSync(join(out, copy), "utf8")).toContain("/*scope:instrumented*/");
    }
    expect(readFileSync(join(out, `node_modules/.pnpm/marked@${MARKED}/node_modules/marked/lib/marked.esm.js`), "utf8")).not.toContain("/*scope:instrumented*/");
    expect(readFileSync(join(out, "render.cjs"), "utf8")).toBe(renderCjs);
  });
});

describe("bun", () => {
  test("ES modules: marked's ES module file in every layout", async () => {
    for (const layout of layouts) {
      const run = await runTraced([bun, "render.mjs"], { cwd: layout.cwd, scopeArgs: ["--package", "marked"], env });
      expect({ name: layout.name, status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ name: layout.name, status: 0, stdout: output, stderr: "" });
      expect({ name: layout.name, files: tables(run.events).files }).toEqual({ name: layout.name, files: [layout.esm] });
      expect(called(run.events)).toEqual(markedCalls);
      expect(run.summary).not.toContain("matched no");
    }
  });

  test("worker threads: a pattern matched in a worker is matched", async () => {
    const pnpm = layouts[0]!;
    const run = await runTraced([bun, "worker.cjs"], { cwd: pnpm.cwd, scopeArgs: ["--package", "marked"], env });
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: output });
    expect(tables(run.events).files).toEqual([pnpm.cjs]);
    expect(run.summary).not.toContain("matched no");
  });

  test("patterns that matched nothing are named (files Bun's load filter keeps out of node_modules are not candidates)", async () => {
    const pnpm = layouts[0]!;
    const run = await runTraced([bun, "render.cjs"], { cwd: pnpm.cwd, scopeArgs: ["--package", "markd", "--package", "marked", "--function", "Parser.parze"], env });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: output, stderr: "" });
    const lines = run.summary.split("\n").filter((line) => line.startsWith("  --") || line.startsWith("    "));
    expect(lines).toEqual([
      "  --package markd matched no loaded file (2 files looked at in 1 thread); closest loaded:",
      "    marked",
      "    app",
      "  --function Parser.parze matched no function (102 functions looked at in 1 thread); closest function names:",
      "    _Parser.parse",
      "    _Parser.parseInline",
      "    Marked.parser",
    ]);
  });
});
