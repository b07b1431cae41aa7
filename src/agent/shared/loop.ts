/**
 * The event loop and memory of one thread (event groups `loop` and `memory`), one module for
 * Node and Bun (ARCHITECTURE.md "Event loop and memory"). Two ways, chosen at start:
 *
 * - Node with scope.node (the usual case): the loop is watched natively (NativeLoop below:
 *   an unref'd libuv prepare handle; each turn's busy time is its time minus libuv's idle
 *   time). Every interval (SCOPE_LOOP, default 1 s) a `loop_sample` summarises the turns'
 *   busy times (min/p50/p99/max, utilisation; flag turns) and a `memory_sample` the heap,
 *   external, array buffers and RSS. A turn of the threshold or more calls onLongTurn, the
 *   only JavaScript the watch runs, which names it by the marks of its own turn. GC: V8's
 *   own prologue/epilogue callbacks (NativeGc below), heap used before and after, each
 *   GC's record written natively as it ends (a process that dies keeps it). The samples are written by the addon's own timer
 *   (NativeTicker below: an unref'd libuv timer, not a setInterval, whose first use in a
 *   worker without timers of its own compiled Node's timer machinery); no perf_hooks.
 * - Bun, `scope attach`, and a Node whose addon lacks those functions: a sentinel, an
 *   unref'd interval timer every threshold/2 ms whose lateness says the loop was blocked
 *   (the delay samples are its lateness, flag ownTimer; Node's utilisation from
 *   performance.eventLoopUtilization, Bun's is zeros and flagged), start and duration of a
 *   long task within ±threshold/2 (errorNs); Node's GC from a PerformanceObserver of 'gc'
 *   entries with heap used from v8.GCProfiler (entries Node delivers in a native immediate:
 *   GCs after the last turn are taken at the end). Bun has no GC events: a
 *   `monitor_missing` record says so once per thread.
 * - Either way, long tasks are named by callbacks measured where the program schedules them:
 *   setTimeout, setInterval, node:fs's callback functions (in a Node worker, from its
 *   program's first reach of node:fs) and, with --long-task-immediates, setImmediate: two
 *   clock reads per callback, exact start and duration, kind timer/io/immediate, origin =
 *   the callback's own name (and the fs API). A stretch right after a measured callback is
 *   its microtasks; anything else gets the kind of the last entry the agent saw in the turn
 *   (a message or an HTTP request: markTurn), else unknown. No async_hooks.
 *
 * scope's timers are unref'd (they never keep the program alive) and made with the
 * runtime's own functions captured before the wrapping; a program's timers keep their
 * order (only their callbacks are wrapped). At the thread's end (flushLoopMonitor, called
 * by the exit hook before process_exit/thread_exit) a last sample of each is written and
 * the GC entries not yet delivered to the observer are taken.
 */
import { Kind, LongTaskKind, LoopSampleFlag, MEMORY_SAMPLE_WORKER, MonitorMissing } from "./kinds";
import type { Recorder } from "./recorder";
import { lateNative } from "./sink";

export interface LoopSettings {
  intervalMs: number;
  thresholdMs: number;
  /** setImmediate callbacks timed too (--long-task-immediates): hot in promise-heavy code, off by default. */
  immediates: boolean;
}

const DEFAULT_INTERVAL_MS = 1000;
const DEFAULT_THRESHOLD_MS = 50;

/**
 * The settings without SCOPE_LOOP. A function, not a constant object: an object at the
 * bundle's top level is a new shape built in every thread, the loop group's or not
 * (BENCHMARKS.md "Fourteenth look").
 */
export function defaultLoopSettings(): LoopSettings {
  return { intervalMs: DEFAULT_INTERVAL_MS, thresholdMs: DEFAULT_THRESHOLD_MS, immediates: false };
}

/** SCOPE_LOOP "intervalMs,thresholdMs[,1]" (scope run --loop-interval, --long-task, --long-task-immediates); defaults otherwise. */
export function loopSettings(spec: string | undefined): LoopSettings {
  const [interval, threshold, immediates] = (spec ?? "").split(",").map(Number);
  return {
    intervalMs: interval !== undefined && Number.isFinite(interval) && interval >= 10 ? interval : DEFAULT_INTERVAL_MS,
    thresholdMs: threshold !== undefined && Number.isFinite(threshold) && threshold >= 1 ? threshold : DEFAULT_THRESHOLD_MS,
    immediates: immediates === 1,
  };
}

