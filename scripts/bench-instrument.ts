/**
 * Function instrumentation benchmarks, in Node 20 and in Bun, same machine, same run:
 * - transform throughput: MB/s of source through parse → match → transform → print
 *   (source map included) over real npm files (typescript.js, marked, yaml);
 * - ns per instrumented call: a tight loop calling a one-line function, untouched and
 *   instrumented, the difference divided by the calls; "calls" level into the real ring
 *   through scope.node (batched recordBatch and one record() per event), with no runtime
 *   (the no-op hook), and "full" (argument and value previews). Overwrite-mode ring, no
 *   consumer: the producer's cost alone, as in scripts/bench-ring.ts.
 *
 *   zig build -Doptimize=ReleaseFast && bun scripts/bench-instrument.ts [calls] [rounds]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildInstrumentBundle, runInstrumentWorker, type InstrumentFigures } from "../src/bench/instrument";
import { Ring } from "../src/core/ring";

const calls = Number(process.argv[2] ?? 5_000_000);
const rounds = Number(process.argv[3] ?? 5);
const scratch = mkdtempSync(join(tmpdir(), "scope-bench-instrument-"));
const ringPath = `/dev/shm/scope-bench-instrument-${process.pid}`;

async function main(): Promise<void> {
  const bundle = await buildInstrumentBundle(scratch);
  const ring = Ring.create(ringPath, { laneCount: 4, laneCapacitySlots: 1 << 16, mode: "overwrite" });
  const results: Record<string, InstrumentFigures> = {};
  try {
    for (const [name, runtime] of [["node", "node"], ["bun", process.execPath]] as const) {
      results[name] = await runInstrumentWorker({ runtime, bundle, ringPath, calls, rounds, dir: scratch });
    }
  } finally {
    ring.close();
    rmSync(ringPath, { force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
  const row = (label: string, field: keyof InstrumentFigures, digits = 1) => `| ${label} | ${results.node![field]!.toFixed(digits)} | ${results.bun![field]!.toFixed(digits)} |`;
  console.log(`calls per round: ${calls}, rounds: ${rounds} (median); corpus ${(results.node!.transformBytes / 1e6).toFixed(1)} MB`);
  console.log("| measure | Node 20 | Bun |\n|---|---|---|");
  console.log(row("transform, MB/s of source (parse + edit + source map)", "transformMBps"));
  console.log(row("plain call, ns (loop baseline)", "plainNsPerCall", 2));
  console.log(row("added ns per call: instrumented, no runtime (no-op hook)", "noRuntimeNs"));
  console.log(row("added ns per call: calls level, batched 256 per recordBatch", "callsBatchedNs"));
  console.log(row("added ns per call: calls level, one record() per event", "callsUnbatchedNs"));
  console.log(row("added ns per call: full level (entry + return, previews), batched", "fullBatchedNs"));
}

await main();
