/**
 * REFERENCE COPY of src/agent/shared/preview.ts before the fast path (commit aa83263), kept
 * only so scripts/bench-agent-node.ts can check the new describe() gives identical results.
 *
 * Size and short preview of a message, computed without ever running program code:
 * no getters, no Proxy traps, no toJSON/toString/valueOf, no Symbol.toStringTag.
 * Only own data properties of non-Proxy objects are read, within a fixed budget.
 * Values under keys that look secret are replaced.
 */

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

export const PREVIEW_MAX_CHARS = 96;
const MAX_NODES = 48;
const MAX_DEPTH = 3;
const SECRET_KEY = /pass(?:word|wd|phrase)?|token|authori[sz]ation|cookie|secret|key|credential|session/i;
export const REDACTED = "[redacted]";

const byteLengthOfView = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), "byteLength")!.get!;
const byteLengthOfBuffer = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength")!.get!;
const byteLengthOfShared =
  typeof SharedArrayBuffer === "function" ? Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, "byteLength")!.get! : undefined;
const mapSize = Object.getOwnPropertyDescriptor(Map.prototype, "size")!.get!;
const setSize = Object.getOwnPropertyDescriptor(Set.prototype, "size")!.get!;

export interface Described {
  sizeBytes: number;
  preview: string;
}

function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) bytes += code >= 0x800 && (code < 0xd800 || code > 0xdfff) ? 2 : 1;
  }
  return bytes;
}

class Walker {
  nodes = 0;
  out = "";
  size = 0;
  constructor(private readonly types: TypeChecks) {}

  emit(text: string): void {
    if (this.out.length <= PREVIEW_MAX_CHARS) this.out += text;
  }

  value(value: unknown, depth: number): void {
    this.nodes++;
    switch (typeof value) {
      case "string": {
        const bytes = utf8Length(value);
        this.size += bytes + 2;
        this.emit(JSON.stringify(value.length > PREVIEW_MAX_CHARS ? value.slice(0, PREVIEW_MAX_CHARS) : value));
        return;
      }
      case "number":
      case "boolean":
      case "bigint": {
        const text = String(value);
        this.size += text.length;
        this.emit(text);
        return;
      }
      case "undefined":
        this.size += 9;
        this.emit("undefined");
        return;
      case "symbol":
      case "function":
        this.emit(`[${typeof value}]`);
        return;
    }
    if (value === null) {
      this.size += 4;
      this.emit("null");
      return;
    }
    this.object(value as object, depth);
  }

  object(value: object, depth: number): void {
    const t = this.types;
    if (t.isProxy(value)) return this.emit("[Proxy]");
    if (t.isArrayBufferView(value)) return this.binary("view", byteLengthOfView.call(value) as number);
    if (t.isArrayBuffer(value)) return this.binary("ArrayBuffer", byteLengthOfBuffer.call(value) as number);
    if (byteLengthOfShared && t.isSharedArrayBuffer(value)) return this.binary("SharedArrayBuffer", byteLengthOfShared.call(value) as number);
    if (t.isDate(value)) return this.emit("[Date]");
    if (t.isMap(value)) return this.emit(`Map(${mapSize.call(value)})`);
    if (t.isSet(value)) return this.emit(`Set(${setSize.call(value)})`);
    if (depth >= MAX_DEPTH || this.nodes > MAX_NODES) return this.emit(Array.isArray(value) ? "[…]" : "{…}");
    if (Array.isArray(value)) return this.array(value, depth);
    this.record(value, depth);
  }

  binary(name: string, bytes: number): void {
    this.size += bytes;
    this.emit(`[${name} ${bytes}B]`);
  }

  array(value: unknown[], depth: number): void {
    this.emit("[");
    this.size += 2;
    const length = value.length;
    for (let i = 0; i < length; i++) {
      if (i > 0) this.emit(",");
      if (this.nodes > MAX_NODES) return this.emit("…]");
      const descriptor = Object.getOwnPropertyDescriptor(value, i);
      if (descriptor && "value" in descriptor) this.value(descriptor.value, depth + 1);
      else this.emit(descriptor ? "[getter]" : "");
      this.size += 1;
    }
    this.emit("]");
  }

  record(value: object, depth: number): void {
    this.emit("{");
    this.size += 2;
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) {
      if (i > 0) this.emit(",");
      if (this.nodes > MAX_NODES) return this.emit("…}");
      const key = keys[i]!;
      this.emit(`${JSON.stringify(key)}:`);
      this.size += utf8Length(key) + 4;
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (!descriptor || !("value" in descriptor)) this.emit("[getter]");
      else if (SECRET_KEY.test(key)) this.secret(descriptor.value);
      else this.value(descriptor.value, depth + 1);
    }
    this.emit("}");
  }

  secret(value: unknown): void {
    this.nodes++;
    if (typeof value === "string") this.size += utf8Length(value) + 2;
    this.emit(JSON.stringify(REDACTED));
  }
}

/** The message's approximate serialized size (exact for strings and binary data) and a preview. */
export function describe(value: unknown, types: TypeChecks): Described {
  const walker = new Walker(types);
  walker.value(value, 0);
  const preview = walker.out.length > PREVIEW_MAX_CHARS ? `${walker.out.slice(0, PREVIEW_MAX_CHARS - 1)}…` : walker.out;
  return { sizeBytes: walker.size, preview };
}
