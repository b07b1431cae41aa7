/**
 * Function events under `scope run --functions`: when they are stamped (the buffered
 * events of a job go out at its end, so a call's time is that of the job that made it,
 * not of a later timer tick) and how deep values are previewed (previewDepth/Chars).
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { cleanup, fixtures, ofKind, runTraced, scratchDir } from "./agent-harness";

const env = { XDG_CACHE_HOME: join(scratchDir(), "cache") };
afterAll(cleanup);
const app = join(fixtures, "functions-timing/jobs.cjs");

function callOf(events: Awaited<ReturnType<typeof runTraced>>["events"], name: string) {
  return ofKind(events, "function_call").find((e) => String(e.fields.function).startsWith(`${name} `))!;
}

test("a call buffered in one job is stamped at that job's end, before the next job runs", async () => {
  const run = await runTraced(["node", app], { scopeArgs: ["--functions", "--level", "calls"], env });
  expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: "done\n" });
  const first = callOf(run.events, "first");
  const busy = callOf(run.events, "busy");
  const second = callOf(run.events, "second");
  // first's job ended before busy's job began its 60 ms wait; busy and second share a job.
  expect(Number(second.timestampNs - first.timestampNs) / 1e6).toBeGreaterThan(50);
  expect(busy.timestampNs).toBe(second.timestampNs);
});

test("previewDepth and previewChars set how much of a value the events show", async () => {
  const shallow = await runTraced(["node", app], { scopeArgs: ["--functions", "--level", "full"], env });
  const deep = await runTraced(["node", app], { scopeArgs: ['--functions={"previewDepth":6,"previewChars":200}', "--level", "full"], env });
  const valueOf = (run: typeof deep) => ofKind(run.events, "function_return").find((e) => String(e.fields.function).startsWith("second "))!.fields.value;
  expect(valueOf(shallow)).toBe('{"depth":{"one":{"two":{…}}}}');
  expect(valueOf(deep)).toBe('{"depth":{"one":{"two":{"three":{"four":2}}}}}');
});
