/**
 * Fuzzing the native trace reader with damaged traces: random truncations, byte flips,
 * garbage runs, splices, reordered chunks and noise. For every input the reader must
 * either refuse the header with a TraceFileError, or yield records that are exactly the
 * first records written and end closed, not closed, or failed with a byte offset.
 *
 * SCOPE_FUZZ_CASES sets the number of cases (default 10 000, about a second);
 * SCOPE_FUZZ_SEED replays a run (the seed is printed when a case fails).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeRecord } from "../src/core/events";
import { RECORD_SIZE } from "../src/core/layout";
import { readTrace, readTraceBytes, TraceFileError, TraceStatus, TraceWriter, type TraceRead } from "../src/core/trace-file";

const cases = Number(process.env.SCOPE_FUZZ_CASES ?? 10_000);
const seed = Number(process.env.SCOPE_FUZZ_SEED ?? Date.now() % 2 ** 31);

/** mulberry32: small, seedable, good enough to pick damage. */
function prng(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const appendCounts = [1, 50, 7, 200, 3, 64];
let dir: string;
let file: Uint8Array;
let records: Uint8Array; // as the file stores them (seq 0)
/** Offsets where chunks start, and the count of records before each. */
const chunkStarts: { offset: number; recordsBefore: number }[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "scope-trace-fuzz-"));
  const total = appendCounts.reduce((x, y) => x + y, 0);
  records = new Uint8Array(total * RECORD_SIZE);
  const random = prng(7);
  for (let i = 0; i < total; i++) {
    encodeRecord(
      {
        kind: Math.floor(random() * 14),
        flags: Math.floor(random() * 65536),
        timestampNs: BigInt(Math.floor(random() * 2 ** 52)) * 3n,
        pid: Math.floor(random() * 2 ** 32),
        tid: i % 5,
        a: BigInt(i),
        b: BigInt(Math.floor(random() * 2 ** 53)),
        c: -1n,
        d: 0n,
        e: BigInt(i) << 40n,
      },
      records,
      i * RECORD_SIZE,
    );
  }
  const path = join(dir, "source.bin");
  const writer = TraceWriter.open(path, { host: "fuzzhost", argv: ["node", "fuzz.js"] });
  let offset = readFileSync(path).byteLength;
  let before = 0;
  for (const count of appendCounts) {
    chunkStarts.push({ offset, recordsBefore: before });
    writer.append(records.subarray(before * RECORD_SIZE, (before + count) * RECORD_SIZE));
    offset += 64 + count * RECORD_SIZE;
    before += count;
  }
  chunkStarts.push({ offset, recordsBefore: before }); // the end chunk
  writer.close({ written: total, dropped: 0, overwritten: 0, recorded: total });
  file = new Uint8Array(readFileSync(path));
  expect(file.byteLength).toBe(offset + 128);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Mutation = { name: string; bytes: Uint8Array; /** chunk offsets still hold */ aligned: boolean; /** must be detected */ detectable: boolean };

function mutate(random: () => number): Mutation {
  const pick = (n: number) => Math.floor(random() * n);
  const bytes = file.slice();
  switch (pick(7)) {
    case 0:
      return { name: "truncate", bytes: bytes.subarray(0, pick(file.byteLength)), aligned: true, detectable: false };
    case 1: {
      const position = pick(bytes.byteLength);
      bytes[position]! ^= 1 + pick(255);
      return { name: `flip byte ${position}`, bytes, aligned: true, detectable: true };
    }
    case 2: {
      for (let n = 1 + pick(8); n > 0; n--) bytes[pick(bytes.byteLength)] = pick(256);
      return { name: "scribble", bytes, aligned: true, detectable: false };
    }
    case 3: {
      const start = pick(bytes.byteLength);
      const run = crypto.getRandomValues(new Uint8Array(1 + pick(300)));
      const out = new Uint8Array(Math.max(bytes.byteLength, start + run.byteLength));
      out.set(bytes);
      out.set(run, start);
      return { name: `garbage run at ${start}`, bytes: out, aligned: true, detectable: false };
    }
    case 4: {
      // Delete or insert a few bytes somewhere: every later offset moves.
      const at = pick(bytes.byteLength);
      const insert = crypto.getRandomValues(new Uint8Array(pick(5)));
      const removed = pick(5);
      const out = new Uint8Array([...bytes.subarray(0, at), ...insert, ...bytes.subarray(at + removed)]);
      return { name: `splice at ${at}`, bytes: out, aligned: false, detectable: false };
    }
    case 5: {
      // Two chunks swapped: each is whole and checksummed, only the sequence is wrong.
      const i = pick(appendCounts.length - 1);
      const [a, b, c] = [chunkStarts[i]!.offset, chunkStarts[i + 1]!.offset, chunkStarts[i + 2]!.offset];
      const out = new Uint8Array([...bytes.subarray(0, a), ...bytes.subarray(b, c), ...bytes.subarray(a, b), ...bytes.subarray(c)]);
      return { name: `swap chunks ${i}, ${i + 1}`, bytes: out, aligned: false, detectable: true };
    }
    default: {
      // Noise behind a valid magic and version.
      const out = crypto.getRandomValues(new Uint8Array(pick(2 * file.byteLength)));
      out.set(bytes.subarray(0, Math.min(12, out.byteLength)));
      return { name: "noise", bytes: out, aligned: false, detectable: false };
    }
  }
}

