/**
 * Stacks taken while a CommonJS module's top level runs, under `scope run --functions` on
 * Node ≥ 20.19 (the default node): scope's `_compile` wrapper (functions.cjs) and its
 * `_load` wrappers are on the stack then, at each nested require (the agent's own library
 * hand-over adds none: loaded-files.ts, spec/module-stacks.test.ts). Every formatter is handed the trace without them, and V8 keeps as many of the
 * program's frames as untraced (callsites.ts raiseStackTraceLimit): the output is the one the
 * program has untraced, at V8's default limit of 10, a small one, Infinity, through
 * Error.captureStackTrace, a program's own formatter, and an uncaught error's report.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { nodeMajorOf, nodeVersions } from "./harness";

afterAll(cleanup);

/** Functions enough to make a file of ~40 KB. */
function padding(file: number): string {
  return Array.from({ length: 700 }, (_, i) => `function pad${file}x${i}(value) { return value + ${i}; } // to make the file large\n`).join("");
}

const files: Record<string, string> = {
  "main.cjs": `function report(label, error) { console.log(label, String(error.stack).split(process.cwd()).join(".")); }
function fresh() { for (const name of ["./a.cjs", "./b.cjs", "./c.cjs", "./one.cjs", "./d.cjs", "./deep.cjs"]) delete require.cache[require.resolve(name)]; }
try { require("./a.cjs"); } catch (error) { report("default limit, 3 deep:", error); }
try { require("./one.cjs"); } catch (error) { report("1 deep:", error); }
// Formatted once no top level runs (at exit, after the uncaught error below): a trace of the raised limit's length, none of scope's frames in it.
try { require("./deep.cjs"); } catch (error) { process.on("exit", () => report("deep recursion, formatted at exit:", error)); }
console.log(require("./data.json").depth, require("./d.cjs").join("\\n"));
for (const limit of [3, Infinity, 0]) {
  fresh();
  Error.stackTraceLimit = limit;
  try { require("./a.cjs"); } catch (error) { report(\`limit \${limit}:\`, error); }
  console.log(require("./d.cjs").join("\\n"));
}
Error.stackTraceLimit = 10;
fresh();
const nodes = Error.prepareStackTrace;
Error.prepareStackTrace = (error, trace) => \`\${error.message} (\${trace.length} frames): \` + trace.map((site) => \`\${site.getFunctionName()}@\${String(site.getFileName()).split("/").pop()}:\${site.getLineNumber()}:\${site.getColumnNumber()}\`).join(" ");
try { require("./a.cjs"); } catch (error) { report("a program's formatter:", error); }
console.log(require("./d.cjs").join("\\n"));
Error.prepareStackTrace = nodes;
try { require("./big.cjs"); } catch (error) { report("a large module:", error); }
delete require.cache[require.resolve("./big2.cjs")];
fresh();
Error.stackTraceLimit = 4;
try { require("./big.cjs"); } catch (error) { report("a large module, limit 4:", error); }
Error.stackTraceLimit = 10;
console.log("limit after:", Error.stackTraceLimit);
require("./e.cjs");
`,
  "a.cjs": `function outer() { return require("./b.cjs"); }\nmodule.exports = outer();\n`,
  "b.cjs": `const middle = () => require("./c.cjs");\nmodule.exports = middle();\n`,
  "c.cjs": `function inner(what) { return new Error("top level of " + what); }\nthrow inner("c.cjs");\n`,
  "one.cjs": `function thrower() {\n  throw new RangeError("one deep");\n}\nthrower();\n`,
  "deep.cjs": `function recurse(n) {\n  if (n === 0) throw new Error("deep");\n  recurse(n - 1);\n}\nrecurse(40);\n`,
  "d.cjs": `function capture() { const holder = {}; Error.captureStackTrace(holder, capture); return holder.stack; }
function deep(n) { return n === 0 ? [new Error("captured deep").stack, capture()] : deep(n - 1); }
module.exports = [(function () { return new Error("captured").stack; })(), capture(), ...deep(3), ...deep(12)].map((stack) => String(stack).split(process.cwd()).join("."));
`,
  "data.json": `{ "depth": 3 }\n`,
  // Past node-hooks.ts CODE_CACHE_MIN_CHARS: run by scope's code-cache compile in place of Node's _compile, whose frame the stack still shows.
  "big.cjs": `function inner() { return new Error("big").stack; }\nmodule.exports = [inner(), require("./big2.cjs")];\n${padding(1)}`,
  "big2.cjs": `function deeper() { throw new Error("big, thrown"); }\ndeeper();\n${padding(2)}`,
  "e.cjs": `require("./f.cjs");\n`,
  // Thrown by the top level itself: Node prints the line an uncaught error was last thrown from, and an instrumented function rethrows.
  "f.cjs": `function make() { return new TypeError("uncaught at a top level"); }\nthrow make();\n`,
};

