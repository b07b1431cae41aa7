/**
 * jest runs a project's files in its test environment's context (jest 29: `new vm.Script`
 * + `script.runInContext`; jest 30: `vm.compileFunction` with a `parsingContext`), past
 * both load hooks and in another realm than scope's runtime: under `scope run --functions
 * --include 'src/**'` a real jest project's source functions are traced at their places
 * (src/instrument/vm-hooks.ts readies the context, runtime.ts installRealm), and jest's
 * output (passing tests, a failing test's message, code frame and stack; --coverage;
 * --detectLeaks) is the untraced run's.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import type { TraceEvent } from "../src/core/model";
import { installTools, placeOf, writeProject } from "./toolchain-harness";

const mathJs = `function add(a, b) {
  return a + b;
}

const twice = (n) => add(n, n);

async function later(n) { await null; return twice(n); }

module.exports = { add, twice, later };
`;

// fail's throw stands after the prologue scope inserts on its line: its column is a shifted one.
const shapesJs = `const { twice, later } = require("./math");

class Square {
  constructor(side) { this.side = side; }
  perimeter() {
    return twice(twice(this.side));
  }
}

function fail(what) { const message = \`bad \${what}\`; throw new Error(message); }

const failLater = (what) => fail(what);

module.exports = { Square, fail, failLater, later };
`;

const testJs = `const { Square, failLater, later } = require("../src/shapes");
const { add } = require("../src/math");

describe("shapes", () => {
  test("perimeter", () => {
    expect(new Square(3).perimeter()).toBe(12);
  });
  test("async", async () => {
    expect(await later(2)).toBe(4);
  });
  test("a stack through src", () => {
    let stack = "";
    try { failLater("x"); } catch (e) { stack = e.stack; }
    const lines = stack.split("\\n").filter((l) => l.includes("/src/")).map((l) => l.trim().replace(process.cwd(), ""));
    console.log("STACK", lines.join(" | "));
    expect(lines[0]).toContain("src/shapes.js:10:");
  });
  test("what the test environment shows", () => {
    console.log("SEEN", Object.keys(globalThis).join(), typeof Error.prepareStackTrace, add.toString());
  });
  test("a failing assertion's report", () => {
    expect(new Square(1).perimeter()).toBe(5);
  });
  test("a failing throw", () => {
    failLater("y");
  });
});
`;

// babel-jest with @babel/preset-env and @babel/preset-typescript (ES modules to CommonJS, types stripped).
const mathTs = `export interface Pair { a: number; b: number }

export function add(pair: Pair): number {
  return pair.a + pair.b;
}

export const twice = (n: number): number => add({ a: n, b: n });

export async function later(n: number): Promise<number> { await null; return twice(n); }
`;

const shapesTs = `import { twice, later } from "./math";

export class Square {
  side: number;
  constructor(side: number) { this.side = side; }
  perimeter(): number {
    return twice(twice(this.side));
  }
}

export function fail(what: string): never { const message = \`bad \${what}\`; throw new Error(message); }

export const failLater = (what: string): never => fail(what);

export { later };
`;

const testTs = testJs
  .replace('const { Square, failLater, later } = require("../src/shapes");\nconst { add } = require("../src/math");', 'import { Square, failLater, later } from "../src/shapes";\nimport { add } from "../src/math";')
  .replace("stack = e.stack;", "stack = (e as Error).stack!;")
  .replace("src/shapes.js:10:", "src/shapes.ts:11:");

const babelConfig = `module.exports = { presets: [["@babel/preset-env", { targets: { node: "current" } }], "@babel/preset-typescript"] };\n`;

const env = { CI: "1", NO_COLOR: "1", FORCE_COLOR: "0" };

/** jest's output without its times. */
const stable = (text: string) =>
  text
    .replace(/^(Time|Ran all).*$/gm, "")
    .replace(/\s\(\d+(\.\d+)?\s?m?s\)/g, "")
    .replace(/ +$/gm, "");

interface Project {
  name: string;
  dir: string;
  ext: "js" | "ts";
  math: string;
  shapes: string;
}

const projects: Record<string, Project> = {};

beforeAll(async () => {
  const [jest29, jest30] = await Promise.all([installTools("jest"), installTools("jest30")]);
  const root = scratchDir();
  const make = (name: string, nodeModules: string, ext: "js" | "ts"): Project => {
    const files: Record<string, string> = ext === "js" ? { "src/math.js": mathJs, "src/shapes.js": shapesJs, "test/shapes.test.js": testJs } : { "src/math.ts": mathTs, "src/shapes.ts": shapesTs, "test/shapes.test.ts": testTs, "babel.config.js": babelConfig };
    const dir = writeProject(join(root, name), nodeModules, files);
    return { name, dir, ext, math: ext === "js" ? mathJs : mathTs, shapes: ext === "js" ? shapesJs : shapesTs };
  };
  projects["jest 29"] = make("jest29", jest29, "js");
  projects["jest 29 (babel-jest: TypeScript, ES modules)"] = make("jest29-ts", jest29, "ts");
  projects["jest 30"] = make("jest30", jest30, "js");
}, 900_000);

