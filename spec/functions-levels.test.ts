/**
 * Levels by environment under `scope run --functions`: NODE_ENV picks the default
 * (production → calls, development/test/unset → full), rules override it per pattern,
 * and a rule's `env` limits it to some environments. Workers follow the same settings.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { defaultLevel, environmentName, Matcher } from "../src/instrument/match";
import { cleanup, fixtures, runTraced, scratchDir } from "./agent-harness";
import { runCli } from "./harness";

const cache = join(scratchDir(), "cache");
afterAll(cleanup);

const app = join(fixtures, "functions-cjs/app.cjs");
const output = "main: square(3) = 9\nmain: caught RangeError: too big\nmain: worker says 42\n";

/** "kind name" per function event (table and listener records left out), all threads. */
function shape(events: TraceEvent[]): string[] {
  return events
    .filter((e) => e.kind.startsWith("function_") && e.kind !== "function_table" && e.kind !== "function_listener")
    .map((e) => `${e.kind.slice("function_".length)} ${String(e.fields.function).split(" ")[0]}`)
    .sort();
}

async function run(nodeEnv: string | undefined, settings?: object): Promise<string[]> {
  const env: Record<string, string> = { XDG_CACHE_HOME: cache };
  if (nodeEnv !== undefined) env.NODE_ENV = nodeEnv;
  const flag = settings ? `--functions=${JSON.stringify(settings)}` : "--functions";
  const traced = await runTraced(["node", app], { scopeArgs: [flag], env });
  expect({ status: traced.status, stdout: traced.stdout, stderr: traced.stderr }).toEqual({ status: 0, stdout: output, stderr: "" });
  return shape(traced.events);
}

const full = ["call <anonymous>", "call double", "call fails", "call main", "call square", "return <anonymous>", "return double", "return main", "return square", "throw fails"];
const calls = ["call <anonymous>", "call double", "call fails", "call main", "call square"];

describe("the default level follows NODE_ENV", () => {
  test.each([
    ["unset", undefined, full],
    ["development", "development", full],
    ["test", "test", full],
    ["production", "production", calls],
  ])("%s", async (_label, nodeEnv, expected) => {
    expect(await run(nodeEnv)).toEqual(expected);
  });
});

test("production, with a rule: square traced in full, the rest at calls", async () => {
  expect(await run("production", { rules: [{ name: "square", level: "full" }] })).toEqual([...calls, "return square"].sort());
});

test("a rule for one environment: off in production only", async () => {
  const settings = { rules: [{ env: "production", level: "off" }, { env: "production", path: "functions-cjs/worker.cjs", level: "calls" }] };
  expect(await run("production", settings)).toEqual(["call double"]);
  expect(await run("development", settings)).toEqual(full);
});

test("an explicit level wins over the environment's default", async () => {
  expect(await run("production", { level: "full" })).toEqual(full);
  expect(await run("test", { level: "calls" })).toEqual(calls);
});

test("defaultLevel, environmentName and env globs in the Matcher", () => {
  expect(["development", "test", undefined, "staging", "production"].map(defaultLevel)).toEqual(["full", "full", "full", "full", "calls"]);
  expect([undefined, "", "test"].map(environmentName)).toEqual(["development", "development", "test"]);
  const saved = process.env.NODE_ENV;
  try {
    process.env.NODE_ENV = "staging";
    const matcher = new Matcher({ root: "/r", rules: [{ env: "{staging,production}", name: "hot*", level: "calls" }, { env: "dev*", level: "off" }] });
    expect([matcher.function("/r/a.js", "hotLoop"), matcher.function("/r/a.js", "other")]).toEqual(["calls", "full"]);
  } finally {
    if (saved === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = saved;
  }
});

test("usage error: an unknown rule key", async () => {
  const result = await runCli(["run", '--functions={"rules":[{"environment":"production","level":"off"}]}', "--out", "/tmp/never.bin", "--", "node", app]);
  expect(result.exitCode).not.toBe(0);
  expect(result.stdout + result.stderr).toContain('"rules" must be an array of {path?, name?, env?, level}');
});
