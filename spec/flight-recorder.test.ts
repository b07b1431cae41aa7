/**
 * The flight recorder through real `scope run`s of real node programs: the collector holds
 * about the last N seconds and writes them only when a trigger asks (SIGUSR1, an uncaught
 * exception or unhandled rejection in any process or thread, a non-zero exit); the trace
 * says what triggered each write, holds no record twice, and names what its events name.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadTrace } from "../src/dump/load";
import type { RawEvent } from "../src/core/model";
import { cliEntry, readEvents, runCli } from "./harness";
import { scratchDirs } from "./scratch";

const tmp = scratchDirs("scope-flight-test-");

/** Kinds a dump writes ahead of its events (names): not bound to the window. */
const nameKinds = new Set(["string", "trace_start", "function_table", "http_connection"]);

/** The trace in file order, split at each flight_dump marker: [marker, the records after it]. */
function dumpsOf(path: string): { marker: RawEvent; records: RawEvent[] }[] {
  const trace = loadTrace(path);
  expect(trace.error).toBeNull();
  const dumps: { marker: RawEvent; records: RawEvent[] }[] = [];
  for (const record of trace.records) {
    if (record.kind === "flight_dump") dumps.push({ marker: record, records: [] });
    else if (record.kind !== "child_exit" && record.kind !== "drop" && record.kind !== "recording_stop") {
      expect(dumps.length).toBeGreaterThan(0); // nothing is written but by a dump
      dumps.at(-1)!.records.push(record);
    }
  }
  for (const dump of dumps) expect(dump.records.length).toBe(Number(dump.marker.b));
  return dumps;
}

/**
 * Calls work(i) every 5 ms for `ms` from the first call, printing "started" after it; exits
 * with argv[3]. Timed from the first call, not the program's start: a traced start on a
 * loaded machine (load ~20) took most of 300 ms, leaving 6-8 ticks where "ticks true" needs 11.
 */
function ticker(dir: string): string {
  const path = join(dir, "ticker.js");
  writeFileSync(
    path,
    `function work(n) { return { n, twice: n * 2 }; }
let i = 0;
let until;
const timer = setInterval(() => {
  work(i++);
  if (i === 1) { console.log("started"); until = Date.now() + Number(process.argv[2]); }
  if (Date.now() > until) { clearInterval(timer); console.log("ticks", i > 10); process.exitCode = Number(process.argv[3]); }
}, 5);
`,
  );
  return path;
}

