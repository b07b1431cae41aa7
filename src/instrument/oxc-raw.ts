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
import type { Node } from "./parse";

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
let idleTimer: ReturnType<typeof setTimeout> | undefined;
const encoder = new TextEncoder();

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
    buffer = createBuffer(loaded);
    binding = loaded;
  } catch {
    binding = null;
    buffer = null;
  }
  return binding !== null;
}

function createBuffer(loaded: RawBinding): RawBuffer {
  const arrayBuffer = new ArrayBuffer(sizes.BLOCK_SIZE + sizes.BLOCK_ALIGN);
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
  const maxByteLength = code.length * 3;
  const sourceStart = sizes.ACTIVE_SIZE - maxByteLength;
  const { read, written } = encoder.encodeInto(code, new Uint8Array(current.buffer, current.byteOffset + sourceStart, maxByteLength));
  if (read !== code.length) return undefined;
  loaded.parseRawSync(file, current.block, sourceStart, written, { lang, sourceType, preserveParens: false });
  const data = deserialize(current, code, sourceStart, written);
  if (data.errors.length > 0) return { ok: false, reason: data.errors[0]!.message };
  return { ok: true, program: data.program };
}
