/**
 * oxc-parser's raw transfer for plain JavaScript in Node: Rust parses into an arena
 * that lives in a JavaScript ArrayBuffer, and oxc's generated deserializer builds the
 * ESTree objects straight from it (no JSON string, no JSON.parse). oxc-parser's own
 * entry refuses raw transfer before Node 22 and in Bun ("an ArrayBuffer over 4 GiB");
 * Node 20 on 64-bit Linux creates one (measured), only a Uint8Array over all of it is
 * refused, so the buffer is made here with a one-byte view for the alignment query.
 * Bun cannot allocate it ("Out of memory"): Bun keeps meriyah. Any failure to create
 * the buffer (a 32-bit system, an address-space limit) turns this path off for the
 * process. BENCHMARKS.md "Transform throughput: oxc raw transfer".
 */
import { OXC_WALK_VERSION } from "./oxc-walk.generated";
import type { Node } from "./parse";
import type { RawProgram } from "./transform-raw";

interface RawBinding {
  getBufferOffset(buffer: Uint8Array): number;
  parseRawSync(filename: string, block: Uint8Array, sourceStart: number, sourceByteLength: number, options: object): void;
}

type RawBuffer = Uint8Array & { int32: Int32Array; float64: Float64Array; block: Uint8Array };

export type RawParsed = { ok: true; program: Node } | { ok: false; reason: string };

/** Longer sources are left to meriyah: the buffer reserves 3 bytes per UTF-16 unit. */
const SOURCE_LENGTH_MAX = (1 << 30) / 3;

/** The buffer is dropped after this long without a parse (its touched pages stay resident while held). */
const BUFFER_IDLE_MS = 10_000;

interface Constants {
  ACTIVE_SIZE: number;
  BLOCK_ALIGN: number;
  BLOCK_SIZE: number;
  BUFFER_SIZE: number;
}

type Deserialize = (buffer: RawBuffer, code: string, sourceStart: number, sourceByteLength: number) => { program: Node; errors: { message: string }[] };

let binding: RawBinding | null | undefined;
let sizes: Constants;
let deserialize: Deserialize;
let buffer: RawBuffer | null = null;
/** oxc-walk.generated.ts reads this oxc-parser's layout (same version): transform-raw.ts may run. */
let walkable = false;
let dataPointerPos32 = 0;
let idleTimer: ReturnType<typeof setTimeout> | undefined;
const encoder = new TextEncoder();

/** scope.node's prefault(view, from, to), when the agent handed it over (setPrefault). */
type PrefaultPages = (view: Uint8Array, from: number, to: number) => unknown;
let prefaultPages: PrefaultPages | undefined;

/** The agent's native prefault (scope.node): prefaultParse maps a parse's pages on a libuv thread. */
export function setPrefault(prefault: PrefaultPages | undefined): void {
  prefaultPages = prefault;
}

/** The prefault setPrefault was given, for other buffers a first start is about to fill (cache.ts entryScratch). */
export function prefaultFunction(): PrefaultPages | undefined {
  return prefaultPages;
}

/**
 * Sources shorter than this are not prefaulted: their pages are few, and mostly mapped already by an
 * earlier, larger parse (every source sits at the top of the arena, parseIntoBuffer).
 */
export const PREFAULT_SOURCE_MIN = 1024 * 1024;

/** oxc's AST for a source, measured below it in the arena: typescript.js 4.8x its bytes. */
const PREFAULT_AST_PER_BYTE = 5;

/** The source's UTF-8 length, what encodeInto writes (lone surrogates as U+FFFD, 3 bytes, both ways). */
function sourceBytes(code: string): number {
  return Buffer.byteLength(code, "utf8");
}

/** Where a source of `bytes` UTF-8 bytes goes: at the top of the arena, 16-byte aligned. */
function sourceStartFor(bytes: number): number {
  return (sizes.ACTIVE_SIZE - bytes - 16) & ~15;
}

