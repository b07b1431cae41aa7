/**
 * An include glob naming TypeScript sources a program ran compiled (tsc's outDir, as a NestJS
 * project's `nest build` and `node dist/main`): the summary says that the directory holds
 * TypeScript the program did not load, and which directory it ran (tsconfig.json's outDir).
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, runTraced, scratchDir } from "./agent-harness";

afterAll(cleanup);

function project(name: string, tsconfig: string | undefined): string {
  const dir = join(scratchDir(), name);
  mkdirSync(join(dir, "src", "cats"), { recursive: true });
  mkdirSync(join(dir, "build", "cats"), { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, private: true }));
  writeFileSync(join(dir, "src", "cats", "cats.service.ts"), "export class CatsService { count(): number { return 2; } }\n");
  writeFileSync(join(dir, "src", "cats", "types.d.ts"), "export {};\n");
  writeFileSync(join(dir, "build", "cats", "cats.service.js"), "class CatsService { count() { return 2; } }\nexports.CatsService = CatsService;\n");
  writeFileSync(join(dir, "build", "main.js"), "const { CatsService } = require('./cats/cats.service');\nconsole.log(new CatsService().count());\n");
  if (tsconfig !== undefined) writeFileSync(join(dir, "tsconfig.json"), tsconfig);
  return dir;
}

const hintOf = (summary: string) => summary.split("\n").filter((line) => line.includes("holds TypeScript"));

test("--include 'src/**' on a program that runs tsc's output: the summary names the outDir to include", async () => {
  // tsconfig.json with comments and a trailing comma, as tsc and nest new write it.
  const dir = project("compiled", '{\n  // build\n  "compilerOptions": {\n    "outDir": "./build/",\n    "sourceMap": true, /* maps */\n  },\n}\n');
  const run = await runTraced(["node", join(dir, "build", "main.js")], { cwd: dir, scopeArgs: ["--include", "src/**"] });
  expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: "2\n" });
  expect(run.summary).toContain("--include 'src/**' matched no loaded file");
  expect(hintOf(run.summary)).toEqual([`    (src/ holds TypeScript the program did not load: it ran tsc's output, tsconfig.json's outDir "build": --include 'build/**')`]);
  // The glob it names traces the compiled files.
  const built = await runTraced(["node", join(dir, "build", "main.js")], { cwd: dir, scopeArgs: ["--include", "build/**"] });
  expect(built.summary).not.toContain("matched no");
  expect(built.events.some((e) => e.kind === "function_call" && String(e.fields.function).startsWith("CatsService.count"))).toBe(true);
});

test("no tsconfig outDir: the line says the program ran a compiled copy; a glob over plain JavaScript gets no such line", async () => {
  const dir = project("no-outdir", undefined);
  const run = await runTraced(["node", join(dir, "build", "main.js")], { cwd: dir, scopeArgs: ["--include", "src/cats/*.ts"] });
  expect(hintOf(run.summary)).toEqual([`    (src/cats/ holds TypeScript the program did not load: it ran a compiled copy; name the directory the compiler wrote, with --include '<that directory>/**')`]);
  const plain = await runTraced(["node", join(dir, "build", "main.js")], { cwd: dir, scopeArgs: ["--include", "lib/**"] });
  expect(plain.summary).toContain("--include 'lib/**' matched no loaded file");
  expect(hintOf(plain.summary)).toEqual([]);
});

test("a Next.js project (its build in .next/server): the line names Next's route bundles for app/, its server build for another directory", async () => {
  const dir = join(scratchDir(), "next-project");
  mkdirSync(join(dir, "app", "cats", "[id]"), { recursive: true });
  mkdirSync(join(dir, "lib"), { recursive: true });
  mkdirSync(join(dir, ".next", "server", "app", "cats", "[id]"), { recursive: true });
  writeFileSync(join(dir, "app", "cats", "[id]", "page.tsx"), "export default function Cat() { return null; }\n");
  writeFileSync(join(dir, "lib", "db.ts"), "export const db = 1;\n");
  writeFileSync(join(dir, "tsconfig.json"), '{ "compilerOptions": { "noEmit": true } }\n');
  writeFileSync(join(dir, ".next", "server", "app", "cats", "[id]", "page.js"), "function Cat() { return 'cat'; }\nexports.Cat = Cat;\n");
  writeFileSync(join(dir, "main.js"), "console.log(require('./.next/server/app/cats/[id]/page.js').Cat());\n");
  const run = await runTraced(["node", join(dir, "main.js")], { cwd: dir, scopeArgs: ["--include", "app/**", "--include", "lib/**"] });
  expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: "cat\n" });
  expect(hintOf(run.summary)).toEqual([
    `    (app/ holds TypeScript the program did not load: Next.js ran its build, .next/server: --include '.next/server/app/**'; its code is minified unless next.config's experimental.serverMinification is false)`,
    `    (lib/ holds TypeScript the program did not load: Next.js ran its build, .next/server: --include '.next/server/**'; its code is minified unless next.config's experimental.serverMinification is false)`,
  ]);
  const built = await runTraced(["node", join(dir, "main.js")], { cwd: dir, scopeArgs: ["--include", ".next/server/app/**"] });
  expect(built.summary).not.toContain("matched no");
  expect(built.events.some((e) => e.kind === "function_call" && String(e.fields.function).startsWith("Cat "))).toBe(true);
  // A Turbopack build (Next 16's default): the code is in .next/server/chunks, whatever the directory.
  mkdirSync(join(dir, ".next", "server", "chunks"), { recursive: true });
  writeFileSync(join(dir, ".next", "server", "chunks", "[turbopack]_runtime.js"), "\n");
  const turbopack = await runTraced(["node", join(dir, "main.js")], { cwd: dir, scopeArgs: ["--include", "app/**"] });
  expect(hintOf(turbopack.summary)).toEqual([
    `    (app/ holds TypeScript the program did not load: Next.js ran its build, .next/server: --include '.next/server/chunks/**'; its code is minified unless next.config's experimental.serverMinification is false)`,
  ]);
});
