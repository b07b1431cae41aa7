/**
 * Size and short preview of a value (a message, a function's arguments or result),
 * computed without ever running program code: no getters, no Proxy traps, no
 * toJSON/toString/valueOf, no Symbol.toStringTag. Only own data properties of non-Proxy
 * objects are read, within a fixed budget (depth, characters, values); values under keys
 * that look secret are replaced.
 *
 * One walk, two outputs: `writePreview()` writes the text as UTF-8 bytes (function
 * tracing's full level puts them straight into its record batch, so no string is
 * concatenated, flattened and converted per event), `preview()` builds it as a string (a
 * message's send, which crosses to the native side once anyway). The text is
 * JSON-like, cut to the character budget (UTF-16 units, as String.length counts) with
 * "…"; a surrogate pair the cut splits keeps its first half, written as U+FFFD (as the
 * native string conversion would). The size is an estimate of the serialized value
 * (exact for strings and binary data).
 *
 * On the hot path of every traced message, so it allocates as little as it can: the walk
 * keeps its state in module variables (it never calls program code, so it cannot be
 * re-entered), stops writing once the preview is full, caches each property key's quoted
 * text, UTF-8 length and secret test, quotes plain ASCII strings without JSON.stringify,
 * and skips the built-in type checks (binding calls) for objects whose prototype is
 * Object.prototype or null: a built-in re-prototyped to one of those
 * (`Object.setPrototypeOf(new Map(), Object.prototype)`) shows as a record of its own
 * data properties. spec/preview.test.ts checks the walk against a reference copy of the
 * string walk it replaced (spec/preview-reference.ts, spec/preview-walk.test.ts).
 */
import { REDACTED, redaction } from "./redact";

/** The native type checks (util.types) this needs; none of them runs program code. */
export interface TypeChecks {
  isProxy(value: unknown): boolean;
  isMap(value: unknown): boolean;
  isSet(value: unknown): boolean;
  isDate(value: unknown): boolean;
  isArrayBuffer(value: unknown): boolean;
  isSharedArrayBuffer(value: unknown): boolean;
  isArrayBufferView(value: unknown): boolean;
}

// The budgets (and the scratch room previewWrite needs in its target) are in their own module.
import { PREVIEW_MAX_CHARS, PREVIEW_MAX_DEPTH, PREVIEW_MAX_NODES, SCRATCH_PREVIEW_BYTES } from "./preview-limits";
export { PREVIEW_LIMIT_CHARS, PREVIEW_LIMIT_DEPTH, PREVIEW_MAX_CHARS, PREVIEW_MAX_DEPTH, PREVIEW_MAX_NODES, SCRATCH_PREVIEW_BYTES } from "./preview-limits";

/** How deep and how long a preview may be; defaults PREVIEW_MAX_DEPTH and PREVIEW_MAX_CHARS. */
export interface PreviewLimits {
  depth?: number;
  chars?: number;
}
/** Keys whose values are never shown: the defaults plus --redact-keys (redact.ts). */
export const SECRET_KEY = redaction().secretKey;
export { REDACTED };
const REDACTED_JSON = JSON.stringify(REDACTED);

const byteLengthOfView = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), "byteLength")!.get!;
const byteLengthOfDataView = Object.getOwnPropertyDescriptor(DataView.prototype, "byteLength")!.get!;
// The TypedArray toStringTag getter: the element type's name for a typed array, undefined for
// anything else (a DataView), and never throws.
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!.get!;
const byteLengthOfBuffer = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength")!.get!;
const byteLengthOfShared =
  typeof SharedArrayBuffer === "function" ? Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, "byteLength")!.get! : undefined;
const mapSize = Object.getOwnPropertyDescriptor(Map.prototype, "size")!.get!;
const setSize = Object.getOwnPropertyDescriptor(Set.prototype, "size")!.get!;
// The same internal-slot check as util.types.isArrayBufferView, without a binding call.
const isView = ArrayBuffer.isView;
const isArray = Array.isArray;
const keysOf = Object.keys;
const prototypeOf = Object.getPrototypeOf;
const objectPrototype = Object.prototype;
const ownDescriptor = Object.getOwnPropertyDescriptor;
const isInteger = Number.isInteger;
const hasOwn = Object.hasOwn as (object: object, key: PropertyKey) => boolean;
// What an own property's accessor is, without a descriptor object (an array element's
// descriptor goes through V8's runtime: ~85 ns and an allocation, against ~60 ns for these).
const lookupGetter = (Object.prototype as { __lookupGetter__(key: PropertyKey): unknown }).__lookupGetter__;
const lookupSetter = (Object.prototype as { __lookupSetter__(key: PropertyKey): unknown }).__lookupSetter__;

export interface Described {
  sizeBytes: number;
  preview: string;
}

/** UTF-8 bytes of a string (each surrogate counts 2: a pair is 4 bytes). */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) bytes += code >= 0x800 && (code < 0xd800 || code > 0xdfff) ? 2 : 1;
  }
  return bytes;
}

/** `"key":` and whether the key looks secret, once per key. */
interface KeyInfo {
  text: string;
  /** utf8 length + 4 (the size estimate of `"key":` and a separator) */
  bytes: number;
  secret: boolean;
  /** `text` as bytes when it is all ASCII (a unit a byte: copied without the cut's bookkeeping), else undefined. */
  ascii: Uint8Array | undefined;
}
const MAX_CACHED_KEYS = 1024;
const MAX_CACHED_KEY_CHARS = 64;
const keyCache = new Map<string, KeyInfo>();
/**
 * fast()'s keys by their place in the walk (the n-th key written): messages of one shape
 * meet the same keys in the same places, so a key is found by one identity compare instead
 * of a Map lookup (keySlot counts from 0 in each message's walk; a function preview's walk
 * starts at a place of its function's and kind's, `slots` of writePreview, so the previews
 * of different functions do not take each other's places).
 */
const KEY_SLOTS = 256;
const slotNames: (string | undefined)[] = new Array<string | undefined>(KEY_SLOTS).fill(undefined);
const placeholderKey: KeyInfo = { text: "", bytes: 0, secret: false, ascii: undefined };
const slotInfos: KeyInfo[] = new Array<KeyInfo>(KEY_SLOTS).fill(placeholderKey);
let keySlot = 0;

function keyInfo(key: string): KeyInfo {
  const known = keyCache.get(key);
  if (known !== undefined) return known;
  return newKeyInfo(key);
}

/** A key not cached yet: rarely called once a program runs, so V8 leaves it out of the walk it optimizes. */
function newKeyInfo(key: string): KeyInfo {
  const text = `${quote(key)}:`;
  const info: KeyInfo = { text, bytes: utf8Length(key) + 4, secret: SECRET_KEY.test(key), ascii: asciiBytes(text) };
  if (key.length <= MAX_CACHED_KEY_CHARS && keyCache.size < MAX_CACHED_KEYS) keyCache.set(key, info);
  return info;
}

function asciiBytes(text: string): Uint8Array | undefined {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return undefined;
    bytes[i] = code;
  }
  return bytes;
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

/**
 * Writes the character at text[i] (above 0x7f) as UTF-8 and returns how many UTF-16 units
 * it took: 2 for a surrogate pair (4 bytes), else 1. A lone surrogate (never produced by
 * the walk: JSON.stringify escapes them) becomes U+FFFD, as the native conversion writes it.
 */
function wide(text: string, i: number, code: number): number {
  if (code < 0x800) {
    buffer[at++] = 0xc0 | (code >> 6);
    buffer[at++] = 0x80 | (code & 0x3f);
    return 1;
  }
  if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
    const low = text.charCodeAt(i + 1);
    if (low >= 0xdc00 && low <= 0xdfff) {
      const point = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
      buffer[at++] = 0xf0 | (point >> 18);
      buffer[at++] = 0x80 | ((point >> 12) & 0x3f);
      buffer[at++] = 0x80 | ((point >> 6) & 0x3f);
      buffer[at++] = 0x80 | (point & 0x3f);
      return 2;
    }
  }
  if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
  buffer[at++] = 0xe0 | (code >> 12);
  buffer[at++] = 0x80 | ((code >> 6) & 0x3f);
  buffer[at++] = 0x80 | (code & 0x3f);
  return 1;
}

