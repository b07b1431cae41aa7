/**
 * Function tracing's previews, written as UTF-8 bytes instead of built as a string: the
 * same walk and the same text as src/agent/shared/preview.ts's `preview()` (which stays
 * the reference; spec/preview-bytes.test.ts compares the two on every kind of value), but
 * no string is concatenated, flattened and converted per event. At the full level every
 * call and return previews a value, and building that string and handing it to the
 * native side cost more than the walk itself (BENCHMARKS.md "Function previews").
 *
 * The walk keeps its state in module variables, as preview.ts does: it never calls
 * program code, so it cannot be re-entered. It gives up (returns -1) on a lone or paired
 * surrogate among the characters kept, where the native UTF-8 conversion has rules of
 * its own; the caller then takes preview.ts's string.
 */
import { PREVIEW_MAX_CHARS, PREVIEW_MAX_DEPTH, PREVIEW_MAX_NODES, REDACTED, SECRET_KEY, type TypeChecks, utf8Length } from "./preview";

/** Longest preview (characters) written here; longer limits use preview.ts. */
export const BYTE_PREVIEW_MAX_CHARS = 1023;

const REDACTED_JSON = JSON.stringify(REDACTED);
const byteLengthOfView = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), "byteLength")!.get!;
const byteLengthOfDataView = Object.getOwnPropertyDescriptor(DataView.prototype, "byteLength")!.get!;
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!.get!;
const byteLengthOfBuffer = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength")!.get!;
const byteLengthOfShared =
  typeof SharedArrayBuffer === "function" ? Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, "byteLength")!.get! : undefined;
const mapSize = Object.getOwnPropertyDescriptor(Map.prototype, "size")!.get!;
const setSize = Object.getOwnPropertyDescriptor(Set.prototype, "size")!.get!;
const isView = ArrayBuffer.isView;
const isArray = Array.isArray;
const keysOf = Object.keys;
const prototypeOf = Object.getPrototypeOf;
const objectPrototype = Object.prototype;
const ownDescriptor = Object.getOwnPropertyDescriptor;
const isInteger = Number.isInteger;

/** `"key":` and whether the key looks secret, once per key (as preview.ts's keyInfo). */
interface KeyInfo {
  text: string;
  /** utf8 length + 4 (preview.ts's size of `"key":` and a separator) */
  bytes: number;
  secret: boolean;
}
const MAX_CACHED_KEYS = 1024;
const MAX_CACHED_KEY_CHARS = 64;
const keyCache = new Map<string, KeyInfo>();

function keyInfo(key: string): KeyInfo {
  const known = keyCache.get(key);
  if (known !== undefined) return known;
  const info: KeyInfo = { text: `${quote(key)}:`, bytes: utf8Length(key) + 4, secret: SECRET_KEY.test(key) };
  if (key.length <= MAX_CACHED_KEY_CHARS && keyCache.size < MAX_CACHED_KEYS) keyCache.set(key, info);
  return info;
}

function quote(text: string): string {
  return printable(text) ? `"${text}"` : JSON.stringify(text);
}

/** Printable ASCII with nothing JSON escapes: quoted as is. */
function printable(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) return false;
  }
  return true;
}

/**
 * String(n) for a number that is not an integer costs ~170 ns in V8 (shortest round-trip
 * digits); programs pass the same few fractions again and again. A direct-mapped cache
 * by the number's bits: a miss costs a hash and two stores, so ever-new values (a running
 * total) lose next to nothing.
 */
const NUMBER_SLOTS = 1024;
const numberKeys = new Float64Array(NUMBER_SLOTS).fill(NaN);
const numberTexts: string[] = new Array<string>(NUMBER_SLOTS).fill("");
const numberBits = new Float64Array(1);
const numberHalves = new Uint32Array(numberBits.buffer);

function numberText(value: number): string {
  if (isInteger(value)) return String(value);
  numberBits[0] = value;
  const slot = (Math.imul(numberHalves[0]! ^ numberHalves[1]!, 0x9e3779b1) >>> 22) & (NUMBER_SLOTS - 1);
  // NaN never equals itself: it is never a hit (String(NaN) is cheap anyway).
  if (numberKeys[slot] === value) return numberTexts[slot]!;
  const text = String(value);
  numberKeys[slot] = value;
  numberTexts[slot] = text;
  return text;
}