async function readUntil(reader: { read(): Promise<{ value?: Uint8Array; done: boolean }> }, text: string, sofar = ""): Promise<string> {
  let out = sofar;
  while (!out.includes(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  return out;
}

describe("flight recorder triggers", () => {
  test("SIGUSR1 writes the window while the program runs on; a second SIGUSR1 writes only what came since", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const run = Bun.spawn([process.execPath, cliEntry, "run", "--flight-recorder", "30s", "--functions", "--out", out, "--", "node", ticker(dir), "2500", "0"], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: "1" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const reader = run.stdout.getReader();
    let stdout = await readUntil(reader, "started\n");
    await Bun.sleep(400);
    process.kill(run.pid, "SIGUSR1");
    await Bun.sleep(700);
    process.kill(run.pid, "SIGUSR1");
    stdout = await readUntil(reader, "ticks true\n", stdout);
    const [rest, stderr, exitCode] = await Promise.all([readUntil(reader, "\0"), new Response(run.stderr).text(), run.exited]);
    expect(exitCode, stderr).toBe(0);
    expect(stdout + rest).toBe("started\nticks true\n");
    expect(stderr).toContain("2 writes");
    expect(stderr).toContain("SIGUSR1 ×2");

    const dumps = dumpsOf(out);
    expect(dumps.map((dump) => Number(dump.marker.a))).toEqual([1, 1]);
    const calls = dumps.map((dump) => dump.records.filter((record) => record.kind === "function_call").map((record) => Number(record.b)));
    // The recorder kept recording: both writes hold calls, the second only later ones.
    expect(calls[0]!.length).toBeGreaterThan(20);
    expect(calls[1]!.length).toBeGreaterThan(20);
    expect(Math.min(...calls[1]!)).toBeGreaterThan(Math.max(...calls[0]!));
    // No record is written twice (names included).
    const seen = new Set<string>();
    for (const dump of dumps) {
      for (const record of dump.records) {
        const key = `${record.kind}/${record.pid}/${record.tid}/${record.flags}/${record.a}/${record.b}/${record.timestampNs}`;
        expect(seen.has(key)).toBe(false);
        seen.add(key);
      }
    }
    // The function's table entry (written at its first call) is in the first write only.
    expect(dumps[0]!.records.filter((record) => record.kind === "function_table").length).toBeGreaterThan(0);
    expect(dumps[1]!.records.filter((record) => record.kind === "function_table").length).toBe(0);
    const events = readEvents(out);
    const named = events.filter((event) => event.kind === "function_call" && String(event.fields.function).startsWith("work ("));
    expect(named.length).toBe(calls[0]!.length / 2 + calls[1]!.length / 2);
  });

  test("an uncaught exception in a worker writes the window; the program handles it and exits 0", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const program = join(dir, "worker-throws.js");
    writeFileSync(
      program,
      `const { Worker } = require("node:worker_threads");
const w = new Worker("setTimeout(() => { throw new TypeError('worker broke'); }, 200);", { eval: true });
w.on("error", (error) => {
  console.log("caught", error.message);
  setTimeout(() => console.log("still running"), 300);
});
`,
    );
    const result = await runCli(["run", "--flight-recorder", "30s", "--out", out, "--", "node", program], { cwd: dir });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe("caught worker broke\nstill running\n");
    expect(result.stderr).toContain("1 write");
    expect(result.stderr).toContain("uncaught exception ×1");
    const dumps = dumpsOf(out);
    expect(dumps.length).toBe(1);
    const events = readEvents(out);
    const dump = events.find((event) => event.kind === "flight_dump")!;
    expect(dump.fields.trigger).toBe("uncaughtException");
    const exit = events.find((event) => event.kind === "thread_exit")!;
    expect(exit.fields.reason).toBe("uncaught_exception");
    expect(exit.fields.errorType).toBe("TypeError");
    expect(exit.fields.errorMessage).toBe("worker broke");
    expect(dump.fields.pid).toBe(exit.pid);
    expect(dump.fields.tid).toBe(exit.tid);
    // The worker's start and the main thread's are in it, named.
    expect(events.filter((event) => event.kind === "trace_start").length).toBe(2);
    expect(events.find((event) => event.kind === "thread_spawn")!.fields.entry).toBeTruthy();
  });

  test("Bun: a worker's uncaught exception writes the window too", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const program = join(dir, "bun-worker-throws.js");
    writeFileSync(
      program,
      `const w = new Worker(URL.createObjectURL(new Blob(["setTimeout(() => { throw new TypeError('bun worker broke'); }, 100);"])));
w.addEventListener("error", () => { console.log("caught"); setTimeout(() => console.log("still running"), 200); });
`,
    );
    const result = await runCli(["run", "--flight-recorder", "30s", "--out", out, "--", process.execPath, program], { cwd: dir });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe("caught\nstill running\n");
    const events = readEvents(out);
    expect(events.filter((event) => event.kind === "flight_dump").map((event) => event.fields.trigger)).toEqual(["uncaughtException"]);
    const exit = events.find((event) => event.kind === "thread_exit")!;
    expect(exit.fields.reason).toBe("uncaught_exception");
    expect(exit.fields.errorMessage).toBe("bun worker broke");
  });

  test("an unhandled rejection ends the program: that write, then the non-zero exit's", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const program = join(dir, "rejects.js");
    writeFileSync(program, `console.log("going"); setTimeout(() => Promise.reject(new RangeError("nobody waits")), 100);\n`);
    const result = await runCli(["run", "--flight-recorder", "30s", "--out", out, "--", "node", program], { cwd: dir });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe("going\n");
    const dumps = dumpsOf(out);
    expect(dumps.map((dump) => Number(dump.marker.a))).toEqual([3, 4]);
    const events = readEvents(out);
    const exit = events.find((event) => event.kind === "process_exit")!;
    expect(exit.fields.reason).toBe("unhandled_rejection");
    expect(exit.fields.errorMessage).toBe("nobody waits");
    expect(events.filter((event) => event.kind === "flight_dump").map((event) => event.fields.trigger)).toEqual(["unhandledRejection", "nonzeroExit"]);
  });

  test("a non-zero exit writes the window at the end; exit 0 with no trigger writes nothing but a clean end", async () => {
    const dir = tmp();
    const failing = join(dir, "failing.bin");
    const result = await runCli(["run", "--flight-recorder", "30s", "--functions", "--out", failing, "--", "node", ticker(dir), "300", "3"], { cwd: dir });
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toBe("started\nticks true\n");
    expect(result.stderr).toContain("non-zero exit ×1");
    const dumps = dumpsOf(failing);
    expect(dumps.length).toBe(1);
    expect(Number(dumps[0]!.marker.a)).toBe(4);
    expect(Number(dumps[0]!.marker.d)).toBe(3);
    expect(dumps[0]!.records.some((record) => record.kind === "process_exit")).toBe(true);

    const clean = join(dir, "clean.bin");
    const ok = await runCli(["run", "--flight-recorder", "30s", "--functions", "--out", clean, "--", "node", ticker(dir), "300", "0"], { cwd: dir });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout).toBe("started\nticks true\n");
    expect(ok.stderr).toContain("nothing triggered, no records written");
    const trace = loadTrace(clean);
    expect(trace.error).toBeNull();
    expect(trace.end).not.toBeNull();
    // Only the collector's note of how the program ended.
    expect(trace.records.map((record) => record.kind)).toEqual(["child_exit"]);
  });
});

