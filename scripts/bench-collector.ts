/**
 * The collector's sustained drain rate: records per second from the ring into the trace
 * file, measured on a ring filled beforehand so the producer's cost is not in it. Each
 * round fills one 262,144-slot lane (a 256 MiB ring: 16 lanes) with function_call records
 * from one producer, then times the drain to empty:
 *   thread      the native drain thread (zig/collector.zig via DrainThread): start, which
 *               drains at once, and stop, which returns when the ring is empty;
 *   event-loop  Collector.drain() on the JS thread (the --print path): bun:ffi drain,
 *               counting by kind and thread in JS, appending CRC-32C'd chunks;
 *   flight      the drain thread with a flight recorder (--flight-recorder 60s, default
 *               --flight-memory): drained into the window, nothing written (stop with
 *               exit status 0), blocks allocated on first use as in a run's first minute;
 *   flight+write the same, then one write of the whole window (stop with exit status 1):
 *               the write's own cost is the difference.
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

function median(rates: number[], cpu: number[]): string {
  rates.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const m = (value: number) => (value / 1e6).toFixed(1);
  return `${m(rates[Math.floor(rates.length / 2)]!)} M records/s median of ${rates.length} rounds of ${laneSlots} (min ${m(rates[0]!)}, max ${m(rates[rates.length - 1]!)}); CPU ${cpu[Math.floor(cpu.length / 2)]!.toFixed(1)} ns/record median`;
}

/** CPU time of the whole process (the drain thread's included) since `from`, in ns per lane of records. */
function cpuPerRecord(from: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(from);
  return ((used.user + used.system) * 1000) / laneSlots;
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
const flightRates: number[] = [];
const flightWriteRates: number[] = [];
const threadCpu: number[] = [];
const jsCpu: number[] = [];
const flightCpu: number[] = [];
const flightWriteCpu: number[] = [];
const flight = { windowMs: 60_000, memoryBytes: 256 * 1024 * 1024 };
for (let round = 0; round < rounds + 1; round++) {
  fill(threadProducer);
  let cpu = process.cpuUsage();
  let start = Bun.nanoseconds();
  const totals = DrainThread.start(threadRing, threadWriter.nativeHandle).stop();
  let seconds = (Bun.nanoseconds() - start) / 1e9;
  if (totals.recorded !== laneSlots) throw new Error(`thread drained ${totals.recorded}, expected ${laneSlots}`);
  if (round > 0) threadRates.push(laneSlots / seconds);
  if (round > 0) threadCpu.push(cpuPerRecord(cpu));
  fill(jsProducer);
  cpu = process.cpuUsage();
  start = Bun.nanoseconds();
  const moved = collector.drain();
  seconds = (Bun.nanoseconds() - start) / 1e9;
  if (moved !== laneSlots) throw new Error(`event loop drained ${moved}, expected ${laneSlots}`);
  if (round > 0) jsRates.push(moved / seconds);
  if (round > 0) jsCpu.push(cpuPerRecord(cpu));
  for (const [exitStatus, rates, cpus] of [[0, flightRates, flightCpu], [1, flightWriteRates, flightWriteCpu]] as const) {
    fill(threadProducer);
    cpu = process.cpuUsage();
    start = Bun.nanoseconds();
    const held = DrainThread.start(threadRing, threadWriter.nativeHandle, flight).stop(exitStatus);
    seconds = (Bun.nanoseconds() - start) / 1e9;
    if (round > 0) cpus.push(cpuPerRecord(cpu));
    if (held.flight!.received !== laneSlots) throw new Error(`flight window took ${held.flight!.received}, expected ${laneSlots}`);
    if (held.recorded !== (exitStatus === 0 ? 0 : laneSlots)) throw new Error(`flight wrote ${held.recorded}`);
    if (round > 0) rates.push(laneSlots / seconds);
  }
}
threadProducer.detach();
threadWriter.abandon();
threadRing.close();
Ring.unlink(threadPath);
jsProducer.detach();
jsProducerSide.close();
collector.finish({ exitCode: 0, signal: null });
for (const out of [threadOut, jsOut]) rmSync(out, { force: true });
console.log(`collector drain, thread:     ${median(threadRates, threadCpu)}`);
console.log(`collector drain, event loop: ${median(jsRates, jsCpu)}`);
console.log(`flight window, held:        ${median(flightRates, flightCpu)}`);
console.log(`flight window, held+write:  ${median(flightWriteRates, flightWriteCpu)}`);
