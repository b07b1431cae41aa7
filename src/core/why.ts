/**
 * `scope dump --why <event#>`: the chain of causes from one event back to the program's
 * start, over the links the model made (src/core/model.ts, src/core/async.ts):
 *
 * - a receive was caused by its send (in the sender's thread or process);
 * - an event inside a callback that handled a message (a receive written earlier in the
 *   same callback run, or a function call linked as its handler) was caused by that message;
 * - an event of a request (`requestIndex`) by the request; a server request by the client
 *   request that reached it (`peerIndex`: in one trace, or traces merged by `scope merge`);
 * - an event written while a callback ran (`asyncIndex`, with --async) by that run; a
 *   callback's run by its resource's creation, or for a promise reaction by the resolve
 *   of the promise it waited on when that came after the reaction was attached; an event
 *   outside any callback after one ended (`asyncAfter`) by that callback's turn;
 * - anything else by its thread's start, a worker's start by its thread_spawn, a
 *   process's start by its parent's process_spawn.
 * Without --async the chain has the message, request and spawn links only.
 */
import type { TraceEvent } from "./model";

export type WhyRelation =
  /** The event asked about. */
  | "event"
  /** A receive ← its send. */
  | "sent by"
  /** An event ← the receive its callback (or its function) was handling. */
  | "handling"
  /** An event ← the request it belongs to. */
  | "in request"
  /** A server request ← the client request that reached it (linked by connection, or traceparent). */
  | "requested by"
  /** An event ← the run of the callback it was written in (async_before). */
  | "ran in"
  /** An event outside callbacks ← the callback whose turn (microtasks, ticks) it ran in; under Bun also the receive whose listeners ran in that turn. */
  | "after"
  /** A callback's run ← its resource's creation (async_init). */
  | "scheduled by"
  /** A promise reaction's run ← the resolve of the promise it waited on (or that promise's own reaction, which resolved it). */
  | "after resolve"
  /** An event at a thread's top level, or whose callback the trace does not show ← the thread's start (trace_start). */
  | "in thread"
  /** A worker's start ← its thread_spawn; a process's start ← its parent's process_spawn. */
  | "started by";

export interface WhyStep {
  relation: WhyRelation;
  event: TraceEvent;
}

/** An event's cause as Causes finds it: the relation and the cause's index. */
interface Cause {
  relation: Exclude<WhyRelation, "event">;
  index: number;
}

/**
 * The causes of a trace's events, in two walks over them in index order, neither holding
 * events (scope dump --why of a streamed trace: "scope export --perfetto, dump --chrome and
 * --why in bounded memory", BENCHMARKS.md). The constructor's walk keeps the indexes the causes point to (threads'
 * starts, spawns, first resolves and runs, promise reactions' triggers); then causeOf is
 * given every event in index order, and keeps what the earlier ones say of the later (each
 * thread's last receive per callback run and last turn).
 */
export class Causes {
  private readonly resolves = new Map<string, number>();
  private readonly firstRuns = new Map<string, number>();
  private readonly starts = new Map<string, number>();
  private readonly threadSpawns = new Map<string, number>();
  private readonly processSpawns = new Map<number, number>();
  private readonly pidlessSpawns = new Map<number, number[]>();
  /** Promise reactions' inits (by index): the promise waited on (`trigger`) when it is not the one the reaction was created in. */
  private readonly triggers = new Map<number, number>();
  /** Threads whose runtime has no async hooks (Bun): only wrapped timers have before/after. */
  private readonly wrapperOnly = new Set<string>();
  /** Per thread: the last receive written in each callback run (by the run's index). */
  private readonly runReceives = new Map<string, Map<number, number>>();
  /** Per thread: its last receive when no wrapped callback ran or ended since (-1: one did). */
  private readonly turns = new Map<string, number>();

  /** `events`: the first walk; without it, give each event to `add` (TraceStream's link pass: every field it reads is the event's own). */
  constructor(events: Iterable<TraceEvent> | undefined, private readonly count: number) {
    if (events) for (const event of events) this.add(event);
  }

