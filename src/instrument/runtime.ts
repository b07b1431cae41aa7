/**
 * What instrumented code calls: one hook object at globalThis[Symbol.for("scope.functions")]
 * (see print.ts for the no-op it falls back to). It records function events through a
 * sink of the agent's shape (record/string, optionally recordBatch). Never throws into
 * the program and never runs program code (previews read own data properties only).
 *
 * Cost: at the "calls" level an event is four stores into a preallocated buffer of
 * 64-byte records handed to the native side `batchSize` at a time (recordBatch); the
 * native side stamps each batch's records with the time of the flush, so within a
 * batch the order is exact and the time is an upper bound. With `batchSize: 1` (or a
 * sink without recordBatch) every event is written at once with its own timestamp.
 */
import { describe, type TypeChecks } from "../agent/shared/preview";
import { HOOK_KEY } from "./print";

/** zig/layout.zig EventKind, function tracing range. */
export const FunctionKind = {
  table: 32,
  call: 33,
  return: 34,
  throw: 35,
  settle: 36,
  yield: 37,
  resume: 38,
} as const;

/** function_settle flags bit 0: the promise was rejected. */
export const SETTLE_REJECTED = 1;

/** The agent's sink (src/agent/shared/sink.ts) plus the optional batch call of scope.node. */
export interface RecordSink {
  record(kind: number, flags: number, a: number, b: number, c: number, d: number, e: number): boolean;
  string(id: number, text: string): boolean;
  recordBatch?(records: Uint32Array, count: number): number;
}

export interface RuntimeOptions {
  sink: RecordSink;
  /** String ids shared with the agent (its Recorder.str); own ids from 1 when absent. */
  str?: (text: string, intern?: boolean) => number;
  /** Records per recordBatch call; 1 writes each event at once. Default 256. */
  batchSize?: number;
  /** Flush a partly filled batch this often (an unref'd timer); 0 for never. Default 50. */
  flushIntervalMs?: number;
  /** util.types, for previews that never run program code. */
  types?: TypeChecks;
}

/** The hook object's shape; the method names are what transform.ts emits. */
export interface Hook {
  /** Registers a file's function table [name, line, column, flags]*; returns its first id. */
  f(file: string, table: (string | number)[]): number;
  c(id: number): void;
  C(id: number, args: ArrayLike<unknown>): number;
  r(id: number, token: number, value: unknown): void;
  x(id: number, token: number, error: unknown): number;
  s(id: number, token: number, value: unknown): void;
  X(id: number, token: number, error: unknown): number;
  y(id: number, token: number, value: unknown): unknown;
  n(id: number, token: number, value: unknown): unknown;
}

const RECORD_WORDS = 16;
const MAX_PREVIEW_CHARS = 96;

export class FunctionRuntime {
  readonly hook: Hook;
  /** Errors of the runtime's own, caught (never thrown into the program). */
  errors = 0;
  /** Events the sink refused (its own drop counters say why). */
  unrecorded = 0;
  private readonly sink: RecordSink;
  private readonly words: Uint32Array;
  private readonly capacity: number;
  private count = 0;
  private ordinal = 1;
  private nextFunctionId = 1;
  private nextStringId = 1;
  private readonly interned = new Map<string, number>();
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private readonly types: TypeChecks | undefined;
  private readonly str: (text: string, intern?: boolean) => number;

  constructor(options: RuntimeOptions) {
    this.sink = options.sink;
    this.capacity = options.sink.recordBatch ? Math.max(1, options.batchSize ?? 256) : 1;
    this.words = new Uint32Array(this.capacity * RECORD_WORDS);
    this.types = options.types;
    this.str = options.str ?? ((text, intern = true) => this.ownString(text, intern));
    const interval = options.flushIntervalMs ?? 50;
    if (this.capacity > 1 && interval > 0) {
      this.timer = setInterval(() => this.flush(), interval);
      (this.timer as { unref?: () => void }).unref?.();
    }
    this.hook = this.makeHook();
    // Whatever is still buffered when the thread ends goes out (the agent may flush earlier).
    if (this.capacity > 1 && typeof process === "object" && typeof process.on === "function") process.on("exit", () => this.flush());
  }

