/**
 * The trace file through the real native writer and reader (zig/trace_file.zig via
 * bun:ffi): whole objects back, and every way a file can be damaged or not a trace.
 * Also the string table that reassembles `string` records.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeRecords, encodeRecord, encodeString, StringTable, type DecodedRecord, type RecordInput } from "../src/core/events";
import { RECORD_LAYOUT_VERSION, RECORD_SIZE } from "../src/core/layout";
import { readTrace, readTraceBytes, TraceFileError, TraceWriter, wallTimeNs, type TraceRead } from "../src/core/trace-file";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "scope-trace-file-test-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEADER_BYTES = 192; // 128 fixed + "testhost" + "node\0app.js\0", rounded up to 64
const CHUNK_HEADER_BYTES = 64;

function records(count: number, start = 0): Uint8Array {
  const bytes = new Uint8Array(count * RECORD_SIZE);
  for (let i = 0; i < count; i++) {
    const n = start + i;
    const record: RecordInput = {
      seq: 1000 + n, // the ring's; the file stores 0
      kind: n % 14,
      flags: n % 65536,
      timestampNs: 1_000_000_000_000n + BigInt(n) * 997n,
      pid: 4000 + (n % 7),
      tid: n % 3,
      a: BigInt(n),
      b: -BigInt(n),
      c: (1n << 63n) + BigInt(n),
      d: 0xdead_beefn,
      e: BigInt(n) << 32n,
    };
    encodeRecord(record, bytes, i * RECORD_SIZE);
  }
  return bytes;
}

/** What the reader must return for `bytes`: the same records with seq 0. */
function expected(bytes: Uint8Array): DecodedRecord[] {
  return decodeRecords(bytes).map((record) => ({ ...record, seq: 0 }));
}

function writeTrace(path: string, appends: Uint8Array[], close = true): void {
  const writer = TraceWriter.open(path, { host: "testhost", argv: ["node", "app.js"] });
  for (const batch of appends) writer.append(batch);
  if (close) writer.close({ written: 10, dropped: 2, overwritten: 1, recorded: 9 });
  else writer.abandon();
}

function readAll(trace: TraceRead, batchRecords?: number): DecodedRecord[] {
  const out: DecodedRecord[] = [];
  for (const batch of trace.batches(batchRecords)) out.push(...decodeRecords(batch));
  return out;
}

function openError(action: () => unknown): TraceFileError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(TraceFileError);
    return error as TraceFileError;
  }
  throw new Error("expected a TraceFileError");
}

