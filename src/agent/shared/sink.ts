/**
 * The one interface both runtimes write through: the Node-API addon (scope.node)
 * and the bun:ffi binding of libscope.so expose the same two calls. The native side
 * stamps the monotonic timestamp, pid and tid; payload fields are numbers (exact up
 * to 2^53; negative values are written as two's-complement u64).
 *
 * The Recorder reads a sink's per-event functions (commitEvent, commit, commitString, string)
 * once, when it is made, and calls them without the sink as receiver: scope.node's functions
 * read none, and its exports object is in V8's dictionary mode once it holds the full table
 * (after fullApi(), or require()d), where a property read in optimized code is a generic
 * LoadIC (~76 instructions) each time. A sink written in
 * JavaScript makes them closures (attach/agent.ts GatedSink), not methods that read `this`.
 */
export interface Sink {
  record(kind: number, flags: number, a: number, b: number, c: number, d: number, e: number): boolean;
  /** Writes the string-table records for `id`, unique within this (pid, tid) producer. */
  string(id: number, text: string): boolean;
  /**
   * Optional, one native call for the common pair: writes the string-table records for `id`
   * (all or nothing), then the event with `id` as its field e. Returns how many of the two
   * were written (0, 1 or 2), in that order of priority: exactly `string` then `record`.
   */
  recordString?(kind: number, flags: number, a: number, b: number, c: number, d: number, id: number, text: string): number;
  /**
   * Optional (scope.node): the thread's scratch, read by `commit` and `commitString`: eight
   * f64 fields (kind, flags, a, b, c, d, e or string id, string length) then from byte 64 a
   * string's UTF-8. One per thread (the same buffer every call). A hot event is written as
   * plain stores and a native call with no arguments to convert, and a preview's UTF-8 goes
   * straight from the walk into it (no string built, flattened and converted).
   */
  scratch?(): ArrayBuffer | null | undefined;
  /** record() of the scratch's fields 0..6: false when not written (undefined or true when written). */
  commit?(): boolean | undefined;
  /**
   * Optional (scope.node where its per-event functions are V8 Fast API ones): record() of its
   * arguments, passed in registers (no scratch stores). 1 when written, 0 when not; 2 when it
   * took nothing (an argument not a number): the caller then writes the event another way.
   */
  commitEvent?(kind: number, flags: number, a: number, b: number, c: number, d: number, e: number): number;
  /**
   * recordString() of the scratch: string (id field 6, length field 7, bytes from 64), then the
   * event with e = id. Undefined (or 2) when both were written, else how many were (0 or 1).
   */
  commitString?(): number | undefined;
  /** Truthy once recording stopped (`scope stop`, a limit): asked when a write was refused. */
  stopped?(): number | boolean;
  /**
   * Optional (function tracing's ordered sink): writes now what another writer holds for
   * this thread, which the next record would write first. A record that carries a time
   * before its own stamp (ago) reads that time after this, so the wait is not counted in.
   */
  settle?(): void;
  /**
   * Optional: the time a record written now would carry (the producer's clock, ns; 0 when
   * detached). scope.node's full API (lateNative with `full`), libscope's scope_producer_now_ns.
   */
  now?(): number;
  /**
   * Optional: writes `count` records laid out as batch.ts says; a record's non-zero
   * timestamp is kept (a record written at its end that carries when it began). Returns how
   * many were written.
   */
  recordBatch?(records: Uint32Array, count: number): number;
  /**
   * Optional: recordBatch under another name, for a sink whose recordBatch would make function
   * tracing batch its events (src/instrument/runtime.ts): Bun's libscope binding.
   */
  recordStamped?(records: Uint32Array, count: number): number;
}

/**
 * The native function `name` of `native` (scope.node's exports, the bun:ffi binding), or
 * undefined. scope.node's lean init (the Node agent's loader) leaves out the functions the
 * core calls only now and then (stopped, shareFile, loopApi: zig/napi.zig
 * rare_exports_table): the first ask for one makes them, by `fullApi(true)`.
 */
export function lateNative(native: unknown, name: string, full = false): Function | undefined {
  if (native === null || typeof native !== "object") return undefined;
  const holder = native as Record<string, unknown>;
  if (typeof holder[name] !== "function" && typeof holder.fullApi === "function") {
    try {
      // `full`: one of full_exports_table's (now, recordBatch), made with the rare ones by fullApi().
      Reflect.apply(holder.fullApi, native, full ? [] : [true]);
    } catch {
      // An addon that cannot make them: the caller does without.
    }
  }
  const value = holder[name];
  return typeof value === "function" ? value : undefined;
}

/**
 * scope.node's map proofs (zig/napi.zig "Map proofs": mapApi()), or undefined. They read
 * V8's heap words as full pointers, so never where the runtime was built with pointer
 * compression (Electron, some custom Node builds: each field there is 32 bits), which
 * process.config says; Node's own x64 builds have none.
 */
export function mapProofsOf(native: unknown): unknown {
  try {
    const variables = (process.config as { variables?: Record<string, unknown> } | undefined)?.variables;
    if (variables === undefined || variables.v8_enable_pointer_compression !== 0) return undefined;
    const ask = lateNative(native, "mapApi");
    return ask === undefined ? undefined : Reflect.apply(ask, native, []);
  } catch {
    return undefined;
  }
}

/**
 * Event groups that SCOPE_EVENTS (comma-separated) can select; markers are always on. Booleans,
 * which V8's optimized code does not know as such (it keeps field types for objects' maps only,
 * none for true/false): a test run on every request is written `=== true` / `!== true`, one
 * compare, not TurboFan's whole ToBoolean (7 compares, ~70 bytes of code a test: BENCHMARKS.md
 * "Web: the response and layer wrappers' code lines").
 */
export interface Groups {
  process: boolean;
  thread: boolean;
  message: boolean;
  /** HTTP servers and clients (and the request context that links what a request caused). */
  http: boolean;
  /** Database queries. */
  db: boolean;
  /** Event loop: delay and utilisation samples, long tasks (src/agent/shared/loop.ts). */
  loop: boolean;
  /** Memory: heap and RSS samples, GC events (src/agent/shared/loop.ts). */
  memory: boolean;
}

/**
 * The groups recorded when `scope run --events` is not given (the agents without
 * SCOPE_EVENTS, and src/run/options.ts defaultEventGroups): loop and memory are opt-in
 * (--events +loop,+memory; ARCHITECTURE.md "Event loop and memory"). Turning them on by
 * default is adding ",loop,memory" here.
 */
export const DEFAULT_EVENT_GROUPS = "process,thread,message,http,db";

export function parseGroups(spec: string | undefined): Groups {
  const names = new Set((spec || DEFAULT_EVENT_GROUPS).split(",").map((name) => name.trim()));
  return { process: names.has("process"), thread: names.has("thread"), message: names.has("message"), http: names.has("http"), db: names.has("db"), loop: names.has("loop"), memory: names.has("memory") };
}
