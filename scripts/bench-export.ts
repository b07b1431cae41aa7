/**
 * Export speed on a large trace: `bun scripts/bench-export.ts <trace.bin> [rounds]`.
 * Per round, in this process: load + interpret (the model every exporter starts from),
 * `scope export --perfetto` (writePerfetto into /dev/null-like chunks, bytes counted),
 * OTLP spans (OtlpSpanMaker, with and without function calls) and their protobuf and JSON
 * serialization. Prints the median CPU time (user + system) and wall time of each step
 * over the rounds, and events/s of CPU time.
 */
import { interpret } from "../src/core/model";
import { loadTrace } from "../src/dump/load";
import { otlpOptionsOf } from "../src/export/export";
import { OtlpSpanMaker, serializeSpans } from "../src/export/otlp";
import { writePerfetto } from "../src/export/perfetto";

const path = process.argv[2];
if (!path) throw new Error("usage: bun scripts/bench-export.ts <trace.bin> [rounds]");
const rounds = Number(process.argv[3] ?? 3);
const results = new Map<string, { cpuMs: number[]; wallMs: number[]; note: string }>();

function measure<T>(name: string, work: () => T, note: (value: T) => string = () => ""): T {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  const value = work();
  const used = process.cpuUsage(cpu);
  let entry = results.get(name);
  if (!entry) results.set(name, (entry = { cpuMs: [], wallMs: [], note: "" }));
  entry.cpuMs.push((used.user + used.system) / 1000);
  entry.wallMs.push(performance.now() - wall);
  entry.note = note(value);
  return value;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
let eventCount = 0;
for (let round = 0; round < rounds; round++) {
  const trace = measure("load (read + decode records)", () => loadTrace(path), (t) => `${t.records.length} records`);
  const events = measure("interpret (model)", () => interpret(trace.records, trace.strings), (e) => `${e.length} events`);
  eventCount = events.length;
  measure(
    "perfetto (writePerfetto)",
    () => {
      let bytes = 0;
      const counts = writePerfetto(events, (chunk) => (bytes += chunk.byteLength));
      return { bytes, counts };
    },
    ({ bytes, counts }) => `${(bytes / 2 ** 20).toFixed(1)} MiB, ${counts.packets} packets, ${counts.slices} slices`,
  );
  for (const functions of [false, true]) {
    const spans = measure(`otlp spans${functions ? " (--otlp-functions)" : ""}`, () => new OtlpSpanMaker(otlpOptionsOf(trace, functions, undefined)).spans(events), (s) => `${s.length} spans`);
    measure(`  protobuf serialize${functions ? " (--otlp-functions)" : ""}`, () => serializeSpans(spans, "protobuf"), (b) => `${(b.byteLength / 2 ** 20).toFixed(1)} MiB`);
    measure(`  json serialize${functions ? " (--otlp-functions)" : ""}`, () => serializeSpans(spans, "json"), (b) => `${(b.byteLength / 2 ** 20).toFixed(1)} MiB`);
  }
}
console.log(`${path}: ${eventCount} events, ${rounds} rounds, medians`);
console.log("| step | CPU ms | wall ms | events/s (CPU) | output |\n|---|---|---|---|---|");
for (const [name, { cpuMs, wallMs, note }] of results) {
  const cpu = median(cpuMs);
  console.log(`| ${name} | ${cpu.toFixed(0)} | ${median(wallMs).toFixed(0)} | ${((eventCount / cpu) * 1000 / 1e6).toFixed(2)} M | ${note} |`);
}