describe("trace file: written and read back", () => {
  test("header, records and end totals come back whole", () => {
    const path = join(dir, "whole.bin");
    const first = records(3);
    const second = records(9000, 3); // more than one chunk (4096 records a chunk)
    const before = Date.now();
    writeTrace(path, [first, second]);
    const trace = readTrace(path);
    expect(readAll(trace, 1000)).toEqual([...expected(first), ...expected(second)]);
    const { monotonicAnchorNs, realtimeAnchorNs, startTime, collectorPid, ...rest } = trace.header;
    expect(rest).toEqual({
      formatVersion: 1,
      recordLayoutVersion: RECORD_LAYOUT_VERSION,
      headerSizeBytes: HEADER_BYTES,
      chunkRecordsMax: 4096,
      hostName: "testhost",
      argv: ["node", "app.js"],
      argvTruncated: false,
    });
    expect(collectorPid).toBe(process.pid);
    expect(Math.abs(startTime.getTime() - before)).toBeLessThan(5_000);
    expect(startTime.getTime()).toBe(Number(realtimeAnchorNs / 1_000_000n));
    // Both monotonic times come from the same clock: the close came shortly after the open.
    const openNs = trace.end!.closedMonotonicNs - monotonicAnchorNs;
    expect(openNs > 0n && openNs < 5_000_000_000n).toBe(true);
    expect(wallTimeNs(trace.header, monotonicAnchorNs + 5n)).toBe(realtimeAnchorNs + 5n);

    expect(trace.state).toBe("closed");
    expect(trace.error).toBeNull();
    expect(trace.end).toEqual({
      written: 10n,
      dropped: 2n,
      overwritten: 1n,
      recorded: 9n,
      recordsInFile: 9003n,
      recordChunks: 4n, // 3 | 4096 + 4096 + 808
      closedMonotonicNs: trace.end!.closedMonotonicNs,
    });
  });

  test("records() decodes; the records can be read once; end is known without reading", () => {
    const path = join(dir, "once.bin");
    writeTrace(path, [records(5)]);
    const trace = readTrace(path);
    expect([...trace.records()]).toEqual(expected(records(5)));
    expect(() => [...trace.batches()]).toThrow(/read once/);
    const other = readTrace(path);
    expect(other.end?.recordsInFile).toBe(5n);
    expect(other.state).toBe("closed");
  });

  test("an empty trace (header and end chunk only) and the file's size", () => {
    const path = join(dir, "empty-trace.bin");
    const writer = TraceWriter.open(path, { host: "testhost", argv: ["node", "app.js"] });
    expect(writer.sizeBytes).toBe(HEADER_BYTES);
    writer.append(new Uint8Array(0));
    writer.close({ written: 0, dropped: 0, overwritten: 0 });
    expect(readFileSync(path).byteLength).toBe(HEADER_BYTES + CHUNK_HEADER_BYTES + 64);
    const trace = readTrace(path);
    expect(readAll(trace)).toEqual([]);
    expect(trace.end).toMatchObject({ recordsInFile: 0n, recordChunks: 0n, recorded: 0n });
  });

  test("a long command line is cut at whole arguments and flagged", () => {
    const path = join(dir, "argv.bin");
    const argv = Array.from({ length: 400 }, (_, i) => `argument-${i}-${"x".repeat(100)}`);
    const writer = TraceWriter.open(path, { host: "h".repeat(300), argv });
    writer.close({ written: 0, dropped: 0, overwritten: 0 });
    const { header } = readTrace(path);
    expect(header.argvTruncated).toBe(true);
    expect(header.argv).toEqual(argv.slice(0, header.argv.length));
    let fitting = 0;
    for (let bytes = 0; bytes + argv[fitting]!.length + 1 <= 32 * 1024; fitting++) bytes += argv[fitting]!.length + 1;
    expect(header.argv.length).toBe(fitting);
    expect(header.hostName).toBe("h".repeat(256));
  });

  test("the writer refuses misuse", () => {
    const path = join(dir, "misuse.bin");
    expect(() => TraceWriter.open(path, { argv: ["a\0b"] })).toThrow(/NUL/);
    const writer = TraceWriter.open(path);
    expect(() => writer.append(new Uint8Array(100), 2)).toThrow(RangeError);
    writer.close({ written: 0, dropped: 0, overwritten: 0 });
    expect(() => writer.append(records(1))).toThrow(/already closed/);
    const error = openError(() => TraceWriter.open(join(dir, "no/such/dir/t.bin")));
    expect(error.code).toBe("not_found");
    expect(error.message).toBe(`${join(dir, "no/such/dir/t.bin")}: cannot create trace: no such file`);
    const full = openError(() => TraceWriter.open("/dev/full"));
    expect([full.code, full.message]).toEqual(["no_space", "/dev/full: cannot create trace: no space left on the device"]);
  });
});