  /** Hands buffered events to the sink. Call before writing any other event, to keep order. */
  flush(): void {
    const count = this.count;
    if (count === 0) return;
    this.count = 0;
    try {
      const written = this.sink.recordBatch!(this.words, count);
      if (written < count) this.unrecorded += count - written;
    } catch {
      this.errors++;
    }
    this.words.fill(0, 0, count * RECORD_WORDS);
  }

  /** Flushes and stops the timer; the hook keeps working (unbatched) if still called. */
  close(): void {
    this.flush();
    if (this.timer) clearInterval(this.timer);
  }

  /** A sink for the agent's own events that flushes function events first, so order holds. */
  orderedSink(): RecordSink {
    return {
      record: (kind, flags, a, b, c, d, e) => {
        this.flush();
        return this.sink.record(kind, flags, a, b, c, d, e);
      },
      string: (id, text) => this.sink.string(id, text),
    };
  }

  private put(kind: number, flags: number, a: number, b: number, c: number, d: number, e = 0): void {
    if (this.capacity === 1) {
      if (!this.sink.record(kind, flags, a, b, c, d, e)) this.unrecorded++;
      return;
    }
    const words = this.words;
    const base = this.count * RECORD_WORDS;
    // Words: 1 kind|flags<<16, 2-3 timestamp (0: stamped at flush), 6-7 a, 8-9 b, 10-11 c, 12-13 d.
    words[base + 1] = kind | (flags << 16);
    words[base + 6] = a;
    words[base + 8] = b >>> 0;
    if (b > 0xffffffff) words[base + 9] = b / 4294967296;
    if (c !== 0) words[base + 10] = c;
    if (d !== 0) words[base + 12] = d;
    if (e !== 0) words[base + 14] = e;
    if (++this.count === this.capacity) this.flush();
  }

  private ownString(text: string, intern: boolean): number {
    const known = intern ? this.interned.get(text) : undefined;
    if (known !== undefined) return known;
    const id = this.nextStringId++;
    if (!this.sink.string(id, text)) this.unrecorded++;
    if (intern && this.interned.size < 65536) this.interned.set(text, id);
    return id;
  }

  private preview(value: unknown): number {
    if (!this.types) return 0;
    const { preview } = describe(value, this.types);
    return this.str(preview.length > MAX_PREVIEW_CHARS ? preview.slice(0, MAX_PREVIEW_CHARS) : preview, false);
  }

  private argumentsPreview(args: ArrayLike<unknown>): number {
    if (!this.types) return 0;
    const copy: unknown[] = [];
    const length = typeof args.length === "number" ? Math.min(args.length, 16) : 0;
    for (let i = 0; i < length; i++) copy.push(args[i]);
    return this.preview(copy);
  }

  private errorFields(error: unknown): [number, number] {
    const types = this.types;
    if (error !== null && typeof error === "object" && !(types && types.isProxy(error))) {
      const name = dataProperty(error, "name", types);
      const message = dataProperty(error, "message", types);
      if (typeof name === "string" || typeof message === "string") {
        return [this.str(typeof name === "string" ? name.slice(0, 200) : "Error"), this.str(typeof message === "string" ? message.slice(0, 1000) : "", false)];
      }
    }
    return [this.str(typeof error), this.preview(error)];
  }