// The walk's state. `chars` is the length (UTF-16 units) of the text so far; bytes are
// kept for its first maxChars units only (what survives the final cut).
let types: TypeChecks;
/**
 * The walk's output: a string (`preview()`: concatenation, cut once at the end; where a
 * native call takes the string anyway, as a message's send does, this is the cheaper
 * form) or UTF-8 bytes (`writePreview()`: for a record batch, where no native call per
 * string is made). One branch per piece of text.
 */
let asString = false;
let out = "";
let buffer = new Uint8Array(0);
let at = 0;
let chars = 0;
/** Bytes before unit maxChars - 1: where the cut puts "…". */
let cutAt = 0;
/**
 * A surrogate pair at units maxChars - 2 and maxChars - 1 starts at this byte (else -1):
 * the cut keeps its first half alone, which UTF-8 writes as U+FFFD.
 */
let splitAt = -1;
let nodes = 0;
/** The size estimate of the whole value (previewSize), kept as it walks. */
let size = 0;
let maxChars = PREVIEW_MAX_CHARS;
let maxDepth = PREVIEW_MAX_DEPTH;
let maxNodes = PREVIEW_MAX_NODES;
/**
 * The walk's size estimate is wanted (a message's field d): it walks on once the text is
 * full. Function previews (writePreview, writeArgumentsPreview) have no size field, so
 * their walk ends where the text does (the text is the same either way).
 */
let sizing = true;
/**
 * fast()'s end of the text in bytes: maxChars plus `extra`, the bytes its limits' "…" took
 * beyond one each (2 a "…"; a unit is a byte otherwise). At more than `limit` bytes the text
 * is full (a function preview's walk then stops). `extraBefore`: those of them before unit
 * maxChars - 1, where the cut falls.
 */
let limit = PREVIEW_MAX_CHARS;
let extra = 0;
let extraBefore = 0;

/** Appends text while the preview has room (the text is cut once, at the end). */
function emit(text: string): void {
  if (chars > maxChars) return;
  const length = text.length;
  if (asString) {
    out += text;
    chars += length;
    return;
  }
  if (chars + length < maxChars - 1) {
    // The common case: every unit kept, none of them where the cut may fall.
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code < 0x80) buffer[at++] = code;
      else i += wide(text, i, code) - 1;
    }
    chars += length;
    return;
  }
  const keep = Math.min(length, maxChars - chars);
  for (let i = 0; i < keep; i++) {
    const unit = chars + i;
    if (unit === maxChars - 1) cutAt = at;
    const code = text.charCodeAt(i);
    if (code < 0x80) buffer[at++] = code;
    else {
      const start = at;
      const units = wide(text, i, code);
      if (units === 2 && unit === maxChars - 2) splitAt = start;
      i += units - 1;
    }
  }
  chars += length;
}

/**
 * emit() of one ASCII character (`code` is `text`'s only unit): a byte store while the cut
 * is still more than one unit away, the most common piece of text (`{`, `,`, `}` ...).
 */
function emitChar(code: number, text: string): void {
  if (!asString && chars < maxChars - 2) {
    buffer[at++] = code;
    chars++;
    return;
  }
  emit(text);
}

/** emit() of ASCII bytes (a cached key): copied while the cut is out of reach. */
function emitAscii(bytes: Uint8Array, text: string): void {
  const length = bytes.length;
  if (asString || chars + length >= maxChars - 1) return emit(text);
  const target = buffer;
  let position = at;
  for (let i = 0; i < length; i++) target[position++] = bytes[i]!;
  at = position;
  chars += length;
}

/** A primitive's text, counted in the size estimate by its length. */
function emitSized(text: string): void {
  size += text.length;
  emit(text);
}

/** How many decimal digits a non-negative integer below 1e15 has. */
function digitCount(n: number): number {
  let digits = 1;
  for (let power = 10; power <= n; power *= 10) digits++;
  return digits;
}

/**
 * A non-negative integer below 1e15 as ASCII digits, its last at `last` (written backwards).
 * Above 2^31 - 1 in floating point (exact below 1e15); below it in int32 (a multiply, not a divide).
 */
function writeDigits(target: Uint8Array, last: number, value: number): void {
  let n = value;
  let i = last;
  while (n > 0x7fffffff) {
    const next = Math.floor(n / 10);
    target[i--] = 0x30 + (n - next * 10);
    n = next;
  }
  let small = n | 0;
  do {
    const next = (small / 10) | 0;
    target[i--] = 0x30 + (small - next * 10);
    small = next;
  } while (small > 0);
}

/** emitSized(String(value)) for an integer below 1e15 in magnitude when the text has room for 17 more units (no cut). */
function emitInteger(value: number): void {
  let n = value;
  let length = 0;
  if (n < 0) {
    buffer[at++] = 0x2d;
    n = -n;
    length = 1;
  }
  const digits = digitCount(n);
  writeDigits(buffer, at + digits - 1, n);
  at += digits;
  length += digits;
  size += length;
  chars += length;
}

const FRACTION_SCALES = [10, 100, 1e3, 1e4, 1e5, 1e6];
/** emitFraction's texts by value: a sign, 9 digits, a point and 6 decimals at most (17 bytes) a slot. */
const FRACTION_SLOTS = 256;
const FRACTION_BYTES = 17;
const fractionKeys = new Float64Array(FRACTION_SLOTS).fill(NaN);
const fractionLengths = new Uint8Array(FRACTION_SLOTS);
const fractionTexts = new Uint8Array(FRACTION_SLOTS * FRACTION_BYTES);

/**
 * emitSized(String(value)) for a number that is not an integer, below 1e9 in magnitude,
 * with at most six decimals (the prices, ratios and rounded figures programs pass), when
 * the text has room for 17 more units (no cut); false for anything else (nothing written).
 * String() writes the shortest decimal that reads back as the same double; for these it
 * has the fewest decimals k such that round(|value| * 10^k) / 10^k is the value again
 * (division is correctly rounded, so the k-decimal then reads back exactly, and below 1e9
 * two k-decimals, 10^-k >= 1e-6 apart, cannot both be within half a unit of the last place
 * of the value: the one found is the one String() writes). 1e-6 and above print without
 * an exponent, as here.
 */
function emitFraction(value: number): boolean {
  // The text written last time for this value (a direct-mapped cache, the bits hashed as numberText's).
  numberBits[0] = value;
  const slot = (Math.imul(numberHalves[0]! ^ numberHalves[1]!, 0x9e3779b1) >>> 24) & (FRACTION_SLOTS - 1);
  if (fractionKeys[slot] === value) {
    const length = fractionLengths[slot]!;
    const target = buffer;
    let position = at;
    for (let i = slot * FRACTION_BYTES, last = i + length; i < last; i++) target[position++] = fractionTexts[i]!;
    at = position;
    size += length;
    chars += length;
    return true;
  }
  const start = at;
  const magnitude = value < 0 ? -value : value;
  // Also false for NaN and the infinities.
  if (!(magnitude < 1e9)) return false;
  // A value with k ≤ 6 decimals also reads back from 6 (both quotients are the correctly
  // rounded value of the same rational): one test turns away the longer fractions (a running
  // total) before the loop.
  if (Math.round(magnitude * 1e6) / 1e6 !== magnitude) return false;
  for (let k = 0; k < FRACTION_SCALES.length; k++) {
    const scale = FRACTION_SCALES[k]!;
    const scaled = Math.round(magnitude * scale);
    if (scaled / scale !== magnitude) continue;
    // The quotient is at least 10^-6 from an integer and off by at most ~1.1e-7: floor is exact.
    const whole = Math.floor(scaled / scale);
    let fraction = scaled - whole * scale;
    let length = k + 2;
    if (value < 0) {
      buffer[at++] = 0x2d;
      length++;
    }
    const digits = digitCount(whole);
    writeDigits(buffer, at + digits - 1, whole);
    at += digits;
    buffer[at++] = 0x2e;
    // The decimals with their leading zeros; the last is not 0 (k is the fewest).
    for (let i = at + k; i >= at; i--) {
      const next = Math.floor(fraction / 10);
      buffer[i] = 0x30 + (fraction - next * 10);
      fraction = next;
    }
    at += k + 1;
    length += digits;
    size += length;
    chars += length;
    const target = buffer;
    for (let i = slot * FRACTION_BYTES, from = start; from < at; i++, from++) fractionTexts[i] = target[from]!;
    fractionLengths[slot] = length;
    fractionKeys[slot] = value;
    return true;
  }
  return false;
}

