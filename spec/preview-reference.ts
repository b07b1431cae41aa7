/**
 * The test oracle for src/agent/shared/preview.ts: the previous implementation, a walk that
 * builds the preview as a string (concatenation), kept unchanged so the byte walk that
 * replaced it is checked against it (spec/preview-walk.test.ts): the same text, and the
 * same bytes once the string is converted to UTF-8 as the native side converts it.
 */

import {
  type Described,
  PREVIEW_MAX_CHARS,
  PREVIEW_MAX_DEPTH,
  PREVIEW_MAX_NODES as MAX_NODES,
  type PreviewLimits,
  REDACTED,
  SECRET_KEY,
  type TypeChecks,
  utf8Length,
} from "../src/agent/shared/preview";

// The limits, the secret-key rule and the size of a string are the module's own; the walk
// below is the previous one, unchanged.
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

/** JSON.stringify(text) for a string, without the call for printable ASCII with nothing to escape. */
function quote(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) return JSON.stringify(text);
  }
  return `"${text}"`;
}

/** What a property key contributes, computed once per key. */
interface KeyInfo {
  /** `"key":` */
  text: string;
  /** utf8 length + 4 */
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

// The walk's state (see the header: never re-entered).
let types: TypeChecks;
let nodes = 0;
let out = "";
let size = 0;
let maxChars = PREVIEW_MAX_CHARS;
let maxDepth = PREVIEW_MAX_DEPTH;
let maxNodes = MAX_NODES;

/** Text is still appended while the preview has room (then cut once at the end). */
function open(): boolean {
  return out.length <= maxChars;
}

function emit(text: string): void {
  if (out.length <= maxChars) out += text;
}

function walkValue(value: unknown, depth: number): void {
  nodes++;
  switch (typeof value) {
    case "string": {
      size += utf8Length(value) + 2;
      if (open()) out += quote(value.length > maxChars ? value.slice(0, maxChars) : value);
      return;
    }
    case "number":
    case "boolean":
    case "bigint": {
      const text = String(value);
      size += text.length;
      emit(text);
      return;
    }
    case "undefined":
      size += 9;
      emit("undefined");
      return;
    case "symbol":
      emit("[symbol]");
      return;
    case "function":
      emit("[function]");
      return;
  }
  if (value === null) {
    size += 4;
    emit("null");
    return;
  }
  walkObject(value as object, depth);
}

function walkObject(value: object, depth: number): void {
  const t = types;
  if (t.isProxy(value)) return emit("[Proxy]");
  if (isView(value)) {
    // The TypedArray getter throws on a DataView (which used to lose the whole event).
    const typed = typedArrayTag.call(value) !== undefined;
    return binary("view", (typed ? byteLengthOfView : byteLengthOfDataView).call(value) as number);
  }
  // An array is none of the kinds below (one internal type per object), and neither, for
  // the preview, is an object whose prototype is Object.prototype or null (the common
  // case: object literals, JSON, structured clones): skip their five binding calls. A
  // built-in re-prototyped to one of those shows as a record of its own data properties.
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
  if (open()) out += `[${name} ${bytes}B]`;
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
    else emit(descriptor ? "[getter]" : "");
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
    else if (key.secret) secret(descriptor.value);
    else walkValue(descriptor.value, depth + 1);
  }
  emit("}");
}

function secret(value: unknown): void {
  nodes++;
  if (typeof value === "string") size += utf8Length(value) + 2;
  emit(REDACTED_JSON);
}

/**
 * The preview of `value` (at most PREVIEW_MAX_CHARS characters, nested PREVIEW_MAX_DEPTH
 * deep, unless `limits` say otherwise); its approximate serialized size is left in
 * `previewSize` (read it before the next call).
 */
export function preview(value: unknown, checks: TypeChecks, limits?: PreviewLimits): string {
  types = checks;
  maxChars = limits?.chars ?? PREVIEW_MAX_CHARS;
  maxDepth = limits?.depth ?? PREVIEW_MAX_DEPTH;
  // The node budget grows with the text budget (48 nodes fill 96 characters).
  maxNodes = maxChars > PREVIEW_MAX_CHARS ? Math.ceil((MAX_NODES * maxChars) / PREVIEW_MAX_CHARS) : MAX_NODES;
  nodes = 0;
  out = "";
  size = 0;
  try {
    walkValue(value, 0);
  } finally {
    previewSizeBytes = size;
  }
  const text = out;
  out = "";
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}

let previewSizeBytes = 0;

/** The size computed by the last `preview()` call. */
export function previewSize(): number {
  return previewSizeBytes;
}

/** The message's approximate serialized size (exact for strings and binary data) and a preview. */
export function describe(value: unknown, checks: TypeChecks, limits?: PreviewLimits): Described {
  const text = preview(value, checks, limits);
  return { sizeBytes: previewSizeBytes, preview: text };
}
