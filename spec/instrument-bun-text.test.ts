/**
 * Functions found by their text under Bun, which reprints every module it loads (so a
 * function's text is Bun's printing, not the instrumented source verbatim): listener
 * registrations name their handler by marker, kind and name, and toString shows the
 * original source text as written (not Bun's reprint of it).
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, instrumentFixtures, runBunRecorded } from "./instrument-harness";

afterAll(cleanup);

const bunDir = join(instrumentFixtures, "bun");

async function runBun(file: string, config?: object): Promise<{ status: number; stdout: string; stderr: string; listeners: unknown[] }> {
  const run = await runBunRecorded(file, config);
  const names = new Map<number, string>();
  const listeners: unknown[] = [];
  for (const [kind, , a, b, c, , e] of run.events) {
    if (kind === 32) names.set(a!, run.strings.get(b!)!);
    if (kind === 40) listeners.push({ fn: a === 0 ? null : names.get(a!), event: run.strings.get(b!), method: run.strings.get(c!), ...(e ? { handler: run.strings.get(e) } : {}) });
  }
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, listeners };
}

const file = "listeners-bun-fixture.mjs";
const source = readFileSync(join(bunDir, file), "utf8");

test("Bun: listeners by reference are named; behaviour and removal unchanged", async () => {
  const [plain, traced, excluded] = await Promise.all([
    runBun(file),
    runBun(file, { root: bunDir, level: "full" }),
    runBun(file, { root: bunDir, level: "full", excludeFunctions: ["outerHandler"] }),
  ]);
  const behaviour = (output: string) => output.split("texts:")[0];
  expect(plain.stdout).toStartWith("data 1\ntick 2\narrow 2\nready\ntexts:");
  expect({ status: traced.status, stderr: traced.stderr, stdout: behaviour(traced.stdout) }).toEqual({ status: 0, stderr: "", stdout: behaviour(plain.stdout) });
  expect(traced.listeners).toEqual([
    { fn: "Service.onTick", event: "tick", method: "on" },
    { fn: null, event: "ready", method: "once", handler: "bound onReady" },
    { fn: "onData", event: "data", method: "on" },
    { fn: "<anonymous>", event: "tick", method: "on" },
    { fn: "outerHandler", event: "wrapped", method: "on" },
  ]);
  // Not instrumented, but its text holds an instrumented arrow: by name, not that arrow.
  expect(excluded.listeners.at(-1)).toEqual({ fn: null, event: "wrapped", method: "on", handler: "outerHandler" });
});

test("Bun: toString shows the original source text as written", async () => {
  const traced = await runBun(file, { root: bunDir, level: "full" });
  const texts = traced.stdout.split("texts:\n")[1]!;
  const slice = (from: string, to: string) => source.slice(source.indexOf(from), source.indexOf(to, source.indexOf(from)) + to.length);
  expect(texts).toBe(
    [
      slice("function onData", "`) }"),
      slice("class Service", "\n}"),
      slice("onTick(n)", "`) }"),
      slice("function outerHandler", "1 }"),
    ].join("\n") + "\n",
  );
});
