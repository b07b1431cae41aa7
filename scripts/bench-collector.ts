/**
 * The collector's sustained drain rate: records per second from the ring into the trace
 * file, measured on a ring filled beforehand so the producer's cost is not in it. Each
 * round fills one 262,144-slot lane (a 256 MiB ring: 16 lanes) with function_call records
 * from one producer, then times the drain to empty:
 *   thread      the native drain thread (zig/collector.zig via DrainThread): start, which
 *               drains at once, and stop, which returns when the ring is empty;
 *   event-loop  Collector.drain() on the JS thread (the --print path): bun:ffi drain,
 *               counting by kind and thread in JS, appending CRC-32C'd chunks.
 *
 *   zig build -Doptimize=ReleaseFast && bun scripts/bench-collector.ts [rounds]
 */
import { rmSync } from "node:fs";
import { Chalk } from "chalk";
import { EventKind, Offset, RECORD_SIZE } from "../src/core/layout";
import { DrainThread, Ring, type Producer } from "../src/core/ring";
import { TraceWriter } from "../src/core/trace-file";
import { Collector } from "../src/run/collector";

const rounds = Number(process.argv[2] ?? 5);
const ringBytes = 256 * 1024 * 1024;
const laneSlots = ringBytes / RECORD_SIZE / 16;
const batch = new Uint8Array(256 * RECORD_SIZE);
const view = new DataView(batch.buffer);
for (let i = 0; i < 256; i++) {
  view.setUint16(i * RECORD_SIZE + Offset.kind, EventKind.function_call, true);
  view.setFloat64(i * RECORD_SIZE + Offset.a, i, true);
}

function fill(producer: Producer): void {
  for (let written = 0; written < laneSlots; written += 256) producer.writeBatch(batch);
}

function median(rates: number[]): string {
  rates.sort((a, b) => a - b);
  const m = (value: number) => (value / 1e6).toFixed(1);
  return `${m(rates[Math.floor(rates.length / 2)]!)} M records/s median of ${rates.length} rounds of ${laneSlots} (min ${m(rates[0]!)}, max ${m(rates[rates.length - 1]!)})`;
}

// Alternated round by round (the machine is shared: load moves both alike).
const threadPath = `/dev/shm/scope-bench-collector-${process.pid}-thread`;
const threadOut = `/tmp/scope-bench-collector-${process.pid}-thread.bin`;
const threadRing = Ring.create(threadPath, { laneCount: 16, laneCapacitySlots: laneSlots, mode: "discard" });
const threadWriter = TraceWriter.open(threadOut, { host: "bench", argv: ["bench"] });
const threadProducer = threadRing.attachProducer(process.pid + 1, 0);
const jsPath = `/dev/shm/scope-bench-collector-${process.pid}-js`;
const jsOut = `/tmp/scope-bench-collector-${process.pid}-js.bin`;
const collector = Collector.start({ ringPath: jsPath, ringBytes, mode: "discard", out: jsOut, host: "bench", argv: ["bench"], color: new Chalk({ level: 0 }), drain: "event-loop" });
// Its timer never runs in between: no await until the end.
const jsProducerSide = Ring.open(jsPath);
const jsProducer = jsProducerSide.attachProducer(process.pid + 1, 0);
const threadRates: number[] = [];
const jsRates: number[] = [];
for (let round = 0; round < rounds + 1; round++) {
  fill(threadProducer);
  let start = Bun.nanoseconds();
  const totals = DrainThread.start(threadRing, threadWriter.nativeHandle).stop();
  let seconds = (Bun.nanoseconds() - start) / 1e9;
  if (totals.recorded !== laneSlots) throw new Error(`thread drained ${totals.recorded}, expected ${laneSlots}`);
  if (round > 0) threadRates.push(laneSlots / seconds);
  fill(jsProducer);
  start = Bun.nanoseconds();
  const moved = collector.drain();
  seconds = (Bun.nanoseconds() - start) / 1e9;
  if (moved !== laneSlots) throw new Error(`event loop drained ${moved}, expected ${laneSlots}`);
  if (round > 0) jsRates.push(moved / seconds);
}
threadProducer.detach();
threadWriter.abandon();
threadRing.close();
Ring.unlink(threadPath);
jsProducer.detach();
jsProducerSide.close();
collector.finish({ exitCode: 0, signal: null });
for (const out of [threadOut, jsOut]) rmSync(out, { force: true });
console.log(`collector drain, thread:     ${median(threadRates)}`);
console.log(`collector drain, event loop: ${median(jsRates)}`);