afterAll(cleanup);

/** jest in band, its transform cache in the project. */
const argv = (project: Project, ...more: string[]) => ["node", join(project.dir, "node_modules", "jest", "bin", "jest.js"), "-i", "--cacheDirectory", join(project.dir, ".jest-cache"), ...more];

const same = (run: { status: number; stdout: string; stderr: string }) => ({ status: run.status, stdout: stable(run.stdout), stderr: stable(run.stderr) });

const functionOf = (event: TraceEvent) => String((event.fields as { function: string }).function);

/** Each call's caller (the innermost call open when it began), replayed from the thread's calls and ends. */
function callers(events: TraceEvent[]): Map<TraceEvent, TraceEvent | undefined> {
  const open: TraceEvent[] = [];
  const parents = new Map<TraceEvent, TraceEvent | undefined>();
  for (const event of events) {
    if (event.kind === "function_call") {
      parents.set(event, open[open.length - 1]);
      open.push(event);
    } else if (event.kind === "function_return" || event.kind === "function_throw" || event.kind === "function_settle") {
      const call = (event.fields as { call: number }).call;
      for (let at = open.length - 1; at >= 0; at--) {
        if ((open[at]!.fields as { call: number }).call !== call) continue;
        open.splice(at, 1);
        break;
      }
    }
  }
  return parents;
}

for (const key of ["jest 29", "jest 29 (babel-jest: TypeScript, ES modules)", "jest 30"]) {
  describe(`${key} under scope run --functions`, () => {
    test("--include 'src/**': jest's output is the untraced run's; the src functions' calls at their places", async () => {
      const project = projects[key]!;
      const { dir, ext } = project;
      const plain = await runUntraced(argv(project), { cwd: dir, env });
      const run = await runTraced(argv(project), { cwd: dir, env, scopeArgs: ["--functions", "--include", "src/**"] });
      // The oracle: two tests fail (on purpose); jest shows src/shapes's line and the frames through it.
      expect(plain.status).toBe(1);
      expect(plain.stdout + plain.stderr).toContain(`STACK at fail (/src/shapes.${ext}:`);
      expect(plain.stderr).toContain("Tests:       2 failed, 4 passed, 6 total");
      expect(plain.stderr).toContain(`at fail (src/shapes.${ext}:`);
      expect(plain.stderr).toMatch(/> \d+ \| (export )?function fail/);
      expect(same(run)).toEqual(same(plain));
      expect(ofKind(run.events, "agent_error")).toEqual([]);
      expect(run.summary).not.toContain("matched no loaded file");

      const src = `${dir}/src/`;
      const places: Record<string, string> = {};
      for (const event of ofKind(run.events, "function_table")) {
        const { name, file, line, column } = event.fields as { name: string; file: string; line: number; column: number };
        // jest 29's module wrapper (`({"Object.<anonymous>":function(module,exports,…){`) is the module's top level.
        if (file.startsWith(src) && name !== "Object.<anonymous>") places[name] = `${file.slice(dir.length + 1)}:${line}:${column}`;
      }
      const at = (file: string, text: string, needle: string, after = "") => `src/${file}.${ext}:${placeOf(text, needle, after).join(":")}`;
      // Babel's maps place an arrow at its first parameter, a method at its parameters, a
      // declaration after `export ` (babel's own functions, as a re-export's getter, aside).
      const expected = {
        add: at("math", project.math, "function add"),
        twice: at("math", project.math, ext === "ts" ? "n:" : "n)", "const twice = ("),
        later: at("math", project.math, "async function later"),
        "Square.constructor": at("shapes", project.shapes, "(side", "constructor"),
        "Square.perimeter": at("shapes", project.shapes, "()", "perimeter"),
        fail: at("shapes", project.shapes, "function fail"),
        failLater: at("shapes", project.shapes, ext === "ts" ? "what:" : "what)", "const failLater = ("),
      };
      expect(Object.fromEntries(Object.keys(expected).map((name) => [name, places[name]]))).toEqual(expected);

      const calls = ofKind(run.events, "function_call");
      const named = (name: string) => calls.filter((event) => functionOf(event).startsWith(`${name} (`));
      // Two Squares' perimeters: four twice and four add; later once (one more twice and add); fail twice through failLater.
      expect([named("Square.perimeter"), named("twice"), named("add"), named("later"), named("failLater"), named("fail")].map((list) => list.length)).toEqual([2, 5, 5, 1, 2, 2]);
      expect(functionOf(named("add")[0]!)).toBe(`add (${dir}/${places.add})`);
      const parents = callers(run.events);
      const callerOf = (call: TraceEvent) => functionOf(parents.get(call)!).split(" (")[0];
      expect(named("add").map(callerOf)).toEqual(["twice", "twice", "twice", "twice", "twice"]);
      expect(named("twice").map(callerOf)).toEqual(["Square.perimeter", "Square.perimeter", "later", "Square.perimeter", "Square.perimeter"]);
      expect(named("fail").map(callerOf)).toEqual(["failLater", "failLater"]);
      // An async function of the test environment's realm settles when its promise does.
      const settle = ofKind(run.events, "function_settle").find((event) => (event.fields as { call: number }).call === (named("later")[0]!.fields as { call: number }).call);
      expect(settle?.fields).toMatchObject({ rejected: false, value: "4" });
      expect(ofKind(run.events, "function_throw").map(functionOf).filter((name) => name.startsWith("fail ("))).toHaveLength(2);
    }, 180_000);

    test("--include 'src/**' and 'test/**': the output stays the untraced run's; src calls nest under the test's function", async () => {
      const project = projects[key]!;
      const { dir, ext } = project;
      const plain = await runUntraced(argv(project), { cwd: dir, env });
      const run = await runTraced(argv(project), { cwd: dir, env, scopeArgs: ["--functions", "--include", "src/**", "--include", "test/**"] });
      expect(same(run)).toEqual(same(plain));
      expect(ofKind(run.events, "agent_error")).toEqual([]);
      const parents = callers(run.events);
      const perimeter = ofKind(run.events, "function_call").find((event) => functionOf(event).startsWith("Square.perimeter ("))!;
      // test("perimeter", () => { … }): the arrow's place in the test file.
      const testFile = ext === "ts" ? testTs : testJs;
      const [line] = placeOf(testFile, "() => {", 'test("perimeter", ');
      expect(functionOf(parents.get(perimeter)!)).toMatch(new RegExp(`^<anonymous> \\(${dir}/test/shapes\\.test\\.${ext}:${line}:\\d+\\)$`));
    }, 180_000);
  });
}