interface Monitor {
  flush(): void;
}

let active: Monitor | undefined;

/**
 * scope.node's GC callbacks (zig/napi.zig gcWatch): V8's own GC prologue/epilogue on this
 * thread's isolate, a few clock and heap-size reads per GC and its `gc` record, written by
 * the epilogue as the GC ends; the agent only counts the GCs not recorded (gcDropped).
 * Given by the Node agent once the addon is attached; absent in Bun and `scope attach`.
 */
export interface NativeGc {
  gcWatch(): boolean;
  gcDropped(): number;
  gcUnwatch(): void;
  now(): number;
}

let nativeGc: NativeGc | undefined;

/**
 * scope.node's loop watch (zig/napi.zig loopWatch, zig/loop_turns.zig): a libuv prepare
 * handle, unref'd, measures every turn's busy time natively (between two polls, minus
 * libuv's idle time); a turn of the threshold or more calls onLongTurn, the only
 * JavaScript it runs. The returned buffer's f64 word 0 is the turn running now (what
 * the marks below carry). Node only; absent in Bun and `scope attach`.
 */
export interface NativeLoop {
  loopWatch(thresholdNs: number, onLongTurn: (turn: number, busyNs: number, endNs: number) => void): ArrayBuffer | false;
  loopTake(into: Float64Array): number;
  loopUnwatch(into?: Float64Array): number;
  now(): number;
}

let nativeLoop: NativeLoop | undefined;

/**
 * scope.node's samples' timer (zig/napi.zig tickStart): a libuv timer, unref'd, calling
 * onTick every interval, in place of a setInterval (whose first use in a worker that has
 * no timers of its own compiles Node's timer machinery). Node only.
 */
export interface NativeTicker {
  tickStart(intervalMs: number, onTick: () => void): boolean;
  tickStop(): void;
}

let nativeTicker: NativeTicker | undefined;

/** The addon the Node agent handed over; its GC, loop and timer functions are taken when the monitor starts (takeNatives). */
let nativeSource: object | undefined;

/** The Node agent hands over its addon (the GC and loop functions are asked for only if the loop monitor starts). */
export function useNativeGc(candidate: object): void {
  nativeSource = candidate;
}

/**
 * The addon's GC, loop and timer functions: from its `loopApi()`, which makes them on this
 * call (zig/napi.zig: not every thread's module init makes them, only a thread whose loop
 * monitor starts), or from its own properties (an addon without loopApi).
 */
function takeNatives(): void {
  const candidate = nativeSource;
  nativeSource = undefined;
  if (candidate === undefined) return;
  const lazy = lateNative(candidate, "loopApi");
  const source = typeof lazy === "function" ? (Reflect.apply(lazy, candidate, []) as object | null) : candidate;
  if (source === null || typeof source !== "object") return;
  const addon = source as Partial<NativeGc & NativeLoop>;
  if (typeof addon.gcWatch === "function" && typeof addon.gcDropped === "function" && typeof addon.gcUnwatch === "function" && typeof addon.now === "function") {
    nativeGc = addon as NativeGc;
  }
  if (typeof addon.loopWatch === "function" && typeof addon.loopTake === "function" && typeof addon.loopUnwatch === "function" && typeof addon.now === "function") {
    nativeLoop = addon as NativeLoop;
  }
  const ticker = source as Partial<NativeTicker>;
  if (typeof ticker.tickStart === "function" && typeof ticker.tickStop === "function") nativeTicker = ticker as NativeTicker;
}

/** The last entry the agent saw in this turn (markTurn): a sentinel-found long task's kind. */
let turnMark: number = LongTaskKind.unknown;
/** The native watch's shared words (word 0: the turn running now); undefined with the sentinel. */
let turnWords: Float64Array | undefined;
/** The turn turnMark was set in (native watch only): a mark names only its own turn. */
let turnMarkTurn = 0;

/** The last measured callback (turnMark microtasks): a sentinel-found stretch after it names it. */
let markCallback: unknown;
let markApi: string | undefined;
let markKind = 0;
let markEnd = 0;

/** Called by the hooks that see a turn's cause (a message received, an HTTP request): one store. */
export function markTurn(kind: number): void {
  turnMark = kind;
  if (turnWords !== undefined) turnMarkTurn = turnWords[0]!;
}

/** Writes the last samples and the GC entries not yet delivered; once, at the thread's end. */
export function flushLoopMonitor(): void {
  const monitor = active;
  active = undefined;
  monitor?.flush();
}


