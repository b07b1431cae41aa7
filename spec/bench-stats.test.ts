/** The small pure parts of `scope bench`: statistics, soak growth, durations, report figures. */
import { describe, expect, test } from "bun:test";
import { parseDurationNs } from "../src/core/duration";

const parseDuration = (text: string) => {
  const ns = parseDurationNs(text, "s");
  return ns === undefined ? undefined : Number(ns) / 1e9;
};
import { flatness, flatSlopeBytesPerMinute, median, pairedOverhead, relativeNoise, spread } from "../src/bench/stats";
import { scaledParams, workloads } from "../src/bench/catalogue";
import { addedFigures, type BenchReport, type WorkloadReport } from "../src/bench/bench";
import { bars, requestContextFloor } from "../src/bench/report";
import type { RunMeasurement } from "../src/bench/runner";

describe("bench statistics", () => {
  test("median, spread and noise", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(spread([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5 });
    expect(relativeNoise([90, 100, 110])).toBeCloseTo(0.1);
  });

  test("overhead comes from alternated pairs", () => {
    // Drift between pairs cancels: each pair's traced run costs 10% more.
    expect(pairedOverhead([1, 2, 4], [1.1, 2.2, 4.4]).median).toBeCloseTo(0.1);
    expect(pairedOverhead([1, 2, 4], [1.1, 2.2, 4.4]).min).toBeCloseTo(0.1);
  });

  test("soak flatness: judged after the first quarter, by slope over the second half and quarter medians", () => {
    const MiB = 1024 ** 2;
    const seconds = 1200;
    const series = (value: (t: number) => number) => Array.from({ length: seconds }, (_, t) => ({ t, value: value(t) }));
    // Warm-up growth in the first quarter and GC swings of ±2 MiB are flat.
    const flat = flatness(series((t) => (t < 300 ? 40 * MiB + t * 0.1 * MiB : 70 * MiB) + (t % 60 < 30 ? 2 * MiB : -2 * MiB)), seconds);
    expect(flat.flat).toBe(true);
    expect(flat.secondQuarterBytes).toBe(70 * MiB); // the median of a swing between 68 and 72
    expect(Math.abs(flat.slopeBytesPerMinute)).toBeLessThan(flatSlopeBytesPerMinute);
    // One 3 MiB step in the middle of the second half (the heap grown a notch) passes both
    // bars (slope 1.5 × 3 MiB / 10 min, +4.3%); a 4 MiB one passes the slope bar but is +5.7%.
    const step = flatness(series((t) => (t < 900 ? 70 * MiB : 73 * MiB)), seconds);
    expect(step.slopeBytesPerMinute).toBeCloseTo((1.5 * 3 * MiB) / 10, -4);
    expect(step.flat).toBe(true);
    const bigger = flatness(series((t) => (t < 900 ? 70 * MiB : 74 * MiB)), seconds);
    expect(bigger.slopeBytesPerMinute).toBeLessThan(flatSlopeBytesPerMinute);
    expect(bigger.flat).toBe(false);
    // 1.5 MiB/min from the start: slope over the bar.
    const leak = flatness(series((t) => 70 * MiB + (t / 60) * 1.5 * MiB), seconds);
    expect(leak.slopeBytesPerMinute).toBeCloseTo(1.5 * MiB, -2);
    expect(leak.flat).toBe(false);
    // A level shift of 10% between the quarters, flat within the second half: the medians catch it.
    const shifted = flatness(series((t) => (t < 600 ? 70 * MiB : 77 * MiB)), seconds);
    expect(shifted.changeRatio).toBeCloseTo(0.1);
    expect(shifted.flat).toBe(false);
    // Samples after the end (the program stopping) are not judged.
    const ending = flatness([...series(() => 70 * MiB), { t: seconds + 1, value: 200 * MiB }], seconds);
    expect(ending.flat).toBe(true);
    expect(ending.peakBytes).toBe(70 * MiB);
  });

  test("durations", () => {
    expect([parseDuration("90s"), parseDuration("10m"), parseDuration("1h"), parseDuration("45"), parseDuration("1.5m")]).toEqual([90, 600, 3600, 45, 90]);
    expect(parseDuration("soon")).toBeUndefined();
  });

  test("scaled workload parameters keep fixed ones and at least 1 of each amount", () => {
    const pool = workloads.find((workload) => workload.name === "pool");
    if (pool?.kind !== "program") throw new Error("no pool workload");
    expect(scaledParams(pool, 0.00001)).toEqual({ workers: 2, jobs: 1, inFlight: 8, rounds: 200 });
  });
});

