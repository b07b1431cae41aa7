/**
 * `scope bench` end to end: real workloads, untraced and traced, every traced run's
 * trace decoded and checked. Speed is never asserted here, only the report's shape
 * and that the checks ran (and can fail).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { BenchReport } from "../src/bench/bench";
import { httpWarmupMs, workloadNames, workloads, type HttpWorkload } from "../src/bench/catalogue";
import { checkTrace } from "../src/bench/check";
import { bars } from "../src/bench/report";
import { memory } from "../src/bench/proc";
import type { SoakReport } from "../src/bench/soak";
import { runCli } from "./harness";
import { runHttp } from "../src/bench/runner";
import { extractWorkloads } from "../src/bench/workloads";

async function bench(args: string[]): Promise<{ report: BenchReport; exitCode: number; stderr: string }> {
  const result = await runCli(["bench", "--json", ...args]);
  if (result.exitCode !== 0) console.error(result.stderr);
  return { report: JSON.parse(result.stdout) as BenchReport, exitCode: result.exitCode, stderr: result.stderr };
}

describe("scope bench", () => {
  test("an HTTP service that does not exit after its /shutdown: killed, the run fails with a line saying why, no wait for ever", async () => {
    const dir = await extractWorkloads();
    try {
      // A service as http-server.cjs is to the load, but that answers /shutdown and goes on serving.
      writeFileSync(
        dir.path("http-server.cjs"),
        [
          'const http = require("node:http"), fs = require("node:fs");',
          "const { ready } = JSON.parse(process.argv[3]);",
          'const server = http.createServer((req, res) => res.end(req.url === "/shutdown" ? "bye\\n" : "{}"));',
          'server.listen(0, "127.0.0.1", () => fs.writeFileSync(ready, JSON.stringify({ port: server.address().port, pid: process.pid })));',
        ].join("\n"),
      );
      const workload = workloads.find((w) => w.name === "http") as HttpWorkload;
      const started = Date.now();
      const run = runHttp({ dir, ringBytes: 1 << 24, keepTraces: false, sequence: 0 }, workload, { warmupMs: 100, durationMs: 200, exitTimeoutMs: 1000 }, "untraced");
      await expect(run).rejects.toThrow("the HTTP server (untraced) did not exit within 1s of its /shutdown (killed)");
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      dir.remove();
    }
  });

  test("an HTTP workload's warm-up: --warmup for every one when given, else the web service's own (its JIT's tier-up), else 2 s", () => {
    const http = (name: string) => workloads.find((workload): workload is HttpWorkload => workload.kind === "http" && workload.name === name)!;
    expect(httpWarmupMs(http("http"), undefined)).toBe(2000);
    expect(httpWarmupMs(http("web"), undefined)).toBeGreaterThan(httpWarmupMs(http("http"), undefined));
    expect(httpWarmupMs(http("web"), 100)).toBe(100);
    expect(httpWarmupMs(http("http"), 0)).toBe(0);
  });

  test("control: a report of the right shape, every traced run's trace checked", async () => {
    const { report, exitCode, stderr } = await bench(["--workload", "control", "--runs", "2", "--scale", "0.2"]);
    expect(exitCode).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.node).toMatch(/^v\d+/);
    expect(report.workloads.map((workload) => workload.name)).toEqual(["control"]);
    const [control] = report.workloads;
    expect(control!.runs.map((run) => run.mode)).toEqual(["untraced", "traced", "untraced", "traced"]);
    expect(control!.checks).toEqual({ passed: 2, failed: 0, problems: [], keptTraces: [] });
    for (const run of control!.runs) {
      expect(run.ops).toBe(200);
      expect(run.rate).toBeGreaterThan(0);
      expect(run.peakRssBytes).toBeGreaterThan(1024 * 1024);
      if (run.mode === "traced") {
        expect(run.trace!.check.ok).toBe(true);
        expect(run.trace!.check.counts).toMatchObject({ trace_start: 1, process_exit: 1, child_exit: 1 });
        expect(run.trace!.check.counts.message_send).toBeUndefined();
        expect(run.trace!.dropped).toBe(0);
      } else expect(run.trace).toBeUndefined();
    }
    expect(Number.isFinite(control!.overhead.median)).toBe(true);
    expect(stderr).toContain("scope bench: control: run 4/4 (traced)");
  }, 60_000);

  test("loop-gc: traced with only the process, loop and memory groups; its GCs and samples in the trace", async () => {
    const { report, exitCode } = await bench(["--workload", "loop-gc", "--runs", "1", "--scale", "0.25"]);
    expect(exitCode).toBe(0);
    const [workload] = report.workloads;
    expect(workload!.checks).toMatchObject({ passed: 1, failed: 0 });
    const counts = workload!.runs[1]!.trace!.check.counts;
    // 1,000 units of 2,000 objects: many scavenges; the samples at exit at least.
    expect(counts.gc).toBeGreaterThan(5);
    expect(counts.loop_sample).toBeGreaterThanOrEqual(1);
    expect(counts.memory_sample).toBeGreaterThanOrEqual(1);
    expect(counts.message_send).toBeUndefined();
  }, 120_000);

  test("messaging, processes and the seed's workload: sends and receives all in the trace, linked", async () => {
    const { report, exitCode } = await bench(["--workload", "pingpong,pool,processes,seed", "--runs", "1", "--scale", "0.02"]);
    expect(exitCode).toBe(0);
    expect(report.workloads.map((workload) => [workload.name, workload.checks.passed, workload.checks.failed])).toEqual([
      ["pingpong", 1, 0],
      ["pool", 1, 0],
      ["processes", 1, 0],
      ["seed", 1, 0],
    ]);
    const counts = Object.fromEntries(report.workloads.map((workload) => [workload.name, workload.runs[1]!.trace!.check.counts]));
    // pingpong at scale 0.02: 400 round trips and one stop message.
    expect(counts.pingpong).toMatchObject({ message_send: 801, message_receive: 801, thread_spawn: 1 });
    // processes: 40 × 0.02 = 1 child, one message each way.
    expect(counts.processes).toMatchObject({ process_spawn: 1, message_send: 2, message_receive: 2, process_exit: 2 });
    expect(counts.seed).toMatchObject({ thread_spawn: 2, thread_exit: 2, message_send: 2, message_receive: 2 });
    // scope's own CPU beside the program (its start to its end), within the run's whole.
    for (const run of report.workloads.flatMap((workload) => workload.runs)) {
      expect(run.scopeCpuWhileRunSeconds).toBeGreaterThanOrEqual(0);
      expect(run.scopeCpuWhileRunSeconds!).toBeLessThanOrEqual(run.scopeCpuSeconds);
    }
    expect(report.workloads.every((workload) => workload.scopeCpuWhileRunSeconds !== undefined)).toBe(true);
  }, 60_000);

  test("http: load, latency and the server's CPU per request, traced and untraced", async () => {
    const { report, exitCode } = await bench(["--workload", "http", "--runs", "1", "--duration", "0.5", "--warmup", "0.2"]);
    expect(exitCode).toBe(0);
    const [http] = report.workloads;
    expect(http!.unit).toBe("requests");
    for (const run of http!.runs) {
      expect(run.ops).toBeGreaterThan(0);
      expect(run.http!.errors).toBe(0);
      expect(run.http!.p99Ms).toBeGreaterThanOrEqual(run.http!.p50Ms);
      expect(run.http!.serverCpuUsPerRequest).toBeGreaterThan(0);
    }
    expect(http!.checks.passed).toBe(1);
  }, 60_000);

  test("functions-governed: calls the governor stepped down still add up exactly in the trace (its exit summaries count the skipped ones)", async () => {
    const { report, exitCode } = await bench(["--workload", "functions-governed", "--runs", "1", "--scale", "0.1", "--warmup", "0.2"]);
    expect(exitCode).toBe(0);
    expect(report.workloads.map((workload) => [workload.name, workload.checks.passed, workload.checks.failed])).toEqual([["functions-governed", 1, 0]]);
    expect(Number.isFinite(report.workloads[0]!.functions!.nsPerCall!.median)).toBe(true);
  });

  test("web: Express + pg against the test PostgreSQL, untraced, traced and under OpenTelemetry; every request, route and query in the trace, linked", async () => {
    const { report, exitCode } = await bench(["--workload", "web", "--runs", "1", "--duration", "0.3", "--warmup", "0.1"]);
    expect(exitCode === 0 || exitCode === 1).toBe(true);
    const [web] = report.workloads;
    expect(web!.error).toBeUndefined();
    expect(web!.runs.map((run) => run.mode)).toEqual(["untraced", "traced", "otel"]);
    expect(web!.checks).toMatchObject({ passed: 1, failed: 0, problems: [] });
    const counts = web!.runs[1]!.trace!.check.counts;
    expect(counts.http_route).toBe(counts.http_server_request);
    expect(counts.db_query).toBeGreaterThan(counts.http_server_request! - 1);
    // OpenTelemetry recorded the same service: a server span and a route per request, 1.5 queries per request.
    const otel = web!.web!.otelRecorded!;
    expect(otel.requests).toBe(otel.served);
    expect(otel.routes).toBe(otel.served);
    expect(web!.web!.scopeRecorded!.routes).toBe(web!.web!.scopeRecorded!.served);
    const names = bars(report).map((bar) => bar.name);
    expect(names).toContain("web: server CPU per request ≤ 1.05x untraced (issue 11)");
    expect(names).toContain("web: scope records every request, route and query OpenTelemetry records (issue 11)");
    expect(bars(report).find((bar) => bar.name.startsWith("web: scope records every"))!.met).toBe(true);
  }, 120_000);

  test("async, async-callbacks, async-promises: the same tasks traced at each --async level, each level's records in its trace", async () => {
    const { report, exitCode } = await bench(["--workload", "async,async-callbacks,async-promises", "--runs", "1", "--scale", "0.02"]);
    expect(exitCode).toBe(0);
    expect(report.workloads.map((workload) => [workload.name, workload.checks.passed, workload.checks.failed])).toEqual([
      ["async", 1, 0],
      ["async-callbacks", 1, 0],
      ["async-promises", 1, 0],
    ]);
    const counts = report.workloads.map((workload) => workload.runs.find((run) => run.mode === "traced")!.trace!.check.counts);
    const tasks = report.workloads[0]!.runs[1]!.ops;
    expect(tasks).toBe(1000);
    // Off: none; callbacks: an immediate and a tick per task, no promises; promises: those and every promise's resolve.
    expect(counts[0]!.async_init ?? 0).toBe(0);
    expect(counts[1]!.async_init).toBeGreaterThanOrEqual(2 * tasks);
    expect(counts[1]!.async_resolve ?? 0).toBe(0);
    expect(counts[2]!.async_init).toBeGreaterThanOrEqual(10 * tasks);
    expect(counts[2]!.async_resolve).toBeGreaterThanOrEqual(8 * tasks);
  }, 180_000);

  test("http-functions, functions and functions-full: the workloads' own functions traced, calls counted in the trace", async () => {
    const { report, exitCode } = await bench(["--workload", "http-functions,functions,functions-full", "--runs", "1", "--scale", "0.01", "--duration", "0.5", "--warmup", "0.2"]);
    expect(exitCode).toBe(0);
    expect(report.workloads.map((workload) => [workload.name, workload.checks.passed, workload.checks.failed])).toEqual([
      ["http-functions", 1, 0],
      ["functions", 1, 0],
      ["functions-full", 1, 0],
    ]);
    const [http, functions, full] = report.workloads;
    // Full level: every call has its return (or settle) too.
    const fullTraced = full!.runs.find((run) => run.mode === "traced")!;
    expect(fullTraced.trace!.check.counts.function_return).toBeGreaterThanOrEqual(fullTraced.ops);
    expect(Number.isFinite(full!.functions!.nsPerCall!.median)).toBe(true);
    const served = http!.runs[1]!;
    expect(served.ops).toBeGreaterThan(0);
    expect(served.trace!.check.counts.function_call).toBeGreaterThan(0);
    expect(served.trace!.check.counts.function_table).toBeGreaterThanOrEqual(3);
    expect(http!.functions!.callsPerRun).toBeGreaterThan(0);
    expect(http!.http!.serverCpuUsPerRequest.traced.median).toBeGreaterThan(0);
    // functions at scale 0.01: 20,000 calls in 4,000 steps of 5 calls, every call recorded
    // (the guard off), after a warm-up chunk of 1,000 steps; runChunk per chunk, main once.
    const traced = functions!.runs.find((run) => run.mode === "traced")!;
    expect(traced.ops).toBe(20_000);
    // Per function the check compared exact counts; in all at least the named functions' calls.
    expect(traced.trace!.check.counts.function_call).toBeGreaterThanOrEqual(5_000 * 5 + 3 + 1);
    expect(traced.trace!.dropped).toBe(0);
    expect(Number.isFinite(functions!.functions!.nsPerCall!.median)).toBe(true);
    expect(functions!.functions!.callEventsPerSecond).toBeGreaterThan(0);
  }, 60_000);

  test("transform: throughput and first vs cached start, both starts' traces checked", async () => {
    const { report, exitCode } = await bench(["--workload", "transform", "--runs", "1"]);
    expect(exitCode).toBe(0);
    const [transform] = report.workloads;
    expect(transform!.checks).toMatchObject({ passed: 2, failed: 0 });
    expect(transform!.transform!.throughput!.nodeMBps).toBeGreaterThan(0);
    expect(transform!.transform!.throughput!.corpusBytes).toBeGreaterThan(1e6);
    const traced = transform!.runs.find((run) => run.mode === "traced")!;
    expect(traced.trace!.check.counts.function_table).toBeGreaterThan(1000);
    expect(traced.start!.warm!.trace!.check.ok).toBe(true);
    for (const key of ["untraced", "first", "second"] as const) expect(transform!.transform!.startMs[key].median).toBeGreaterThan(0);
    // Issue 12's bars, from the pair's own ratios.
    const ratio = transform!.transform!.ratio;
    expect(ratio.first.median).toBeCloseTo(transform!.transform!.startMs.first.median / transform!.transform!.startMs.untraced.median, 5);
    expect(ratio.second.median).toBeGreaterThan(0);
    const names = bars(report).map((bar) => bar.name);
    for (const name of ["transform: cached start ≤ 1.3x untraced (issue 12)", "transform: first start ≤ 3x untraced (issue 12)", "transform: ≥ 25 MB/s of source in Node (issue 12; 10 in issue 6)"]) expect(names).toContain(name);
  }, 180_000);

  test("a function check fails when calls are missing or the function table is short", async () => {
    const { report } = await bench(["--workload", "functions", "--runs", "1", "--scale", "0.005", "--keep-traces"]);
    const traced = report.workloads[0]!.runs.find((run) => run.mode === "traced")!;
    const path = traced.trace!.path!;
    try {
      const summary = { recorded: traced.trace!.recorded, dropped: 0, overwritten: 0 } as Parameters<typeof checkTrace>[2];
      const none = { messages: 0, threads: 0, processes: 0 };
      expect(checkTrace(path, { ...none, functions: { main: 1 } }, summary, report.collectorPid).ok).toBe(true);
      const wrong = checkTrace(path, { ...none, functions: { main: 2, handle: 5 } }, summary, report.collectorPid);
      expect(wrong.problems).toEqual(["function_call main: 1 in the trace, expected 2", "function_call handle: 0 in the trace, expected 5"]);
      const tables = checkTrace(path, { ...none, minFunctionTables: 1000 }, summary, report.collectorPid);
      expect(tables.problems[0]).toStartWith("function_table: ");
    } finally {
      // The kept trace sits in the bench's own scratch directory, which it leaves for the look.
      rmSync(dirname(path), { recursive: true, force: true });
    }
  }, 60_000);

  test("a check fails when the trace does not hold what the workload did", async () => {
    const { report } = await bench(["--workload", "control", "--runs", "1", "--scale", "0.05", "--keep-traces"]);
    const traced = report.workloads[0]!.runs.find((run) => run.mode === "traced")!;
    const path = traced.trace!.path!;
    try {
      const summary = { recorded: traced.trace!.recorded, dropped: 0, overwritten: 0 } as Parameters<typeof checkTrace>[2];
      const none = { messages: 0, threads: 0, processes: 0 };
      expect(checkTrace(path, none, summary, report.collectorPid).problems).toEqual([]);
      const wrong = checkTrace(path, { messages: 3, threads: 0, processes: 0 }, summary, report.collectorPid);
      expect(wrong.ok).toBe(false);
      expect(wrong.problems).toContain("message_send: 0 in the trace, expected 3");
      const more = checkTrace(path, none, { ...summary, recorded: summary.recorded + 1 }, report.collectorPid);
      expect(more.ok).toBe(false);
      expect(more.problems[0]).toStartWith("file holds");
    } finally {
      // The kept trace sits in the bench's own scratch directory, which it leaves for the look.
      rmSync(dirname(path), { recursive: true, force: true });
    }
  }, 60_000);

  test("memory() of a process that is gone or a zombie (exited, not reaped) is undefined", async () => {
    // `sleep 0` exits at once; its parent is exec'd into `sleep 60` (killed below), which never reaps it.
    const shell = Bun.spawn(["sh", "-c", "sleep 0 & echo $!; exec sleep 60"], { stdout: "pipe" });
    const reader = shell.stdout.getReader();
    const zombie = Number(new TextDecoder().decode((await reader.read()).value).trim());
    try {
      // Until the kernel says it is a zombie (state Z): a fixed 200 ms was not always enough
      // on a loaded machine for `sleep 0` to have run and exited.
      const state = () => /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${zombie}/stat`, "utf8"))?.[1];
      for (const deadline = Date.now() + 30_000; state() !== "Z"; ) {
        if (Date.now() > deadline) throw new Error(`pid ${zombie} is not a zombie after 30 s: state ${state()}`);
        await Bun.sleep(20);
      }
      expect(memory(shell.pid)?.rssBytes).toBeGreaterThan(0);
      expect(memory(zombie)).toBeUndefined();
      expect(memory(2 ** 22 + 1)).toBeUndefined();
    } finally {
      shell.kill();
    }
  });

  test("soak (http, the default): a traced service under steady load, RSS sampled, every request in the trace, judged", async () => {
    const result = await runCli(["bench", "--soak", "6s", "--soak-rate", "300", "--soak-connections", "4", "--json"]);
    const report = JSON.parse(result.stdout) as SoakReport;
    // Six seconds is too short for memory to settle: the verdict may say "not flat", and
    // then only that; the exit code follows the verdict.
    expect(result.exitCode).toBe(report.ok ? 0 : 1);
    expect(report.ok).toBe(report.problems.length === 0);
    const memoryProblems = ["the program's resident memory is not flat", "the collector's resident memory is not flat"];
    expect(report.problems.filter((problem) => !memoryProblems.includes(problem))).toEqual([]);
    expect(report.problems.includes(memoryProblems[0]!)).toBe(!report.program.flat);
    expect(report.traffic).toBe("http");
    expect(report.seconds).toBe(6);
    expect(report.samples.length).toBeGreaterThanOrEqual(5);
    expect(report.samples.every((sample) => sample.programRssBytes > 1024 ** 2 && sample.collectorRssBytes > 1024 ** 2 && sample.loadAverage >= 0)).toBe(true);
    const split = (rss: number, anon: number) => anon > 1024 ** 2 && anon < rss;
    expect(report.samples.every((sample) => split(sample.programRssBytes, sample.programAnonBytes) && split(sample.collectorRssBytes, sample.collectorAnonBytes))).toBe(true);
    expect(report.program.secondQuarterBytes).toBeGreaterThan(1024 ** 2);
    const http = report.http!;
    // The load ran at about its rate (a loaded machine may lag) and stopped by itself.
    expect(http.completed).toBeGreaterThan(300 * 6 * 0.3);
    expect(http.completed).toBeLessThanOrEqual(300 * 6 + 300 / 10 + 4);
    expect({ errors: http.errors, non2xx: http.non2xx, sent: http.sent, served: http.served, traced: http.traced }).toEqual({
      errors: 0,
      non2xx: 0,
      sent: http.completed,
      served: http.completed,
      traced: http.completed + 1,
    });
    expect(report.dropped).toBe(0);
    expect(report.check.ok).toBe(true);
    expect(report.check.counts.http_server_request).toBe(http.completed + 1);
  }, 60_000);

  test("soak (messages): workers and children, RSS sampled, trace checked", async () => {
    const result = await runCli(["bench", "--soak", "6s", "--soak-traffic", "messages", "--soak-rate", "200", "--json"]);
    const report = JSON.parse(result.stdout) as SoakReport;
    expect(result.exitCode).toBe(report.ok ? 0 : 1);
    expect(report.traffic).toBe("messages");
    expect(report.http).toBeNull();
    expect(report.samples.length).toBeGreaterThanOrEqual(5);
    expect(report.check.ok).toBe(true);
    expect(report.check.counts.thread_spawn).toBeGreaterThanOrEqual(5);
    expect(report.check.counts.process_spawn).toBeGreaterThanOrEqual(1);
    expect(typeof report.program.flat).toBe("boolean");
  }, 60_000);

  test("user errors are one line", async () => {
    for (const [args, message] of [
      [["--workload", "nope"], `scope: --workload: unknown workload "nope"; choose from ${workloadNames.join(", ")}\n`],
      [["--runs", "0"], 'scope: --runs: expected a positive number, got "0"\n'],
      [["--soak", "forever"], 'scope: --soak: expected a duration of at least 5s such as 90s or 10m, got "forever"\n'],
      [["--soak", "10s", "--soak-traffic", "udp"], 'scope: --soak-traffic: expected http or messages, got "udp"\n'],
    ] as const) {
      const result = await runCli(["bench", ...args]);
      expect({ exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr }).toEqual({ exitCode: 1, stdout: "", stderr: message });
    }
  });
});
