/**
 * The overhead governor (`scope run --max-overhead <percent>`): holds the time a thread
 * spends inside function tracing under a budget, per thread, over a sliding window.
 *
 * Measuring without paying for it: a clock read around every hook would cost more than
 * the calls level itself (~50 ns a read in Node). So the hooks are timed 1 call in
 * SAMPLE_EVERY (the hook object's methods are wrapped only when a budget is set: without
 * one, nothing here runs), which gives each level's mean cost per call; flushes are timed
 * each. Every WINDOW_MS (checked from the runtime's slow path, so a synchronous loop is
 * governed too) the time inside scope is estimated as Σ calls × mean cost of the
 * function's level, plus the flushes, over the wall time of the window.
 *
 * What the governor cannot take away: an instrumented function pays for its prologue (the
 * hook call, `arguments`, try/finally) even when its level is off. That floor is measured
 * once per thread at start (calibrateFloor: a probe shaped like transform.ts's output
 * against the same plain function) and counted in the estimate, so a budget that the
 * instrumentation alone exceeds is seen as out of reach (function_level with no function)
 * instead of being "met" on paper.
 *
 * Over budget, the costliest functions (calls × cost of their level) step down one level
 * each (full → calls → sampled → off) until the estimate is under the budget; under half
 * the budget for STEP_UP_QUIET_MS, the function stepped down last steps back up one level.
 * Every step is a function_level event (runtime.ts) so the trace says what was given up.
 */

/** Levels a function can be governed to, cheapest first. `full` is as instrumented. */
export const GovernedLevel = { off: 0, sampled: 1, calls: 2, full: 3 } as const;
export type GovernedLevelValue = (typeof GovernedLevel)[keyof typeof GovernedLevel];

/** One call in this many is timed. */
export const SAMPLE_EVERY = 64;
/** The window the overhead is estimated over, and how often the governor decides. */
export const WINDOW_MS = 100;
/** Stepping back up waits for this long under half the budget since the last step down. */
export const STEP_UP_QUIET_MS = 1000;
/** While sampled (by the governor), one call in this many is recorded. */
export const GOVERNED_SAMPLE = 100;
/** At most this many functions step down in one decision. */
const STEPS_PER_DECISION_MAX = 16;

/** What the governor reads of the runtime's per-function state. */
export interface GovernedFunctions {
  /** Function ids in use: 1 .. count - 1. */
  readonly count: number;
  /** Calls seen so far, by function id. */
  readonly seen: Float64Array;
  /** Calls recorded so far at the calls and full levels (seen less those the hot guard skipped). */
  recorded(id: number): number;
  /** Governed level by function id. */
  readonly level: Uint8Array;
  /**
   * Whether the function was instrumented at the full level (records returns); one
   * instrumented at the calls level starts at GovernedLevel.calls and never goes above.
   */
  full(id: number): boolean;
}

export interface Step {
  id: number;
  from: GovernedLevelValue;
  to: GovernedLevelValue;
  /** The estimated overhead (fraction of wall time) that made the decision. */
  overhead: number;
}

/** Samples kept per estimate (a power of two): the most recent ones. */
const RESERVOIR = 256;

/**
 * A robust mean of the most recent timed samples, in ms: the middle 80% (a GC pause or a
 * page fault inside one sampled call would otherwise count for thousands of calls).
 */
class Mean {
  private readonly samples = new Float64Array(RESERVOIR);
  private count = 0;
  private cached = -1;
  add(ms: number): void {
    this.samples[this.count++ & (RESERVOIR - 1)] = ms;
    this.cached = -1;
  }
  get value(): number {
    if (this.cached >= 0) return this.cached;
    const n = Math.min(this.count, RESERVOIR);
    if (n === 0) return 0;
    const sorted = this.samples.slice(0, n).sort();
    const low = Math.floor(n * 0.1);
    const high = Math.max(low + 1, Math.ceil(n * 0.9));
    let sum = 0;
    for (let i = low; i < high; i++) sum += sorted[i]!;
    this.cached = sum / (high - low);
    return this.cached;
  }
}

