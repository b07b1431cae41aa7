import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./harness";

const built = join(repoRoot, "dist/scope");

// The README's "Using it" lines and docs/query.md's example statements, run as written: a
// renamed flag, a column that moved or an example that no longer runs fails here. The lines
// run on a copy of examples/hello, where `dist/scope` is this checkout's built executable. Lines
// that need what a copy of the example cannot give (a server, a pid, a browser, Bun, an OTLP
// endpoint, minutes of benchmarks) are left out by the words they name.
const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
const queryDoc = readFileSync(join(repoRoot, "docs/query.md"), "utf8");
const notRunHere = ["server.js", "render.js", "client.js", "4242", " bun ", "scope stop", "scope view", "scope bench", "127.0.0.1:4318"];

/** The README's `dist/scope ...` lines of "Using it", without their `# comment`. */
function usingItLines(): string[] {
  const section = readme.split("\n## Using it\n")[1]?.split("\n## ")[0] ?? "";
  return section
    .split("\n")
    .filter((line) => line.startsWith("    dist/scope "))
    .map((line) => line.slice(4).replace(/\s+#\s.*$/, "").trim());
}

/** docs/query.md's example statements, one per `-- comment` heading. */
function queryExamples(): string[] {
  const section = queryDoc.split("\n## Examples\n")[1]?.split("\n## ")[0] ?? "";
  const statements: string[][] = [];
  for (const line of section.split("\n")) {
    if (!line.startsWith("    ")) continue;
    if (line.startsWith("    --")) statements.push([]);
    else statements.at(-1)?.push(line.trim());
  }
  return statements.map((lines) => lines.join(" ").replace(/;$/, "")).filter((text) => text.length > 0);
}

const dir = mkdtempSync(join(tmpdir(), "scope-readme-"));
const functionsTrace = join(dir, "functions.bin");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(() => {
  setUp();
  // A trace with calls and messages for docs/query.md's statements and its tables' columns.
  const run = sh(`dist/scope run --functions --include '*.js' --out ${functionsTrace} -- node app.js`);
  if (run.exitCode !== 0) throw new Error(`the example did not run: ${run.stderr}`);
});

function setUp(): void {
  cpSync(join(repoRoot, "examples/hello"), dir, { recursive: true });
  mkdirSync(join(dir, "dist"));
  // The lines say dist/scope: the executable `bun run build` made (scripts/test.sh builds it first).
  if (!existsSync(built)) throw new Error("dist/scope is not built: run `bun run build` (scripts/test.sh does)");
  symlinkSync(built, join(dir, "dist/scope"));
  writeFileSync(join(dir, "scope.json"), JSON.stringify({ include: ["*.js"] }));
  mkdirSync(join(dir, "src"));
  cpSync(join(dir, "app.js"), join(dir, "src/app.js"));
}

function sh(line: string): { exitCode: number; stdout: string; stderr: string } {
  const result = Bun.spawnSync(["bash", "-c", line], { cwd: dir, env: { ...process.env, NO_COLOR: "1" }, stdin: "ignore" });
  return { exitCode: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

describe("README", () => {
  test("each 'Using it' line that runs on the bundled example does what it says", () => {
    const lines = usingItLines();
    const runnable = lines.filter((line) => !notRunHere.some((word) => line.includes(word)));
    // The extraction itself must not rot into running nothing.
    expect(lines.length).toBeGreaterThan(30);
    expect(runnable.length).toBeGreaterThan(20);
    for (const line of runnable) {
      if (line.startsWith("dist/scope merge ")) {
        cpSync(join(dir, "trace.bin"), join(dir, "server.bin"));
        cpSync(join(dir, "trace.bin"), join(dir, "client.bin"));
      }
      const result = sh(line);
      expect({ line, exitCode: result.exitCode, stderr: result.exitCode === 0 ? "" : result.stderr }).toEqual({ line, exitCode: 0, stderr: "" });
      // The program's output passes through untouched, before what a following `&& dist/scope dump` prints.
      const output = "worker: 2² = 4\nworker: 3² = 9\nchild: hello, parent\ndone\n";
      if (line.includes(" -- node app.js")) expect({ line, stdout: result.stdout.slice(0, output.length) }).toEqual({ line, stdout: output });
      if (line.includes("--why 57")) expect(result.stdout).toContain("# why #57: its causes, back to the start");
    }
    // The files the lines say they write.
    expect(JSON.parse(readFileSync(join(dir, "t.json"), "utf8")).traceEvents.length).toBeGreaterThan(0);
    expect(statSync(join(dir, "trace.pftrace")).size).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(join(dir, "spans.json"), "utf8")).resourceSpans.length).toBeGreaterThan(0);
    expect(existsSync(join(dir, "build/instrumented/app.js"))).toBe(true);
    expect(sh("dist/scope dump --stats all.bin").stdout).toContain("4 processes");
    // `npm start`: every node process npm starts is traced, the example's app.js among them.
    const npm = sh("dist/scope dump --json --kind trace_start api.bin");
    expect(npm.stdout).toContain("app.js");
  }, 120000);

  test("docs/query.md's example statements run on a trace with calls and messages", () => {
    const trace = functionsTrace;
    const statements = queryExamples();
    expect(statements.length).toBeGreaterThanOrEqual(7);
    for (const sql of statements) {
      const result = Bun.spawnSync([join(dir, "dist/scope"), "query", "--no-cache", "--json", trace, sql], { cwd: dir });
      expect({ sql, exitCode: result.exitCode, stderr: result.stderr.toString() }).toEqual({ sql, exitCode: 0, stderr: "" });
    }
  }, 60000);

  // `scope query trace.bin` lists each table and view with its columns; docs/query.md's
  // "Tables and views" must name every one of them in that relation's paragraph.
  test("docs/query.md names every column of every table and view", () => {
    const listing = Bun.spawnSync([join(dir, "dist/scope"), "query", "--no-cache", "--json", functionsTrace], { cwd: dir });
    expect(listing.exitCode).toBe(0);
    const tables = queryDoc.split("\n## Tables and views\n")[1]?.split("\n## ")[0] ?? "";
    const relations = listing.stdout.toString().trim().split("\n").map((line) => JSON.parse(line) as { relation: string; columns: string });
    expect(relations.length).toBeGreaterThan(10);
    const undocumented = relations.flatMap(({ relation, columns }) => {
      const start = tables.indexOf(`**${relation}**`);
      if (start < 0) return [`${relation} (no paragraph)`];
      const end = tables.indexOf("\n\n**", start);
      const words = new Set(tables.slice(start, end < 0 ? undefined : end).match(/[a-z0-9_]+/g) ?? []);
      return columns.split(", ").filter((column) => !words.has(column)).map((column) => `${relation}.${column}`);
    });
    expect(undocumented).toEqual([]);
  });
});