/**
 * `fsWhenReached`: where given (Node workers), node:fs is wrapped only when it calls the
 * wrap it is handed, i.e. when the thread's program first reaches node:fs: a worker that
 * never uses it does not pay the wrapping (~1…1.5 M of a worker's ~126 M instructions,
 * BENCHMARKS.md "Event loop and memory", fifth look). Otherwise it is wrapped at once.
 * `syncBuiltinESMExports`: where given, called after the wrapping (below).
 */
/**
 * The runtime's own interval functions, for scope's own timers (the sentinel, the samples'
 * interval). Kept by keepRuntimeTimers before anything of scope wraps the globals (Bun's
 * --async wraps setInterval to record each timer's creation: scope's timers must not be
 * among them); taken at startLoopMonitor where nothing kept them.
 */
let runtimeTimers: { setInterval: typeof setInterval; clearInterval: typeof clearInterval } | undefined;

export function keepRuntimeTimers(): void {
  runtimeTimers ??= { setInterval: globalThis.setInterval, clearInterval: globalThis.clearInterval };
}

export function startLoopMonitor(
  recorder: Recorder,
  runtime: "node" | "bun",
  worker: boolean,
  settings: LoopSettings,
  fsWhenReached?: (wrap: () => void) => void,
  syncBuiltinESMExports?: () => void,
): void {
  const groups = recorder.groups;
  takeNatives();
  // The runtime's own timer functions, before the wrapping below: scope's timers are never measured.
  keepRuntimeTimers();
  const { setInterval: setIntervalOriginal, clearInterval: clearIntervalOriginal } = runtimeTimers!;
  const thresholdMs = settings.thresholdMs;
  const resolutionMs = Math.min(500, Math.max(5, thresholdMs / 2));
  const bun = runtime === "bun";
  // perf_hooks only where it is used (Bun, and Node without scope.node's loop watch):
  // compiling it again in every worker thread was most of the group's start (BENCHMARKS.md).
  let perf: typeof import("node:perf_hooks") | undefined;
  const perfHooks = () => (perf ??= require("node:perf_hooks") as typeof import("node:perf_hooks"));
  // Milliseconds on the producer's clock where the addon is there (a Node-API call, ~50 ns
  // here, against ~130-180 ns for performance.now()), else performance.now().
  const addonClock = nativeLoop ?? nativeGc;
  let now: () => number = addonClock !== undefined && !bun ? () => addonClock.now() / 1e6 : undefined!;
  if (now === undefined) {
    const performance = perfHooks().performance;
    now = performance.now.bind(performance);
  }

  let missing = 0;
  if (groups.loop && bun) missing |= MonitorMissing.utilisation | MonitorMissing.delayHistogram;
  if (groups.memory && bun) missing |= MonitorMissing.gcEvents;
  if (missing !== 0) {
    recorder.event(
      Kind.monitor_missing,
      missing,
      recorder.str(
        "bun: no GC events (JavaScriptCore reports none to JavaScript; no perf_hooks 'gc' entries), eventLoopUtilization returns zeros, monitorEventLoopDelay misses blocked turns: delay from scope's own timer",
      ),
    );
  }

  /** Time (ms) of long tasks measured around their callback in the current turn (native) or since the last tick (sentinel): not reported again. */
  let measuredMs = 0;
  let measuredTurn = 0;
  const longTask = (kind: number, startMs: number, durationMs: number, origin: number, errorMs: number) => {
    recorder.settle();
    const at = now();
    recorder.event(Kind.long_task, Math.round(durationMs * 1e6), Math.max(0, Math.round((at - startMs) * 1e6)), kind, origin, Math.round(errorMs * 1e6));
  };
  const microtasksOrigin = () => recorder.str(`after ${[markKind === LongTaskKind.io ? "" : markKind === LongTaskKind.immediate ? "immediate" : "timer", originOf(markCallback, markApi) ?? ""].filter((part) => part !== "").join(" ")}`);

  // Node with scope.node: every turn's busy time natively (a prepare handle, no timer): a
  // turn of the threshold or more comes here to be named. What measured callbacks took of
  // it is theirs; the rest, when it is the threshold or more, is one long task of the kind
  // the turn's last mark says (a mark from another turn names nothing).
  const onLongTurn = (turn: number, busyNs: number, endNs: number) => {
    const measured = measuredTurn === turn ? measuredMs : 0;
    measuredMs = 0;
    const marked = turnMarkTurn === turn ? turnMark : LongTaskKind.unknown;
    turnMark = LongTaskKind.unknown;
    const callback = markCallback;
    markCallback = undefined;
    if (recorder.stopped || !groups.loop) return;
    const busyMs = busyNs / 1e6;
    const unmeasuredMs = busyMs - measured;
    if (unmeasuredMs < thresholdMs) return;
    const endMs = endNs / 1e6;
    const turnStartMs = endMs - busyMs;
    // After a measured callback (that returned in time) what ran is its microtasks, unless
    // the turn's unmeasured time before the callback's end was more than R: then the long
    // stretch came before it (an unmeasured immediate or socket callback), not after.
    let kind = marked;
    if (kind === LongTaskKind.microtasks && markEnd - turnStartMs - measured > resolutionMs) kind = LongTaskKind.unknown;
    markCallback = callback;
    const origin = kind === LongTaskKind.microtasks ? microtasksOrigin() : 0;
    markCallback = undefined;
    // Where in the turn the unmeasured time lay is known to within what was measured (and,
    // for microtasks, what ran before the callback they follow).
    const startMs = kind === LongTaskKind.microtasks ? Math.max(turnStartMs, markEnd) : endMs - unmeasuredMs;
    const errorMs = kind === LongTaskKind.microtasks ? Math.max(measured, markEnd - turnStartMs) : measured;
    longTask(kind, startMs, unmeasuredMs, origin, errorMs);
  };
  let watch: NativeLoop | undefined;
  const turnSummary = new Float64Array(6);
  if (groups.loop && !bun && nativeLoop !== undefined) {
    try {
      const words = nativeLoop.loopWatch(thresholdMs * 1e6, (turn, busyNs, endNs) => recorder.safe(() => onLongTurn(turn, busyNs, endNs)));
      if (words !== false) {
        turnWords = new Float64Array(words);
        watch = nativeLoop;
      }
    } catch {
      watch = undefined;
    }
  }

  // Otherwise the sentinel: an unref'd interval whose lateness is a blocked loop (and the delay samples).
  let elu: import("node:perf_hooks").EventLoopUtilization | undefined;
  if (groups.loop && !bun && watch === undefined) {
    try {
      elu = perfHooks().performance.eventLoopUtilization();
    } catch {
      elu = undefined;
    }
  }
  let lastTick = now();
  let lastElu = elu;
  const ownDelays: number[] = [];
  const tick = () => {
    if (recorder.stopped) return;
    const t = now();
    const lateMs = Math.max(0, t - lastTick - resolutionMs);
    if (ownDelays.length < 4096) ownDelays.push(lateMs);
    // One blocked stretch that delayed this tick by lateMs began after the last tick: it
    // lasted from lateMs to lateMs + R. Node's busy time over the gap narrows that.
    let blockedMs: number;
    if (lastElu !== undefined) {
      const performance = perfHooks().performance;
      const current = performance.eventLoopUtilization();
      blockedMs = Math.min(performance.eventLoopUtilization(current, lastElu).active, lateMs + resolutionMs);
      lastElu = current;
    } else blockedMs = lateMs + resolutionMs / 2;
    // What measured long tasks took of it is theirs; the rest is one more (a message handler
    // after a long timer in the same gap).
    const unmeasuredMs = blockedMs - measuredMs;
    if (groups.loop && lateMs - measuredMs >= thresholdMs - resolutionMs && unmeasuredMs >= thresholdMs) {
      // After a measured callback (that returned in time) nothing the agent saw ran but its
      // microtasks, unless an unwrapped callback followed it (documented): origin names it.
      // A stretch that began later than R after that callback ended is not its microtasks:
      // something unmeasured ran after it (an immediate, a socket's callback).
      const start = t - unmeasuredMs;
      const kind = turnMark === LongTaskKind.microtasks && Math.abs(start - markEnd) > resolutionMs ? LongTaskKind.unknown : turnMark;
      const origin = kind === LongTaskKind.microtasks ? microtasksOrigin() : 0;
      longTask(kind, start, unmeasuredMs, origin, resolutionMs);
    }
    measuredMs = 0;
    turnMark = LongTaskKind.unknown;
    markCallback = undefined;
    lastTick = t;
  };
  const sentinel = groups.loop && watch === undefined ? setIntervalOriginal(() => recorder.safe(tick), resolutionMs) : undefined;
  (sentinel as { unref?: () => void } | undefined)?.unref?.();

  if (groups.loop) {
    // Two clock reads per callback, and four stores: the microtasks that run right after
    // it are what a long stretch that follows in its turn is (turnMark microtasks), unless
    // a later entry marks the turn. A no-argument call (how timers and immediates run their
    // callbacks) skips the arguments object.
    const measured = (callback: (...args: unknown[]) => unknown, kind: number, api?: string) =>
      function (this: unknown) {
        const start = now();
        try {
          return arguments.length === 0 ? callback.call(this) : Reflect.apply(callback, this, arguments);
        } finally {
          const end = now();
          const turn = turnWords !== undefined ? turnWords[0]! : 0;
          if (end - start >= thresholdMs) {
            if (measuredTurn !== turn) measuredMs = 0;
            measuredMs += end - start;
            measuredTurn = turn;
            recorder.safe(() => longTask(kind, start, end - start, recorder.str(originOf(callback, api)), 0));
          }
          turnMark = LongTaskKind.microtasks;
          turnMarkTurn = turn;
          markEnd = end;
          markCallback = callback;
          markApi = api;
          markKind = kind;
        }
      };
    recorder.safe(() => wrapTimers(measured, settings.immediates));
    const wrapFsNow = () => recorder.safe(() => wrapFs(measured));
    if (fsWhenReached !== undefined) recorder.safe(() => fsWhenReached(wrapFsNow));
    else wrapFsNow();
    // ES modules that import node:timers or node:fs by name see the wrapped functions too:
    // a built-in's ES facade copies its exports at its first import. One made before this
    // wrapping is synced by `syncBuiltinESMExports` where the caller gives it (Bun's main
    // thread). Node's agent gives none: it is a --require preload, which runs before any ES
    // module of its thread (Node runs --require preloads before --import ones and the entry;
    // a worker's before the worker's modules), so no facade exists yet, and the sync walks
    // every built-in module (~1.1 M instructions, BENCHMARKS.md "Event loop and memory",
    // fourth look; tested in a main thread and a worker whose ES modules import both by name).
    if (syncBuiltinESMExports !== undefined) recorder.safe(syncBuiltinESMExports);
  }

  // Samples at the interval.
  let sampleElu = elu;
  /** The loop sample from the native watch's summary (taken by loopTake or, at the end, loopUnwatch). */
  const turnSample = (flags: number) => {
    const [min, p50, p99, max, utilisationPpm] = turnSummary;
    recorder.event(Kind.loop_sample, min!, p50!, p99!, max!, utilisationPpm!, flags | LoopSampleFlag.turns);
  };
  const sample = (atExit: boolean) => {
    const flags = atExit ? LoopSampleFlag.atExit : 0;
    if (groups.loop && watch !== undefined) {
      // At the end the summary was taken by loopUnwatch (flush).
      if (atExit || watch.loopTake(turnSummary) === 1) turnSample(flags);
    } else if (groups.loop) {
      let utilisation = 0;
      let sampleFlags = flags;
      if (sampleElu !== undefined) {
        const performance = perfHooks().performance;
        const current = performance.eventLoopUtilization();
        utilisation = performance.eventLoopUtilization(current, sampleElu).utilization;
        sampleElu = current;
      } else sampleFlags |= LoopSampleFlag.utilisationUnknown;
      let min = 0;
      let p50 = 0;
      let p99 = 0;
      let max = 0;
      // The sentinel's lateness over the interval (flag ownTimer): one timer wakes the thread, not two.
      sampleFlags |= LoopSampleFlag.ownTimer;
      if (ownDelays.length > 0) {
        ownDelays.sort((x, y) => x - y);
        const at = (p: number) => ownDelays[Math.min(ownDelays.length - 1, Math.floor((p / 100) * ownDelays.length))]! * 1e6;
        [min, p50, p99, max] = [at(0), at(50), at(99), ownDelays[ownDelays.length - 1]! * 1e6];
        ownDelays.length = 0;
      }
      recorder.event(Kind.loop_sample, Math.round(min), Math.round(p50), Math.round(p99), Math.round(max), Math.round(Math.min(1, Math.max(0, utilisation)) * 1e6), sampleFlags);
    }
    if (groups.memory) {
      const memory = process.memoryUsage();
      recorder.event(Kind.memory_sample, memory.heapUsed, memory.heapTotal, memory.external, memory.arrayBuffers ?? 0, memory.rss, flags | (worker ? MEMORY_SAMPLE_WORKER : 0));
    }
  };
  // Node reschedules an interval from the loop's time at the start of the timers phase: a
  // tick that ran late in its phase (a loaded machine) is followed by one sooner than the
  // interval (12 ms seen at load 14). A tick less than half the interval after the last
  // sample writes none: samples are never closer than that.
  // The addon's timer where it has one (Node), else an unref'd interval of the runtime's.
  let sampledAt = now();
  const onTick = () =>
    recorder.safe(() => {
      if (recorder.stopped) return;
      writeGcs();
      const at = now();
      if (at - sampledAt < settings.intervalMs / 2) return;
      sampledAt = at;
      sample(false);
    });
  let ticker: NativeTicker | undefined;
  if (!bun && nativeTicker !== undefined) {
    try {
      ticker = nativeTicker.tickStart(settings.intervalMs, onTick) ? nativeTicker : undefined;
    } catch {
      ticker = undefined;
    }
  }
  const sampler = ticker === undefined ? setIntervalOriginal(onTick, settings.intervalMs) : undefined;
  (sampler as { unref?: () => void } | undefined)?.unref?.();

  // GC events (Node). Natively where the addon has them (scope.node gcWatch): V8's GC
  // callbacks write each GC's record (kind, flags, start, duration, heap used before and
  // after) as it ends, so a process that dies (OOM, SIGKILL) keeps every GC before its
  // death (BENCHMARKS.md "GC records written as each GC ends"); the agent adds the GCs not
  // recorded to its count at each sample. ~250 µs of CPU per GC less than Node's
  // observer and profiler (BENCHMARKS.md "Event loop and memory", third look). Otherwise a
  // PerformanceObserver of 'gc' entries, held until the next sample (or 1024 of them),
  // with heap used before and after from v8.GCProfiler (heapProfile below), matched in
  // order, drained once per interval. Records carry each GC's start as ago_ns: the delay
  // moves no GC in the trace.
  let observer: import("node:perf_hooks").PerformanceObserver | undefined;
  let native: NativeGc | undefined;
  if (groups.memory && !bun && nativeGc !== undefined) {
    try {
      native = nativeGc.gcWatch() ? nativeGc : undefined;
    } catch {
      native = undefined;
    }
  }
  const heaps = groups.memory && !bun && native === undefined ? heapProfile() : undefined;
  const pendingGc: import("node:perf_hooks").PerformanceEntry[] = [];
  const writeGcs = () => {
    if (native !== undefined) {
      // The records are in the ring already: only the GCs not recorded are counted.
      const dropped = native.gcDropped();
      if (dropped > 0 && !recorder.stopped) recorder.unrecorded += dropped;
      return;
    }
    if (pendingGc.length === 0) return;
    if (recorder.stopped) {
      pendingGc.length = 0;
      return;
    }
    recorder.settle();
    const at = now();
    heaps?.drain();
    for (const entry of pendingGc) {
      const detail = (entry as { detail?: { kind?: number; flags?: number } }).detail;
      const legacy = entry as unknown as { kind?: number; flags?: number };
      const kind = detail?.kind ?? legacy.kind ?? 0;
      const gcFlags = detail?.flags ?? legacy.flags ?? 0;
      const heap = heaps?.take(kind);
      recorder.event(Kind.gc, Math.round(entry.duration * 1e6), Math.max(0, Math.round((at - entry.startTime) * 1e6)), kind, heap?.before ?? 0, heap?.after ?? 0, gcFlags & 0xffff);
    }
    pendingGc.length = 0;
  };
  const gcEntries = (entries: readonly import("node:perf_hooks").PerformanceEntry[]) => {
    if (recorder.stopped) return;
    for (const entry of entries) pendingGc.push(entry);
    if (pendingGc.length >= 1024) writeGcs();
  };
  if (groups.memory && !bun && native === undefined) {
    try {
      observer = new (perfHooks().PerformanceObserver)((list) => recorder.safe(() => gcEntries(list.getEntries())));
      observer.observe({ entryTypes: ["gc"] });
    } catch (error) {
      observer = undefined;
      recorder.fail(error);
    }
  }

  active = {
    flush() {
      recorder.safe(() => {
        if (sampler !== undefined) clearIntervalOriginal(sampler);
        ticker?.tickStop();
        if (sentinel !== undefined) clearIntervalOriginal(sentinel);
        // The turn running now ends with the thread (reported when long) and the last
        // summary is taken; the prepare handle is closed, stopped or not.
        const summarised = watch !== undefined && watch.loopUnwatch(turnSummary) === 1;
        turnWords = undefined;
        if (!summarised) turnSummary.fill(0);
        if (recorder.stopped) return;
        if (observer !== undefined) {
          gcEntries(observer.takeRecords());
          observer.disconnect();
        }
        writeGcs();
        if (native !== undefined) native.gcUnwatch();
        sample(true);
      });
    },
  };
}

