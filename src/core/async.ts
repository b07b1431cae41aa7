/**
 * Async causality in the model (scope run --async; records in zig/layout.zig 96..100):
 * names the async records' fields and attributes every event of a thread to the async
 * resource whose callback was running when it was written.
 *
 * The agents write no context into other events (so --async costs the default path
 * nothing): a thread's records are in its write order after the stable sort by time
 * (one producer, a clock that never goes back), so replaying its async_before/async_after
 * as a stack gives, for each event in between, the running callback.
 */
import { AsyncLevel, AsyncType } from "./layout";
import { LinkStep, type Later } from "./link-step";
import type { FieldValue, RawEvent, TraceEvent } from "./model";

const typeName: Record<number, string> = Object.fromEntries(Object.entries(AsyncType).map(([name, value]) => [value, name]));
const levelName: Record<number, string> = Object.fromEntries(Object.entries(AsyncLevel).map(([name, value]) => [value, name]));

function num(value: bigint | number): number {
  return typeof value === "bigint" ? Number(BigInt.asUintN(64, value)) : value;
}

type Str = (field: bigint | number) => string | null;

export const asyncFielders: Record<string, (r: RawEvent, str: Str) => Record<string, FieldValue>> = {
  // flags bit 0: the type is a str id (a type outside AsyncType, e.g. a program's AsyncResource).
  async_init: (r, str) => ({
    asyncId: num(r.a),
    type: (r.flags & 1) !== 0 ? str(r.c) : (typeName[num(r.c)] ?? `type_${num(r.c)}`),
    trigger: num(r.b),
    createdIn: num(r.d),
  }),
  async_before: (r) => ({ asyncId: num(r.a) }),
  async_after: (r) => ({ asyncId: num(r.a) }),
  async_resolve: (r) => ({ asyncId: num(r.a), resolvedIn: num(r.b) }),
  async_tracking: (r, str) => ({
    level: levelName[num(r.a)] ?? String(num(r.a)),
    recorded: levelName[num(r.b)] ?? String(num(r.b)),
    lacks: str(r.c),
  }),
};

/** The thread's top level: Node's executionAsyncId() outside any callback. */
export const TOP_LEVEL_ASYNC_ID = 1;

/** Kinds whose event is never "the rest of the callback that ended last" (they run at the thread's end). */
const endOfThread = new Set(["process_exit", "thread_exit", "trace_stop"]);

/**
 * Per thread, replays async_before/async_after as a stack. Sets:
 * - on async_init: `type` is named; on async_before: `initIndex` (its resource's init, when
 *   in the trace), `type`, and once it ended `afterIndex` and `durationNs`; on
 *   async_after: `beforeIndex`;
 * - on every other event written while a callback ran (async_init and async_resolve
 *   included): `async` (the running resource's id) and `asyncIndex` (its async_before);
 * - on an event written outside any callback after one ended (a microtask or nextTick of
 *   that callback's turn, when promises are not recorded): `asyncAfter`, that callback's
 *   async_before.
 * Nothing is added to the events of a thread without async records.
 */
export class AsyncLinks {
  private readonly stacks = new Map<string, { id: number; before: TraceEvent }[]>();
  private readonly lastEnded = new Map<string, number>();
  /** Each resource's init: its index and type. */
  private readonly inits = new Map<string, { index: number; type: FieldValue }>();

  /** `threads`: those with any async record (the others' events are left as they are). */
  constructor(
    private readonly threads: ReadonlySet<string>,
    private readonly later: Later,
  ) {}

  /** The lowest index a later event may still change here (a callback not ended: its async_before), Infinity: none (model.ts RequestLinks.openFrom). */
  openFrom(): number {
    let lowest = Number.POSITIVE_INFINITY;
    for (const stack of this.stacks.values()) if (stack.length !== 0 && stack[0]!.before.index < lowest) lowest = stack[0]!.before.index;
    return lowest;
  }

  step(event: TraceEvent): void {
    const thread = `${event.pid}/${event.tid}`;
    if (!this.threads.has(thread)) return;
    let stack = this.stacks.get(thread);
    if (!stack) this.stacks.set(thread, (stack = []));
    const f = event.fields;
    if (event.kind === "async_before") {
      const init = this.inits.get(`${thread}/${f.asyncId}`);
      if (init) {
        f.initIndex = init.index;
        f.type = init.type;
      }
      f.durationNs = null;
      stack.push({ id: Number(f.asyncId), before: event });
      return;
    }
    if (event.kind === "async_after") {
      // Nested properly by the runtime; a missing after (a callback that threw) is skipped over.
      let at = stack.length - 1;
      while (at >= 0 && stack[at]!.id !== f.asyncId) at--;
      if (at < 0) return;
      const before = stack[at]!.before;
      stack.length = at;
      f.beforeIndex = before.index;
      this.later.set(before, LinkStep.async, { afterIndex: event.index, durationNs: Number(event.timestampNs - before.timestampNs) });
      this.lastEnded.set(thread, before.index);
      return;
    }
    if (event.kind === "async_init") this.inits.set(`${thread}/${f.asyncId}`, { index: event.index, type: f.type ?? null });
    const top = stack[stack.length - 1];
    if (top) {
      f.async = top.id;
      f.asyncIndex = top.before.index;
    } else if (!endOfThread.has(event.kind)) {
      const ended = this.lastEnded.get(thread);
      if (ended !== undefined) f.asyncAfter = ended;
    }
  }
}