/** A string value, quoted (the quotes written around it, no copy). */
function emitString(value: string): void {
  // The size only when wanted: a function preview's argument can be a compiler's whole
  // source text (tsc's SourceFile.text), counted on every call that passes it.
  if (sizing) size += utf8Length(value) + 2;
  if (chars > maxChars) return;
  const length = value.length;
  if (!asString && chars + length + 2 < maxChars - 1) {
    // Far from the cut: printable ASCII written as it is checked, quotes around it.
    const target = buffer;
    let position = at;
    target[position++] = 0x22;
    let i = 0;
    for (; i < length; i++) {
      const code = value.charCodeAt(i);
      if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) break;
      target[position++] = code;
    }
    if (i === length) {
      target[position++] = 0x22;
      at = position;
      chars += length + 2;
      return;
    }
    // Not printable: nothing kept (at and chars unchanged), the general path below.
  }
  const text = length > maxChars ? value.slice(0, maxChars) : value;
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
      // Far from the cut, as bytes: an integer's digits, or a short fraction's, with no
      // string made (String(n) allocates, and costs ~100 ns for a fraction).
      if (!asString && chars + 17 < maxChars - 1) {
        if (isInteger(value)) {
          if (value < 1e15 && value > -1e15) return emitInteger(value);
        } else if (emitFraction(value)) return;
      }
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
      return walkRecord(value, depth, true);
    }
    if (t.isArrayBuffer(value)) return binary("ArrayBuffer", byteLengthOfBuffer.call(value) as number);
    if (byteLengthOfShared && t.isSharedArrayBuffer(value)) return binary("SharedArrayBuffer", byteLengthOfShared.call(value) as number);
    if (t.isDate(value)) return emit("[Date]");
    if (t.isMap(value)) return emit(`Map(${mapSize.call(value)})`);
    if (t.isSet(value)) return emit(`Set(${setSize.call(value)})`);
    if (depth >= maxDepth || nodes > maxNodes) return emit("{…}");
    return walkRecord(value, depth, false);
  }
  if (depth >= maxDepth || nodes > maxNodes) return emit("[…]");
  walkArray(value as unknown[], depth);
}

function binary(name: string, bytes: number): void {
  size += bytes;
  if (chars <= maxChars) emit(`[${name} ${bytes}B]`);
}

function walkArray(value: unknown[], depth: number): void {
  emitChar(0x5b, "[");
  size += 2;
  const length = value.length;
  for (let i = 0; i < length; i++) {
    if (!sizing && chars > maxChars) return;
    if (i > 0) emitChar(0x2c, ",");
    if (nodes > maxNodes) return emit("…]");
    // An own element only (a hole shows as nothing): the lookups below then stop at it, so
    // they never reach a prototype (where a Proxy's trap could run); an own accessor, with
    // a getter or only a setter, is never called; anything else is read as it is (a data
    // element, or an accessor with neither, whose read runs nothing and gives undefined:
    // only then does a descriptor tell the two apart).
    if (hasOwn(value, i)) {
      if (lookupGetter.call(value, i) !== undefined || lookupSetter.call(value, i) !== undefined) emit("[getter]");
      else {
        const element = value[i];
        if (element === undefined && !("value" in ownDescriptor(value, i)!)) emit("[getter]");
        else walkValue(element, depth + 1);
      }
    }
    size += 1;
  }
  emitChar(0x5d, "]");
}

function walkRecord(value: object, depth: number, plain: boolean): void {
  emitChar(0x7b, "{");
  size += 2;
  // A plain record's keys by for-in instead of Object.keys: the same own keys in the same
  // order, read from V8's enum cache with no array made. Keys it lists from the prototype (a
  // program that added an enumerable property to Object.prototype) have no own descriptor
  // and are skipped. Only for prototype Object.prototype or null: for-in also walks the
  // prototype chain, where anything else could hold a Proxy whose traps would run.
  if (!plain) return walkKeys(value, depth, keysOf(value));
  let i = 0;
  for (const name in value) {
    if (!sizing && chars > maxChars) return;
    const descriptor = ownDescriptor(value, name);
    if (descriptor === undefined) continue;
    if (i++ > 0) emitChar(0x2c, ",");
    if (nodes > maxNodes) return emit("…}");
    property(name, descriptor, depth);
  }
  emitChar(0x7d, "}");
}

function walkKeys(value: object, depth: number, keys: string[]): void {
  for (let i = 0; i < keys.length; i++) {
    if (!sizing && chars > maxChars) return;
    if (i > 0) emitChar(0x2c, ",");
    if (nodes > maxNodes) return emit("…}");
    property(keys[i]!, ownDescriptor(value, keys[i]!), depth);
  }
  emitChar(0x7d, "}");
}

/** `"key":` and the value (or what stands for it) of one own property. */
function property(name: string, descriptor: PropertyDescriptor | undefined, depth: number): void {
  const key = keyInfo(name);
  const ascii = key.ascii;
  if (ascii !== undefined) emitAscii(ascii, key.text);
  else emit(key.text);
  size += key.bytes;
  if (!descriptor || !("value" in descriptor)) emit("[getter]");
  else if (key.secret) {
    nodes++;
    if (sizing && typeof descriptor.value === "string") size += utf8Length(descriptor.value) + 2;
    emit(REDACTED_JSON);
  } else walkValue(descriptor.value, depth + 1);
}

/** Limits as the walk takes them (already clamped): depth, characters (≤ PREVIEW_LIMIT_CHARS). */
export interface ByteLimits {
  depth: number;
  chars: number;
}

function begin(checks: TypeChecks, limits: ByteLimits, string: boolean, sized = true): void {
  asString = string;
  sizing = sized;
  out = "";
  types = checks;
  maxChars = limits.chars;
  maxDepth = limits.depth;
  maxNodes = maxChars > PREVIEW_MAX_CHARS ? Math.ceil((PREVIEW_MAX_NODES * maxChars) / PREVIEW_MAX_CHARS) : PREVIEW_MAX_NODES;
  const room = 3 * maxChars + 8;
  if (buffer.length < room) buffer = new Uint8Array(room);
  at = 0;
  keySlot = 0;
  limit = maxChars;
  extra = 0;
  extraBefore = 0;
  chars = 0;
  cutAt = 0;
  splitAt = -1;
  nodes = 0;
  size = 0;
}

/**
 * begin() of a function preview's fast() (`sizing` false, bytes): only the state fast() uses
 * (begin() again if it gives up), the node budget computed again only when the limits change.
 */
function beginFast(checks: TypeChecks, limits: ByteLimits, slots: number): void {
  sizing = false;
  types = checks;
  const characters = limits.chars;
  if (characters !== maxChars) {
    maxChars = characters;
    maxNodes = maxChars > PREVIEW_MAX_CHARS ? Math.ceil((PREVIEW_MAX_NODES * maxChars) / PREVIEW_MAX_CHARS) : PREVIEW_MAX_NODES;
  }
  maxDepth = limits.depth;
  if (buffer.length < 3 * characters + 8) buffer = new Uint8Array(3 * characters + 8);
  at = 0;
  keySlot = slots & (KEY_SLOTS - 1);
  limit = characters;
  extra = 0;
  extraBefore = 0;
  nodes = 0;
  size = 0;
}

/** The bytes written by begin()..walk, the text cut to maxChars units with "…" if longer. */
function end(): number {
  if (chars <= maxChars) return at;
  // text.slice(0, maxChars - 1) + "…", in UTF-8: a pair cut in half keeps its first half,
  // which is written as U+FFFD.
  let cut = cutAt;
  if (splitAt >= 0) {
    buffer[splitAt] = 0xef;
    buffer[splitAt + 1] = 0xbf;
    buffer[splitAt + 2] = 0xbd;
    cut = splitAt + 3;
  }
  buffer[cut] = 0xe2;
  buffer[cut + 1] = 0x80;
  buffer[cut + 2] = 0xa6;
  return cut + 3;
}

/**
 * Writes the preview of `value` as UTF-8 into `previewBytes()`, or into `target` (at least
 * 3 * limits.chars + 8 bytes: function tracing's native event buffer) when given; returns
 * its length in bytes. With `sized` false the walk ends where the text does, and
 * previewSize() is not the value's (function events have no size field).
 */
