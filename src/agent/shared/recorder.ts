/**
 * Records events through a Sink: allocates string ids, counts what could not be
 * written, and catches every error of the agent's own so it never reaches the program.
 */
import { Kind } from "./kinds";
import type * as Preview from "./preview";
import type { TypeChecks } from "./preview";
import { SCRATCH_PREVIEW_BYTES } from "./preview-limits";
import { redactPattern, redactText, redactUserinfo } from "./redact";
import { lateNative, mapProofsOf, type Groups, type Sink } from "./sink";

const MAX_INTERNED = 4096;
const MAX_STRING_CHARS = 1024;
const MAX_REPORTED_ERRORS = 16;

/**
 * The preview walk (preview.ts) as a Recorder uses it. The Node agent hands a function that
 * loads it from its own chunk at the first preview (src/agent/node/walk-load.ts: a worker
 * that never sends never compiles it); Bun's agent and `scope attach` hand the module's functions.
 */
export type PreviewWalk = Pick<typeof Preview, "preview" | "previewSize" | "previewWrite" | "previewCommit">;

/** Node's and Bun's options that run code given on the command line instead of a script. */
const EVAL_OPTION = /^(-e|-p|-pe|--eval|--print)(=|$)/;

/**
 * The command line a trace_start names: process.argv, and in a main thread that runs code given
 * on its command line (`node -e <code>`, `bun -p <code>`) the runtime's own options too, where
 * the code is: argv alone says only "node" there. A worker's argv is its process's.
 */
function commandLine(main: boolean, ownOption: string | undefined): string {
  const argv = process.argv;
  if (!main || !process.execArgv.some((option) => EVAL_OPTION.test(option))) return argv.join(" ");
  const options = process.execArgv.filter((option) => option !== ownOption);
  return [argv[0], ...options, ...argv.slice(1)].join(" ");
}

export class Recorder {
  errors = 0;
  unrecorded = 0;
  /**
   * Recording stopped (`scope stop`, a limit): learnt from the first refused write; every
   * event group is then off, so the hooks, which check their group, do nothing more.
   */
  stopped = false;
  private nextId = 1;
  private readonly interned = new Map<string, number>();
  /**
   * The sink's recordString bound to it, asked at the first eventWithString (undefined until
   * then, null: the sink has none): scope.node's lean init makes it only when asked
   * (zig/napi.zig rare_exports_table), and a thread that never records a preview that way
   * (every Node thread with the scratch and no redaction pattern) never binds it.
   */
  private pair: Sink["recordString"] | null = undefined;
  /** The sink's scratch (scope.node): fields of the next commit, as f64. */
  private readonly fields: Float64Array | undefined;
  /** The scratch from byte 64: a preview's UTF-8 for commitString. */
  private readonly bytes: Uint8Array<ArrayBuffer> | undefined;
  // The sink's per-event functions, read once here and called without the sink as receiver
  // (sink.ts Sink): scope.node's exports object is in V8's dictionary mode once it holds the
  // full table (after fullApi(): function tracing, `now`; require()d: `scope attach`), where
  // `this.sink.commitEvent` in optimized code was a generic LoadIC at every event (~76
  // instructions, BENCHMARKS.md "Full level: one claim an event"); a field of this object is
  // an inline load, and the call's feedback still names the Fast API function.
  /**
   * The sink's commitEvent (scope.node's Fast API function: an event's fields are its
   * arguments), or undefined: `event` writes through it, and so do the hooks that commit an
   * event themselves (a message's receive, ports.ts; a web layer's step, frameworks.ts),
   * handing an answer other than 1 to `notCommitted`, as `event` does. Maglev (Node 24's
   * middle tier, which runs the pool's receives until ~10,000 jobs) does not inline `event`
   * (too large), a call of its own each receive (BENCHMARKS.md "Node 24's receive").
   */
  readonly eventCommit: Sink["commitEvent"];
  /** The sink's commit (set with `fields`): record() of the scratch's fields. */
  private readonly scratchCommit: Sink["commit"];
  /** The sink's commitString (set with `fields`): a preview in the scratch and its event. */
  private readonly scratchCommitString: Sink["commitString"];
  /** The sink's string(): a string's records (`str`). */
  private readonly writeString: Sink["string"];
  /** The walk once there (given, or loaded); null: loading it failed (counted once, not tried again). */
  private previews: PreviewWalk | null | undefined;
  /** The walk, where a send may try its held commit (previewCommit): the scratch there, no redaction pattern (set with `previews`). */
  private heldWalk: PreviewWalk | undefined;