/** A long task's origin: the API that scheduled the callback (I/O) and the callback's own name. */
function originOf(callback: unknown, api: string | undefined): string | undefined {
  const name = ownName(callback);
  if (api === undefined) return name;
  return name === undefined ? api : `${api} ${name}`;
}

/** The callback's own name (a data property only: no getter of the program runs). */
function ownName(callback: unknown): string | undefined {
  const descriptor = Object.getOwnPropertyDescriptor(callback, "name");
  const name = descriptor && "value" in descriptor ? descriptor.value : undefined;
  return typeof name === "string" && name !== "" ? name : undefined;
}

type Wrap = (callback: (...args: unknown[]) => unknown, kind: number, api?: string) => (...args: unknown[]) => unknown;

/** A replacement keeps the original's own properties (length, name, util.promisify.custom, realpath.native). */
function copyOwnProperties(original: object, replacement: object): void {
  for (const key of Reflect.ownKeys(original)) {
    if (key === "prototype") continue;
    const descriptor = Object.getOwnPropertyDescriptor(original, key);
    if (descriptor) {
      try {
        Object.defineProperty(replacement, key, descriptor);
      } catch {
        // A non-configurable own property of the replacement itself (none expected).
      }
    }
  }
}

function wrapFs(wrap: Wrap): void {
  // node:fs's callback functions (one-shot callbacks: watch/watchFile listeners are left
  // alone, unwatchFile finds them by identity). A last argument that is a function is
  // measured as an I/O callback, origin "fs.<name>"; fs streams read and write through
  // these exports, so their 'data' handlers are measured too. Here, not at the module's top
  // level: its ~40 names would be deserialised with the core's code cache by every worker
  // (BENCHMARKS.md "Worker start: the core's top level made at first use").
  const FS_CALLBACK_FUNCTIONS = [
    "access", "appendFile", "chmod", "chown", "close", "copyFile", "cp", "exists", "fchmod", "fchown", "fdatasync", "fstat",
    "fsync", "ftruncate", "futimes", "lchmod", "lchown", "link", "lstat", "lutimes", "mkdir", "mkdtemp", "open", "opendir",
    "read", "readdir", "readFile", "readlink", "readv", "realpath", "rename", "rm", "rmdir", "stat", "statfs", "symlink",
    "truncate", "unlink", "utimes", "write", "writeFile", "writev",
  ];
  const fs = require("node:fs") as Record<string, unknown>;
  for (const name of FS_CALLBACK_FUNCTIONS) {
    const original = fs[name];
    if (typeof original !== "function") continue;
    const api = `fs.${name}`;
    // A Proxy with an apply trap: every own property of the original (length, name,
    // util.promisify.custom, Node's promisify argument names, realpath.native) reads
    // through it unchanged, nothing copied, and none added (a sloppy-mode function made
    // here has own `arguments` and `caller`, which Reflect.ownKeys showed); the trap's
    // argument array is nothing next to an fs call.
    const replacement = new Proxy(original as (...args: unknown[]) => unknown, {
      apply(target, self, args: unknown[]) {
        const last = args.length - 1;
        const callback = args[last];
        if (typeof callback === "function") args[last] = wrap(callback as (...args: unknown[]) => unknown, LongTaskKind.io, api);
        return Reflect.apply(target, self, args);
      },
    });
    try {
      fs[name] = replacement;
    } catch {
      // A read-only export (none in Node 20 or Bun 1.4): left unmeasured.
    }
  }
}