/**
 * Before a large source is parsed (a transform cache miss, cache.ts): its arena pages (the
 * source and oxc's AST below it, PREFAULT_AST_PER_BYTE) are mapped on a libuv thread while
 * this thread goes on (the text scan of loads-modules.ts, the marker check, encoding the
 * source), instead of one page fault at a time inside the parse: typescript.js's parse
 * took ~14,600 of them on the program's thread, each a few µs in this guest
 * (BENCHMARKS.md). Only where the parse would take the raw path.
 */
export function prefaultParse(code: string, file: string): void {
  if (!prefaultPages || code.length < PREFAULT_SOURCE_MIN || code.length > SOURCE_LENGTH_MAX) return;
  // TypeScript takes the ESTree path (parse.ts languageOf: ts, tsx).
  if (/\.[cm]?tsx?$/i.test(file) || !rawTransferUsable() || !walkable || walkOff) return;
  try {
    if (buffer === null) buffer = createBuffer(binding!);
    const bytes = sourceBytes(code);
    const start = sourceStartFor(bytes);
    prefaultPages(buffer, Math.max(0, start - bytes * PREFAULT_AST_PER_BYTE), start + bytes);
  } catch {
    // Nothing mapped ahead: the parse maps its own pages, as without it.
  }
}

/**
 * Turns the buffer walk (parseProgram) off or on for this process; checks and benchmarks
 * compare it with the ESTree path in one process. Returns whether it is usable now.
 */
export function setRawWalk(on: boolean): boolean {
  rawTransferUsable();
  walkOff = !on;
  return walkable && !walkOff;
}
let walkOff = false;

/** True when raw transfer can run here; decided once (loads the binding, allocates the buffer). */
export function rawTransferUsable(): boolean {
  if (binding !== undefined) return binding !== null;
  binding = null;
  if (typeof process === "undefined" || process.versions.bun !== undefined || process.release?.name !== "node") return false;
  if (process.arch !== "x64" && process.arch !== "arm64") return false;
  try {
    const loaded = require("oxc-parser/src-js/bindings") as RawBinding & { rawTransferSupported?: () => boolean };
    if (typeof loaded.parseRawSync !== "function" || typeof loaded.getBufferOffset !== "function") return false;
    if (loaded.rawTransferSupported && !loaded.rawTransferSupported()) return false;
    // Required here, not imported: Bun never loads them, and Node only once it parses.
    sizes = require("oxc-parser/src-js/generated/constants") as Constants;
    deserialize = (require("oxc-parser/src-js/generated/deserialize/js") as { deserialize: Deserialize }).deserialize;
    const version = (require("oxc-parser/package.json") as { version?: string }).version;
    dataPointerPos32 = (sizes as Constants & { DATA_POINTER_POS_32?: number }).DATA_POINTER_POS_32 ?? 0;
    walkable = version === OXC_WALK_VERSION && dataPointerPos32 > 0 && process.env.SCOPE_RAW_WALK !== "0";
    buffer = createBuffer(loaded);
    binding = loaded;
  } catch {
    binding = null;
    buffer = null;
  }
  return binding !== null;
}

/**
 * A SharedArrayBuffer, though no other thread sees it: V8 counts an ArrayBuffer's bytes as
 * the isolate's external memory and 6 GiB of it (virtual: only touched pages are resident)
 * set off a full "external memory pressure" Mark-Compact at the first parse and incremental
 * marking after it, pauses of a first start; shared backing stores are not counted. A buffer
 * dropped when idle is freed at the next full GC V8 makes for its own reasons.
 */
