/**
 * `scope view` on a large trace: records one (the `functions` bench workload traced with
 * every call and return, no hot-function sampling) unless given, then measures the index
 * build, window queries at several zoom levels (server side, median of 7), and in headless
 * Chromium the first paint after opening the page and the time to redraw (canvas) and to
 * get a new window while zooming with W.
 *
 *   bun scripts/bench-view.ts [--calls 5000000] [--trace /tmp/view-big.bin] [--query]
 *
 * --query: the same windows through src/query instead (bun:sqlite, cached next to the
 * trace): its open (build, then cached) and threadCalls at the same zoom levels.
 *
 * The trace is not committed (5 M calls: ~10 M records, ~640 MB).
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { readTrace } from "../src/core/trace-file";
import { openTrace, threadCalls, threads } from "../src/query/index";
import { TraceIndex } from "../src/view/index";
import { startViewServer } from "../src/view/server";

const root = join(import.meta.dir, "..");
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const calls = Number(arg("--calls", "5000000"));
const trace = arg("--trace", "/tmp/view-big.bin");

if (!existsSync(trace)) {
  const settings = JSON.stringify({ hotCallsPerSecond: 0 });
  const workload = JSON.stringify({ calls, chunkCalls: 5000, pauseMs: 5 });
  const argv = [process.execPath, join(root, "src/cli/main.ts"), "run", `--functions=${settings}`, "-o", trace, "--", "node", join(root, "src/bench/workloads/functions.cjs"), `${trace}.result.json`, workload];
  console.log(`recording: ${argv.slice(1).join(" ")}`);
  const run = Bun.spawnSync(argv, { cwd: root, stdout: "inherit", stderr: "inherit" });
  if (run.exitCode !== 0) throw new Error(`scope run failed: ${run.exitCode}`);
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
const cpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

console.log(`trace: ${trace}, ${(statSync(trace).size / 2 ** 20).toFixed(0)} MiB; load ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}`);
if (process.argv.includes("--query")) {
  for (const attempt of ["build", "cached"]) {
    const wall = performance.now();
    const cpu = cpuMs();
    const db = openTrace(trace);
    console.log(`query: openTrace (${attempt}) ${(performance.now() - wall).toFixed(0)} ms wall, ${(cpuMs() - cpu).toFixed(0)} ms CPU; RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
    const busiest = threads(db).sort((x, y) => y.events - x.events)[0]!;
    const duration = busiest.end_ns ?? 0;
    for (const zoom of [1, 10, 1000, 100_000]) {
      const span = duration / zoom;
      const start = duration / 2 - span / 2;
      const t = performance.now();
      const rows = threadCalls(db, busiest.pid, busiest.tid, start - span, start + 2 * span);
      console.log(`query: threadCalls 1/${zoom} of the trace: ${(performance.now() - t).toFixed(0)} ms, ${rows.length} rows (no merging; limit 100000)`);
    }
    db.close();
  }
  process.exit(0);
}

let wall = performance.now();
let cpu = cpuMs();
{
  // Reading alone (native, CRC-checked chunks), to tell it from the index's own passes.
  let bytes = 0;
  for (const batch of readTrace(trace).batches(65536)) bytes += batch.byteLength;
  console.log(`read only: ${(performance.now() - wall).toFixed(0)} ms wall, ${(cpuMs() - cpu).toFixed(0)} ms CPU, ${(bytes / 2 ** 20).toFixed(0)} MiB of records`);
}
wall = performance.now();
cpu = cpuMs();
const index = TraceIndex.open(trace);
const meta = index.meta();
console.log(`index: ${(performance.now() - wall).toFixed(0)} ms wall, ${(cpuMs() - cpu).toFixed(0)} ms CPU; ${meta.records} records, ${meta.slices} slices, ${meta.instants} instants, ${meta.tracks.length} tracks; RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);

const duration = meta.durationNs;
for (const zoom of [1, 10, 1000, 100_000, 10_000_000]) {
  const span = duration / zoom;
  const start = duration / 2 - span / 2;
  const times: number[] = [];
  let answer = index.window({ startNs: start, endNs: start + span, widthPx: 3 * 1600 });
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    answer = index.window({ startNs: start - span, endNs: start + 2 * span, widthPx: 3 * 1600 });
    times.push(performance.now() - t);
  }
  const bytes = JSON.stringify(answer).length;
  let merged = 0;
  for (let i = 6; i < answer.slices.length; i += 9) merged += answer.slices[i]!;
  console.log(`window 1/${zoom} of the trace (3 view widths, 4800 px): ${median(times).toFixed(1)} ms median, ${answer.slices.length / 9} slices standing for ${merged}, ${(bytes / 1024).toFixed(0)} KiB JSON`);
}
for (const text of ["price", "no such function"]) {
  const t = performance.now();
  const found = index.search(text);
  console.log(`search "${text}": ${(performance.now() - t).toFixed(0)} ms, ${found.total} found`);
}
{
  const t = performance.now();
  index.top(0, duration);
  console.log(`top functions of the whole trace: ${(performance.now() - t).toFixed(0)} ms`);
}

const server = await startViewServer(index);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1820, height: 1000 } });
  wall = performance.now();
  await page.goto(server.url);
  await page.waitForSelector('body[data-painted="1"]', { state: "attached", timeout: 120_000 });
  console.log(`page: first paint ${(performance.now() - wall).toFixed(0)} ms after navigation (HTML, script, meta, first window, draw)`);
  await page.mouse.move(900, 400);
  const draws: number[] = [];
  const fetches: number[] = [];
  for (let i = 0; i < 20; i++) {
    const before = await page.textContent("#status");
    const t = performance.now();
    await page.keyboard.press("w");
    draws.push(await page.evaluate(() => (globalThis as unknown as { scopeView: { lastDrawMs(): number } }).scopeView.lastDrawMs()));
    // A new window was asked when the status line changes (it names the items and their time).
    try {
      await page.waitForFunction((old) => (globalThis as unknown as { document: { getElementById(id: string): { textContent: string } | null } }).document.getElementById("status")?.textContent !== old, before, { timeout: 2000 });
      fetches.push(performance.now() - t);
    } catch {
      // The window held covered this zoom: nothing fetched.
    }
  }
  console.log(`zooming in with W x20: redraw ${median(draws).toFixed(1)} ms median (max ${Math.max(...draws).toFixed(1)}); ${fetches.length} new windows, ${fetches.length ? median(fetches).toFixed(0) : "-"} ms median from key to drawn`);
} finally {
  await browser.close();
  await server.stop();
}
