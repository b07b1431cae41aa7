/**
 * Main-thread work kept out of the core's code cache (BENCHMARKS.md "Worker start: what grew
 * the code cache"): the cache the main thread writes holds every function it compiled before
 * `createCachedData()` (cache-write.ts), and every worker deserialises it whole. What only a
 * main thread runs at install (the ES-builds load hook: esm-hooks.ts, 7 KB of Node 24's cache)
 * is queued here by install and run by main.ts right after the cache is written, still before
 * the program's first line. Elsewhere (no loader's cache: attach, a bundle run without
 * main.ts's deferral) it runs at once.
 */

let pending: (() => void)[] | undefined;

/** From here until `runDeferred`, `afterCodeCache` queues instead of running. */
export function deferPastCodeCache(): void {
  pending = [];
}

/** Runs `work` now, or once the code cache is written when main.ts deferred it. */
export function afterCodeCache(work: () => void): void {
  if (pending !== undefined) pending.push(work);
  else work();
}

/** Runs what was queued, in order; later calls run at once. */
export function runDeferred(): void {
  const queued = pending;
  pending = undefined;
  if (queued !== undefined) for (const work of queued) work();
}
