/** The small pure parts of `scope bench`: statistics, soak growth, durations, report figures. */
import { describe, expect, test } from "bun:test";
import { parseDuration } from "../src/bench/duration";
import { growth, median, pairedOverhead, relativeNoise, spread } from "../src/bench/stats";
import { scaledParams, workloads } from "../src/bench/catalogue";

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

  test("soak growth: flat memory is flat, a leak is not", () => {
    const flat = Array.from({ length: 100 }, (_, t) => ({ t, value: 100e6 + (t % 3) * 1e5 }));
    expect(growth(flat).flat).toBe(true);
    const leak = Array.from({ length: 100 }, (_, t) => ({ t, value: 100e6 + t * 1e5 }));
    const leaking = growth(leak);
    expect(leaking.flat).toBe(false);
    expect(leaking.slopeBytesPerMinute).toBeCloseTo(6e6);
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