/**
 * setTimeout, setInterval and setImmediate (the globals and node:timers' exports, the same
 * functions) schedule a measured wrapper of their callback; everything else passes as it
 * is (a non-function callback reaches the original, which throws its own error). The
 * replacement keeps the original's own properties (length, name, util.promisify.custom).
 */
function wrapTimers(wrap: Wrap, immediates: boolean): void {
  const host = globalThis as unknown as Record<string, unknown>;
  let timers: Record<string, unknown> | undefined;
  try {
    timers = require("node:timers") as Record<string, unknown>;
  } catch {
    timers = undefined;
  }
  const kinds: [string, number][] = [
    ["setTimeout", LongTaskKind.timer],
    ["setInterval", LongTaskKind.timer],
  ];
  if (immediates) kinds.push(["setImmediate", LongTaskKind.immediate]);
  for (const [name, kind] of kinds) {
    const original = host[name];
    if (typeof original !== "function") continue;
    const call = original as (this: unknown, ...args: unknown[]) => unknown;
    const schedule = (self: unknown, args: IArguments): unknown => {
      const callback = args[0];
      if (typeof callback !== "function") return Reflect.apply(original, self, args);
      // The common shapes without an argument array (the same arguments reach the original).
      const wrapped = wrap(callback as (...args: unknown[]) => unknown, kind);
      if (args.length === 1) return call.call(self, wrapped);
      if (args.length === 2) return call.call(self, wrapped, args[1]);
      const list = Array.prototype.slice.call(args);
      list[0] = wrapped;
      return Reflect.apply(original, self, list);
    };
    // The original's shape: Node's timers are plain functions (an own `prototype`), Bun's
    // native ones are not (no `prototype`, not constructors): a method has none either.
    const replacement = Object.hasOwn(original, "prototype")
      ? function (this: unknown) {
          return schedule(this, arguments);
        }
      : {
          method(this: unknown) {
            return schedule(this, arguments);
          },
        }.method;
    copyOwnProperties(original, replacement);
    host[name] = replacement;
    if (timers !== undefined && timers[name] === original) timers[name] = replacement;
  }
}