describe("bench: what tracing adds, and issue 10's bars", () => {
  const run = (mode: "untraced" | "traced", rate: number, cpu: number, messages = 0): RunMeasurement => ({
    mode,
    ops: rate,
    unit: "jobs",
    rate,
    wallSeconds: 1,
    programCpuSeconds: cpu,
    peakRssBytes: 0,
    scopeCpuSeconds: 0,
    trace: mode === "traced"
      ? { path: null, recorded: 0, dropped: 0, eventsPerSecond: 0, peakRecordsPerSecond: 0, fileBytes: 0, check: { ok: true, problems: [], counts: { message_send: messages / 2, message_receive: messages / 2 }, records: 0, lost: 0 } }
      : undefined,
  });

  test("ms added per operation and program CPU per message event, pair by pair", () => {
    // Pairs: 100 → 50 jobs/s adds 10 ms a job, 100 → 80 adds 2.5 ms; 0.2 s and 0.1 s of CPU over 1,000,000 message events.
    const added = addedFigures([run("untraced", 100, 1), run("traced", 50, 1.2, 1_000_000), run("untraced", 100, 1), run("traced", 80, 1.1, 1_000_000)])!;
    expect(added.msPerOp.median).toBeCloseTo(6.25);
    expect(added.cpuNsPerMessageEvent!.min).toBeCloseTo(100);
    expect(added.cpuNsPerMessageEvent!.max).toBeCloseTo(200);
    expect(added.messageEventsPerRun).toBe(1_000_000);
    expect(addedFigures([run("untraced", 100, 1), run("traced", 90, 1)])!.cpuNsPerMessageEvent).toBeUndefined();
  });

  const workload = (name: string, overhead: number, extra: Partial<WorkloadReport> = {}): WorkloadReport => {
    const figure = { untraced: spread([1]), traced: spread([1]), change: spread([0]) };
    return {
      name, description: "", unit: "jobs", rate: figure, overhead: spread([overhead]), noise: 0.01,
      programCpuSeconds: figure, peakRssBytes: figure, scopeCpuSeconds: figure, eventsPerSecond: 0, peakRecordsPerSecond: 0, recordedPerRun: 0, dropped: 0,
      checks: { passed: 1, failed: 0, problems: [], keptTraces: [] }, runs: [run("untraced", 1, 1), run("traced", 1, 1)], ...extra,
    };
  };
  const report = (workloads: WorkloadReport[]) => ({ workloads }) as unknown as BenchReport;

  test("overhead, per-start, per-message and loss bars judge the figures", () => {
    const judged = bars(report([
      workload("seed", 0.04, { added: { msPerOp: spread([0.4]), messageEventsPerRun: 4 } }),
      workload("pool", 0.12, { added: { msPerOp: spread([0]), cpuNsPerMessageEvent: spread([150]), messageEventsPerRun: 4 }, dropped: 3 }),
    ]));
    const met = Object.fromEntries(judged.map((bar) => [bar.name, bar.met]));
    expect(met).toEqual({
      "seed: overhead ≤ 5% (issue 10)": true,
      "pool: overhead ≤ 10% (issue 10)": false,
      "seed: ≤ 0.5 ms added per worker start (issue 10)": true,
      "pool: ≤ 200 ns of program CPU per message event (issue 10)": true,
      "nothing lost at default settings (issue 10)": false,
    });
    expect(judged.find((bar) => bar.name.startsWith("nothing lost"))!.detail).toBe("pool 3");
  });

  test("the web bar names Node's async_hooks floor of the request context before Node 24, and only there", () => {
    expect(requestContextFloor("v20.20.2")).toContain("on node v20.20.2 the request context runs on async_hooks");
    expect(requestContextFloor("v22.23.5")).toContain("async_hooks");
    expect(requestContextFloor("v24.22.3")).toBe("");
    expect(requestContextFloor("not found")).toBe("");
    expect(requestContextFloor(undefined)).toBe("");
  });

  test("the pool's bars are not judged when chance alone moves an untraced run by more than the bar", () => {
    const added = { msPerOp: spread([0]), cpuNsPerMessageEvent: spread([150]), messageEventsPerRun: 400_000 };
    const cpu = (min: number, max: number) => ({ untraced: { median: (min + max) / 2, min, max }, traced: spread([1]), change: spread([0]) });
    const poolBars = (extra: Partial<WorkloadReport>) => bars(report([workload("pool", 0.08, { added, ...extra })])).filter((bar) => bar.name.startsWith("pool"));
    // Rates within ±9% and CPU within ±40 ms (±100 ns a message event): judged.
    expect(poolBars({ noise: 0.09, programCpuSeconds: cpu(0.56, 0.64) }).map((bar) => bar.met)).toEqual([true, true]);
    // Rates spread ±30%, CPU ±100 ms (±250 ns a message event): the figures printed, no verdict.
    const noisy = poolBars({ noise: 0.3, programCpuSeconds: cpu(0.5, 0.7) });
    expect(noisy.map((bar) => bar.met)).toEqual([false, false]);
    expect(noisy[0]!.detail).toBe("not judged: +8.0% (median over pairs), but the untraced runs' rates spread ±30.0%, more than the bar");
    expect(noisy[1]!.detail).toBe("not judged: 150 ns (median over pairs), but the untraced runs' program CPU spreads ±250 ns a message event, more than the bar");
    // Only the pool's: seed's overhead bar is judged whatever its noise.
    expect(bars(report([workload("seed", 0.04, { noise: 0.3 })]))[0]!.met).toBe(true);
  });

  test("the http-bare bar is judged over 10 pairs or more, never fewer", () => {
    const http = (pairs: number, cpu: number) =>
      workload("http-bare", 0, {
        http: { p50Ms: spread3(), p99Ms: spread3(), serverCpuUsPerRequest: { untraced: spread([10]), traced: spread([10]), change: spread([cpu]) } },
        runs: Array.from({ length: pairs }, () => [run("untraced", 1, 1), run("traced", 1, 1)]).flat(),
      });
    const spread3 = () => ({ untraced: spread([1]), traced: spread([1]), change: spread([0]) });
    const cpuBar = (r: BenchReport) => bars(r).find((bar) => bar.name.startsWith("http-bare: server CPU per request ≤ 1.01x"))!;
    expect(cpuBar(report([http(10, 0.008)])).met).toBe(true);
    expect(cpuBar(report([http(10, 0.02)])).met).toBe(false);
    expect(cpuBar(report([http(5, 0.0)])).detail).toBe("not judged: 5 pairs, needs --runs 10 or more");
  });
});