  constructor(
    private readonly sink: Sink,
    readonly groups: Groups,
    private readonly walkSource: PreviewWalk | (() => PreviewWalk),
  ) {
    const commitEvent = sink.commitEvent;
    this.eventCommit = typeof commitEvent === "function" ? commitEvent : undefined;
    this.writeString = sink.string;
    let scratch: ArrayBuffer | null | undefined;
    try {
      if (typeof sink.scratch === "function" && typeof sink.commit === "function" && typeof sink.commitString === "function") scratch = sink.scratch();
    } catch {
      scratch = undefined;
    }
    if (scratch instanceof ArrayBuffer && scratch.byteLength >= 64 + SCRATCH_PREVIEW_BYTES) {
      this.fields = new Float64Array(scratch, 0, 8);
      this.bytes = new Uint8Array(scratch, 64);
      this.scratchCommit = sink.commit;
      this.scratchCommitString = sink.commitString;
    }
    if (typeof walkSource !== "function") this.walkLoaded(walkSource);
  }

  /**
   * scope.node's map proofs (sink.ts mapProofsOf) when the sink is the addon, else undefined:
   * the web frameworks' check of Express's `next` (frameworks.ts plainNext).
   */
  mapProofs(): unknown {
    return mapProofsOf(this.sink);
  }

  /**
   * The start marker of this process or thread; `runtime` as "node v20.20.2". `ownOption`:
   * the agent's own option where the runtime lists it among its options (Bun's `--preload=`).
   */
  traceStart(runtime: string, main: boolean, ownOption?: string): void {
    this.event(
      Kind.trace_start,
      main ? process.ppid : process.pid,
      this.str(commandLine(main, ownOption)),
      this.str(runtime),
      this.str(process.cwd()),
      main ? 1 : 0,
    );
  }

  /**
   * Before reading the time a record's ago field counts back from: what the sink holds for
   * this thread is written now (function events, which the record's commit writes first),
   * so the record's stamp follows that time by the record's own work alone.
   */
  settle(): void {
    try {
      this.sink.settle?.();
    } catch (error) {
      this.fail(error);
    }
  }

