/** `scope dump --stats` and the `scope run` summary: counts by kind, processes, threads. */
import type { TraceEvent } from "../core/model";

export interface TraceStats {
  events: number;
  byKind: Record<string, number>;
  processes: number;
  threads: number;
  durationNs: bigint;
  unpairedReceives: number;
  unreceivedSends: number;
}

/** `collectorPid`: the `scope` process's own markers are not a traced process or thread. */
export function computeStats(events: TraceEvent[], collectorPid?: number | ReadonlySet<number>): TraceStats {
  const collector = (pid: number) => (typeof collectorPid === "number" ? pid === collectorPid : collectorPid?.has(pid) === true);
  const byKind: Record<string, number> = {};
  const pids = new Set<number>();
  const threads = new Set<string>();
  let unpairedReceives = 0;
  let unreceivedSends = 0;
  for (const event of events) {
    byKind[event.kind] = (byKind[event.kind] ?? 0) + 1;
    if (!collector(event.pid)) {
      pids.add(event.pid);
      threads.add(`${event.pid}/${event.tid}`);
    }
    if (event.kind === "message_receive" && event.linkedTo.length === 0) unpairedReceives++;
    if (event.kind === "message_send" && event.linkedTo.length === 0) unreceivedSends++;
  }
  const first = events[0]?.timestampNs ?? 0n;
  const last = events.at(-1)?.timestampNs ?? 0n;
  return { events: events.length, byKind, processes: pids.size, threads: threads.size, durationNs: last - first, unpairedReceives, unreceivedSends };
}
