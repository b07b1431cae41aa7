// The core bundle's top level split into scopes of at most 75 names (src/core/scope-split.ts):
// the same program, run the same way, with no scope over V8's inline-name limit.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSync } from "oxc-parser";
import { bundleAgent } from "../src/core/assets";
import { BUNDLE_FILE } from "../src/agent/node/code-cache";
import { splitTopScope } from "../src/core/scope-split";

/** Runs a CommonJS-like body (as the bundle's wrapper would) and returns what it logged. */
function run(body: string): string[] {
  const log: string[] = [];
  new Function("log", body)((line: string) => log.push(line));
  return log;
}

/** Names declared directly in a statement list (functions, classes, var/let/const). */
function namesIn(statements: { type: string; id?: { name: string }; declarations?: { id: { name: string } }[] }[]): number {
  let count = 0;
  for (const s of statements) {
    if (s.type === "FunctionDeclaration" || s.type === "ClassDeclaration") count++;
    else if (s.type === "VariableDeclaration") count += s.declarations!.length;
  }
  return count;
}

/** Names of every level of a split body: the outer statements, then each nested arrow's. */
function levelSizes(body: string): number[] {
  let statements = (parseSync("b.js", body).program as unknown as { body: any[] }).body;
  const sizes: number[] = [];
  for (;;) {
    sizes.push(namesIn(statements));
    const last = statements[statements.length - 1];
    let callee = last?.type === "ExpressionStatement" && last.expression.type === "CallExpression" ? last.expression.callee : undefined;
    if (callee?.type === "ParenthesizedExpression") callee = callee.expression;
    if (callee?.type !== "ArrowFunctionExpression") return sizes;
    statements = callee.body.body;
  }
}

describe("splitTopScope", () => {
  // 300 names in dependency order, with what the bundler also writes: a function that reads a
  // later var (hoisted), a var initialised by a later function, a class, a var in a block,
  // mutual recursion, top-level statements with effects in order.
  const lines: string[] = ['"use strict";', "let order = [];"];
  for (let i = 0; i < 100; i++) {
    lines.push(`var v${i} = ${i === 0 ? 1 : `v${i - 1} + 1`};`);
    lines.push(`function f${i}(x) { return x + v${i} + (${i > 0 ? `f${i - 1}(0)` : "0"}); }`);
    lines.push(`order.push(${i});`);
  }
  lines.push("function early() { return late + hoisted(); }");
  lines.push("var byLater = hoisted();");
  lines.push("class Box { constructor(v) { this.v = f99(v); } get twice() { return this.v * 2; } }");
  lines.push("if (v3 > 0) { var inBlock = new Box(1).twice; }");
  lines.push("function even(n) { return n === 0 ? true : odd(n - 1); }");
  lines.push("function odd(n) { return n === 0 ? false : even(n - 1); }");
  for (let i = 0; i < 100; i++) lines.push(`var w${i} = f${i}(${i}) + inBlock;`);
  lines.push("var late = w99 + byLater;");
  lines.push("function hoisted() { return 7; }");
  lines.push('log(JSON.stringify([early(), late, inBlock, even(10), odd(7), order.length, order[99], typeof this]));');
  const source = lines.join("\n");

  test("splits into levels of at most the limit and runs the same", () => {
    const split = splitTopScope(source);
    expect(split.levels.length).toBeGreaterThan(1);
    for (const size of split.levels) expect(size).toBeLessThanOrEqual(75);
    expect(split.levels.reduce((a, b) => a + b, 0)).toBe(309);
    expect(levelSizes(split.source)).toHaveLength(split.levels.length); // (a var in a block is counted by splitTopScope, not here)
    expect(run(split.source)).toEqual(run(source));
    expect(run(source)).toHaveLength(1);
  });

  test("leaves a top level that returns, or calls eval, as it is", () => {
    const returning = `${source}\nif (v1 > 100) return;`;
    expect(splitTopScope(returning)).toEqual({ source: returning, levels: [0] });
    const evaluating = `${source}\neval("v1");`;
    expect(splitTopScope(evaluating).source).toBe(evaluating);
  });

  test("leaves a bundle within the limit as it is", () => {
    const small = "var a = 1;\nfunction b() { return a; }\nlog(String(b()));";
    expect(splitTopScope(small)).toEqual({ source: small, levels: [2] });
  });
});

describe("the Node agent's core bundle", () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "scope-split-"));
    await bundleAgent("nodeAgent", dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("has no scope of more than 75 top-level names", () => {
    const wrapped = readFileSync(join(dir, BUNDLE_FILE), "latin1");
    const body = wrapped.slice(wrapped.indexOf("{") + 1, wrapped.lastIndexOf("}"));
    const sizes = levelSizes(body);
    expect(sizes.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(75);
    expect(sizes.reduce((a, b) => a + b, 0)).toBeGreaterThan(150);
  });
});