/** Writes a character above 0x7f as UTF-8; false for a surrogate (the caller gives up). */
function wide(code: number): boolean {
  if (code < 0x800) {
    buffer[at++] = 0xc0 | (code >> 6);
    buffer[at++] = 0x80 | (code & 0x3f);
    return true;
  }
  if (code >= 0xd800 && code <= 0xdfff) return false;
  buffer[at++] = 0xe0 | (code >> 12);
  buffer[at++] = 0x80 | ((code >> 6) & 0x3f);
  buffer[at++] = 0x80 | (code & 0x3f);
  return true;
}

// The walk's state. `chars` is the length preview.ts's text would have; bytes are kept
// for its first maxChars characters only (what survives the final cut).
let types: TypeChecks;
let buffer = new Uint8Array(0);
let at = 0;
let chars = 0;
/** Bytes before character maxChars - 1: where the cut puts "…". */
let cutAt = 0;
let failed = false;
/** Character maxChars - 1 is a surrogate: fine if the cut replaces it, else a failure. */
let lastSurrogate = false;
let nodes = 0;
/** preview.ts's size estimate of the whole value (previewSize), kept as it walks. */
let size = 0;
let maxChars = PREVIEW_MAX_CHARS;
let maxDepth = PREVIEW_MAX_DEPTH;
let maxNodes = PREVIEW_MAX_NODES;

/** preview.ts's `out += text` while `out.length <= maxChars`. */
function emit(text: string): void {
  if (chars > maxChars) return;
  const length = text.length;
  if (chars + length < maxChars - 1) {
    // The common case: every character kept, none of them where the cut may fall.
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code < 0x80) buffer[at++] = code;
      else if (!wide(code)) {
        failed = true;
        return;
      }
    }
    chars += length;
    return;
  }
  const keep = Math.min(length, maxChars - chars);
  for (let i = 0; i < keep; i++) {
    if (chars + i === maxChars - 1) cutAt = at;
    const code = text.charCodeAt(i);
    if (code < 0x80) buffer[at++] = code;
    else if (!wide(code)) {
      // The last kept character is cut when the text runs on: decided at the end.
      if (chars + i !== maxChars - 1) {
        failed = true;
        return;
      }
      lastSurrogate = true;
    }
  }
  chars += length;
}

/** A primitive's text, counted in the size estimate as preview.ts counts it. */
function emitSized(text: string): void {
  size += text.length;
  emit(text);
}

/** A string value, quoted, as preview.ts's walkValue (the quotes written around it, no copy). */
function emitString(value: string): void {
  size += utf8Length(value) + 2;
  if (chars > maxChars) return;
  const text = value.length > maxChars ? value.slice(0, maxChars) : value;
  if (!printable(text)) return emit(JSON.stringify(text));
  emit('"');
  emit(text);
  emit('"');
}

function walkValue(value: unknown, depth: number): void {
  nodes++;
  switch (typeof value) {
    case "string":
      return emitString(value);
    case "number":
      return emitSized(numberText(value));
    case "boolean":
      return emitSized(value ? "true" : "false");
    case "bigint":
      return emitSized(String(value));
    case "undefined":
      return emitSized("undefined");
    case "symbol":
      return emit("[symbol]");
    case "function":
      return emit("[function]");
  }
  if (value === null) return emitSized("null");
  walkObject(value as object, depth);
}

function walkObject(value: object, depth: number): void {
  const t = types;
  if (t.isProxy(value)) return emit("[Proxy]");
  if (isView(value)) {
    const typed = typedArrayTag.call(value) !== undefined;
    return binary("view", (typed ? byteLengthOfView : byteLengthOfDataView).call(value) as number);
  }
  if (!isArray(value)) {
    const proto = prototypeOf(value);
    if (proto === objectPrototype || proto === null) {
      if (depth >= maxDepth || nodes > maxNodes) return emit("{…}");
      return walkRecord(value, depth);
    }
    if (t.isArrayBuffer(value)) return binary("ArrayBuffer", byteLengthOfBuffer.call(value) as number);
    if (byteLengthOfShared && t.isSharedArrayBuffer(value)) return binary("SharedArrayBuffer", byteLengthOfShared.call(value) as number);
    if (t.isDate(value)) return emit("[Date]");
    if (t.isMap(value)) return emit(`Map(${mapSize.call(value)})`);
    if (t.isSet(value)) return emit(`Set(${setSize.call(value)})`);
    if (depth >= maxDepth || nodes > maxNodes) return emit("{…}");
    return walkRecord(value, depth);
  }
  if (depth >= maxDepth || nodes > maxNodes) return emit("[…]");
  walkArray(value as unknown[], depth);
}