export function writePreview(value: unknown, checks: TypeChecks, limits: ByteLimits, target?: Uint8Array<ArrayBuffer>, sized = true, slots = 0): number {
  if (target === undefined) return walkPreview(value, checks, limits, sized, slots);
  const own = buffer;
  buffer = target;
  try {
    return walkPreview(value, checks, limits, sized, slots);
  } finally {
    buffer = own;
  }
}

/**
 * writePreview into `buffer`. A function preview (`sized` false) tries fast() first, its key
 * places starting at `slots` (see KEY_SLOTS), and walks in general only what fast() gives up.
 */
function walkPreview(value: unknown, checks: TypeChecks, limits: ByteLimits, sized: boolean, slots: number): number {
  if (!sized) {
    beginFast(checks, limits, slots);
    if ((wentFast = fast(value, 0))) return fastEnd();
  }
  begin(checks, limits, false, sized);
  walkValue(value, 0);
  return end();
}

/**
 * As writePreview of an array of `args[0..length)` (the preview of a call's arguments),
 * without making the array: the same nodes, depth and text.
 */
export function writeArgumentsPreview(
  args: ArrayLike<unknown>,
  length: number,
  checks: TypeChecks,
  limits: ByteLimits,
  target?: Uint8Array<ArrayBuffer>,
  sized = true,
  slots = 0,
): number {
  if (target === undefined) return walkArguments(args, length, checks, limits, sized, slots);
  const own = buffer;
  buffer = target;
  try {
    return walkArguments(args, length, checks, limits, sized, slots);
  } finally {
    buffer = own;
  }
}

