/**
 * ns per event from JavaScript into the shared ring: Bun through bun:ffi (src/core/ring.ts)
 * and Node through scope.node (scripts/bench-ring-node.mjs), one record per call and in
 * batches with the JS encoding included. Overwrite mode, no consumer: the producer's cost
 * alone (the native numbers are `zig build bench`).
 *
 *   zig build -Doptimize=ReleaseFast && bun scripts/bench-ring.ts [events] [rounds]
 */
import { join } from "node:path";
import { Ring } from "../src/core/ring";

const events = Number(process.argv[2] ?? 2_000_000);
const rounds = Number(process.argv[3] ?? 5);
const repoRoot = join(import.meta.dir, "..");
const path = `/dev/shm/scope-bench-ring-${process.pid}`;
const BATCH = 256;
const RECORD_WORDS = 16;

function measure(fn: (count: number) => void): number {
  fn(Math.min(events, 200_000));
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = Bun.nanoseconds();
    fn(events);
    samples.push((Bun.nanoseconds() - start) / events);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

const ring = Ring.create(path, { laneCount: 4, laneCapacitySlots: 1 << 16, mode: "overwrite" });
try {
  const producer = ring.attachProducer(process.pid, 0);
  const words = new Uint32Array(BATCH * RECORD_WORDS);
  const bytes = new Uint8Array(words.buffer);
  const results: Record<string, number> = {
    "bun: bun:ffi record(), one per call": measure((count) => {
      for (let i = 0; i < count; i++) producer.record(13, 0, i, 2, 3, 4, 5);
    }),
    [`bun: bun:ffi writeBatch(), ${BATCH} per call, JS encode included`]: measure((count) => {
      for (let i = 0; i < count; ) {
        for (let j = 0; j < BATCH; j++) {
          const base = j * RECORD_WORDS;
          words[base + 1] = 13;
          words[base + 6] = i + j;
          words[base + 8] = 2;
          words[base + 10] = 3;
          words[base + 12] = 4;
          words[base + 14] = 5;
        }
        producer.writeBatch(bytes, BATCH);
        i += BATCH;
      }
    }),
  };
  producer.detach();
  const node = Bun.spawnSync(["node", join(repoRoot, "scripts/bench-ring-node.mjs"), join(repoRoot, "zig-out/lib/scope.node"), path, String(events), String(rounds)]);
  if (node.exitCode !== 0) throw new Error(`node bench failed: ${node.stderr.toString()}`);
  const nodeResults = JSON.parse(node.stdout.toString()) as Record<string, number>;
  delete nodeResults.stats;
  Object.assign(results, nodeResults);
  console.log(`JS → ring, ${events} events per round, median of ${rounds} rounds (ns/event)`);
  for (const [name, ns] of Object.entries(results)) console.log(`${ns.toFixed(1).padStart(8)}  ${name}`);
  const stats = ring.stats();
  console.log(`ring: ${stats.written} records written (overwrite mode, no consumer)`);
} finally {
  ring.close();
  Ring.unlink(path);
}