  add = (event: TraceEvent): void => {
    const thread = `${event.pid}/${event.tid}`;
    const f = event.fields;
    if (event.kind === "async_tracking" && f.recorded === "timers") this.wrapperOnly.add(thread);
    if (f.type === "PROMISE" && typeof f.trigger === "number" && f.trigger !== f.createdIn) this.triggers.set(event.index, f.trigger);
    if (event.kind === "async_before" && !this.firstRuns.has(`${thread}/${f.asyncId}`)) this.firstRuns.set(`${thread}/${f.asyncId}`, event.index);
    else if (event.kind === "async_resolve" && !this.resolves.has(`${thread}/${f.asyncId}`)) this.resolves.set(`${thread}/${f.asyncId}`, event.index);
    else if (event.kind === "trace_start" && !this.starts.has(thread)) this.starts.set(thread, event.index);
    else if (event.kind === "thread_spawn") this.threadSpawns.set(`${event.pid}/${f.threadId}`, event.index);
    else if (event.kind === "process_spawn" && typeof f.childPid === "number") {
      if (f.childPid !== 0) this.processSpawns.set(f.childPid, event.index);
      else {
        // A synchronous spawn whose pid the runtime does not hand back (execFileSync, execSync).
        let list = this.pidlessSpawns.get(event.pid);
        if (!list) this.pidlessSpawns.set(event.pid, (list = []));
        list.push(event.index);
      }
    }
  };

  /** An event's index, if `index` is one. */
  private at(index: unknown): number | undefined {
    return typeof index === "number" && Number.isInteger(index) && index >= 0 && index < this.count ? index : undefined;
  }

  /**
   * The one cause of `event` this trace shows, or undefined at the program's start (or where
   * the trace says no more). Every event must be given, in index order.
   */
  causeOf(event: TraceEvent): Cause | undefined {
    const cause = this.find(event);
    const thread = `${event.pid}/${event.tid}`;
    if (event.kind === "message_receive") {
      this.turns.set(thread, event.index);
      if (typeof event.fields.asyncIndex === "number") {
        let runs = this.runReceives.get(thread);
        if (!runs) this.runReceives.set(thread, (runs = new Map()));
        runs.set(event.fields.asyncIndex, event.index);
      }
    } else if (event.kind === "async_before" || event.kind === "async_after") this.turns.set(thread, -1);
    return cause;
  }

  private find(event: TraceEvent): Cause | undefined {
    const f = event.fields;
    const thread = `${event.pid}/${event.tid}`;
    if (event.kind === "message_receive" && event.linkedTo.length > 0) {
      const send = this.at(event.linkedTo[0]);
      if (send !== undefined) return { relation: "sent by", index: send };
    }
    // A server request ← the client request that reached it (src/core/model.ts linkPeers: same trace, or merged ones).
    if (event.kind === "http_server_request") {
      const client = this.at(f.peerIndex);
      if (client !== undefined) return { relation: "requested by", index: client };
    }
    if (event.kind === "trace_start") {
      const spawn = event.tid !== 0 ? this.threadSpawns.get(`${event.pid}/${event.tid}`) : this.processSpawn(event);
      return spawn !== undefined ? { relation: "started by", index: spawn } : undefined;
    }
    if (event.kind === "async_before") {
      const init = this.at(f.initIndex);
      if (init === undefined) return this.threadStart(event, thread);
      // A promise reaction (then/await) runs once the promise it waits on (its trigger)
      // is resolved and the reaction is attached: whichever came last caused the run.
      const trigger = this.triggers.get(init);
      if (trigger !== undefined) {
        // No resolve record: the promise was resolved in its own reaction (the agent skips those), so that run.
        const resolve = this.resolves.get(`${thread}/${trigger}`) ?? this.firstRuns.get(`${thread}/${trigger}`);
        if (resolve !== undefined && resolve < event.index && resolve > init) return { relation: "after resolve", index: resolve };
      }
      return { relation: "scheduled by", index: init };
    }
    const handled = this.handledReceive(event, thread);
    if (handled !== undefined) return { relation: "handling", index: handled };
    const request = this.at(f.requestIndex);
    if (request !== undefined && request !== event.index) return { relation: "in request", index: request };
    const running = this.at(f.asyncIndex);
    if (running !== undefined) return { relation: "ran in", index: running };
    // Bun: a message's listeners run outside any recorded callback (no hooks for ports), so
    // an event outside callbacks whose thread's latest record of a turn is a receive (no
    // wrapped callback ran or ended since) came after that receive, in its turn.
    const delivered = this.wrapperOnly.has(thread) ? this.turns.get(thread) : undefined;
    if (delivered !== undefined && delivered >= 0) return { relation: "after", index: delivered };
    const after = this.at(f.asyncAfter);
    if (after !== undefined) return { relation: "after", index: after };
    return this.threadStart(event, thread);
  }