function walkArguments(args: ArrayLike<unknown>, length: number, checks: TypeChecks, limits: ByteLimits, sized: boolean, slots: number): number {
  if (!sized) {
    beginFast(checks, limits, slots);
    if ((wentFast = fastArguments(args, length))) return fastEnd();
  }
  begin(checks, limits, false, sized);
  // walkValue(array, 0): one node, then walkObject's depth check, then walkArray.
  nodes++;
  if (maxDepth <= 0 || nodes > maxNodes) emit("[…]");
  else {
    emit("[");
    for (let i = 0; i < length; i++) {
      if (!sizing && chars > maxChars) break;
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

/** The last function preview (writePreview or writeArgumentsPreview, `sized` false) was written by fast() (for tests). */
let wentFast = false;
export function previewWentFast(): boolean {
  return wentFast;
}

/** walkArguments' list by fast(), for a function preview (`sizing` false): false when fast() gives up. */
function fastArguments(args: ArrayLike<unknown>, length: number): boolean {
  nodes++;
  if (maxDepth <= 0 || nodes > maxNodes) return fastMark(0x5b, 0x5d);
  const target = buffer;
  target[at++] = 0x5b;
  for (let i = 0; i < length; i++) {
    if (at > limit) return true;
    if (i > 0) {
      if (at >= limit) return fastLast(0x2c);
      target[at++] = 0x2c;
    }
    if (nodes > maxNodes) return fastMark(0, 0x5d);
    if (!fast(args[i], 1)) return false;
  }
  if (at >= limit) return fastLast(0x5d);
  target[at++] = 0x5d;
  return true;
}

const DEFAULT_LIMITS: ByteLimits = { depth: PREVIEW_MAX_DEPTH, chars: PREVIEW_MAX_CHARS };

// ---------------------------------------------------------------------------------------
// Shape writers: a message's send previews records of the same keys again and again
// ({id, seed, rounds}, {type, id, ...}). Once fast() has walked the same top-level keys
// SHAPE_STREAK times (a flat plain record: no nested object, no secret key, every
// key printable ASCII), a writer is compiled for that key list (`new Function`, captured at
// load): its keys are constants (their bytes stored as constants, each property's descriptor
// asked by a constant key), so V8 optimizes a straight line instead of fast()'s general
// loop (BENCHMARKS.md "Per-message cost: shape writers"). A writer reads exactly what fast()
// reads: it first checks that for-in lists exactly its keys (so a key the prototype adds, a
// key missing, added or reordered is a miss), then takes each key's own descriptor, and
// writes only what fast() would write the same way: numbers (String()'s text), printable
// ASCII strings without escapes, booleans, null and undefined, the whole text within
// PREVIEW_MAX_CHARS. Anything else (an accessor, a key now on the prototype, another
// value type, a longer text) returns VALUE_MISS and the send goes on through fast() and the
// general walk as before, so the bytes and size are always fast()'s. A writer that misses
// more often than it writes is turned off. Without code generation (a runtime started with
// --disallow-code-generation-from-strings) nothing is compiled.

/** A writer's result when for-in does not list exactly its keys. */
const KEYS_MISS = -1;
/** A writer's result when a value is one it does not write (fast() decides). */
const VALUE_MISS = -2;
const MAX_SHAPES = 4;
const MAX_SHAPE_KEYS = 12;
const SHAPE_STREAK = 4;
interface Shape {
  keys: string[];
  write: (object: object, target: Uint8Array) => number;
  /** write() without descriptors: for an object whose map is held for this writer (mapHeld). */
  direct: (object: object, target: Uint8Array) => number;
  hits: number;
  misses: number;
  off: boolean;
  /** Maps held for this writer (mapProve), at most MAX_PROVES. */
  proves: number;
}
const shapes: Shape[] = [];
let shapeCount = 0;
/** The shape tried first: the last one that wrote. */
let lastShape = 0;
/**
 * Records no writer's keys matched, and records a writer wrote: a thread whose records
 * mostly match none (many key lists) stops trying writers (each try is a for-in start and a
 * compare, and the Proxy and prototype checks fast() then makes again).
 */
let shapeWrites = 0;
let shapeNoMatch = 0;
let shapesOn = true;
/** fast() walked a record below the top level (set by fast, cleared by previewWrite). */
let nested = false;
/** Key lists fast() walked at the top level (a few, replaced round robin), and how many times each. */
const CANDIDATES = 4;
const candidateKeys: string[][] = Array.from({ length: CANDIDATES }, () => []);
const candidateSeen = new Int32Array(CANDIDATES);
let nextCandidate = 0;
// Captured now, before the program runs: a program that replaces globalThis.Function later is never called.
let compile: FunctionConstructor | undefined = Function;

// ---------------------------------------------------------------------------------------
// Map proofs (scope.node's mapApi, zig/napi.zig "Map proofs"): a writer's descriptor reads
// (~430 instructions a key) prove that an object's keys are own data properties; V8 keeps
// that in the object's map, which other objects share. After write() has read an object by
// descriptor, its map is held natively for that writer (mapProve(object, writer's index));
// a later object with that map and no elements (mapHeld(object, index): one Fast API call
// comparing two words) has the same own data properties in the same order, and the
// writer's direct() reads them plainly (`o.key`): no getter, no Proxy trap can run, and the
// bytes are write()'s. Where scope.node has no mapApi (Bun, `scope attach`, a V8 whose
// layouts were not checked, a second env on a thread) every write goes through write().

/** Maps a writer holds at most (each a mapProve call; a program whose records take ever-new maps stops proving). */
const MAX_PROVES = 64;
type MapHeld = (object: object, slot: number) => boolean;
type MapProve = (object: object | undefined, slot: number, written?: number) => boolean | number;
let mapHeld: MapHeld | undefined;
let mapProve: MapProve | undefined;
/**
 * scope.node's commitHeld(object, kind, flags, a, b, c, id) (zig/napi.zig "One crossing a send"):
 * for a record whose map a writer holds with a plan, the map compare, the writer's bytes and
 * the commit of string `id` and event `kind, flags, a, b, c` (d the size) in one call (its
 * answer, 0..2, plus 4 times the writer's slot); HELD_NONE when it wrote nothing. Only where the Recorder's sink
 * is the addon itself (useMapProofs' `commits`: not function tracing's ordered sink, which
 * flushes its buffer before each commit).
 */
type CommitHeld = (object: object, kind: number, flags: number, a: number, b: number, c: number, id: number) => number;
let commitHeld: CommitHeld | undefined;
let heldCommits = false;
/** A proof on this thread made commitHeld a plan (mapProve answered 2): until then a send does not ask it (no crossing for nothing). */
let planned = false;
/**
 * commitHeld while a send may ask it (a plan made, the writers on), else undefined: the one
 * test previewCommit makes (one compare, where `planned` and `shapesOn` were each a
 * generic truth test in TurboFan's code). Set and cleared with those (heldReadiness).
 */
let heldCommit: CommitHeld | undefined;
/**
 * Records commitHeld wrote, by writer slot (f64: no overflow): previewCommit counts a write
 * here with one typed-array add instead of the Shape's hits and the two module counters;
 * a writer's hits and the thread's writes read these too (missed, shaped, shapeDirectWrites).
 */
const heldHits = new Float64Array(MAX_SHAPES);

function heldReadiness(): void {
  heldCommit = planned && shapesOn ? commitHeld : undefined;
}

/** Records commitHeld wrote on this thread. */
function heldWrites(): number {
  let total = 0;
  for (let i = 0; i < MAX_SHAPES; i++) total += heldHits[i]!;
  return total;
}
const HELD_NONE = 3;
// fast()'s known maps (scope.node's mapKnown and mapLearn, a table of its own): after fast()
// has read every for-in key of a record by descriptor, all own data properties, its map is
// learnt with that count; mapKnown(record) is then the count + 1 (0: not known), and fast()
// reads that many first for-in keys plainly (for-in lists a record's own keys first; a key a
// prototype adds comes after them, and is still asked by descriptor). Asked for once fast()
// has walked MAP_ASK_RECORDS records (each mapApi a few native functions made: not for a
// thread that previews a record or two).
type MapKnown = (object: object) => number;
type MapLearn = (object: object, count: number, plainKeys: number) => boolean;
let mapKnown: MapKnown | undefined;
let mapLearn: MapLearn | undefined;
/**
 * mapPacked(array): the array's map says its elements are packed (no hole below its length, no
 * accessor element: an accessor makes dictionary elements), so fast() reads each element
 * plainly instead of hasOwn and the two accessor look-ups per element.
 */
let mapPacked: ((array: unknown[]) => boolean) | undefined;
const MAP_ASK_RECORDS = 64;
/**
 * scope.node's previewNative(first, second, meta) (zig/napi.zig "Function previews written
 * natively"): a function preview written into the function-event buffer's text `meta & 1`
 * (its length in bytes), exactly as fast() writes it, for values it can prove it may read
 * (numbers, true/false/null/undefined, printable one-byte strings, packed arrays, records of a
 * map fast() learnt with no secret key); 0 for anything else, and nothing counted written.
 */
type PreviewNative = (first: unknown, second: unknown, meta: number) => number;
let previewNative: PreviewNative | undefined;

/**
 * Function tracing's native text (runtime.ts nativeText): the preview of `value` (`length` < 0)
 * or of the arguments `value[0..length)` written by previewNative into the event buffer's
 * text `slot`; its length in bytes, or 0 (not written: walk it with writePreview or
 * writeArgumentsPreview). Only a list of at most two arguments is asked.
 */
export function writeNativePreview(value: unknown, length: number, slot: number, limits: ByteLimits): number {
  const native = previewNative;
  const depth = limits.depth;
  const chars = limits.chars;
  if (native === undefined || length > 2 || (depth & 31) !== depth || (chars & 8191) !== chars) return 0;
  const meta = slot | ((length + 1) << 1) | (depth << 3) | (chars << 8);
  if (length <= 0) return native(value, undefined, meta);
  const args = value as ArrayLike<unknown>;
  return native(args[0], length > 1 ? args[1] : undefined, meta);
}
/** Maps fast() learns at most a thread (each a native call; a program of ever-new maps stops learning). */
const MAX_LEARNS = 256;
let learns = 0;
let recordsWalked = 0;

/** Asked once, when the first writer is compiled or fast() has walked MAP_ASK_RECORDS records: scope.node's mapApi(), or undefined. */
let mapSource: (() => unknown) | undefined;
/** Records a writer's direct() wrote (for tests and benches). */
let directWrites = 0;

/** How many records the shape writers wrote by plain reads after a map proof (tests, benches). */
export function shapeDirectWrites(): number {
  return directWrites + heldWrites();
}

/**
 * Where the map proofs come from (the Node agent's loader, function tracing's runtime:
 * scope.node's mapApi). `commits`: the Recorder's sink is that addon, so a send may be committed
 * by commitHeld (previewCommit).
 */
export function useMapProofs(source: () => unknown, commits = false): void {
  mapSource = source;
  heldCommits = commits;
  if (!commits) commitHeld = undefined;
  heldReadiness();
}

/** After fast() read every for-in key of `object` by descriptor, `count` own data properties: learns its map. */
function learnMap(object: object, count: number, plainKeys: boolean): void {
  if (learns >= MAX_LEARNS) return;
  learns++;
  try {
    mapLearn!(object, count, plainKeys ? 1 : 0);
  } catch {
    learns = MAX_LEARNS;
  }
}

function askMapProofs(): void {
  const source = mapSource;
  if (source === undefined) return;
  mapSource = undefined;
  try {
    const api = source() as { mapHeld?: unknown; mapProve?: unknown; mapKnown?: unknown; mapLearn?: unknown; mapPacked?: unknown; commitHeld?: unknown } | null | undefined;
    if (api !== null && typeof api === "object" && typeof api.mapHeld === "function" && typeof api.mapProve === "function") {
      mapHeld = api.mapHeld as MapHeld;
      mapProve = api.mapProve as MapProve;
      if (heldCommits && typeof api.commitHeld === "function") commitHeld = api.commitHeld as CommitHeld;
      heldReadiness();
    }
    if (api !== null && typeof api === "object" && typeof api.mapKnown === "function" && typeof api.mapLearn === "function") {
      mapKnown = api.mapKnown as MapKnown;
      mapLearn = api.mapLearn as MapLearn;
    }
    if (api !== null && typeof api === "object" && typeof api.mapPacked === "function") mapPacked = api.mapPacked as (array: unknown[]) => boolean;
    const native = (api as { previewNative?: unknown } | null | undefined)?.previewNative;
    if (typeof native === "function") previewNative = native as PreviewNative;
  } catch {
    // No proofs: every write by descriptor, as before.
  }
}

/**
 * After `shape` (writer `slot`) wrote `object` by descriptor (`written` bytes into the target):
 * holds its map for direct(), and for commitHeld, which checks its plan against those bytes
 * (they are in the scratch only on a send's path: elsewhere no plan is made).
 */
function prove(object: object, slot: number, shape: Shape, written: number): void {
  if (shape.proves >= MAX_PROVES) return;
  shape.proves++;
  try {
    if (mapProve!(object, slot, written) === 2) {
      planned = true;
      heldReadiness();
    }
  } catch {
    shape.proves = MAX_PROVES;
  }
}

/**
 * A shape writer's write of one value as fast() writes it: numbers (String()'s text),
 * printable ASCII strings without escapes, booleans, null and undefined. Returns the end, or
 * VALUE_MISS for another value or an end past PREVIEW_MAX_CHARS. One function for every key
 * of every writer, called and not inlined (its bytecode is above V8's
 * --max-inlined-bytecode-size, 460 bytes): TurboFan compiles its digit and character loops
 * once a thread, and each writer's own compile stays a short line of constant stores and
 * calls (BENCHMARKS.md "The shape writer's compile"). Its loops are written out here, not
 * called, for the same reason (one compile, nothing to inline).
 */
function shapeValue(target: Uint8Array, position: number, value: unknown): number {
  let i = position;
  if (typeof value === "number") {
    let n = value;
    if (!(n > -1e15 && n < 1e15 && isInteger(n))) {
      const text = numberText(n);
      const length = text.length;
      if (i + length > PREVIEW_MAX_CHARS) return VALUE_MISS;
      for (let c = 0; c < length; c++) target[i++] = text.charCodeAt(c);
      return i;
    }
    if (n < 0) {
      target[i++] = 0x2d;
      n = -n;
    }
    let digits = 1;
    for (let power = 10; power <= n; power *= 10) digits++;
    let d = i + digits - 1;
    while (n > 0x7fffffff) {
      const next = Math.floor(n / 10);
      target[d--] = 0x30 + (n - next * 10);
      n = next;
    }
    let small = n | 0;
    do {
      const next = (small / 10) | 0;
      target[d--] = 0x30 + (small - next * 10);
      small = next;
    } while (small > 0);
    i += digits;
  } else if (typeof value === "string") {
    const length = value.length;
    if (i + length + 2 > PREVIEW_MAX_CHARS) return VALUE_MISS;
    target[i++] = 0x22;
    for (let c = 0; c < length; c++) {
      const code = value.charCodeAt(c);
      if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) return VALUE_MISS;
      target[i++] = code;
    }
    target[i++] = 0x22;
  } else if (value === true) {
    target[i] = 0x74;
    target[i + 1] = 0x72;
    target[i + 2] = 0x75;
    target[i + 3] = 0x65;
    i += 4;
  } else if (value === false) {
    target[i] = 0x66;
    target[i + 1] = 0x61;
    target[i + 2] = 0x6c;
    target[i + 3] = 0x73;
    target[i + 4] = 0x65;
    i += 5;
  } else if (value === null) {
    target[i] = 0x6e;
    target[i + 1] = 0x75;
    target[i + 2] = 0x6c;
    target[i + 3] = 0x6c;
    i += 4;
  } else if (value === undefined) {
    target[i] = 0x75;
    target[i + 1] = 0x6e;
    target[i + 2] = 0x64;
    target[i + 3] = 0x65;
    target[i + 4] = 0x66;
    target[i + 5] = 0x69;
    target[i + 6] = 0x6e;
    target[i + 7] = 0x65;
    target[i + 8] = 0x64;
    i += 9;
  } else return VALUE_MISS;
  return i > PREVIEW_MAX_CHARS ? VALUE_MISS : i;
}

/** The preview of plain record `object` by a shape writer: its length, or -1 (fast() decides). */
function shaped(object: object, target: Uint8Array): number {
  const held = mapHeld;
  if (held !== undefined) {
    // The last writer first, then the others: one held() each.
    let i = lastShape;
    for (let n = 0; n < shapeCount; n++) {
      const shape = shapes[i]!;
      if (!shape.off && held(object, i)) {
        const length = shape.direct(object, target);
        if (length >= 0) {
          shape.hits++;
          shapeWrites++;
          directWrites++;
          lastShape = i;
          return length;
        }
        return missed(shape);
      }
      i = i + 1 === shapeCount ? 0 : i + 1;
    }
  }
  if (types.isProxy(object)) return -1;
  const proto = prototypeOf(object);
  if (proto !== objectPrototype && proto !== null) return -1;
  const first = shapes[lastShape]!;
  if (!first.off) {
    const length = first.write(object, target);
    if (length >= 0) {
      first.hits++;
      shapeWrites++;
      if (held !== undefined) prove(object, lastShape, first, length);
      return length;
    }
    if (length === VALUE_MISS) return missed(first);
  }
  for (let i = 0; i < shapeCount; i++) {
    const shape = shapes[i]!;
    if (i === lastShape || shape.off) continue;
    const length = shape.write(object, target);
    if (length >= 0) {
      shape.hits++;
      shapeWrites++;
      lastShape = i;
      if (held !== undefined) prove(object, i, shape, length);
      return length;
    }
    if (length === VALUE_MISS) return missed(shape);
  }
  if (++shapeNoMatch > 256 && shapeNoMatch > shapeWrites + heldWrites()) {
    shapesOn = false;
    heldReadiness();
  }
  return -1;
}

/** How many shape writers this thread compiled (for tests and benches); 0 once they were given up. */
export function shapeWriterCount(): number {
  return shapesOn ? shapeCount : 0;
}

/** Forgets every shape writer and count (tests start from a thread's beginning). */
export function resetShapeWriters(): void {
  // A writer's index is its held map's slot: a new writer there must not find the old one's map.
  if (mapProve !== undefined) {
    for (let i = 0; i < shapeCount; i++) {
      try {
        mapProve(undefined, i);
      } catch {
        // Nothing held.
      }
    }
  }
  shapes.length = 0;
  shapeCount = 0;
  planned = false;
  lastShape = 0;
  shapeWrites = 0;
  shapeNoMatch = 0;
  shapesOn = true;
  // shapeDirectWrites counts across resets (as directWrites does); the writers' counts start again.
  directWrites += heldWrites();
  heldHits.fill(0);
  heldReadiness();
  for (let c = 0; c < CANDIDATES; c++) {
    candidateKeys[c] = [];
    candidateSeen[c] = 0;
  }
  nextCandidate = 0;
}

function missed(shape: Shape): number {
  shape.misses++;
  if (shape.misses > 16 && shape.misses > shape.hits + heldHits[shapes.indexOf(shape)]! && !shape.off) {
    shape.off = true;
    // Its held map goes too: commitHeld writes no record of a writer that is off.
    if (mapProve !== undefined) {
      try {
        mapProve(undefined, shapes.indexOf(shape));
      } catch {
        // Nothing held.
      }
    }
  }
  return -1;
}

/**
 * A send's preview and commit in one native call (commitHeld), when `value` is a record whose
 * map a writer holds with a plan: commitString's answer (0..2), or -1 when it wrote nothing (the
 * caller then writes by previewWrite and commits as before). The event's fields (kind, flags,
 * a, b, c; d is the preview's size) and its string id are the call's arguments; commitHeld
 * writes the preview into the scratch (zeros after it), not its fields.
 */
export function previewCommit(value: unknown, kind: number, flags: number, a: number, b: number, c: number, id: number): number {
  const commit = heldCommit;
  if (commit === undefined || typeof value !== "object" || value === null) return -1;
  // Its count (0..2) plus 4 times the writer's slot.
  const result = commit(value, kind, flags, a, b, c, id);
  if (result === HELD_NONE) return -1;
  const slot = result >> 2;
  heldHits[slot] = heldHits[slot]! + 1;
  lastShape = slot;
  return result & 3;
}

/** After fast() wrote a flat top-level plain record: counts its key list, compiles a writer for it once seen SHAPE_STREAK times. */
function learn(): void {
  const count = keySlot;
  if (count > MAX_SHAPE_KEYS || count > KEY_SLOTS) return;
  for (let i = 0; i < count; i++) {
    const info = slotInfos[i]!;
    if (info.secret || info.ascii === undefined || info.text.length > MAX_CACHED_KEY_CHARS + 3) return;
  }
  let found = -1;
  for (let c = 0; c < CANDIDATES && found < 0; c++) {
    const keys = candidateKeys[c]!;
    if (keys.length !== count) continue;
    let same = true;
    for (let i = 0; i < count && same; i++) same = keys[i] === slotNames[i];
    if (same) found = c;
  }
  if (found < 0) {
    // A key list not counted yet takes the next candidate's place (round robin).
    found = nextCandidate;
    nextCandidate = (nextCandidate + 1) % CANDIDATES;
    candidateKeys[found] = slotNames.slice(0, count) as string[];
    candidateSeen[found] = 0;
  }
  if (++candidateSeen[found]! !== SHAPE_STREAK) return;
  const keys = candidateKeys[found]!;
  for (let i = 0; i < shapeCount; i++) {
    const known = shapes[i]!.keys;
    if (known.length === count && known.every((key, k) => key === keys[k])) return;
  }
  const writers = compileShape(keys, slotInfos.slice(0, count));
  if (writers === undefined) return;
  if (shapeCount === 0) askMapProofs();
  shapes.push({ keys, write: writers.write, direct: writers.direct, hits: 0, misses: 0, off: false, proves: 0 });
  lastShape = shapeCount++;
}

/** The writers of one key list (see "Shape writers" and "Map proofs"), or undefined when code cannot be generated. */
function compileShape(keys: string[], infos: KeyInfo[]): Pick<Shape, "write" | "direct"> | undefined {
  if (compile === undefined) return undefined;
  const lines: string[] = ["let k = 0;", "for (const name in o) {", "switch (k++) {"];
  keys.forEach((key, i) => lines.push(`case ${i}: if (name !== ${JSON.stringify(key)}) return ${KEYS_MISS}; break;`));
  lines.push(`default: return ${KEYS_MISS};`, "}", "}", `if (k !== ${keys.length}) return ${KEYS_MISS};`, "t[0] = 0x7b;", "let at = 1;", "let d;");
  // direct(): the same bytes from plain reads (an object whose map is held: own data properties only).
  const direct: string[] = ["t[0] = 0x7b;", "let at = 1;"];
  keys.forEach((key, i) => {
    const bytes = Array.from(infos[i]!.ascii!);
    if (i > 0) bytes.unshift(0x2c);
    const stores = bytes.map((byte, b) => `t[at + ${b}] = ${byte};`);
    lines.push(
      `d = od(o, ${JSON.stringify(key)});`,
      `if (d === undefined || !("value" in d)) return ${VALUE_MISS};`,
      ...stores,
      `at = value(t, at + ${bytes.length}, d.value);`,
      `if (at < 0) return ${VALUE_MISS};`,
    );
    direct.push(...stores, `at = value(t, at + ${bytes.length}, o[${JSON.stringify(key)}]);`, `if (at < 0) return ${VALUE_MISS};`);
  });
  const close = ["t[at++] = 0x7d;", `return at > ${PREVIEW_MAX_CHARS} ? ${VALUE_MISS} : at;`];
  lines.push(...close);
  direct.push(...close);
  try {
    const factory = new compile(
      "od",
      "value",
      `"use strict"; return { write: function shape(o, t) {\n${lines.join("\n")}\n}, direct: function shapeDirect(o, t) {\n${direct.join("\n")}\n} };`,
    );
    return factory(ownDescriptor, shapeValue) as Pick<Shape, "write" | "direct">;
  } catch {
    // Code generation refused (--disallow-code-generation-from-strings): the walk as before.
    compile = undefined;
    return undefined;
  }
}

/**
 * writePreview with the default limits into `target` (at least SCRATCH_PREVIEW_BYTES long)
 * instead of the walk's own buffer: the native side reads it from there (a message's send
 * through the addon's scratch). Returns the length in bytes; previewSize() as usual.
 */
export function previewWrite(target: Uint8Array<ArrayBuffer>, value: unknown, checks: TypeChecks): number {
  const own = buffer;
  buffer = target;
  try {
    begin(checks, DEFAULT_LIMITS, false);
    if (shapesOn && shapeCount > 0 && typeof value === "object" && value !== null && !isArray(value)) {
      const length = shaped(value, target);
      if (length >= 0) {
        // A record's text is its braces, `"key":` and the value's text per key, and a comma
        // between keys; its size estimate counts each key's `"key":` and one separator, so for
        // one key or more it is the text's length plus one (fast()'s sum, spec/preview-walk).
        at = length;
        chars = length;
        size = length + 1;
        return length;
      }
      begin(checks, DEFAULT_LIMITS, false);
    }
    nested = false;
    if (fast(value, 0)) {
      const length = fastEnd();
      if (!nested && extra === 0 && shapesOn && shapeCount < MAX_SHAPES && keySlot > 0 && typeof value === "object" && value !== null && !isArray(value)) learn();
      return length;
    }
    begin(checks, DEFAULT_LIMITS, false);
    walkValue(value, 0);
    return end();
  } finally {
    buffer = own;
  }
}

/**
 * The fast path of a message's send (previewWrite) and of a function's preview (writePreview
 * and writeArgumentsPreview with `sized` false), for what they mostly are: primitives, and
 * plain records and arrays of them whose text is ASCII and needs no JSON escape. One
 * function (a unit is a byte, so `at` counts both) that writes exactly the bytes, size and
 * nodes the general walk would, and returns false as soon as the value needs anything else
 * (escaped or non-ASCII text, binary data, built-ins, class instances): the caller then
 * starts over with the general walk. It reads the value the same way (isProxy first, own
 * data properties by descriptor, array elements as walkArray reads them, for-in on plain
 * records only), so it runs no program code either. Kept in one function so that V8 optimizes one small unit per thread instead of the
 * general walk's functions inlined into each other (BENCHMARKS.md "Per-message cost: ...
 * 2026-12-04").
 *
 * What the limits write ("{…}", "[…]" past the depth, "…]", "…}" past the node budget) it
 * writes too (fastMark: the "…" is one unit in three bytes, so `limit`, the end of the text
 * in bytes, moves by two). The cut: a message's walk goes on past it for the size estimate,
 * so there a text that does not fit returns false; a function preview's walk (`sizing`
 * false) writes up to one unit past maxChars (at = limit + 1: the text is full, and every
 * caller returns true at once), and fastEnd() cuts as end() does. Only units before maxChars - 1 survive the cut, so a value
 * that bails there (a non-ASCII unit after them) would not change the text, but it bails
 * anyway: the general walk writes the same.
 */
function fast(value: unknown, depth: number): boolean {
  nodes++;
  const target = buffer;
  let text: string;
  // typeof compared to constants, not switched on: V8 then checks the type instead of making
  // the typeof string and comparing strings.
  if (typeof value === "number") {
    if (isInteger(value) && value < 1e15 && value > -1e15) {
      const n = value < 0 ? -value : value;
      const digits = digitCount(n);
      const length = value < 0 ? digits + 1 : digits;
      if (at + length > limit) {
        if (sizing) return false;
        // Cut: written whole (the buffer has room), then counted to the unit after maxChars.
        if (value < 0) target[at++] = 0x2d;
        writeDigits(target, at + digits - 1, n);
        at = limit + 1;
        return true;
      }
      if (value < 0) target[at++] = 0x2d;
      writeDigits(target, at + digits - 1, n);
      at += digits;
      size += length;
      return true;
    }
    // A short fraction as digits (at most 17 units: fits), as the general walk writes it.
    if (at + 17 <= limit && emitFraction(value)) return true;
    text = numberText(value);
    size += text.length;
  } else if (typeof value === "string") {
    const length = value.length;
    let position = at;
    if (position + length + 2 > limit) return sizing ? false : fastCutString(value);
    target[position++] = 0x22;
    for (let i = 0; i < length; i++) {
      const code = value.charCodeAt(i);
      if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) return false;
      target[position++] = code;
    }
    target[position++] = 0x22;
    at = position;
    size += length + 2;
    return true;
  } else if (typeof value === "boolean") {
    text = value ? "true" : "false";
    size += text.length;
  } else if (value === undefined) {
    text = "undefined";
    size += 9;
  } else if (value === null) {
    text = "null";
    size += 4;
  } else if (typeof value === "bigint") {
    text = String(value);
    size += text.length;
  } else if (typeof value === "symbol") text = "[symbol]";
  else if (typeof value === "function") text = "[function]";
  else {
    const object = value as object;
    if (depth > 0) nested = true;
    // A record of a known map (mapKnown: one Fast API call reading its map) is a plain record:
    // its map was learnt from one that was no Proxy, no view, no array, of Object.prototype or
    // null, and a map holds its object's kind and prototype (another prototype is another map).
    // Any other object is asked as before. The count is used below once the depth allows.
    const own = mapKnown !== undefined ? mapKnown(object) - 1 : -1;
    let array = false;
    if (own < 0) {
      if (types.isProxy(object)) return fastText("[Proxy]");
      if (isView(object)) return false;
      array = isArray(object);
      if (!array) {
        const proto = prototypeOf(object);
        if (proto !== objectPrototype && proto !== null) return false;
      }
    }
    if (depth >= maxDepth || nodes > maxNodes) {
      return fastMark(array ? 0x5b : 0x7b, array ? 0x5d : 0x7d);
    }
    if (at + 2 > limit && sizing) return false;
    size += 2;
    if (array) {
      target[at++] = 0x5b;
      const length = (object as unknown[]).length;
      const packed = length > 1 && mapPacked !== undefined && mapPacked(object as unknown[]);
      for (let i = 0; i < length; i++) {
        if (at > limit) return true;
        if (i > 0) {
          if (at >= limit) return fastLast(0x2c);
          target[at++] = 0x2c;
        }
        if (nodes > maxNodes) {
          return fastMark(0, 0x5d);
        }
        // An own element as walkArray reads it (no descriptor object: see there).
        if (packed) {
          if (!fast((object as unknown[])[i], depth + 1)) return false;
        } else if (hasOwn(object, i)) {
          if (lookupGetter.call(object, i) !== undefined || lookupSetter.call(object, i) !== undefined) {
            if (!fastText("[getter]")) return false;
          } else {
            const element = (object as unknown[])[i];
            if (element === undefined && !("value" in ownDescriptor(object, i)!)) {
              if (!fastText("[getter]")) return false;
            } else if (!fast(element, depth + 1)) return false;
          }
        }
        size += 1;
      }
      if (at >= limit) return fastLast(0x5d);
      target[at++] = 0x5d;
      return true;
    }
    target[at++] = 0x7b;
    let first = true;
    // A record whose map is known (mapKnown: its first `own` for-in keys are own data
    // properties) is read plainly; any other, and any key past those, by descriptor.
    if (mapSource !== undefined && ++recordsWalked === MAP_ASK_RECORDS) askMapProofs();
    let walked = 0;
    let learnable = own < 0 && mapLearn !== undefined;
    // No key of the record is secret: scope.node's previewNative may write records of its map.
    let plainKeys = true;
    for (const name in object) {
      if (at > limit) return true;
      let item: unknown;
      let accessor = false;
      if (walked < own) item = (object as Record<string, unknown>)[name];
      else {
        const descriptor = ownDescriptor(object, name);
        if (descriptor === undefined) {
          learnable = false;
          continue;
        }
        if ("value" in descriptor) item = descriptor.value;
        else accessor = true;
      }
      walked++;
      if (!first) {
        if (at >= limit) return fastLast(0x2c);
        target[at++] = 0x2c;
      }
      first = false;
      if (nodes > maxNodes) {
        return fastMark(0, 0x7d);
      }
      // The key met at this place in the walk last time, if it is this one (a string
      // compare by identity for the same shape again), else the key cache.
      const slot = keySlot++ & (KEY_SLOTS - 1);
      let key = slotInfos[slot]!;
      if (slotNames[slot] !== name) {
        key = keyInfo(name);
        slotNames[slot] = name;
        slotInfos[slot] = key;
      }
      const ascii = key.ascii;
      if (ascii === undefined) return false;
      let position = at;
      if (position + ascii.length > limit) {
        if (sizing) return false;
        for (let i = 0; position <= limit; i++) target[position++] = ascii[i]!;
        at = position;
        return true;
      }
      for (let i = 0; i < ascii.length; i++) target[position++] = ascii[i]!;
      at = position;
      size += key.bytes;
      if (accessor) {
        learnable = false;
        if (!fastText("[getter]")) return false;
      } else if (key.secret) {
        plainKeys = false;
        nodes++;
        if (typeof item === "string") size += utf8Length(item) + 2;
        if (!fastText(REDACTED_JSON)) return false;
      } else {
        // A non-negative integer, the commonest value in a message (ids, counts, hashes past
        // 2^31 too), written here (what fast() writes for it) without a call.
        if (typeof item === "number" && item >= 0 && item < 1e15 && isInteger(item)) {
          nodes++;
          const digits = digitCount(item);
          if (at + digits > limit && sizing) return false;
          writeDigits(target, at + digits - 1, item);
          at += digits;
          size += digits;
          if (at > limit) at = limit + 1;
        } else if (typeof item === "number" && at + 17 <= limit && !isInteger(item) && emitFraction(item)) nodes++;
        else if (!fast(item, depth + 1)) return false;
      }
    }
    if (learnable && walked > 0) learnMap(object, walked, plainKeys);
    if (at >= limit) return fastLast(0x7d);
    target[at++] = 0x7d;
    return true;
  }
  return fastText(text);
}

/** "…" (one unit, three bytes) after `open` and before `close` (0: none), a limit's text, for fast(). */
function fastMark(open: number, close: number): boolean {
  const target = buffer;
  const units = open === 0 ? 2 : 3;
  if (at + units > limit) {
    if (sizing) return false;
    if (open !== 0) {
      target[at++] = open;
      if (at > limit) return true;
    }
  } else if (open !== 0) target[at++] = open;
  // The "…" is unit at - extra; its two bytes over one unit move the limit.
  if (at - extra < maxChars - 1) extraBefore += 2;
  target[at++] = 0xe2;
  target[at++] = 0x80;
  target[at++] = 0xa6;
  extra += 2;
  limit += 2;
  if (at <= limit) target[at++] = close;
  return true;
}

/** ASCII text for fast(): whole if it fits; else false, or (a function preview) up to the unit after maxChars. */
function fastText(text: string): boolean {
  const length = text.length;
  let end = at + length;
  if (end > limit) {
    if (sizing) return false;
    end = limit + 1;
  }
  const target = buffer;
  let position = at;
  for (let i = 0; position < end; i++) target[position++] = text.charCodeAt(i);
  at = position;
  return true;
}

/** One ASCII unit for fast() at `at` ≥ limit: false for a message, else the unit that makes the text full. */
function fastLast(code: number): boolean {
  if (sizing) return false;
  if (at === limit) buffer[at++] = code;
  return true;
}

/** A string that does not fit whole in a function preview: its quote and units up to the unit after maxChars, if they are printable. */
function fastCutString(value: string): boolean {
  const target = buffer;
  const end = limit + 1;
  let position = at;
  target[position++] = 0x22;
  const length = value.length;
  for (let i = 0; i < length && position < end; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) return false;
    target[position++] = code;
  }
  if (position < end) target[position++] = 0x22;
  at = position;
  return true;
}