export class Governor {
  /** Mean cost of a recorded call hook at the calls level (c, or C cut to a call). */
  readonly callCost = new Mean();
  /** Mean cost of a full-level call hook (C with previews) and of a return hook (r). */
  readonly fullCallCost = new Mean();
  readonly returnCost = new Mean();
  /** ms spent in flushes this window. */
  private flushMs = 0;
  private windowStart: number;
  private seenAtWindowStart = new Float64Array(256);
  private recordedAtWindowStart = new Float64Array(256);
  /** Cost per recorded call at the calls level, measured once at start in ms; 0: not measured. */
  calibrated = { calls: 0 };
  /** Functions stepped down, most recent last (the first to step back up). */
  private readonly lowered: number[] = [];
  private lastStepDown = -Infinity;
  /** The clock's own cost per read pair, subtracted from every timed sample. */
  readonly clockMs: number;
  /** What an instrumented call costs with its level off, in ms: full-level and calls-level prologues. */
  floor = { full: 0, calls: 0 };
  /** The budget was found out of reach (the floor alone exceeds it): said once. */
  outOfReach = false;
  steps = { down: 0, up: 0 };

  constructor(
    readonly budget: number,
    private readonly now: () => number,
  ) {
    this.windowStart = now();
    this.clockMs = calibrate(now);
  }

  /** A timed hook: its cost net of the clock's own. */
  timed(mean: Mean, startMs: number): void {
    mean.add(Math.max(0, this.now() - startMs - this.clockMs));
  }

  flushed(ms: number): void {
    this.flushMs += ms;
  }

  /**
   * Decides when the window has passed: the steps to take now (the caller applies them in
   * order and records each). Empty most of the time.
   */
  decide(functions: GovernedFunctions): Step[] {
    const now = this.now();
    const wall = now - this.windowStart;
    if (wall < WINDOW_MS) return [];
    const count = functions.count;
    if (this.seenAtWindowStart.length < count) {
      const size = Math.max(count, this.seenAtWindowStart.length * 2);
      const seen = new Float64Array(size);
      seen.set(this.seenAtWindowStart);
      this.seenAtWindowStart = seen;
      const recorded = new Float64Array(size);
      recorded.set(this.recordedAtWindowStart);
      this.recordedAtWindowStart = recorded;
    }
    // Each function's estimated time inside scope this window.
    const costs = new Float64Array(count);
    let total = this.flushMs;
    let floor = 0;
    for (let id = 1; id < count; id++) {
      const calls = functions.seen[id]! - this.seenAtWindowStart[id]!;
      this.seenAtWindowStart[id] = functions.seen[id]!;
      if (calls <= 0) continue;
      const level = functions.level[id]! as GovernedLevelValue;
      const recordedNow = functions.recorded(id);
      // Below the calls level the governor decides what is recorded (the guard's counts do not apply).
      const recorded = level >= GovernedLevel.calls ? Math.min(calls, Math.max(0, recordedNow - this.recordedAtWindowStart[id]!)) : level === GovernedLevel.sampled ? calls / GOVERNED_SAMPLE : 0;
      this.recordedAtWindowStart[id] = recordedNow;
      const full = functions.full(id);
      const cost = recorded * this.perCall(level, full);
      costs[id] = cost;
      floor += calls * (full ? this.floor.full : this.floor.calls);
      total += cost;
    }
    total += floor;
    this.windowStart = now;
    this.flushMs = 0;
    const overhead = total / wall;
    const steps: Step[] = [];
    if (overhead > this.budget) {
      let estimate = total;
      while (estimate / wall > this.budget && steps.length < STEPS_PER_DECISION_MAX) {
        let costliest = 0;
        for (let id = 1; id < count; id++) if (costs[id]! > costs[costliest]! && functions.level[id]! > GovernedLevel.off) costliest = id;
        if (costliest === 0) {
          // Every function is off and the prologues alone are over budget: say so once.
          if (!this.outOfReach && floor / wall > this.budget) {
            this.outOfReach = true;
            steps.push({ id: 0, from: GovernedLevel.off, to: GovernedLevel.off, overhead: floor / wall });
          }
          break;
        }
        const from = functions.level[costliest]! as GovernedLevelValue;
        const to = (from - 1) as GovernedLevelValue;
        const saved = costs[costliest]! * (1 - this.perCall(to, functions.full(costliest)) / Math.max(1e-9, this.perCall(from, functions.full(costliest))));
        estimate -= saved;
        costs[costliest] = 0;
        steps.push({ id: costliest, from, to, overhead });
        this.lowered.push(costliest);
        this.steps.down++;
      }
      if (steps.length > 0) this.lastStepDown = now;
    } else if (overhead < this.budget / 2 && this.lowered.length > 0 && now - this.lastStepDown >= STEP_UP_QUIET_MS) {
      const id = this.lowered.pop()!;
      const from = functions.level[id]! as GovernedLevelValue;
      const top = functions.full(id) ? GovernedLevel.full : GovernedLevel.calls;
      if (from < top) {
        steps.push({ id, from, to: (from + 1) as GovernedLevelValue, overhead });
        if (from + 1 < top) this.lowered.push(id);
        this.steps.up++;
      }
      // One step up per quiet period: the next waits as long again.
      this.lastStepDown = now - STEP_UP_QUIET_MS / 2;
    }
    return steps;
  }