interface ProfiledGc {
  kind: number;
  before: number;
  after: number;
}

/**
 * Heap used before and after each GC (Node 20's v8.GCProfiler: exact per GC, no time of
 * its own). Drained when the held GC entries are written (each interval, at 1024 entries,
 * at the thread's end): a new profiler is started before
 * the old one stops, so a GC while the old one's JSON is made and parsed is in the new one.
 * The i-th profiled GC is the i-th observed one; a kind that does not match means the
 * profiler missed that GC: its entry gets no figures (0), nothing shifts. Checked against
 * --trace-gc's before/after figures in spec/loop.test.ts.
 */
function heapProfile(): { drain(): void; take(kind: number): ProfiledGc | undefined } | undefined {
  // v8.GCProfiler's gcType names by V8's GCType bit (the gc entries' kind). Here, not at the
  // module's top: an object literal run at every thread's start costs ~6 K instructions a
  // property in a new worker (BENCHMARKS.md "Thirteenth look").
  const PROFILER_TYPES: Record<string, number> = { Scavenge: 1, MinorMarkSweep: 2, MinorMarkCompact: 2, MarkSweepCompact: 4, IncrementalMarking: 8, ProcessWeakCallbacks: 16 };
  let v8: { GCProfiler?: new () => { start(): void; stop(): { statistics?: unknown[] } | undefined } };
  try {
    v8 = require("node:v8");
  } catch {
    return undefined;
  }
  const Profiler = v8.GCProfiler;
  if (typeof Profiler !== "function") return undefined;
  let profiler = new Profiler();
  profiler.start();
  const queue: ProfiledGc[] = [];
  let head = 0;
  return {
    drain() {
      const done = profiler;
      profiler = new Profiler();
      profiler.start();
      const stats = done.stop()?.statistics;
      if (!Array.isArray(stats)) return;
      if (head > 1024) {
        queue.splice(0, head);
        head = 0;
      }
      for (const stat of stats as { gcType?: string; beforeGC?: { heapStatistics?: { usedHeapSize?: number } }; afterGC?: { heapStatistics?: { usedHeapSize?: number } } }[]) {
        queue.push({ kind: PROFILER_TYPES[stat.gcType ?? ""] ?? 0, before: stat.beforeGC?.heapStatistics?.usedHeapSize ?? 0, after: stat.afterGC?.heapStatistics?.usedHeapSize ?? 0 });
      }
      // Bounded: GCs the observer never delivers (the thread's last turn) do not pile up.
      if (queue.length - head > 4096) head = queue.length - 4096;
    },
    take(kind) {
      const next = queue[head];
      if (next === undefined || next.kind !== kind) return undefined;
      head++;
      return next;
    },
  };
}
