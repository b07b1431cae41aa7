/**
 * ns of CPU per traced message in the Node agent's hook path, and its parts (describe, record,
 * string), for typical message shapes: bundles scripts/bench-agent-node.ts for node, creates
 * an overwrite ring (no consumer: the producer's cost alone) and runs it.
 *
 *   zig build -Doptimize=ReleaseFast && bun scripts/bench-agent.ts [messages] [rounds]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ring } from "../src/core/ring";

const messages = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 5);
const repoRoot = join(import.meta.dir, "..");
const path = `/dev/shm/scope-bench-agent-${process.pid}`;
const out = mkdtempSync(join(tmpdir(), "scope-bench-agent-"));

const built = await Bun.build({ entrypoints: [join(import.meta.dir, "bench-agent-node.ts")], target: "node", format: "cjs", outdir: out });
if (!built.success) throw new Error(built.logs.join("\n"));
const ring = Ring.create(path, { laneCount: 4, laneCapacitySlots: 1 << 16, mode: "overwrite" });
try {
  const node = Bun.spawnSync(["node", join(out, "bench-agent-node.js"), join(repoRoot, "zig-out/lib/scope.node"), path, String(messages), String(rounds)]);
  if (node.exitCode !== 0) throw new Error(`node bench failed: ${node.stderr.toString()}`);
  if (node.stderr.length > 0) process.stderr.write(node.stderr);
  const { results, stats, errors, unrecorded } = JSON.parse(node.stdout.toString());
  console.log(`Node ${Bun.spawnSync(["node", "--version"]).stdout.toString().trim()}: ns per message, ${messages} per round, median of ${rounds} rounds`);
  for (const [name, ns] of Object.entries(results as Record<string, number>)) console.log(`${ns.toFixed(1).padStart(8)}  ${name}`);
  console.log(`addon stats ${JSON.stringify(stats)}, agent errors ${errors}, unrecorded ${unrecorded}`);
} finally {
  ring.close();
  Ring.unlink(path);
  rmSync(out, { recursive: true, force: true });
}