  /**
   * Estimated ms per recorded call of a function at `level`: at the calls level the larger of
   * the calibrated cost and the timed samples' mean; at full, the timed call and return.
   */
  private perCall(level: GovernedLevelValue, full: boolean): number {
    const calls = Math.max(this.calibrated.calls, this.callCost.value);
    switch (level) {
      case GovernedLevel.full:
        return full ? Math.max(calls, this.fullCallCost.value + this.returnCost.value) : calls;
      case GovernedLevel.calls:
      case GovernedLevel.sampled:
        return calls;
      default:
        return 0;
    }
  }
}

/**
 * The prologue cost of an instrumented function whose level is off, per call in ms: probes
 * shaped as transform.ts emits them (full: C(id, arguments) with try/catch/finally and r;
 * calls: c(id)) against the same plain function, `hook` answering at its fast path (id is
 * one whose calls are skipped). About 2 ms once per thread, only with a budget.
 */
export function calibrateFloor(hook: { c(id: number): void; C(id: number, args: ArrayLike<unknown>): number; r(id: number, token: number, value: unknown): void; x(id: number, token: number, error: unknown): number }, id: number, now: () => number): { full: number; calls: number } {
  const make = new Function(
    "h",
    "id",
    `return [
      function plain(o) { return o + 1; },
      function full(o) { var t = h.C(id, arguments), r; try { return r = (o + 1); } catch (e) { t = h.x(id, t, e); throw e; } finally { h.r(id, t, r); } },
      function calls(o) { h.c(id); return o + 1; },
    ];`,
  ) as (h: unknown, id: number) => ((o: number) => number)[];
  const [plain, full, calls] = make(hook, id);
  const time = (fn: (o: number) => number, rounds: number): number => {
    let sink = 0;
    const start = now();
    for (let i = 0; i < rounds; i++) sink += fn(i);
    const elapsed = now() - start;
    if (sink === -1) throw new Error("unreachable");
    return elapsed / rounds;
  };
  // Warm up (optimised code), then the median of three rounds of each.
  for (const fn of [plain!, full!, calls!]) time(fn, 20_000);
  const median = (fn: (o: number) => number) => [time(fn, 20_000), time(fn, 20_000), time(fn, 20_000)].sort((x, y) => x - y)[1]!;
  const base = median(plain!);
  return { full: Math.max(0, median(full!) - base), calls: Math.max(0, median(calls!) - base) };
}

/** The clock's cost per pair of reads (the median of a few hundred), in ms. */
function calibrate(now: () => number): number {
  const samples: number[] = [];
  for (let i = 0; i < 201; i++) {
    const start = now();
    samples.push(now() - start);
  }
  samples.sort((x, y) => x - y);
  return samples[100]!;
}
