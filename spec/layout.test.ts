/**
 * The record layout is defined once in zig/layout.zig; src/core/layout.ts mirrors it.
 * These tests ask the Zig library (through bun:ffi) for every offset, size and kind
 * number and compare them with the TypeScript mirror, then check that the two codecs
 * are exact inverses of each other over random records.
 */
import { dlopen, FFIType } from "bun:ffi";
import { describe, expect, test } from "bun:test";
import { decodeRecord, encodeRecord, type DecodedRecord } from "../src/core/events";
import { EventKind, Offset, RECORD_LAYOUT_VERSION, RECORD_SIZE, eventKindName } from "../src/core/layout";
import { libscopePath } from "../src/core/native";
import { traceNative } from "../src/core/trace-file";

const native = traceNative();

function name(fill: (out: Uint8Array, capacity: number) => number): string {
  const out = new Uint8Array(64);
  return new TextDecoder().decode(out.subarray(0, fill(out, out.byteLength)));
}

/** Field sizes the TypeScript side assumes (layout.ts has offsets; sizes follow from them). */
const sizes: Record<keyof typeof Offset, number> = { seq: 4, kind: 2, flags: 2, timestampNs: 8, pid: 4, tid: 4, a: 8, b: 8, c: 8, d: 8, e: 8 };
const zigName = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

describe("layout: Zig and TypeScript agree", () => {
  test("record size and layout version", () => {
    expect(native.scope_record_size_bytes()).toBe(RECORD_SIZE);
    const lib = dlopen(libscopePath(), { scope_layout_version: { args: [], returns: FFIType.u32 } });
    expect(lib.symbols.scope_layout_version()).toBe(RECORD_LAYOUT_VERSION);
    lib.close();
  });

  test("every field: same name, offset and size, in the same order", () => {
    const zig = [];
    for (let index = 0; index < native.scope_record_field_count(); index++) {
      const out = new Uint32Array(2);
      expect(native.scope_record_field(index, out)).toBe(0);
      zig.push({ name: name((o, c) => native.scope_record_field_name(index, o, c)), offset: out[0], size: out[1] });
    }
    const ts = Object.entries(Offset).map(([key, offset]) => ({ name: zigName(key), offset, size: sizes[key as keyof typeof Offset] }));
    expect(zig).toEqual(ts);
    // The fields tile the record: no gaps, no overlap.
    ts.forEach((field, i) => expect<number>(field.offset).toBe(i === 0 ? 0 : ts[i - 1]!.offset + ts[i - 1]!.size));
    expect(ts.at(-1)!.offset + ts.at(-1)!.size).toBe(RECORD_SIZE);
    expect(native.scope_record_field(ts.length, new Uint32Array(2))).toBe(1);
  });

  test("every EventKind: same names and numbers", () => {
    const zig: Record<string, number> = {};
    for (let value = 0; value < 0x1_0000; value++) {
      const kindName = name((o, c) => native.scope_event_kind_name(value, o, c));
      if (kindName) zig[kindName] = value;
    }
    expect(Object.keys(zig).length).toBe(native.scope_event_kind_count());
    expect(zig).toEqual({ ...EventKind });
    for (const [kindName, value] of Object.entries(EventKind)) expect(eventKindName[value]).toBe(kindName as keyof typeof EventKind);
  });
});

const fieldOrder = ["seq", "kind", "flags", "timestampNs", "pid", "tid", "a", "b", "c", "d", "e"] as const;
const widths = [32, 16, 16, 64, 32, 32, 64, 64, 64, 64, 64];

function randomValue(bits: number): bigint {
  // Edges first: 0, max and small values are where codecs break.
  const max = (1n << BigInt(bits)) - 1n;
  switch (Math.floor(Math.random() * 4)) {
    case 0:
      return 0n;
    case 1:
      return max;
    case 2:
      return BigInt(Math.floor(Math.random() * 256));
    default: {
      const words = new BigUint64Array(1);
      crypto.getRandomValues(words);
      return words[0]! & max;
    }
  }
}