describe("flight recorder window", () => {
  test("holds only about the last N seconds, and what it writes decodes with its names and previews", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const result = await runCli(["run", "--flight-recorder", "1s", "--functions", "--out", out, "--", "node", ticker(dir), "3000", "2"], { cwd: dir });
    expect(result.exitCode).toBe(2);
    const dumps = dumpsOf(out);
    expect(dumps.length).toBe(1);
    const marker = dumps[0]!.marker;
    const windowed = dumps[0]!.records.filter((record) => !nameKinds.has(String(record.kind)));
    const times = windowed.map((record) => BigInt(record.timestampNs));
    const first = times.reduce((x, y) => (y < x ? y : x));
    const last = times.reduce((x, y) => (y > x ? y : x));
    // Nothing older than the window start the marker gives, which is ~1 s before the write.
    expect(first >= BigInt(marker.c)).toBe(true);
    expect(Number(BigInt(marker.timestampNs) - BigInt(marker.c))).toBeCloseTo(1e9, -6);
    const spanMs = Number(last - first) / 1e6;
    expect(spanMs).toBeLessThanOrEqual(1050);
    // A loaded machine runs the program's timers late, never early: some spread at least.
    expect(spanMs).toBeGreaterThan(200);
    // The program ran 3 s: the first 2 s of calls are not in the trace.
    const events = readEvents(out);
    // work() runs at most every 5 ms: about 200 calls in 1 s; timers run late, never early
    // (44 on a machine at load 15), so only the upper bound is tight.
    const calls = events.filter((event) => event.kind === "function_call" && String(event.fields.function).startsWith("work ("));
    expect(calls.length).toBeGreaterThan(5);
    expect(calls.length).toBeLessThanOrEqual(215);
    // Its function's name (interned at the first call, 2 s before the window) and each call's preview.
    for (const call of calls) {
      expect(call.fields.function).toBe(`work (${join(dir, "ticker.js")}:1:1)`);
      expect(String(call.fields.args)).toMatch(/^\[\d+\]$/);
    }
    const returns = events.filter((event) => event.kind === "function_return" && String(event.fields.function).startsWith("work ("));
    expect(returns.length).toBeGreaterThan(5);
    for (const ret of returns) expect(String(ret.fields.value)).toMatch(/^\{"n":\d+,"twice":\d+\}$/);
    const start = events.find((event) => event.kind === "trace_start")!;
    expect(String(start.fields.argv)).toContain("ticker.js");
  });

  test("--flight-memory bounds what it holds: past it the oldest records go even inside the window, and the trace and summary say so", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const program = join(dir, "busy.js");
    writeFileSync(program, `function step(n) { return n + 1; }\nlet n = 0;\nfor (let i = 0; i < 60000; i++) n = step(n);\nconsole.log(n);\nprocess.exitCode = 5;\n`);
    const result = await runCli(["run", "--flight-recorder", "60s", "--flight-memory", "1MiB", "--functions", "--hot-calls-per-second", "0", "--out", out, "--", "node", program], { cwd: dir });
    expect(result.exitCode).toBe(5);
    expect(result.stdout).toBe("60000\n");
    expect(result.stderr).toContain("left the window early, at the memory cap; a larger --flight-memory holds the whole window");
    expect(result.stderr).toContain("at most 1.0 MiB");
    const dumps = dumpsOf(out);
    expect(dumps.length).toBe(1);
    const events = dumps[0]!.records.filter((record) => !nameKinds.has(String(record.kind)));
    // 1 MiB: three 4096-record blocks for events (a quarter is for names).
    expect(events.length).toBeLessThanOrEqual(3 * 4096);
    expect(events.length).toBeGreaterThan(4096);
    // The window start is after what the cap let go, not 60 s back; the last calls are there, named.
    const marker = dumps[0]!.marker;
    expect(BigInt(marker.timestampNs) - BigInt(marker.c) < 60_000_000_000n).toBe(true);
    for (const record of events) expect(BigInt(record.timestampNs) >= BigInt(marker.c)).toBe(true);
    const calls = readEvents(out).filter((event) => event.kind === "function_call");
    expect(calls.length).toBeGreaterThan(1000);
    expect(calls.every((call) => String(call.fields.function).startsWith("step ("))).toBe(true);
    expect(calls.at(-1)!.fields.args).toBe("[59999]");
  });

  test("a limit reached inside a write: the trace says why it stopped and the summary counts only what the file holds", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const result = await runCli(["run", "--flight-recorder", "30s", "--max-events", "40", "--functions", "--out", out, "--", "node", ticker(dir), "300", "3"], { cwd: dir });
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toBe("started\nticks true\n");
    const trace = loadTrace(out);
    expect(trace.error).toBeNull();
    const kinds = trace.records.map((record) => String(record.kind));
    expect(kinds).toContain("recording_stop");
    // The write's marker and the collector's own records are not the window's.
    const written = kinds.filter((kind) => !["flight_dump", "recording_stop", "child_exit"].includes(kind)).length;
    expect(result.stderr).toContain(`1 write, ${written} records: non-zero exit ×1 (${written} records)`);
  });

  test("a limit the window does not fit keeps its newest events, leaves out the oldest, and the summary says so", async () => {
    for (const limit of [["--max-events", "120"], ["--max-size", "64KiB"]]) {
      const dir = tmp();
      const out = join(dir, "t.bin");
      const result = await runCli(["run", "--flight-recorder", "30s", ...limit, "--functions", "--out", out, "--", "node", ticker(dir), limit[0] === "--max-size" ? "2500" : "300", "3"], { cwd: dir });
      expect([limit, result.exitCode, result.stdout]).toEqual([limit, 3, "started\nticks true\n"]);
      // One write, whole as its marker counts it (dumpsOf), cut at the oldest end.
      const [dump] = dumpsOf(out);
      const events = loadTrace(out).records;
      const kinds = events.map((record) => String(record.kind));
      expect(kinds).toContain("recording_stop");
      // The program's end is the newest of the window: kept.
      expect({ limit, end: kinds.includes("process_exit") && kinds.includes("trace_stop") }).toEqual({ limit, end: true });
      // The calls kept are the last ones: work(n) up to the last n, none missing in between.
      const full = await runCli(["dump", "--json", "--kind", "function_call", out]);
      const ns = full.stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line)).filter((call) => String(call.function).startsWith("work ")).map((call) => Number(/^\[(\d+)\]$/.exec(String(call.args))?.[1]));
      expect(ns.length).toBeGreaterThan(5);
      expect({ limit, consecutive: ns.every((n, i) => i === 0 || n === ns[i - 1]! + 1) }).toEqual({ limit, consecutive: true });
      const cut = /flight recorder: the window did not fit (--max-\w+): its oldest (\d+) events were left out of the write, its newest kept/.exec(result.stderr);
      expect({ limit, said: cut?.[1] }).toEqual({ limit, said: limit[0] });
      expect(Number(cut![2])).toBeGreaterThan(0);
      expect(result.stderr).toContain(`1 write, ${dump!.records.length} records`);
    }
  }, 60_000);

  test("after scope stop nothing is written, and no write is counted", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const run = Bun.spawn([process.execPath, cliEntry, "run", "--flight-recorder", "30s", "--functions", "--out", out, "--", "node", ticker(dir), "1500", "3"], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: "1" },
      stdout: "pipe",
      stderr: "pipe",
    });
    await readUntil(run.stdout.getReader(), "started\n");
    await Bun.sleep(200);
    process.kill(run.pid, "SIGUSR2");
    await Bun.sleep(200);
    process.kill(run.pid, "SIGUSR1");
    expect(await run.exited).toBe(3);
    const stderr = await new Response(run.stderr).text();
    expect(stderr).toContain("nothing triggered, no records written");
    expect(loadTrace(out).records.map((record) => record.kind)).toEqual(["recording_stop", "child_exit"]);
  });

  test("--print and --mode overwrite are refused with it in one line", async () => {
    const print = await runCli(["run", "--flight-recorder", "5s", "--print", "--", "node", "-e", "0"]);
    expect(print.exitCode).not.toBe(0);
    expect(print.stderr.trim().split("\n").length).toBe(1);
    expect(print.stderr).toContain("--print");
    const mode = await runCli(["run", "--flight-recorder", "5s", "--mode", "overwrite", "--", "node", "-e", "0"]);
    expect(mode.exitCode).not.toBe(0);
    expect(mode.stderr).toContain("--mode overwrite");
    const bad = await runCli(["run", "--flight-recorder", "soon", "--", "node", "-e", "0"]);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toContain("--flight-recorder: expected a duration");
  });
});