describe("trace file: damage", () => {
  // Three record chunks (2, 3 and 4 records) and the end chunk.
  const appends = [records(2), records(3, 2), records(4, 5)];
  const all = expected(records(9));
  const chunkOffsets = [HEADER_BYTES, HEADER_BYTES + 64 + 2 * 64, HEADER_BYTES + 2 * 64 + 5 * 64, HEADER_BYTES + 3 * 64 + 9 * 64];
  let file: Uint8Array;
  beforeAll(() => {
    const path = join(dir, "damage-source.bin");
    writeTrace(path, appends);
    file = new Uint8Array(readFileSync(path));
    expect(file.byteLength).toBe(chunkOffsets[3]! + 128);
  });

  function damaged(name: string, bytes: Uint8Array): TraceRead {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return readTrace(path);
  }

  test("truncated inside the last chunk: the records before it, and where it stopped", () => {
    const trace = damaged("truncated.bin", file.subarray(0, chunkOffsets[2]! + 64 + 3 * 64 + 10));
    expect(readAll(trace)).toEqual(all.slice(0, 5));
    expect(trace.state).toBe("failed");
    expect(trace.end).toBeNull();
    expect(trace.error).toEqual({
      offset: chunkOffsets[2]!,
      reason: "truncated chunk",
      code: "truncated_chunk_payload",
      message: `truncated chunk at byte ${chunkOffsets[2]} (found 202, expected 256)`,
    });
  });

  test("truncated inside a chunk header", () => {
    const trace = damaged("truncated-header.bin", file.subarray(0, chunkOffsets[1]! + 20));
    expect(readAll(trace)).toEqual(all.slice(0, 2));
    expect(trace.error).toMatchObject({ offset: chunkOffsets[1], code: "truncated_chunk_header" });
  });

  test("a flipped byte in a record: checksum mismatch at that chunk", () => {
    const bytes = file.slice();
    bytes[chunkOffsets[1]! + 64 + RECORD_SIZE + 30]! ^= 0x04;
    const trace = damaged("flipped.bin", bytes);
    expect(readAll(trace)).toEqual(all.slice(0, 2));
    expect(trace.error).toEqual({
      offset: chunkOffsets[1]!,
      reason: "chunk checksum mismatch",
      code: "checksum_mismatch",
      message: `chunk checksum mismatch at byte ${chunkOffsets[1]}`,
    });
    expect(trace.end).toBeNull();
  });

  test("a flipped chunk magic, and bytes after the end chunk", () => {
    const bytes = file.slice();
    bytes[chunkOffsets[0]!]! ^= 0xff;
    const first = damaged("magic.bin", bytes);
    expect(readAll(first)).toEqual([]);
    expect(first.error).toMatchObject({ offset: HEADER_BYTES, code: "bad_chunk_magic" });

    const longer = new Uint8Array(file.byteLength + 3);
    longer.set(file);
    const second = damaged("after-end.bin", longer);
    expect(readAll(second)).toEqual(all);
    expect(second.error).toMatchObject({ offset: file.byteLength, code: "data_after_end", reason: "data after the end chunk" });
  });

  test("a file without an end chunk is readable and reported as not closed", () => {
    const path = join(dir, "not-closed.bin");
    writeTrace(path, appends, false);
    const trace = readTrace(path);
    expect(readAll(trace)).toEqual(all);
    expect(trace.state).toBe("not_closed");
    expect(trace.end).toBeNull();
    expect(trace.error).toBeNull();
    // Cut at a chunk boundary: the same, a collector that died between writes.
    const cut = damaged("cut-at-chunk.bin", file.subarray(0, chunkOffsets[2]!));
    expect(readAll(cut)).toEqual(all.slice(0, 5));
    expect([cut.state, cut.end, cut.error]).toEqual(["not_closed", null, null]);
  });

  test("a file that is not a trace, an empty file, a missing file: clear errors", () => {
    const junk = openError(() => damaged("junk.bin", new TextEncoder().encode("hello, this is not a trace\n".repeat(20))));
    expect([junk.code, junk.message]).toEqual(["not_a_trace", `${join(dir, "junk.bin")}: not a scope trace file (no SCOPETRC magic)`]);
    const empty = openError(() => damaged("empty.bin", new Uint8Array(0)));
    expect([empty.code, empty.message]).toEqual(["empty_file", `${join(dir, "empty.bin")}: the file is empty`]);
    const missing = openError(() => readTrace(join(dir, "missing.bin")));
    expect([missing.code, missing.message]).toEqual(["not_found", `${join(dir, "missing.bin")}: no such file`]);
    const directory = openError(() => readTrace(dir));
    expect(directory.code).toBe("is_directory");
  });

  test("a bad header says why: truncated, newer version, corrupt", () => {
    const short = openError(() => readTraceBytes(file.subarray(0, 100)));
    expect([short.code, short.message]).toEqual(["header_truncated", "<memory>: trace header truncated: 100 of 128 bytes"]);
    const shortStrings = openError(() => readTraceBytes(file.subarray(0, 150)));
    expect(shortStrings.message).toBe("<memory>: trace header truncated: 150 of 192 bytes");
    const newer = file.slice();
    newer[8] = 2;
    const version = openError(() => readTraceBytes(newer));
    expect([version.code, version.message]).toEqual([
      "unsupported_format_version",
      "<memory>: trace format version 2 is not supported (this scope reads version 1)",
    ]);
    const corrupt = file.slice();
    corrupt[130]! ^= 1; // inside the host name
    const checksum = openError(() => readTraceBytes(corrupt));
    expect(checksum.code).toBe("header_checksum_mismatch");
    expect(checksum.message).toMatch(/^<memory>: trace header is corrupt \(checksum 0x[0-9a-f]{8} stored, 0x[0-9a-f]{8} computed\)$/);
  });
});