function fieldsOf(record: DecodedRecord): bigint[] {
  return fieldOrder.map((key) => {
    const value = record[key];
    if (key === "kind") return BigInt(typeof value === "number" ? value : EventKind[value as keyof typeof EventKind]);
    return BigInt(value as number | bigint);
  });
}

describe("codec: TypeScript and Zig are exact inverses", () => {
  test("random records: TS encode = Zig encode, Zig decode(TS bytes) = fields, decode∘encode = id", () => {
    const zigBytes = new Uint8Array(RECORD_SIZE);
    const tsBytes = new Uint8Array(RECORD_SIZE + 8);
    const zigFields = new BigUint64Array(11);
    for (let i = 0; i < 20_000; i++) {
      const fields = widths.map(randomValue);
      // TS: at an unaligned offset too, since batches are views into larger buffers.
      const offset = i % 2 === 0 ? 0 : 8;
      const input = Object.fromEntries(fieldOrder.map((key, j) => [key, j < 6 && key !== "timestampNs" ? Number(fields[j]) : fields[j]]));
      encodeRecord(input as never, tsBytes, offset);
      expect(native.scope_record_encode(new BigUint64Array(fields), zigBytes)).toBe(0);
      expect(tsBytes.subarray(offset, offset + RECORD_SIZE)).toEqual(zigBytes);
      expect(native.scope_record_decode(tsBytes.subarray(offset), zigFields)).toBe(0);
      expect([...zigFields]).toEqual(fields);
      const decoded = decodeRecord(tsBytes, offset);
      expect(fieldsOf(decoded)).toEqual(fields);
      const again = new Uint8Array(RECORD_SIZE);
      encodeRecord(decoded, again);
      expect(again).toEqual(zigBytes);
    }
  });

  test("random bytes: encode(decode(bytes)) = bytes in both languages", () => {
    const bytes = new Uint8Array(RECORD_SIZE);
    const fields = new BigUint64Array(11);
    const back = new Uint8Array(RECORD_SIZE);
    for (let i = 0; i < 5_000; i++) {
      crypto.getRandomValues(bytes);
      encodeRecord(decodeRecord(bytes), back);
      expect(back).toEqual(bytes);
      expect(native.scope_record_decode(bytes, fields)).toBe(0);
      expect(native.scope_record_encode(fields, back)).toBe(0);
      expect(back).toEqual(bytes);
    }
  });

  test("values that do not fit a field are refused, not truncated", () => {
    const fields = new BigUint64Array(11);
    fields[1] = 0x1_0000n; // kind is a u16
    expect(native.scope_record_encode(fields, new Uint8Array(RECORD_SIZE))).toBe(1);
    const bytes = new Uint8Array(RECORD_SIZE);
    expect(() => encodeRecord({ kind: 0x1_0000, timestampNs: 0n, pid: 0, tid: 0 }, bytes)).toThrow(RangeError);
    expect(() => encodeRecord({ kind: "string", timestampNs: 0n, pid: 2 ** 32, tid: 0 }, bytes)).toThrow(RangeError);
    expect(() => encodeRecord({ kind: "string", timestampNs: 1n << 64n, pid: 0, tid: 0 }, bytes)).toThrow(RangeError);
    expect(() => encodeRecord({ kind: "string", timestampNs: 0, pid: 0, tid: 0, a: 2 ** 60 }, bytes)).toThrow(RangeError);
    expect(() => encodeRecord({ kind: "no_such_kind", timestampNs: 0, pid: 0, tid: 0 }, bytes)).toThrow(RangeError);
    expect(() => decodeRecord(bytes, 1)).toThrow(RangeError);
    // Negative payloads are i64 two's complement (exit codes).
    encodeRecord({ kind: "process_exit", timestampNs: 0, pid: 0, tid: 0, a: -1 }, bytes);
    expect(decodeRecord(bytes).a).toBe((1n << 64n) - 1n);
  });
});
