/**
 * Codec and trace-file benchmark: ns per record to encode and decode (Zig and
 * TypeScript), and MB/s to write a trace (TraceWriter.append: copy, CRC-32C, write) and
 * to read it back (readTrace: read, CRC-32C check, copy to JS), with and without
 * decoding every record to an object. Medians of 5 rounds.
 *
 *   . scripts/env.sh && zig build -Doptimize=ReleaseFast && bun scripts/bench-trace.ts [MiB] [dir]
 *
 * MiB: trace size per round (default 256). dir: where the trace goes (default /dev/shm,
 * so the figures are the CPU cost of the format, not the disk's speed).
 */
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { decodeRecord, encodeRecord, type DecodedRecord } from "../src/core/events";
import { RECORD_SIZE } from "../src/core/layout";
import { readTrace, traceNative, TraceWriter } from "../src/core/trace-file";

const mebibytes = Number(process.argv[2] ?? 256);
const dir = process.argv[3] ?? "/dev/shm";
const rounds = 5;
const batchRecords = 4096;

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function timeNs(action: () => void): number {
  const start = process.hrtime.bigint();
  action();
  return Number(process.hrtime.bigint() - start);
}

function randomBatch(): Uint8Array {
  const bytes = new Uint8Array(batchRecords * RECORD_SIZE);
  crypto.getRandomValues(bytes.subarray(0, 65536));
  for (let offset = 65536; offset < bytes.byteLength; offset += 65536) bytes.copyWithin(offset, 0, 65536);
  return bytes;
}

function zigCodec(): { encodeNs: number; decodeNs: number } {
  const count = 65536;
  const repeat = 20;
  const out = new BigUint64Array(2);
  const encode: number[] = [];
  const decode: number[] = [];
  for (let round = 0; round < rounds; round++) {
    if (traceNative().scope_codec_benchmark(count, repeat, out) !== 0) throw new Error("scope_codec_benchmark failed");
    encode.push(Number(out[0]) / (count * repeat));
    decode.push(Number(out[1]) / (count * repeat));
  }
  return { encodeNs: median(encode), decodeNs: median(decode) };
}

function tsCodec(): { encodeNs: number; decodeNs: number; decodeKeepNs: number } {
  const count = 100_000;
  const bytes = new Uint8Array(count * RECORD_SIZE);
  crypto.getRandomValues(bytes);
  const decoded: DecodedRecord[] = new Array(count);
  const encode: number[] = [];
  const decode: number[] = [];
  const decodeKeep: number[] = [];
  let sink = 0;
  for (let round = 0; round < 2 * rounds; round++) {
    // Streaming: each record is looked at and dropped (a filter, a counter).
    const d = timeNs(() => {
      for (let i = 0; i < count; i++) sink += decodeRecord(bytes, i * RECORD_SIZE).flags;
    });
    // Kept: every record stays alive (what `scope dump` does), so the GC works harder.
    const k = timeNs(() => {
      for (let i = 0; i < count; i++) decoded[i] = decodeRecord(bytes, i * RECORD_SIZE);
    });
    const e = timeNs(() => {
      for (let i = 0; i < count; i++) encodeRecord(decoded[i]!, bytes, i * RECORD_SIZE);
    });
    if (round >= rounds) {
      // The first rounds warm the JIT up.
      decode.push(d / count);
      decodeKeep.push(k / count);
      encode.push(e / count);
    }
  }
  if (sink === -1) console.log(sink);
  return { encodeNs: median(encode), decodeNs: median(decode), decodeKeepNs: median(decodeKeep) };
}

function traceRoundTrip(): { writeMBs: number; readMBs: number; readDecodeMBs: number; decodeRecordsPerS: number } {
  const path = join(dir, `scope-bench-${process.pid}.bin`);
  const batch = randomBatch();
  const batches = Math.ceil((mebibytes * 1024 * 1024) / batch.byteLength);
  const write: number[] = [];
  const read: number[] = [];
  const readDecode: number[] = [];
  let fileBytes = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      write.push(
        timeNs(() => {
          const writer = TraceWriter.open(path, { host: "bench", argv: ["bench"] });
          for (let i = 0; i < batches; i++) writer.append(batch);
          writer.close({ written: 0, dropped: 0, overwritten: 0 });
        }),
      );
      fileBytes = statSync(path).size;
      read.push(
        timeNs(() => {
          let records = 0;
          for (const b of readTrace(path).batches()) records += b.byteLength / RECORD_SIZE;
          if (records !== batches * batchRecords) throw new Error(`read ${records} records`);
        }),
      );
      readDecode.push(
        timeNs(() => {
          let records = 0;
          for (const _ of readTrace(path).records()) records++;
          if (records !== batches * batchRecords) throw new Error(`decoded ${records} records`);
        }),
      );
    }
  } finally {
    rmSync(path, { force: true });
  }
  const mbPerS = (ns: number) => fileBytes / 1e6 / (ns / 1e9);
  return {
    writeMBs: mbPerS(median(write)),
    readMBs: mbPerS(median(read)),
    readDecodeMBs: mbPerS(median(readDecode)),
    decodeRecordsPerS: (batches * batchRecords) / (median(readDecode) / 1e9),
  };
}

const zig = zigCodec();
const ts = tsCodec();
const trace = traceRoundTrip();
console.log(`codec, ns per record (median of ${rounds})`);
console.log(`  zig  encode ${zig.encodeNs.toFixed(2)}  decode ${zig.decodeNs.toFixed(2)}`);
console.log(`  ts   encode ${ts.encodeNs.toFixed(1)}  decode ${ts.decodeNs.toFixed(1)} (streaming), ${ts.decodeKeepNs.toFixed(1)} (all kept)  (bigint fields)`);
console.log(`trace file, ${mebibytes} MiB in ${dir} (median of ${rounds})`);
console.log(`  write (append 4096-record batches + close/fsync)  ${trace.writeMBs.toFixed(0)} MB/s`);
console.log(`  read (batches, checksums checked)                 ${trace.readMBs.toFixed(0)} MB/s`);
console.log(`  read + decode every record to an object           ${trace.readDecodeMBs.toFixed(0)} MB/s = ${(trace.decodeRecordsPerS / 1e6).toFixed(2)} M records/s`);
