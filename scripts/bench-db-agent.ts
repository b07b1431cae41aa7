/**
 * ns per query in the database integrations' own path and the query text normaliser, in
 * Node, and better-sqlite3 and pg (against a fresh test PostgreSQL) with and without their
 * integration in one process: bundles scripts/bench-db-agent-node.ts, creates an overwrite
 * ring (no consumer: the producer's cost alone) and runs it.
 *
 *   zig build -Doptimize=ReleaseFast && bun scripts/bench-db-agent.ts [queries] [rounds]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ring } from "../src/core/ring";
import { startPostgres } from "../spec/postgres-harness";

const queries = Number(process.argv[2] ?? 400_000);
const rounds = Number(process.argv[3] ?? 5);
const repoRoot = join(import.meta.dir, "..");
const path = `/dev/shm/scope-bench-db-agent-${process.pid}`;
const out = mkdtempSync(join(tmpdir(), "scope-bench-db-agent-"));

// better-sqlite3 stays a require() of the repository's node_modules (its addon cannot be bundled).
const built = await Bun.build({ entrypoints: [join(import.meta.dir, "bench-db-agent-node.ts")], target: "node", format: "cjs", outdir: out, external: ["better-sqlite3", "pg", "pg/lib/client", "pg/lib/query"] });
if (!built.success) throw new Error(built.logs.join("\n"));
const ring = Ring.create(path, { laneCount: 4, laneCapacitySlots: 1 << 16, mode: "overwrite" });
const server = await startPostgres();
try {
  const node = Bun.spawnSync(["node", join(out, "bench-db-agent-node.js"), join(repoRoot, "zig-out/lib/scope.node"), path, String(queries), String(rounds)], {
    env: { ...process.env, NODE_PATH: join(repoRoot, "node_modules"), PGURL: server.url },
  });
  if (node.exitCode !== 0) throw new Error(`node bench failed: ${node.stderr.toString()}`);
  const { results, errors } = JSON.parse(node.stdout.toString());
  console.log(`Node ${Bun.spawnSync(["node", "--version"]).stdout.toString().trim()}: ns per call, median of ${rounds} rounds; load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}`);
  for (const [name, ns] of Object.entries(results as Record<string, number>)) console.log(`${ns.toFixed(1).padStart(10)}  ${name}`);
  if (errors !== 0) console.log(`agent errors: ${errors}`);
} finally {
  server.stop();
  ring.close();
  Ring.unlink(path);
  rmSync(out, { recursive: true, force: true });
}
