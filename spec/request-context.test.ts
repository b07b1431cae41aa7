/**
 * The request context's module (src/agent/shared/request-context.ts) driven directly on each
 * installed Node: the request a nextTick callback sees, whether its value is in the store's
 * ring of ticks or on the tick (Node 20 and 22's async_hooks store, BENCHMARKS.md "Web: Node
 * 20's ticks' context in a ring") or in an AsyncLocalStorage (Node 24): ticks made in and out
 * of a request, more than the ring holds, a tick that throws, run/enterWith inside a tick, another
 * resource's callback run inside a tick, and ticks another async hook makes in its init for a
 * tick (queued before that tick).
 */
import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleForNode, installedNodes, repoRoot } from "./harness";

const dir = mkdtempSync(join(tmpdir(), "scope-request-context-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const expected = {
  caught: 3,
  immediate: 1,
  "immediate-tick": 1,
  many0: 1,
  many1: 1,
  many2: 1,
  nested: 4,
  "none-tick": 0,
  "none-timer": 0,
  outer: 4,
  "outer-after": 4,
  "outer-run6": 6,
  p1: 1,
  "p1-promise": 1,
  "p1-tick": 1,
  "r2-after-tick-await": 2,
  "r2-await": 2,
  "r2-tick": 2,
  "r3-after-throw": 3,
  "r3-throw": 3,
  "r4-after": 4,
  "r4-before": 4,
  t1: 1,
  "t1-tick": 1,
  t2: 1,
  "t2-after-other": 1,
  "t2-after-run": 1,
  "t2-other-resource": 1,
  "t2-run7": 7,
  "t2-run7-tick": 7,
  "t3-enter9": 9,
  "t3-promise": 9,
  "t3-tick": 9,
};

test.each(installedNodes)("%s: the request a nextTick callback sees", async (_name, node) => {
  const bundle = await bundleForNode(dir, `export * from ${JSON.stringify(join(repoRoot, "src/agent/shared/request-context.ts"))};\n`);
  const run = spawnSync(node, [join(repoRoot, "spec/fixtures/request-context/ticks.cjs"), bundle], { encoding: "utf8" });
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  expect(JSON.parse(run.stdout)).toEqual(expected);
});