/**
 * The Nodes checked: this machine's (Node 20) and, where scripts/node-install.sh put them,
 * Node 22 and 24, where V8 names a frame of an anonymous function by the property holding it
 * on the receiver (Node's `_compile`, `.js` and `_load` frames read `Module.<anonymous>`
 * unless scope names the functions it replaced: reflect.ts keepFrameName): harness.ts nodeVersions.
 */
for (const { name, path, installed } of nodeVersions) {
  if (!installed) {
    test.skip(`${name}: not installed at ${path} (scripts/node-install.sh 22 24), not checked`, () => {});
    continue;
  }
  test(`${name}: stacks taken during a CommonJS module's top level: the program's output traced is the untraced one (limits 10, 3, Infinity, 0; captureStackTrace; a program's formatter; an uncaught error; modules run by the code-cache compile), first start and cached`, async () => {
    await sameStacks(name.replace(" ", ""), path);
  });
}

async function sameStacks(label: string, node: string): Promise<void> {
  const dir = join(scratchDir(), `module-stacks-${label}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const env = { XDG_CACHE_HOME: join(dir, ".cache") };
  const argv = [node, "main.cjs"];
  const plain = await runUntraced(argv, { cwd: dir, env });
  // The oracle: V8's default 10 frames end at the program's frame in b.cjs (scope's frames would push it out).
  expect(plain.stdout).toContain("    at Object.<anonymous> (./c.cjs:2:7)");
  // (Node 22 and 24 keep more loader frames of their own: the 10 end before b.cjs there.)
  if (nodeMajorOf(node) === 20) expect(plain.stdout.split("1 deep:")[0]!.trimEnd().endsWith("at Object.<anonymous> (./b.cjs:2:18)")).toBe(true);
  expect(plain.stdout).toContain("limit after: 10");
  expect(plain.stdout.endsWith(`deep recursion, formatted at exit: Error: deep\n    at recurse (./deep.cjs:2:22)\n${"    at recurse (./deep.cjs:3:3)\n".repeat(9)}`)).toBe(true);
  expect(plain.stdout).toContain("a large module: Error: big, thrown\n    at deeper (./big2.cjs:1:27)\n    at Object.<anonymous> (./big2.cjs:2:1)\n    at Module._compile (node:");
  expect(plain.stderr).toContain("TypeError: uncaught at a top level");
  expect(plain.status).toBe(1);
  for (const start of ["first", "cached"]) {
    const run = await runTraced(argv, { cwd: dir, env, scopeArgs: ["--functions", "--include", "*.cjs"] });
    expect({ start, status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ start, status: plain.status, stdout: plain.stdout, stderr: plain.stderr });
    const tabled = new Set(ofKind(run.events, "function_table").map((event) => String((event.fields as { file: string }).file).replace(/^.*\//, "")));
    expect([...tabled].sort()).toEqual(["a.cjs", "b.cjs", "big.cjs", "big2.cjs", "c.cjs", "d.cjs", "deep.cjs", "f.cjs", "main.cjs", "one.cjs"]);
    expect(ofKind(run.events, "agent_error")).toEqual([]);
  }
}

test("an ES module entry: its top level has no frame of scope's; a CommonJS module it imports is run by the _compile wrapper, and its stacks read as untraced", async () => {
  const dir = join(scratchDir(), "module-stacks-esm");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "main.mjs"), `import "./top.mjs";\nconst { stack } = await import("./c.cjs");\nconsole.log(stack.split(process.cwd()).join("."));\n`);
  writeFileSync(join(dir, "top.mjs"), `function inner() { return new Error("esm top").stack; }\nconsole.log(inner().split(process.cwd()).join("."));\n`);
  writeFileSync(join(dir, "c.cjs"), `function inner() { return new Error("cjs from esm").stack; }\nexports.stack = inner();\n`);
  const env = { XDG_CACHE_HOME: join(dir, ".cache") };
  const plain = await runUntraced(["node", "main.mjs"], { cwd: dir, env });
  expect(plain.stdout).toContain("Error: cjs from esm\n    at inner (./c.cjs:1:27)\n    at Object.<anonymous> (./c.cjs:2:17)\n    at Module._compile (node:");
  for (const start of ["first", "cached"]) {
    const run = await runTraced(["node", "main.mjs"], { cwd: dir, env, scopeArgs: ["--functions", "--include", "*js"] });
    expect({ start, status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ start, ...plain });
    expect(ofKind(run.events, "function_call").length).toBeGreaterThan(0);
  }
});

/**
 * An ES module entry's stacks on every installed Node, and a module a CommonJS program imports
 * later (the hooks registered then, node-hooks.ts deferEsmHook). Starting Node's hooks thread
 * (module.register) queues process.nextTick callbacks; left in the program's queue, Node 24
 * (which loads the entry from the hooks thread synchronously) evaluated the module inside
 * processTicksAndRejections: `at process.processTicksAndRejections` at the end of stacks
 * taken at its top level, in a function it calls and after a top-level `await`, untraced
 * none (node-hooks.ts runningOwnTicks).
 */
const esmFiles: Record<string, string> = {
  "entry.mjs": `const here = (stack) => String(stack).split(process.cwd()).join(".");
function called() { return new Error("in a function").stack; }
console.log(here(new Error("top level").stack));
console.log(here(called()));
await null;
console.log(here(new Error("after a top-level await").stack));
await import("./later.cjs");
`,
  "later.cjs": `import("./imported.mjs").then(() => console.log(String(new Error("then").stack).split(process.cwd()).join(".")));\n`,
  // The hooks registered before later.cjs runs (it holds an import()), not at start.
  "main.cjs": `require("./later.cjs");\n`,
  "imported.mjs": `console.log(String(new Error("imported, top level").stack).split(process.cwd()).join("."));
await null;
console.log(String(new Error("imported, after await").stack).split(process.cwd()).join("."));
function instrumented() {}
instrumented();
`,
};

for (const { name, path, installed } of nodeVersions) {
  if (!installed) {
    test.skip(`${name}: not installed at ${path}, not checked`, () => {});
    continue;
  }
  test(`${name}: an ES module entry's stacks (top level, a function it calls, after a top-level await) and those of a module a CommonJS entry imports read as untraced`, async () => {
    const dir = join(scratchDir(), `esm-entry-stacks-${name.replace(" ", "")}`);
    mkdirSync(dir, { recursive: true });
    for (const [file, text] of Object.entries(esmFiles)) writeFileSync(join(dir, file), text);
    const env = { XDG_CACHE_HOME: join(dir, ".cache") };
    for (const entry of ["entry.mjs", "main.cjs"]) {
      const plain = await runUntraced([path, entry], { cwd: dir, env });
      expect(plain.stdout).toContain("Error: imported, after await\n    at file://./imported.mjs:3:20\nError: then\n");
      if (entry === "entry.mjs") expect(plain.stdout).toContain("Error: in a function\n    at called (file://./entry.mjs:2:28)\n    at file://./entry.mjs:4:18\n");
      const run = await runTraced([path, entry], { cwd: dir, env, scopeArgs: ["--functions", "--include", "*js"] });
      expect({ entry, status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ entry, ...plain });
      // The hooks were on: the ES modules' functions were instrumented.
      const tabled = ofKind(run.events, "function_table").map((event) => String((event.fields as { file: string }).file).replace(/^.*\//, ""));
      expect(tabled).toContain("imported.mjs");
    }
  });
}