/**
 * The length of what fast() wrote, as end() gives it: when the text is longer than maxChars
 * units, cut to maxChars - 1 units and "…" (a unit is a byte but for the limits' "…").
 */
function fastEnd(): number {
  chars = at - extra;
  if (at <= limit) return at;
  const length = maxChars - 1 + extraBefore;
  buffer[length] = 0xe2;
  buffer[length + 1] = 0x80;
  buffer[length + 2] = 0xa6;
  return length + 3;
}

/**
 * Runs the walk over values of every common kind (both outputs), so that its functions are
 * compiled: the Node agent's loader calls it before making its V8 code cache. Reads only
 * its own values; no event is recorded.
 *
 * Each output walks the sample once, no more: the cache carries, for each function, whether
 * V8 compiled it with Sparkplug in the thread that made it, and a thread reading the cache
 * gives such a function a feedback vector and a Sparkplug compile at its first call. Walked
 * five times over (as until the eleventh look), fast(), begin() and digitCount() tiered up
 * here, so every worker compiled them with Sparkplug at its first message (fast() alone
 * ~10 KB of machine code; BENCHMARKS.md "Eleventh look": −0.35 M instructions a worker).
 */
export function warmWalk(checks: TypeChecks): void {
  const sample = { id: 12, ratio: 0.5, name: "warm", on: true, none: null, list: [1, "two", { three: 3 }], token: "x", bytes: new Uint8Array(2), big: 2 ** 40 };
  const target = new Uint8Array(SCRATCH_PREVIEW_BYTES);
  previewWrite(target, sample, checks);
  previewSize();
  preview(sample, checks);
  // A flat record, which the shape learning counts (learn()); then its counts forgotten:
  // the walk is warmed before the thread's first own preview (src/agent/node/walk-load.ts).
  previewWrite(target, { warm: 1 }, checks);
  resetShapeWriters();
}