  /**
   * The process_spawn that started a process: by its pid; else, for a synchronous spawn
   * recorded without one, the parent's first such spawn recorded after this process started
   * (a synchronous spawn is recorded when it returns).
   */
  private processSpawn(start: TraceEvent): number | undefined {
    const exact = this.processSpawns.get(start.pid);
    if (exact !== undefined) return exact;
    const parent = start.fields.parentPid;
    if (typeof parent !== "number") return undefined;
    return this.pidlessSpawns.get(parent)?.find((spawn) => spawn > start.index);
  }

  private threadStart(event: TraceEvent, thread: string): Cause | undefined {
    const start = this.starts.get(thread);
    return start !== undefined && start !== event.index ? { relation: "in thread", index: start } : undefined;
  }

  /**
   * The receive the code that wrote `event` was handling: a function call linked as a
   * message's handler, or a receive written earlier in the same callback run (--async).
   */
  private handledReceive(event: TraceEvent, thread: string): number | undefined {
    const f = event.fields;
    if (event.kind === "message_receive") return undefined;
    const handler = this.at(f.handlesMessage);
    if (handler !== undefined) return handler;
    if (typeof f.asyncIndex !== "number") return undefined;
    const receive = this.runReceives.get(thread)?.get(f.asyncIndex);
    return receive !== undefined && receive > f.asyncIndex ? receive : undefined;
  }
}

/**
 * The chain of causes of event `index`, the event itself first; bounded (a damaged trace
 * cannot loop it). `events`: the trace's events, or walks over them in index order (each call
 * a fresh one: three walks, two with `causes` gathered already) and their count. From a walk,
 * only the chain's events are kept.
 */
export function whyChain(events: TraceEvent[] | { walk(): Iterable<TraceEvent>; count: number; causes?: Causes }, index: number): WhyStep[] {
  const { walk, count, causes: gathered } = Array.isArray(events) ? { walk: () => events, count: events.length, causes: undefined } : events;
  if (!Number.isInteger(index) || index < 0 || index >= count) return [];
  const causes = gathered ?? new Causes(walk(), count);
  const causeOf = new Int32Array(count).fill(-1);
  const relationOf = new Uint8Array(count);
  for (const event of walk()) {
    const cause = causes.causeOf(event);
    if (cause === undefined) continue;
    causeOf[event.index] = cause.index;
    relationOf[event.index] = relations.indexOf(cause.relation);
  }
  const steps: { relation: WhyRelation; index: number }[] = [{ relation: "event", index }];
  const seen = new Set<number>([index]);
  for (let at = index; steps.length < 10_000; ) {
    const cause = causeOf[at]!;
    if (cause < 0 || seen.has(cause)) break;
    seen.add(cause);
    steps.push({ relation: relations[relationOf[at]!]!, index: cause });
    at = cause;
  }
  const found = new Map<number, TraceEvent>();
  if (Array.isArray(events)) for (const step of steps) found.set(step.index, events[step.index]!);
  else for (const event of walk()) if (seen.has(event.index)) found.set(event.index, event);
  return steps.map((step) => ({ relation: step.relation, event: found.get(step.index)! }));
}

const relations: Exclude<WhyRelation, "event">[] = ["sent by", "handling", "in request", "requested by", "ran in", "after", "scheduled by", "after resolve", "in thread", "started by"];
