/**
 * The runtime's own activity (zig/layout.zig 80..95) as exporters draw it: a GC pause or a
 * long task is a slice on its thread's "gc" or "long tasks" track (they overlap calls and
 * requests, which must nest on theirs); a loop or memory sample gives counter values on
 * counter tracks of its process, one per thread and quantity ("main loop delay p99", ...).
 */
import type { TraceEvent } from "../core/model";
import { threadName, type Slice } from "./slices";

export const CounterUnit = { unspecified: 0, timeNs: 1, count: 2, sizeBytes: 3 } as const;

export interface CounterSample {
  name: string;
  unit: number;
  value: number;
}

/** Kinds drawn as slices by runtimeSlices (no instant of their own). */
export const runtimeSliceKinds = new Set<string>(["gc", "long_task"]);

/** GC pauses and long tasks as slices (placed at their start by the model; `durationNs` long). */
export function runtimeSlices(events: TraceEvent[]): Slice[] {
  const slices: Slice[] = [];
  for (const event of events) {
    const slice = runtimeSlice(event);
    if (slice) slices.push(slice);
  }
  return slices;
}

/** The slice of a GC pause or long task (null for any other kind). */
export function runtimeSlice(event: TraceEvent): Slice | null {
  if (!runtimeSliceKinds.has(event.kind)) return null;
  const f = event.fields;
  const durationNs = typeof f.durationNs === "number" ? BigInt(f.durationNs) : 0n;
  const long = event.kind === "long_task";
  return {
    kind: long ? "long_task" : "gc",
    pid: event.pid,
    tid: event.tid,
    startNs: event.timestampNs,
    endNs: event.timestampNs + durationNs,
    finished: true,
    name: long ? `long task: ${f.function ?? f.origin ?? f.taskKind}` : `gc ${f.gcKind}`,
    start: event,
    end: null,
    failed: false,
  };
}

const num = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null);

/** The counter values an event carries (loop delay, utilisation, heap), or null when it is no sample. */
export function counterSamples(event: TraceEvent): CounterSample[] | null {
  const f = event.fields;
  const thread = threadName(event.tid);
  const samples: CounterSample[] = [];
  const add = (name: string, unit: number, value: unknown) => {
    const n = num(value);
    if (n !== null) samples.push({ name: `${thread} ${name}`, unit, value: n });
  };
  switch (event.kind) {
    case "loop_sample":
      add("loop delay p50", CounterUnit.timeNs, f.delayP50Ns);
      add("loop delay p99", CounterUnit.timeNs, f.delayP99Ns);
      add("loop delay max", CounterUnit.timeNs, f.delayMaxNs);
      add("loop utilisation", CounterUnit.unspecified, f.utilisation);
      return samples;
    case "memory_sample":
      add("heap used", CounterUnit.sizeBytes, f.heapUsedBytes);
      add("heap total", CounterUnit.sizeBytes, f.heapTotalBytes);
      add("external", CounterUnit.sizeBytes, f.externalBytes);
      // A worker's RSS is its whole process's: once, from the main thread.
      if (event.tid === 0) add("rss", CounterUnit.sizeBytes, f.rssBytes);
      return samples;
    default:
      return null;
  }
}