function binary(name: string, bytes: number): void {
  size += bytes;
  if (chars <= maxChars) emit(`[${name} ${bytes}B]`);
}

function walkArray(value: unknown[], depth: number): void {
  emit("[");
  size += 2;
  const length = value.length;
  for (let i = 0; i < length; i++) {
    if (i > 0) emit(",");
    if (nodes > maxNodes) return emit("…]");
    const descriptor = ownDescriptor(value, i);
    if (descriptor && "value" in descriptor) walkValue(descriptor.value, depth + 1);
    else if (descriptor) emit("[getter]");
    size += 1;
  }
  emit("]");
}

function walkRecord(value: object, depth: number): void {
  emit("{");
  size += 2;
  const keys = keysOf(value);
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) emit(",");
    if (nodes > maxNodes) return emit("…}");
    const key = keyInfo(keys[i]!);
    emit(key.text);
    size += key.bytes;
    const descriptor = ownDescriptor(value, keys[i]!);
    if (!descriptor || !("value" in descriptor)) emit("[getter]");
    else if (key.secret) {
      nodes++;
      if (typeof descriptor.value === "string") size += utf8Length(descriptor.value) + 2;
      emit(REDACTED_JSON);
    } else walkValue(descriptor.value, depth + 1);
  }
  emit("}");
}

/** Limits as the runtime gives them (already clamped): depth, characters (≤ BYTE_PREVIEW_MAX_CHARS). */
export interface ByteLimits {
  depth: number;
  chars: number;
}

function begin(checks: TypeChecks, limits: ByteLimits): void {
  types = checks;
  maxChars = limits.chars;
  maxDepth = limits.depth;
  maxNodes = maxChars > PREVIEW_MAX_CHARS ? Math.ceil((PREVIEW_MAX_NODES * maxChars) / PREVIEW_MAX_CHARS) : PREVIEW_MAX_NODES;
  const room = 3 * maxChars + 8;
  if (buffer.length < room) buffer = new Uint8Array(room);
  at = 0;
  chars = 0;
  cutAt = 0;
  failed = false;
  lastSurrogate = false;
  nodes = 0;
  size = 0;
}

/** The bytes written by begin()..walk: the UTF-8 of preview()'s text, or -1 (use preview.ts). */
function end(): number {
  if (failed) return -1;
  if (chars <= maxChars) return lastSurrogate ? -1 : at;
  // preview.ts: text.slice(0, maxChars - 1) + "…".
  buffer[cutAt] = 0xe2;
  buffer[cutAt + 1] = 0x80;
  buffer[cutAt + 2] = 0xa6;
  return cutAt + 3;
}

/**
 * Writes the UTF-8 of `preview(value, checks, limits)` into `previewBytes()`; returns its
 * length in bytes, or -1 when the caller must use preview.ts instead.
 */
export function writePreview(value: unknown, checks: TypeChecks, limits: ByteLimits): number {
  begin(checks, limits);
  walkValue(value, 0);
  return end();
}

/**
 * As writePreview of an array of `args[0..length)` (the preview of a call's arguments),
 * without making the array: the same nodes, depth and text.
 */
export function writeArgumentsPreview(args: ArrayLike<unknown>, length: number, checks: TypeChecks, limits: ByteLimits): number {
  begin(checks, limits);
  // walkValue(array, 0): one node, then walkObject's depth check, then walkArray.
  nodes++;
  if (maxDepth <= 0 || nodes > maxNodes) emit("[…]");
  else {
    emit("[");
    for (let i = 0; i < length; i++) {
      if (i > 0) emit(",");
      if (nodes > maxNodes) {
        emit("…]");
        return end();
      }
      walkValue(args[i], 1);
    }
    emit("]");
  }
  return end();
}

/** preview.ts's size estimate (`previewSize()`) of the value the last writePreview walked. */
export function writtenPreviewSize(): number {
  return size;
}

/** The buffer the last write went into (valid until the next write). */
export function previewBytes(): Uint8Array {
  return buffer;
}