  private makeHook(): Hook {
    const runtime = this;
    const fail = () => {
      runtime.errors++;
    };
    return {
      f(file, table) {
        const base = runtime.nextFunctionId;
        try {
          const count = Math.floor(table.length / 4);
          runtime.nextFunctionId += count;
          const fileId = runtime.str(file);
          for (let i = 0; i < count; i++) {
            const name = runtime.str(String(table[i * 4]));
            const [line, column, flags] = [Number(table[i * 4 + 1]), Number(table[i * 4 + 2]), Number(table[i * 4 + 3])];
            runtime.put(FunctionKind.table, flags, base + i, name, fileId, line, column);
          }
        } catch {
          fail();
        }
        return base;
      },
      c(id) {
        try {
          runtime.put(FunctionKind.call, 0, id, runtime.ordinal++, 0, 0);
        } catch {
          fail();
        }
      },
      C(id, args) {
        const token = runtime.ordinal++;
        try {
          runtime.put(FunctionKind.call, 0, id, token, runtime.argumentsPreview(args), 0);
        } catch {
          fail();
        }
        return token;
      },
      r(id, token, value) {
        if (token < 0) return;
        try {
          runtime.put(FunctionKind.return, 0, id, token, runtime.preview(value), 0);
        } catch {
          fail();
        }
      },
      x(id, token, error) {
        if (token < 0) return -1;
        try {
          const [type, message] = runtime.errorFields(error);
          runtime.put(FunctionKind.throw, 0, id, token, type, message);
        } catch {
          fail();
        }
        return -1;
      },
      s(id, token, value) {
        if (token < 0) return;
        try {
          runtime.settle(id, token, value);
        } catch {
          fail();
        }
      },
      X(id, token, error) {
        if (token < 0) return -1;
        try {
          const [type, message] = runtime.errorFields(error);
          runtime.put(FunctionKind.settle, SETTLE_REJECTED, id, token, type, message);
        } catch {
          fail();
        }
        return -1;
      },
      y(id, token, value) {
        if (token >= 0) {
          try {
            runtime.put(FunctionKind.yield, 0, id, token, runtime.preview(value), 0);
          } catch {
            fail();
          }
        }
        return value;
      },
      n(id, token, value) {
        if (token >= 0) {
          try {
            runtime.put(FunctionKind.resume, 0, id, token, runtime.preview(value), 0);
          } catch {
            fail();
          }
        }
        return value;
      },
    };
  }

  /**
   * An async function's body ended with `value`: when that is a plain native promise its
   * settlement is awaited through the original Promise.prototype.then (no program code:
   * no subclass, no own `then`/`constructor`); other values settle the call at once.
   */
  private settle(id: number, token: number, value: unknown): void {
    const types = this.types;
    if (types && isPlainPromise(value, types)) {
      promiseThen.call(
        value,
        (result: unknown) => {
          try {
            this.put(FunctionKind.settle, 0, id, token, this.preview(result), 0);
          } catch {
            this.errors++;
          }
        },
        (error: unknown) => {
          try {
            const [type, message] = this.errorFields(error);
            this.put(FunctionKind.settle, SETTLE_REJECTED, id, token, type, message);
          } catch {
            this.errors++;
          }
        },
      );
      return;
    }
    this.put(FunctionKind.settle, 0, id, token, this.preview(value), 0);
  }
}

const promiseThen = Promise.prototype.then;
const PromiseConstructor = Promise;

function isPlainPromise(value: unknown, types: TypeChecks): value is Promise<unknown> {
  if (value === null || typeof value !== "object" || types.isProxy(value)) return false;
  if (!(types as TypeChecks & { isPromise?(v: unknown): boolean }).isPromise?.(value)) return false;
  if (Object.getPrototypeOf(value) !== Promise.prototype) return false;
  if (Object.prototype.hasOwnProperty.call(value, "then") || Object.prototype.hasOwnProperty.call(value, "constructor")) return false;
  const constructor = Object.getOwnPropertyDescriptor(Promise.prototype, "constructor");
  return constructor !== undefined && "value" in constructor && constructor.value === PromiseConstructor;
}

/** A data property found on `object` or its (non-Proxy) prototypes; getters are not run. */
function dataProperty(object: object, key: string, types: TypeChecks | undefined): unknown {
  let current: object | null = object;
  for (let depth = 0; current !== null && depth < 8; depth++) {
    if (types && types.isProxy(current)) return undefined;
    const descriptor = Object.getOwnPropertyDescriptor(current, key);
    if (descriptor) return "value" in descriptor ? descriptor.value : undefined;
    current = Object.getPrototypeOf(current) as object | null;
  }
  return undefined;
}

/** Installs `runtime`'s hook where instrumented code looks for it; returns the previous one. */
export function installHook(runtime: FunctionRuntime): unknown {
  const host = globalThis as Record<symbol, unknown>;
  const key = Symbol.for(HOOK_KEY);
  const previous = host[key];
  host[key] = runtime.hook;
  return previous;
}

export function uninstallHook(): void {
  delete (globalThis as Record<symbol, unknown>)[Symbol.for(HOOK_KEY)];
}
