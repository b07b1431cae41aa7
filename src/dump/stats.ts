/** `scope dump --stats` and the `scope run` summary: counts by kind, processes, threads. */
import { laterSend, messageKey, UNPAIRED_CHANNELS, type TraceEvent } from "../core/model";


export interface TraceStats {
  events: number;
  byKind: Record<string, number>;
  processes: number;
  threads: number;
  durationNs: bigint;
  unpairedReceives: number;
  unreceivedSends: number;
}

/**
 * The figures of TraceStats over events given one at a time, in any order: what computeStats
 * counts, and what scope dump --stats counts while it reads a trace without holding its events
 * (the message pairing, which needs the whole trace, is added by the caller).
 */
export class StatsCounter {
  private count = 0;
  private readonly byKind = new Map<string, { count: number; firstNs: bigint; firstOrder: number }>();
  /** Every pid's threads (the collector's left out by stats()). */
  private readonly threads = new Map<number, Set<number>>();
  private first: bigint | undefined;
  private last: bigint | undefined;

  /** `order`: the event's place in the order it came in (ties in time: the earlier first, as the stable sort keeps them). */
  add(event: TraceEvent, order: number): void {
    this.count++;
    const kind = this.byKind.get(event.kind);
    if (!kind) this.byKind.set(event.kind, { count: 1, firstNs: event.timestampNs, firstOrder: order });
    else {
      kind.count++;
      if (event.timestampNs < kind.firstNs || (event.timestampNs === kind.firstNs && order < kind.firstOrder)) {
        kind.firstNs = event.timestampNs;
        kind.firstOrder = order;
      }
    }
    let tids = this.threads.get(event.pid);
    if (!tids) this.threads.set(event.pid, (tids = new Set()));
    tids.add(event.tid);
    // The first and last by time (events sorted by time: the first and the last one).
    if (this.first === undefined || event.timestampNs < this.first) this.first = event.timestampNs;
    if (this.last === undefined || event.timestampNs > this.last) this.last = event.timestampNs;
  }

  /** `collectorPid`: the `scope` process's own markers are not a traced process or thread. */
  stats(unpairedReceives: number, unreceivedSends: number, collectorPid?: number | ReadonlySet<number>): TraceStats {
    const collector = (pid: number) => (typeof collectorPid === "number" ? pid === collectorPid : collectorPid?.has(pid) === true);
    let processes = 0;
    let threads = 0;
    for (const [pid, tids] of this.threads) {
      if (collector(pid)) continue;
      processes++;
      threads += tids.size;
    }
    // Kinds in the order of their first event by time (the order equal counts are printed in).
    const kinds = [...this.byKind].sort(([, x], [, y]) => (x.firstNs < y.firstNs ? -1 : x.firstNs > y.firstNs ? 1 : x.firstOrder - y.firstOrder));
    const byKind: Record<string, number> = {};
    for (const [name, { count }] of kinds) byKind[name] = count;
    return { events: this.count, byKind, processes, threads, durationNs: (this.last ?? 0n) - (this.first ?? 0n), unpairedReceives, unreceivedSends };
  }
}

/** `collectorPid`: the `scope` process's own markers are not a traced process or thread. */
export function computeStats(events: TraceEvent[], collectorPid?: number | ReadonlySet<number>): TraceStats {
  const counter = new StatsCounter();
  let unpairedReceives = 0;
  let unreceivedSends = 0;
  for (const [order, event] of events.entries()) {
    counter.add(event, order);
    if (UNPAIRED_CHANNELS.has(event.fields.channel)) continue;
    if (event.kind === "message_receive" && event.linkedTo.length === 0) unpairedReceives++;
    // A send the runtime refused was not sent; nor is its marker a send (model.ts MessageLinks).
    if (event.kind === "message_send" && event.linkedTo.length === 0 && event.fields.failed !== true && event.fields.refused !== true) unreceivedSends++;
  }
  return counter.stats(unpairedReceives, unreceivedSends, collectorPid);
}

/**
 * interpret's message pairing counted over events given one at a time in the trace's record
 * order (not sorted by time), holding per message key a few numbers, not the events: a receive
 * is paired when any send has its key; a send when it is the last by time (ties: in record
 * order, as the stable sort keeps them) of its key's sends and a receive has the key.
 * `counted`: the event is one the stats count (it passed the filter).
 */
export class MessagePairs {
  private readonly keys = new Map<string, { lastSendNs: bigint; lastSendOrder: number; lastSendCounted: boolean; received: boolean; countedReceives: number }>();
  private countedSends = 0;
  /** Refusal markers counted: each says one counted send before it was not sent. */
  private refusedSends = 0;

  /** `order`: the event's place in record order. */
  add(event: TraceEvent, counted: boolean, order: number): void {
    const send = event.kind === "message_send";
    if (!send && event.kind !== "message_receive") return;
    if (UNPAIRED_CHANNELS.has(event.fields.channel)) return;
    const key = messageKey(event);
    let state = this.keys.get(key);
    if (!state) this.keys.set(key, (state = { lastSendNs: 0n, lastSendOrder: -1, lastSendCounted: false, received: false, countedReceives: 0 }));
    if (send && event.fields.failed === true) {
      if (counted) this.refusedSends++;
    } else if (send) {
      if (laterSend(event.timestampNs, order, state.lastSendNs, state.lastSendOrder)) {
        state.lastSendNs = event.timestampNs;
        state.lastSendOrder = order;
        state.lastSendCounted = counted;
      }
      if (counted) this.countedSends++;
    } else {
      state.received = true;
      if (counted) state.countedReceives++;
    }
  }

  /** The counted receives without a send and counted sends not received. */
  unpaired(): { unpairedReceives: number; unreceivedSends: number } {
    let unpairedReceives = 0;
    let pairedSends = 0;
    for (const state of this.keys.values()) {
      if (state.lastSendOrder < 0) unpairedReceives += state.countedReceives;
      else if (state.received && state.lastSendCounted) pairedSends++;
    }
    return { unpairedReceives, unreceivedSends: Math.max(0, this.countedSends - pairedSends - this.refusedSends) };
  }
}