/** The buffer the last write went into (valid until the next write). */
export function previewBytes(): Uint8Array {
  return buffer;
}

/** The limits as the walk takes them: the defaults where none is given. */
function limitsOf(limits: PreviewLimits | undefined): ByteLimits {
  return { depth: limits?.depth ?? PREVIEW_MAX_DEPTH, chars: limits?.chars ?? PREVIEW_MAX_CHARS };
}

/**
 * The preview of `value` as a string (at most PREVIEW_MAX_CHARS characters, nested
 * PREVIEW_MAX_DEPTH deep, unless `limits` say otherwise): the text writePreview writes as
 * UTF-8. Its size estimate is left in `previewSize()` (read it before the next walk).
 */
export function preview(value: unknown, checks: TypeChecks, limits?: PreviewLimits): string {
  begin(checks, limitsOf(limits), true);
  walkValue(value, 0);
  const text = out;
  out = "";
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}

/** The size estimate of the value the last walk read. */
export function previewSize(): number {
  return size;
}

/** The value's approximate serialized size (exact for strings and binary data) and a preview. */
export function describe(value: unknown, checks: TypeChecks, limits?: PreviewLimits): Described {
  const text = preview(value, checks, limits);
  return { sizeBytes: size, preview: text };
}

/** The walk as a Recorder takes it (recorder.ts `PreviewWalk`): a plain object of its functions. */
export const previewWalk = { preview, previewSize, previewWrite, previewCommit };
