/**
 * `scope run --async`: the summary's line about threads whose runtime recorded less than
 * the level asked (Bun has no working async_hooks). Read from the closed trace's
 * async_tracking records (one per thread), so a Node program that starts Bun children is
 * told exactly which threads lack what.
 */
import type { ChalkInstance } from "chalk";
import { decodeRecord } from "../core/events";
import { AsyncLevel, EventKind } from "../core/layout";
import { recordsOfKind } from "./trace-kind";

/** What a thread recording at `level` (async_tracking b) lacks, said once per kind of shortfall. */
const lacks: Record<number, string> = {
  [AsyncLevel.timers]: "Bun implements no async_hooks: only timers, immediates, nextTick and queueMicrotask are linked, not promises or I/O",
  [AsyncLevel.off]: "the runtime records no async causality",
  [AsyncLevel.callbacks]: "promises were asked for but only callbacks are recorded",
};

export function asyncLimitLines(path: string, color: ChalkInstance): string[] {
  const short = new Map<number, Set<number>>();
  recordsOfKind(path, EventKind.async_tracking, (batch, offset) => {
    const record = decodeRecord(batch, offset);
    const asked = Number(record.a);
    const recorded = Number(record.b);
    if (recorded === asked) return;
    let pids = short.get(recorded);
    if (!pids) short.set(recorded, (pids = new Set()));
    pids.add(record.pid);
  });
  return [...short].map(([recorded, pids]) => {
    const list = [...pids].slice(0, 5).join(", ") + (pids.size > 5 ? ", ..." : "");
    return color.yellow(`  --async: ${lacks[recorded] ?? `level ${recorded} recorded`} (pid ${list})`);
  });
}
