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

/** Indexes the chain walk needs, built once per trace. */
class Causes {
  private readonly inits = new Map<string, TraceEvent>();
  private readonly resolves = new Map<string, TraceEvent>();
  private readonly firstRuns = new Map<string, TraceEvent>();
  private readonly starts = new Map<string, TraceEvent>();
  private readonly threadSpawns = new Map<string, TraceEvent>();
  private readonly processSpawns = new Map<number, TraceEvent>();
  private readonly pidlessSpawns = new Map<number, TraceEvent[]>();
  /** Threads whose runtime has no async hooks (Bun): only wrapped timers have before/after. */
  private readonly wrapperOnly = new Set<string>();

  constructor(private readonly events: TraceEvent[]) {
    for (const event of events) {
      const thread = `${event.pid}/${event.tid}`;
      const f = event.fields;
      if (event.kind === "async_tracking" && f.recorded === "timers") this.wrapperOnly.add(thread);
      if (event.kind === "async_init") this.inits.set(`${thread}/${f.asyncId}`, event);
      else if (event.kind === "async_before" && !this.firstRuns.has(`${thread}/${f.asyncId}`)) this.firstRuns.set(`${thread}/${f.asyncId}`, event);
      else if (event.kind === "async_resolve" && !this.resolves.has(`${thread}/${f.asyncId}`)) this.resolves.set(`${thread}/${f.asyncId}`, event);
      else if (event.kind === "trace_start" && !this.starts.has(thread)) this.starts.set(thread, event);
      else if (event.kind === "thread_spawn") this.threadSpawns.set(`${event.pid}/${f.threadId}`, event);
      else if (event.kind === "process_spawn" && typeof f.childPid === "number") {
        if (f.childPid !== 0) this.processSpawns.set(f.childPid, event);
        else {
          // A synchronous spawn whose pid the runtime does not hand back (execFileSync, execSync).
          let list = this.pidlessSpawns.get(event.pid);
          if (!list) this.pidlessSpawns.set(event.pid, (list = []));
          list.push(event);
        }
      }
    }
  }

  private at(index: unknown): TraceEvent | undefined {
    return typeof index === "number" ? this.events[index] : undefined;
  }

  /** The one cause of `event` this trace shows, or undefined at the program's start (or where the trace says no more). */
  causeOf(event: TraceEvent): WhyStep | undefined {
    const f = event.fields;
    const thread = `${event.pid}/${event.tid}`;
    if (event.kind === "message_receive" && event.linkedTo.length > 0) {
      const send = this.events[event.linkedTo[0]!];
      if (send) return { relation: "sent by", event: send };
    }
    // A server request ← the client request that reached it (src/core/model.ts linkPeers: same trace, or merged ones).
    if (event.kind === "http_server_request") {
      const client = this.at(f.peerIndex);
      if (client) return { relation: "requested by", event: client };
    }
    if (event.kind === "trace_start") {
      const spawn = event.tid !== 0 ? this.threadSpawns.get(`${event.pid}/${event.tid}`) : this.processSpawn(event);
      return spawn ? { relation: "started by", event: spawn } : undefined;
    }
    if (event.kind === "async_before") {
      const init = this.at(f.initIndex);
      if (!init) return this.threadStart(event, thread);
      // A promise reaction (then/await) runs once the promise it waits on (its trigger)
      // is resolved and the reaction is attached: whichever came last caused the run.
      const trigger = init.fields.trigger;
      if (init.fields.type === "PROMISE" && typeof trigger === "number" && trigger !== init.fields.createdIn) {
        // No resolve record: the promise was resolved in its own reaction (the agent skips those), so that run.
        const resolve = this.resolves.get(`${thread}/${trigger}`) ?? this.firstRuns.get(`${thread}/${trigger}`);
        if (resolve && resolve.index < event.index && resolve.index > init.index) return { relation: "after resolve", event: resolve };
      }
      return { relation: "scheduled by", event: init };
    }
    const handled = this.handledReceive(event);
    if (handled) return { relation: "handling", event: handled };
    const request = this.at(f.requestIndex);
    if (request && request !== event) return { relation: "in request", event: request };
    const running = this.at(f.asyncIndex);
    if (running) return { relation: "ran in", event: running };
    const delivered = this.wrapperOnly.has(thread) ? this.turnReceive(event) : undefined;
    if (delivered) return { relation: "after", event: delivered };
    const after = this.at(f.asyncAfter);
    if (after) return { relation: "after", event: after };
    return this.threadStart(event, thread);
  }

  /**
   * Bun: a message's listeners run outside any recorded callback (no hooks for ports), so
   * an event outside callbacks whose thread's latest record of a turn is a receive (no
   * wrapped callback ran or ended since) came after that receive, in its turn.
   */
  private turnReceive(event: TraceEvent): TraceEvent | undefined {
    for (let index = event.index - 1; index >= 0; index--) {
      const other = this.events[index]!;
      if (other.pid !== event.pid || other.tid !== event.tid) continue;
      if (other.kind === "message_receive") return other;
      if (other.kind === "async_before" || other.kind === "async_after") return undefined;
    }
    return undefined;
  }

  /**
   * The process_spawn that started a process: by its pid; else, for a synchronous spawn
   * recorded without one, the parent's first such spawn recorded after this process started
   * (a synchronous spawn is recorded when it returns).
   */
  private processSpawn(start: TraceEvent): TraceEvent | undefined {
    const exact = this.processSpawns.get(start.pid);
    if (exact) return exact;
    const parent = start.fields.parentPid;
    if (typeof parent !== "number") return undefined;
    return this.pidlessSpawns.get(parent)?.find((spawn) => spawn.index > start.index);
  }

  private threadStart(event: TraceEvent, thread: string): WhyStep | undefined {
    const start = this.starts.get(thread);
    return start && start !== event ? { relation: "in thread", event: start } : undefined;
  }

  /**
   * The receive the code that wrote `event` was handling: a function call linked as a
   * message's handler, or a receive written earlier in the same callback run (--async).
   */
  private handledReceive(event: TraceEvent): TraceEvent | undefined {
    const f = event.fields;
    if (event.kind === "message_receive") return undefined;
    const handler = this.at(f.handlesMessage);
    if (handler) return handler;
    if (typeof f.asyncIndex !== "number") return undefined;
    for (let index = event.index - 1; index > f.asyncIndex; index--) {
      const other = this.events[index]!;
      if (other.pid !== event.pid || other.tid !== event.tid) continue;
      if (other.kind === "message_receive" && other.fields.asyncIndex === f.asyncIndex) return other;
    }
    return undefined;
  }
}

/** The chain of causes of events[index], the event itself first; bounded (a damaged trace cannot loop it). */
export function whyChain(events: TraceEvent[], index: number): WhyStep[] {
  const first = events[index];
  if (!first) return [];
  const causes = new Causes(events);
  const chain: WhyStep[] = [{ relation: "event", event: first }];
  const seen = new Set<number>([index]);
  let current = first;
  while (chain.length < 10_000) {
    const step = causes.causeOf(current);
    if (!step || seen.has(step.event.index)) break;
    seen.add(step.event.index);
    chain.push(step);
    current = step.event;
  }
  return chain;
}