describe("StringTable", () => {
  function stringRecords(pid: number, tid: number, id: number, text: string): DecodedRecord[] {
    return decodeRecords(encodeString(pid, tid, id, text));
  }

  test("reassembles fragments in any order, keyed by (pid, tid, id)", () => {
    const text = "ünïcödé split across fragment boundaries: ".repeat(5) + "🎉";
    const fragments = stringRecords(1, 2, 7, text);
    expect(fragments.length).toBe(Math.ceil(new TextEncoder().encode(text).byteLength / 32));
    const table = new StringTable();
    for (const record of [...fragments].reverse()) expect(table.add(record)).toBe(true);
    for (const record of stringRecords(1, 3, 7, "other thread")) table.add(record);
    expect(table.get(1, 2, 7)).toBe(text);
    expect(table.get(1, 3, 7)).toBe("other thread");
    expect(table.get(2, 2, 7)).toBeUndefined();
    expect(table.entry(1, 2, 7)).toEqual({
      text,
      complete: true,
      totalBytes: new TextEncoder().encode(text).byteLength,
      fragmentCount: fragments.length,
      missingFragments: 0,
    });
  });

  test("an empty string is one fragment; non-string records are ignored", () => {
    const table = new StringTable();
    const [record] = stringRecords(1, 0, 1, "");
    expect(table.add(record!)).toBe(true);
    expect(table.entry(1, 0, 1)).toMatchObject({ text: "", complete: true, fragmentCount: 1 });
    expect(table.add({ ...record!, kind: "message_send" })).toBe(false);
    expect(table.size).toBe(1);
  });

  test("missing fragments: marked incomplete, U+FFFD where they are missing", () => {
    const text = "a".repeat(32) + "b".repeat(32) + "c".repeat(32) + "d".repeat(5);
    const fragments = stringRecords(5, 0, 9, text);
    const table = new StringTable();
    table.add(fragments[0]!);
    table.add(fragments[3]!);
    expect(table.entry(5, 0, 9)).toEqual({
      text: `${"a".repeat(32)}\uFFFD${"d".repeat(5)}`,
      complete: false,
      totalBytes: 101,
      fragmentCount: 4,
      missingFragments: 2,
    });
    table.add(fragments[2]!);
    table.add(fragments[1]!);
    expect(table.get(5, 0, 9)).toBe(text);
  });

  test("invalid fragments are rejected and counted; duplicates keep the first copy; the table has a limit", () => {
    const table = new StringTable({ maxStrings: 2 });
    const [zeroId] = stringRecords(1, 0, 0, "x");
    expect(table.add(zeroId!)).toBe(false);
    const [outOfRange] = stringRecords(1, 0, 3, "short");
    expect(table.add({ ...outOfRange!, flags: 1 })).toBe(false);
    const [tooLong] = stringRecords(1, 0, 4, "x");
    expect(table.add({ ...tooLong!, a: 4n | (5000n << 32n) })).toBe(false);
    expect(table.rejected).toBe(3);

    const [first] = stringRecords(1, 0, 1, "first");
    const [second] = stringRecords(1, 0, 1, "again");
    table.add(first!);
    table.add(second!);
    expect(table.get(1, 0, 1)).toBe("first");
    const [longer] = stringRecords(1, 0, 1, "a different length");
    table.add(longer!);
    expect([table.get(1, 0, 1), table.conflicts]).toEqual(["a different length", 1]);

    table.add(stringRecords(1, 0, 2, "two")[0]!);
    expect(table.add(stringRecords(1, 0, 3, "three")[0]!)).toBe(false);
    expect([table.size, table.rejected]).toEqual([2, 4]);
  });

  test("evictOldest (a stream): when full the oldest string goes, not the new one; at any count", () => {
    const table = new StringTable({ maxStrings: 3, evictOldest: true });
    for (let id = 1; id <= 200_000; id++) expect(table.add(stringRecords(1, 0, id, `s${id}`)[0]!)).toBe(true);
    expect([table.size, table.evicted, table.rejected]).toEqual([3, 199_997, 0]);
    expect([table.get(1, 0, 199_998), table.get(1, 0, 199_999), table.get(1, 0, 200_000), table.get(1, 0, 199_997)]).toEqual(["s199998", "s199999", "s200000", undefined]);
  });
});
