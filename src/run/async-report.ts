/**
 * `scope run --async`: the summary's line about threads whose runtime recorded less than
 * the level asked (Bun has no working async_hooks). Read from the closed trace's
 * async_tracking records (one per thread), so a Node program that starts Bun children is
 * told exactly which threads lack what.
 */
import type { ChalkInstance } from "chalk";
import { decodeRecord } from "../core/events";
import { AsyncLevel, EventKind, Offset, RECORD_SIZE } from "../core/layout";
import { readTrace } from "../core/trace-file";

/** What a thread recording at `level` (async_tracking b) lacks, said once per kind of shortfall. */
const lacks: Record<number, string> = {
  [AsyncLevel.timers]: "Bun implements no async_hooks: only timers, immediates, nextTick and queueMicrotask are linked, not promises or I/O",
  [AsyncLevel.off]: "the runtime records no async causality",
  [AsyncLevel.callbacks]: "promises were asked for but only callbacks are recorded",
};

export function asyncLimitLines(path: string, color: ChalkInstance): string[] {
  const short = new Map<number, Set<number>>();
  try {
    const trace = readTrace(path);
    for (const batch of trace.batches()) {
      const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
      for (let offset = 0; offset < batch.byteLength; offset += RECORD_SIZE) {
        if (view.getUint16(offset + Offset.kind, true) !== EventKind.async_tracking) continue;
        const record = decodeRecord(batch, offset);
        const asked = Number(record.a);
        const recorded = Number(record.b);
        if (recorded === asked) continue;
        let pids = short.get(recorded);
        if (!pids) short.set(recorded, (pids = new Set()));
        pids.add(record.pid);
      }
    }
  } catch {
    // An unreadable trace: `scope dump` says why.
  }
  return [...short].map(([recorded, pids]) => {
    const list = [...pids].slice(0, 5).join(", ") + (pids.size > 5 ? ", ..." : "");
    return color.yellow(`  --async: ${lacks[recorded] ?? `level ${recorded} recorded`} (pid ${list})`);
  });
}
