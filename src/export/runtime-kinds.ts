/**
 * The runtime's own activity (garbage collection, long tasks, event-loop delay, heap) as
 * exporters draw it: a GC pause or a long task is a slice on its thread, a heap or loop
 * delay sample a counter value. The kinds come from zig/layout.zig (range 80..95).
 */
import type { TraceEvent } from "../core/model";
import type { Slice } from "./slices";

export const CounterUnit = { unspecified: 0, timeNs: 1, count: 2, sizeBytes: 3 } as const;

export interface CounterSample {
  name: string;
  unit: number;
  value: number;
}

/** Kinds drawn as slices by gcSlices (no instant of their own). */
export const runtimeSliceKinds = new Set<string>();

/** GC pauses and long tasks as slices. */
export function gcSlices(_events: TraceEvent[]): Slice[] {
  return [];
}

/** The counter values an event carries (heap sizes, loop delay), or null when it is no sample. */
export function counterSamples(_event: TraceEvent): CounterSample[] | null {
  return null;
}
