/**
 * The overhead governor (--max-overhead): its decisions on a given clock and counts
 * (src/instrument/governor.ts), and through real `scope run --functions` of a program whose
 * full-level tracing costs more than the budget.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { GovernedLevel, Governor, STEP_UP_QUIET_MS, WINDOW_MS, type GovernedFunctions } from "../src/instrument/governor";
import { readEvents, runCli } from "./harness";
import { scratchDirs } from "./scratch";

const tmp = scratchDirs("scope-governor-");

/** Three functions, all recorded: ids 1..3; `calls` per window each. */
function functionsOf(calls: number[]): GovernedFunctions & { seen: Float64Array; level: Uint8Array } {
  const seen = new Float64Array(8);
  const level = new Uint8Array(8).fill(GovernedLevel.full);
  return { count: calls.length + 1, seen, level, full: () => true, recorded: (id) => seen[id]! };
}

describe("Governor.decide", () => {
  test("over budget: the costliest functions step down one level each until the estimate fits; under half the budget after a quiet second, the last one steps back up", () => {
    let clock = 0;
    const governor = new Governor(0.05, () => clock);
    // 1 µs per recorded full-level call (call 0.6 + return 0.4), 50 ns at the calls level.
    for (let i = 0; i < 64; i++) {
      governor.fullCallCost.add(0.0006);
      governor.returnCost.add(0.0004);
      governor.callCost.add(0.00005);
    }
    const functions = functionsOf([0, 0, 0]);
    const run = (calls: number[], ms = WINDOW_MS) => {
      calls.forEach((count, index) => (functions.seen[index + 1]! += count));
      clock += ms;
      const steps = governor.decide(functions);
      for (const step of steps) functions.level[step.id] = step.to;
      return steps.map(({ id, from, to }) => [id, from, to]);
    };
    // 100 ms: 20 000 calls of 2 (20 ms), 5 000 of 1 (5 ms), 100 of 3: 25% > 5%.
    // Stepping 2 down to calls leaves ~6%, still over: 1 follows; 3 stays at full.
    expect(run([5_000, 20_000, 100])).toEqual([
      [2, GovernedLevel.full, GovernedLevel.calls],
      [1, GovernedLevel.full, GovernedLevel.calls],
    ]);
    // The same load now costs ~1.4%: under half the budget, but not for a quiet second yet.
    expect(run([5_000, 20_000, 100])).toEqual([]);
    for (let ms = 0; ms < STEP_UP_QUIET_MS - 2 * WINDOW_MS; ms += WINDOW_MS) expect(run([5_000, 20_000, 100])).toEqual([]);
    // A quiet second since the step down: the function stepped down last comes back first.
    expect(run([5_000, 20_000, 100])).toEqual([[1, GovernedLevel.calls, GovernedLevel.full]]);
    expect(governor.steps).toEqual({ down: 2, up: 1 });
  });

  test("nothing is decided before a window has passed, and nothing under budget", () => {
    let clock = 0;
    const governor = new Governor(0.5, () => clock);
    governor.fullCallCost.add(0.001);
    const functions = functionsOf([0]);
    functions.seen[1] = 1_000;
    clock += WINDOW_MS / 2;
    expect(governor.decide(functions)).toEqual([]);
    clock += WINDOW_MS;
    expect(governor.decide(functions)).toEqual([]);
  });
});

describe("scope run --max-overhead", () => {
  /** 20 handlers called ~4 000 times a second each with an object: previewed in full unless governed. */
  function handlers(dir: string, rounds: number): string {
    const names = Array.from({ length: 20 }, (_, k) => `handle${k}`);
    const source = [
      ...names.map((name, k) => `function ${name}(order) { return order.items.length + order.customer.name.length + ${k}; }`),
      `const handlers = [${names.join(", ")}];`,
      `let sum = 0, rounds = ${rounds};`,
      "function tick() {",
      "  for (let i = 0; i < 40; i++) for (const handle of handlers) sum += handle({ id: i, customer: { name: 'Ada Lovelace', tier: 'gold' }, items: [{ sku: 'a', n: 1 }, { sku: 'b', n: 2 }], note: 'x'.repeat(i % 30) });",
      "  if (--rounds > 0) setTimeout(tick, 10); else console.log('sum', sum);",
      "}",
      "tick();",
    ].join("\n");
    const path = join(dir, "handlers.js");
    writeFileSync(path, source);
    return path;
  }

  test("a budget the full level exceeds: functions step down, each step is an event and the summary says so; the program's output is unchanged", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const program = handlers(dir, 150);
    const result = await runCli(["run", "--functions", "--max-overhead", "1", "--out", out, "--", "node", program], { cwd: dir });
    expect(result.exitCode, result.stderr).toBe(0);
    const untraced = Bun.spawnSync(["node", program]).stdout.toString();
    expect(result.stdout).toBe(untraced);
    expect(result.stderr).toMatch(/overhead governor: \d+ level changes/);
    const steps = readEvents(out).filter((event) => event.kind === "function_level");
    expect(steps.length).toBeGreaterThan(0);
    const first = steps[0]!;
    expect(first.fields.function).toMatch(/^handle\d+ /);
    expect([first.fields.from, first.fields.level]).toEqual(["full", "calls"]);
    expect(first.fields.budgetPercent).toBe(1);
    expect(Number(first.fields.overheadPercent)).toBeGreaterThan(1);
  });

  test("with the hot-function guard off, a synchronous loop is governed while it runs, not only after it", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const program = join(dir, "loop.js");
    writeFileSync(
      program,
      [
        "function work(order) { return order.items.length + order.customer.name.length; }",
        "function done(sum) { return sum; }",
        "let sum = 0;",
        "for (let i = 0; i < 400000; i++) sum += work({ id: i, customer: { name: 'Ada Lovelace', tier: 'gold' }, items: [{ sku: 'a', n: 1 }, { sku: 'b', n: 2 }] });",
        "console.log('sum', done(sum));",
      ].join("\n"),
    );
    const result = await runCli(["run", "--functions", "--hot-calls-per-second", "0", "--max-overhead", "1", "--out", out, "--", "node", program], { cwd: dir });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe("sum 5600000\n");
    const events = readEvents(out);
    const step = events.findIndex((event) => event.kind === "function_level" && String(event.fields.function).startsWith("work "));
    const done = events.findIndex((event) => event.kind === "function_call" && String(event.fields.function).startsWith("done "));
    expect(step).toBeGreaterThanOrEqual(0);
    expect(done).toBeGreaterThanOrEqual(0);
    // Stepped down during the loop (from the guard's slow path), before done() ran.
    expect(step).toBeLessThan(done);
  });

  test("bad budgets are one-line usage errors", async () => {
    for (const value of ["0", "lots", "150"]) {
      const result = await runCli(["run", "--max-overhead", value, "--", "node", "-e", "1"]);
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain("--max-overhead must be a percentage above 0 and at most 100");
    }
  });
});