function createBuffer(loaded: RawBinding): RawBuffer {
  const arrayBuffer = new SharedArrayBuffer(sizes.BLOCK_SIZE + sizes.BLOCK_ALIGN);
  const offset = loaded.getBufferOffset(new Uint8Array(arrayBuffer, 0, 1));
  const view = new Uint8Array(arrayBuffer, offset, sizes.BUFFER_SIZE) as RawBuffer;
  view.int32 = new Int32Array(arrayBuffer, offset, sizes.BUFFER_SIZE / 4);
  view.float64 = new Float64Array(arrayBuffer, offset, sizes.BUFFER_SIZE / 8);
  view.block = new Uint8Array(arrayBuffer, offset, sizes.BLOCK_SIZE);
  return view;
}

/**
 * Parses JavaScript (`lang` js or jsx) into oxc's ESTree with UTF-16 `start`/`end`.
 * `ok: false` with oxc's first error: the caller falls back to meriyah, whose messages
 * and recovery (a `.js` file retried without JSX) stay what users see.
 */
export function parseRaw(code: string, file: string, lang: "js" | "jsx", sourceType: "module" | "commonjs" | "unambiguous"): RawParsed | undefined {
  const parsed = parseIntoBuffer(code, file, lang, sourceType);
  if (parsed === undefined) return undefined;
  const data = deserialize(parsed.current, code, parsed.sourceStart, parsed.written);
  if (data.errors.length > 0) return { ok: false, reason: data.errors[0]!.message };
  return { ok: true, program: data.program };
}

/** What parseProgram hands transform-raw.ts, or `errors` (the caller takes the usual path for its message). */
export type RawBufferParsed = { ok: true; raw: RawProgram; module: boolean } | { ok: false };

/**
 * Parses into the buffer and leaves the AST there (no deserialization) for
 * transform-raw.ts; valid until the next parse on this thread. undefined when raw
 * transfer is not usable here or the walker does not match the installed oxc-parser.
 */
export function parseProgram(code: string, file: string, lang: "js" | "jsx", sourceType: "module" | "commonjs" | "unambiguous"): RawBufferParsed | undefined {
  if (!rawTransferUsable() || !walkable || walkOff) return undefined;
  const parsed = parseIntoBuffer(code, file, lang, sourceType);
  if (parsed === undefined) return undefined;
  const { current } = parsed;
  const data = current.int32[dataPointerPos32]!;
  // RawTransferData: program at 0, errors (a Vec of 80-byte entries) at 272 (deserializeRawTransferData).
  if (current.int32[((data + 272) >> 2) + 2] !== 0) return { ok: false };
  const program = data;
  return {
    ok: true,
    // Program.source_type's module kind at +137: 1 module (deserializeModuleKind).
    module: current[program + 137] === 1,
    raw: { uint8: current, int32: current.int32, float64: current.float64, program, sourceStart: parsed.sourceStart, sourceByteLength: parsed.written },
  };
}

function parseIntoBuffer(code: string, file: string, lang: "js" | "jsx", sourceType: "module" | "commonjs" | "unambiguous"): { current: RawBuffer; sourceStart: number; written: number } | undefined {
  if (code.length > SOURCE_LENGTH_MAX || !rawTransferUsable()) return undefined;
  const loaded = binding!;
  if (buffer === null) buffer = createBuffer(loaded);
  const current = buffer;
  if (idleTimer !== undefined) clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    buffer = null;
    idleTimer = undefined;
  }, BUFFER_IDLE_MS);
  idleTimer.unref?.();
  // The source at the top of the arena, oxc's AST below it (its allocator fills downwards): every
  // parse reuses the pages the largest one before it mapped, and prefaultParse knows where they are.
  const bytes = sourceBytes(code);
  const sourceStart = sourceStartFor(bytes);
  const { read, written } = encoder.encodeInto(code, new Uint8Array(current.buffer, current.byteOffset + sourceStart, sizes.ACTIVE_SIZE - sourceStart));
  if (read !== code.length || written !== bytes) return undefined;
  loaded.parseRawSync(file, current.block, sourceStart, written, { lang, sourceType, preserveParens: false });
  return { current, sourceStart, written };
}
