/**
 * The collector's sustained drain rate: records per second from the ring into the trace
 * file through src/run/collector.ts (drain through bun:ffi, counting by kind and thread,
 * appending CRC-32C'd chunks), measured on a ring filled beforehand so the producer's
 * cost is not in it. Each round fills one 262,144-slot lane (a 256 MiB ring: 16 lanes)
 * with function_call records from one producer and times Collector.drain() to empty.
 *
 *   zig build -Doptimize=ReleaseFast && bun scripts/bench-collector.ts [rounds]
 */
import { rmSync } from "node:fs";
import { EventKind, Offset, RECORD_SIZE } from "../src/core/layout";
import { Ring } from "../src/core/ring";
import { Collector } from "../src/run/collector";
import { Chalk } from "chalk";

const rounds = Number(process.argv[2] ?? 5);
const ringBytes = 256 * 1024 * 1024;
const laneSlots = ringBytes / RECORD_SIZE / 16;
const path = `/dev/shm/scope-bench-collector-${process.pid}`;
const out = `/tmp/scope-bench-collector-${process.pid}.bin`;

const collector = Collector.start({ ringPath: path, ringBytes, mode: "discard", out, host: "bench", argv: ["bench"], color: new Chalk({ level: 0 }) });
// The collector drains on its own timer too; this script drains by hand between fills,
// on the same thread, so the timer never runs in between (no await until the end).
const producerSide = Ring.open(path);
const producer = producerSide.attachProducer(process.pid + 1, 0);
const batch = new Uint8Array(256 * RECORD_SIZE);
const view = new DataView(batch.buffer);
for (let i = 0; i < 256; i++) {
  view.setUint16(i * RECORD_SIZE + Offset.kind, EventKind.function_call, true);
  view.setFloat64(i * RECORD_SIZE + Offset.a, i, true);
}
const rates: number[] = [];
for (let round = 0; round < rounds + 1; round++) {
  for (let written = 0; written < laneSlots; written += 256) producer.writeBatch(batch);
  const start = Bun.nanoseconds();
  const moved = collector.drain();
  const seconds = (Bun.nanoseconds() - start) / 1e9;
  if (moved !== laneSlots) throw new Error(`drained ${moved}, expected ${laneSlots}`);
  if (round > 0) rates.push(moved / seconds);
}
producer.detach();
producerSide.close();
const summary = collector.finish({ exitCode: 0, signal: null });
rmSync(out, { force: true });
rates.sort((a, b) => a - b);
const median = rates[Math.floor(rates.length / 2)]!;
console.log(`collector drain: ${(median / 1e6).toFixed(1)} M records/s median of ${rates.length} rounds of ${laneSlots} records (min ${(rates[0]! / 1e6).toFixed(1)}, max ${(rates[rates.length - 1]! / 1e6).toFixed(1)}); ${summary.recorded} records, ${summary.dropped} dropped`);
