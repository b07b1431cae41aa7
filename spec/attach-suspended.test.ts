/**
 * Live function tracing (`scope attach --functions`) in a file with an async function
 * suspended at the edit: V8 refuses an edit that changes a suspended function, and each
 * edit costs the program a LiveEdit (a heap walk on its main thread), so scope does not
 * retry the whole file blindly: its plain functions are edited without the suspendable ones,
 * which are retried a few times and else refused; a removal restores the plain ones likewise.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { dirname, join } from "node:path";
import { alive, backgroundAttach, killStarted, startNode, waitFor } from "./attach-harness";
import { readEvents, repoRoot, runCli } from "./harness";
import { scratchDirs } from "./scratch";

const tmp = scratchDirs("scope-attach-suspended-");
afterEach(killStarted);

const fixture = join(repoRoot, "spec/fixtures/attach/suspended.cjs");

async function start() {
  const { child, line } = await startNode([fixture], { cwd: dirname(fixture) });
  const base = `http://127.0.0.1:${line.trim()}`;
  return { child, get: async (path: string) => (await fetch(`${base}${path}`)).text() };
}

const of = (out: string, kind: string) =>
  readEvents(out)
    .filter((event) => event.kind === kind)
    .map((event) => [event.fields.name, event.fields.failed]);

describe("live function tracing beside a suspended async function", () => {
  test("the file's plain functions are traced, the suspended function's edit refused", async () => {
    const out = join(tmp(), "t.bin");
    const { child, get } = await start();
    const before = await get("/state");
    const attach = backgroundAttach([String(child.pid), "--out", out, "--functions", "suspended.cjs", "--function", "price", "--function", "waitForever", "--function", "hold"]);
    await waitFor(attach.stderr, /scope: tracing .*\n/);
    expect(attach.stderr()).toMatch(/scope: tracing 1 functions live in 1 files; 2 refused \(file:\/\/\S+\/suspended\.cjs: BlockedByActiveGenerator \(its async functions and generators\)\)\n/);
    expect(await get("/price")).toBe("6");
    expect((await runCli(["detach", String(child.pid)])).exitCode).toBe(0);
    expect(await attach.ended()).toBe(0);
    expect(attach.stderr()).toContain("functions restored: 1\n");
    expect(await get("/state")).toBe(before);
    expect(of(out, "attach_function_add")).toEqual([
      ["waitForever", true],
      ["price", false],
      ["hold", true],
    ]);
    expect(readEvents(out).filter((event) => event.kind === "attach_function_call").map((event) => [event.fields.name, event.fields.args])).toEqual([["price", "[2]"]]);
    expect(of(out, "attach_function_remove")).toEqual([["price", false]]);
  });

  test("a traced async function suspended at the detach: the plain ones are restored, it stays a pass-through", async () => {
    const out = join(tmp(), "t.bin");
    const { child, get } = await start();
    const attach = backgroundAttach([String(child.pid), "--out", out, "--functions", "suspended.cjs", "--function", "price", "--function", "hold"]);
    await waitFor(attach.stderr, /scope: tracing .*\n/);
    expect(attach.stderr()).toContain("scope: tracing 2 functions live in 1 files\n");
    expect(await get("/hold")).toBe("holding");
    expect((await runCli(["detach", String(child.pid)])).exitCode).toBe(0);
    expect(await attach.ended()).toBe(0);
    expect(attach.stderr()).toContain("functions restored: 1, 1 could not be (V8 refused the edit)\n");
    expect(await get("/release")).toBe("released");
    expect(await get("/price")).toBe("6");
    // price's own text again (hold's keeps scope's call, a pass-through: the hook is gone).
    expect(JSON.parse(await get("/state")).price).toBe("function price(count) {\n  return count * 3;\n}");
    expect(of(out, "attach_function_remove")).toEqual([
      ["price", false],
      ["hold", true],
    ]);
  });

  // The edit of a suspended function is tried for ~1.5 s (EDIT_RETRY_MS): a window in which
  // `scope attach` has printed its attach line and not yet its functions line.
  test("Ctrl-C while the functions at the attach are being added: a clean detach, the trace closed", async () => {
    const out = join(tmp(), "t.bin");
    const { child, get } = await start();
    const before = await get("/state");
    const attach = backgroundAttach([String(child.pid), "--out", out, "--functions", "suspended.cjs", "--function", "waitForever", "--function", "price"]);
    await waitFor(attach.stderr, /scope: attached to pid/);
    process.kill(attach.pid, "SIGINT");
    expect(await attach.ended()).toBe(0);
    expect(attach.stderr()).toContain("detached: interrupted (Ctrl-C)");
    expect(alive(child.pid)).toBe(true);
    expect(await get("/price")).toBe("6");
    expect(await get("/state")).toBe(before);
    const events = readEvents(out);
    expect(events.at(-1)?.kind).toBe("trace_stop");
    expect(events.find((event) => event.kind === "attach_end")?.fields.reason).toBe("interrupted");
  });
});