function readEverything(trace: TraceRead, random: () => number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const batch of trace.batches(1 + Math.floor(random() * 100))) parts.push(batch);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

function check(mutation: Mutation, random: () => number, viaFile: boolean): void {
  let trace: TraceRead;
  try {
    if (viaFile) {
      const path = join(dir, "case.bin");
      writeFileSync(path, mutation.bytes);
      trace = readTrace(path);
    } else {
      trace = readTraceBytes(mutation.bytes);
    }
  } catch (error) {
    // Only the header can be refused, and only with a status that says why.
    expect(error).toBeInstanceOf(TraceFileError);
    expect((error as TraceFileError).status).toBeGreaterThanOrEqual(TraceStatus.empty_file);
    expect((error as TraceFileError).message.length).toBeGreaterThan(10);
    return;
  }
  const read = readEverything(trace, random);
  expect(read.byteLength % RECORD_SIZE).toBe(0);
  expect(read.byteLength).toBeLessThanOrEqual(records.byteLength);
  // Every record yielded is exactly the one written.
  expect(Buffer.compare(read, records.subarray(0, read.byteLength))).toBe(0);
  const state = trace.state;
  if (state === "failed") {
    const error = trace.error!;
    expect(error.offset).toBeLessThanOrEqual(mutation.bytes.byteLength);
    expect(error.reason.length).toBeGreaterThan(0);
    if (mutation.aligned) {
      // It stopped at a chunk start (or just past the end chunk), with every record before it.
      const start = chunkStarts.find((chunk) => chunk.offset === error.offset);
      if (start) expect(read.byteLength).toBe(start.recordsBefore * RECORD_SIZE);
      else expect([error.offset, error.code]).toEqual([file.byteLength, "data_after_end"]);
    }
  } else {
    expect(trace.error).toBeNull();
    if (state === "closed") expect(read.byteLength).toBe(records.byteLength);
    if (mutation.detectable) throw new Error(`${mutation.name}: damage went unnoticed (${state})`);
  }
}

describe("trace reader fuzz", () => {
  test(`${cases} damaged traces: no crash, exact prefix, an offset for every error (seed ${seed})`, () => {
    const random = prng(seed);
    const seen = new Map<string, number>();
    for (let i = 0; i < cases; i++) {
      const mutation = mutate(random);
      try {
        check(mutation, random, i % 16 === 0);
      } catch (error) {
        throw new Error(`case ${i} (${mutation.name}), replay with SCOPE_FUZZ_SEED=${seed}: ${error}`);
      }
      const kind = mutation.name.split(" ")[0]!;
      seen.set(kind, (seen.get(kind) ?? 0) + 1);
    }
    // Every kind of damage was tried.
    if (cases >= 500) expect(seen.size).toBe(7);
  }, Math.max(30_000, cases)); // about 0.1 ms a case; generous for slow machines

  test("the intact file reads back complete and closed", () => {
    const trace = readTraceBytes(file);
    expect(Buffer.compare(readEverything(trace, () => 0.5), records)).toBe(0);
    expect([trace.state, trace.error, trace.end?.recordsInFile]).toEqual(["closed", null, BigInt(records.byteLength / RECORD_SIZE)]);
  });
});