  event(kind: number, a = 0, b = 0, c = 0, d = 0, e = 0, flags = 0): void {
    try {
      // A compare with undefined, not a truth test: TurboFan's whole ToBoolean is 7 compares,
      // ~70 bytes of code in `event` and in each copy inlined (BENCHMARKS.md "Web: the
      // response and layer wrappers' code lines").
      const commit = this.eventCommit;
      if (commit !== undefined) {
        // A Fast API call whose arguments are the fields (in registers: no stores before it;
        // zig/napi.zig commitEvent). 1: written.
        const written = commit(kind, flags, a, b, c, d, e);
        if (written !== 1) this.notCommitted(written, kind, a, b, c, d, e, flags);
        return;
      }
      this.byScratch(kind, a, b, c, d, e, flags);
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * Now on the sink's clock (ns), for an event written later that carries this time
   * (`eventAt`); 0 when the sink has no clock (its event is then stamped when written).
   * scope.node's lean init makes `now` at the first ask (sink.ts lateNative, full).
   */
  now(): number {
    try {
      const clock = lateNative(this.sink, "now", true);
      const at = clock === undefined ? 0 : Reflect.apply(clock, this.sink, []);
      return typeof at === "number" && at > 0 ? at : 0;
    } catch (error) {
      this.fail(error);
      return 0;
    }
  }

  /**
   * `event` with the timestamp `timestampNs` (from `now`) instead of the time it is written: a
   * record written when a blocking call returned about the time the call began (a synchronous
   * spawn's process_spawn). Written through the sink's recordStamped or recordBatch, which keep a given
   * timestamp (after what the sink holds for this thread: settle); as `event` where the sink
   * has none or `timestampNs` is 0.
   */
  eventAt(timestampNs: number, kind: number, a = 0, b = 0, c = 0, d = 0, e = 0, flags = 0): void {
    try {
      const sink = this.sink;
      const batch = timestampNs <= 0 ? undefined : typeof sink.recordStamped === "function" ? sink.recordStamped : lateNative(sink, "recordBatch", true);
      if (batch === undefined) {
        this.event(kind, a, b, c, d, e, flags);
        return;
      }
      this.settle();
      const words = new Uint32Array(16);
      // batch.ts's layout: word 1 kind | flags << 16, u64 2 the timestamp, u64 3..7 the fields,
      // each as the native side writes a number (an integer; a negative one as its two's complement).
      const wide = new BigUint64Array(words.buffer);
      words[1] = (kind & 0xffff) | ((flags & 0xffff) << 16);
      wide[1] = BigInt(Math.trunc(timestampNs));
      const fields = [a, b, c, d, e];
      for (let i = 0; i < 5; i++) wide[3 + i] = BigInt.asUintN(64, BigInt(Number.isFinite(fields[i]) ? Math.trunc(fields[i]!) : 0));
      if (Reflect.apply(batch, sink, [words, 1]) !== 1) this.refused(1);
    } catch (error) {
      this.fail(error);
    }
  }

  /** An event without commitEvent (out of `event`, which stays small enough to inline): through the scratch, or record(). */
  private byScratch(kind: number, a: number, b: number, c: number, d: number, e: number, flags: number): void {
    const fields = this.fields;
    if (fields === undefined) {
      if (!this.recordNative(kind, flags, a, b, c, d, e)) this.refused(1);
      return;
    }
    // Plain stores and a native call without arguments (each converted argument costs the call).
    fields[0] = kind;
    fields[1] = flags;
    fields[2] = a;
    fields[3] = b;
    fields[4] = c;
    fields[5] = d;
    fields[6] = e;
    // scope.node makes no value for a written record (undefined): only false is a refusal.
    const commit = this.scratchCommit!;
    if (commit() === false) this.refused(1);
  }

  /**
   * An event whose field d is `value`'s size estimate and field e a fresh string id for its
   * preview (preview.ts, default limits): a message's send. With the sink's scratch the walk
   * writes the preview's UTF-8 straight into it and one native call without arguments writes
   * string and event; otherwise (Bun, function tracing's ordered sink, --redact-pattern,
   * which works on the text) the preview is built as a string.
   */
  eventWithPreview(kind: number, a: number, b: number, c: number, value: unknown, checks: TypeChecks, flags = 0): void {
    // The common send first, small (TurboFan inlines it with the send wrapper into the
    // program's handler, within its inlining budget: BENCHMARKS.md "A send's JavaScript on
    // Node 24"): a record whose map a shape writer holds, preview and commit in one native call
    // (preview.ts previewCommit, zig/napi.zig "One crossing a send"), the event's fields its
    // arguments (a Fast API call takes them in registers: no stores into the scratch).
    const walk = this.heldWalk;
    if (walk !== undefined) {
      let held: number;
      try {
        held = walk.previewCommit(value, kind, flags, a, b, c, this.nextId);
      } catch (error) {
        this.fail(error);
        return;
      }
      if (held >= 0) {
        this.nextId++;
        if (held !== 2) this.refused(2 - held);
        return;
      }
    }
    this.walkedEvent(kind, a, b, c, value, checks, flags, walk !== undefined);
  }

  /** eventWithPreview's other ways (out of it, which stays small): the walk loaded, the preview as a string, or walked into the scratch and committed. `tried`: previewCommit answered -1 already. */
  private walkedEvent(kind: number, a: number, b: number, c: number, value: unknown, checks: TypeChecks, flags: number, tried: boolean): void {
    const walk = this.previews ?? this.walk();
    if (walk === undefined) {
      // No walk (its chunk could not be loaded: one agent error): the event without a preview.
      this.event(kind, a, b, c, 0, 0, flags);
      return;
    }
    const fields = this.fields;
    if (fields === undefined || redactPattern !== undefined) {
      const text = walk.preview(value, checks);
      this.eventWithString(kind, a, b, c, walk.previewSize(), text, flags);
      return;
    }
    try {
      if (!tried) {
        const held = walk.previewCommit(value, kind, flags, a, b, c, this.nextId);
        if (held >= 0) {
          this.nextId++;
          if (held !== 2) this.refused(2 - held);
          return;
        }
      }
      const length = walk.previewWrite(this.bytes!, value, checks);
      fields[0] = kind;
      fields[1] = flags;
      fields[2] = a;
      fields[3] = b;
      fields[4] = c;
      fields[5] = walk.previewSize();
      fields[6] = this.nextId++;
      fields[7] = length;
      const commit = this.scratchCommitString!;
      const written = commit();
      if (written !== undefined && written !== 2) this.refused(2 - (written | 0));
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * commitEvent wrote nothing: a refusal (0), or (2) an argument that is not a number, which
   * it does not take: the event is written as without commitEvent, the scratch's stores
   * converting each value as they always have.
   */
  notCommitted(written: number, kind: number, a: number, b: number, c: number, d: number, e: number, flags: number): void {
    if (written === 0) this.refused(1);
    else this.byScratch(kind, a, b, c, d, e, flags);
  }

  /** The preview walk, loaded at the first call when it was given as a loader; undefined when loading failed (counted once). */
  walk(): PreviewWalk | undefined {
    const known = this.previews;
    if (known !== undefined) return known ?? undefined;
    this.previews = null;
    try {
      this.walkLoaded((this.walkSource as () => PreviewWalk)());
    } catch (error) {
      this.fail(error);
    }
    return this.previews ?? undefined;
  }

  private walkLoaded(walk: PreviewWalk): void {
    this.previews = walk;
    this.heldWalk = this.fields !== undefined && redactPattern === undefined ? walk : undefined;
  }

  /** A write was refused: a stop (hooks off from now on) or a loss (counted). */
  private refused(count: number): void {
    if (this.stopped) return;
    let stopped = false;
    try {
      const ask = lateNative(this.sink, "stopped");
      stopped = ask !== undefined && Boolean(Reflect.apply(ask, this.sink, []));
    } catch {
      // An old addon without stopped(): a loss.
    }
    if (!stopped) {
      this.unrecorded += count;
      return;
    }
    this.stopped = true;
    const groups = this.groups as unknown as Record<string, boolean>;
    for (const name of Object.keys(groups)) groups[name] = false;
  }

  /**
   * An event whose field e is a fresh (not interned) string id for `text`, such as a message
   * preview: one native call when the sink has `recordString`, else `str` then `event`.
   * `text` must be at most MAX_STRING_CHARS long (it is not clipped here).
   */
  eventWithString(kind: number, a: number, b: number, c: number, d: number, text: string, flags = 0): void {
    if (redactPattern !== undefined) text = redactText(text);
    let pair = this.pair;
    if (pair === undefined) {
      const made = lateNative(this.sink, "recordString") as Sink["recordString"];
      pair = this.pair = made === undefined ? null : made.bind(this.sink);
    }
    if (pair === null || text.length > MAX_STRING_CHARS) {
      this.event(kind, a, b, c, d, this.str(text, false), flags);
      return;
    }
    try {
      const written = pair(kind, flags, a, b, c, d, this.nextId++, text);
      if (written !== 2) this.refused(2 - (written | 0));
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * A string id for an error's message (0 for none): a URL's user information in it redacted
   * (fetch names a URL with `user:password@` in its error), then as `str`.
   */
  message(text: string | undefined | null, intern = true): number {
    return this.str(typeof text === "string" ? redactUserinfo(text, true) : text, intern);
  }

  /** A string id for `text` (0 for none); short repeated strings are written once. */
  str(text: string | undefined | null, intern = true): number {
    if (text === undefined || text === null) return 0;
    try {
      // --redact-pattern: every string recorded goes through here (function previews too: see runtime.ts).
      if (redactPattern !== undefined) text = redactText(text);
      const clipped = text.length > MAX_STRING_CHARS ? `${text.slice(0, MAX_STRING_CHARS - 1)}…` : text;
      const known = intern ? this.interned.get(clipped) : undefined;
      if (known !== undefined) return known;
      const id = this.nextId++;
      const write = this.writeString;
      if (!write(id, clipped)) this.refused(1);
      if (intern && this.interned.size < MAX_INTERNED) this.interned.set(clipped, id);
      return id;
    } catch (error) {
      this.fail(error);
      return 0;
    }
  }

  /**
   * A fresh string id whose `string` records the caller writes itself (function tracing
   * writes previews into its record batch: runtime.ts), so ids stay unique per thread.
   */
  reserveId(): number {
    return this.nextId++;
  }

  /**
   * The sink's record(): scope.node's lean init makes it at the first ask (zig/napi.zig
   * rare_exports_table), since a Node thread writes its events through the scratch and
   * commitEvent; an agent error and a sink without the scratch write through it.
   */
  private recordNative(kind: number, flags: number, a: number, b: number, c: number, d: number, e: number): boolean {
    const sink = this.sink;
    // A sink without the scratch writes every event here: a plain call, no arguments array.
    if (typeof sink.record === "function") return sink.record(kind, flags, a, b, c, d, e);
    // scope.node's lean init: fullApi(true) puts `record` on the exports, so this runs once.
    return lateNative(sink, "record") !== undefined && sink.record(kind, flags, a, b, c, d, e);
  }

  /** Counts an error of the agent's own; the first few are recorded with their message. */
  fail(error: unknown): void {
    this.errors++;
    if (this.errors > MAX_REPORTED_ERRORS) return;
    try {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(typeof error);
      const id = this.nextId++;
      this.sink.string(id, message.slice(0, MAX_STRING_CHARS));
      this.recordNative(Kind.agent_error, 0, id, 0, 0, 0, 0);
    } catch {
      // Nothing more can be done without risking the program.
    }
  }

  /** Runs `fn`, counting instead of throwing. */
  safe(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.fail(error);
    }
  }
}
