/**
 * Slices on one track must nest (Perfetto and the Trace Event viewers draw a track as one
 * stack). Slices that overlap without nesting (concurrent requests, an async call that
 * settles after its caller returned) go on extra tracks of the same thread, "lanes": a
 * slice takes the first lane of its group where it nests, its preferred lane first (a
 * query, pool wait or framework step the lane of its request).
 */
import type { Slice } from "./slices";

export interface Placement {
  /** "calls", "requests" (queries, pool waits and framework steps share the requests' lanes), "gc" or "long tasks". */
  group: string;
  /** 0: the group's first track. */
  lane: number;
}

export function groupOf(slice: Slice): string {
  if (slice.kind === "gc") return "gc";
  if (slice.kind === "long_task") return "long tasks";
  return slice.kind === "call" ? "calls" : "requests";
}

/** Slices in drawing order: by start, the longer first (a parent before its children). */
export function drawingOrder(a: Slice, b: Slice): number {
  if (a.startNs !== b.startNs) return a.startNs < b.startNs ? -1 : 1;
  if (a.endNs !== b.endNs) return a.endNs > b.endNs ? -1 : 1;
  const rank = (s: Slice) => (s.kind === "server" || s.kind === "client" ? 0 : s.kind === "call" ? 1 : 2);
  return rank(a) - rank(b);
}

export function placeSlices(slices: Slice[]): Map<Slice, Placement> {
  const placed = new Map<Slice, Placement>();
  const placer = new LanePlacer();
  for (const slice of [...slices].sort(drawingOrder)) placed.set(slice, placer.place(slice));
  return placed;
}

/**
 * placeSlices one slice at a time, given in drawing order (the streamed Perfetto export places
 * them as it reads them). Holds each lane's open slices' ends and each request's placement.
 */
export class LanePlacer {
  // Per thread and group: each lane's stack of open slice ends.
  private readonly lanes = new Map<string, bigint[][]>();
  private readonly requestPlace = new Map<number, Placement>();

  place(slice: Slice): Placement {
    const fits = (stack: bigint[], slice: Slice): boolean => {
      while (stack.length && stack[stack.length - 1]! <= slice.startNs) stack.pop();
      return stack.length === 0 || stack[stack.length - 1]! >= slice.endNs;
    };
    const group = groupOf(slice);
    const key = `${slice.pid}/${slice.tid}/${group}`;
    let stacks = this.lanes.get(key);
    if (!stacks) this.lanes.set(key, (stacks = []));
    const requestIndex = slice.start.fields.requestIndex;
    const preferred = slice.kind === "query" || slice.kind === "pool_wait" || slice.kind === "step" ? (typeof requestIndex === "number" ? this.requestPlace.get(requestIndex) : undefined) : undefined;
    let lane = preferred && fits(stacks[preferred.lane]!, slice) ? preferred.lane : stacks.findIndex((stack) => fits(stack, slice));
    if (lane < 0) lane = stacks.push([]) - 1;
    stacks[lane]!.push(slice.endNs);
    const placement = { group, lane };
    if (slice.kind === "server" || slice.kind === "client") this.requestPlace.set(slice.start.index, placement);
    return placement;
  }
}

/** A lane's track name: "main" (calls, lane 0), "main calls 2", "main requests", "worker 1 requests 2", "main gc". */
export function laneName(thread: string, placement: Placement): string {
  if (placement.group === "calls") return placement.lane === 0 ? thread : `${thread} calls ${placement.lane + 1}`;
  return `${thread} ${placement.group}${placement.lane === 0 ? "" : ` ${placement.lane + 1}`}`;
}