describe("jest's own checks under scope run --functions --include 'src/**'", () => {
  test("--coverage (babel-plugin-istanbul): the report is the untraced run's", async () => {
    const project = projects["jest 29"]!;
    const args = argv(project, "--coverage", "--coverageReporters", "text");
    const plain = await runUntraced(args, { cwd: project.dir, env });
    const run = await runTraced(args, { cwd: project.dir, env, scopeArgs: ["--functions", "--include", "src/**"] });
    expect(plain.stdout).toContain("shapes.js |     100 |");
    expect(same(run)).toEqual(same(plain));
    expect(ofKind(run.events, "function_call").length).toBeGreaterThan(0);
  }, 180_000);

  for (const key of ["jest 29", "jest 30"]) {
    test(`${key} --detectLeaks: the test environment is collected (nothing of its realm kept)`, async () => {
      const project = projects[key]!;
      const args = argv(project, "--detectLeaks");
      const plain = await runUntraced(args, { cwd: project.dir, env });
      const run = await runTraced(args, { cwd: project.dir, env, scopeArgs: ["--functions", "--include", "src/**"] });
      // Untraced, jest finds its own environment leaking under Node ≥ 22 (Node 20: collected); traced, what it finds is the same.
      if (process.versions.node && /^v20\./.test(String(Bun.spawnSync(["node", "--version"]).stdout))) expect(plain.stderr).not.toContain("leaking memory");
      expect(same(run)).toEqual(same(plain));
      expect(ofKind(run.events, "function_call").length).toBeGreaterThan(0);
    }, 180_000);
  }

  test("--coverageProvider=v8 (V8's coverage through node:inspector): src left as it is, and the summary says why", async () => {
    const project = projects["jest 30"]!;
    const args = argv(project, "--coverage", "--coverageProvider=v8", "--coverageReporters", "text");
    const plain = await runUntraced(args, { cwd: project.dir, env });
    const run = await runTraced(args, { cwd: project.dir, env, scopeArgs: ["--functions", "--include", "src/**"] });
    expect(plain.stdout).toContain("shapes.js |     100 |");
    expect(same(run)).toEqual(same(plain));
    expect(run.summary).toContain("src/shapes.js (compiled through node:vm while node:inspector is loaded (V8 coverage would count the instrumented code): not traced)");
  }, 180_000);
});
