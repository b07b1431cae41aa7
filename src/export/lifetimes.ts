/**
 * What lives from one record to another and is neither a request nor a call: a child
 * process (its spawner's process_spawn → the spawner's child_exit for it), a worker thread
 * (thread_spawn → its parent's thread_exited) and a connection at one end (channel_open →
 * channel_close: a WebSocket's). The OTLP export makes a span of each (otlp.ts
 * `lifetimeSpan`); this pairs a start with its end by a key both records carry.
 *
 * - A child's pid can be reused by a later child: a start's end is the first end of its key
 *   at or after the start (a spawn's own child_exit comes before any later spawn of that pid).
 * - Only the spawner's records end a child or a worker: the span is the spawner's view (the
 *   child's own process_exit is in its own resource's spans), the same in a whole trace, the
 *   streamed walk and `scope run --otlp`, which sees a look at a time.
 */
import type { TraceEvent } from "../core/model";

export type LifetimeKind = "process" | "worker" | "connection";

const startKinds: Partial<Record<string, LifetimeKind>> = { process_spawn: "process", thread_spawn: "worker", channel_open: "connection" };
const endKinds: Partial<Record<string, LifetimeKind>> = { child_exit: "process", thread_exited: "worker", channel_close: "connection" };

/** What a start and its end both name: the child's pid, the worker's thread id, the connection's channel (at this end). */
function keyOf(kind: LifetimeKind | undefined, event: TraceEvent): string | undefined {
  const f = event.fields;
  if (kind === "process") return `process/${event.pid}/${f.childPid}`;
  if (kind === "worker") return `worker/${event.pid}/${f.threadId}`;
  return kind === "connection" ? `connection/${event.pid}/${f.channel}/${f.channelOwnerPid}/${f.channelSubId}` : undefined;
}

/** The key of a lifetime's start record (process_spawn, thread_spawn, channel_open), else undefined. */
export const lifetimeStartKey = (event: TraceEvent): string | undefined => keyOf(startKinds[event.kind], event);

/** The key of a lifetime's end record (child_exit, thread_exited, channel_close), else undefined. */
export const lifetimeEndKey = (event: TraceEvent): string | undefined => keyOf(endKinds[event.kind], event);

export function lifetimeKind(start: TraceEvent): LifetimeKind {
  return startKinds[start.kind]!;
}

/** The ends among some events (a whole trace's, a stream's look), for their starts. */
export class LifetimeEnds {
  private readonly ends = new Map<string, TraceEvent[]>();

  constructor(events: Iterable<TraceEvent>) {
    for (const event of events) {
      const key = lifetimeEndKey(event);
      if (key === undefined) continue;
      const list = this.ends.get(key);
      if (list) list.push(event);
      else this.ends.set(key, [event]);
    }
  }

  /** The end of `start` (its key's first end at or after it; events come in time order), if among the events. */
  of(start: TraceEvent): TraceEvent | undefined {
    const list = this.ends.get(lifetimeStartKey(start)!);
    return list?.find((end) => end.timestampNs >= start.timestampNs);
  }
}
