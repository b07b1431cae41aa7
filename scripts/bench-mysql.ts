/**
 * What tracing mysql2 costs, per query: mysql2 against a fresh MariaDB (spec/mysql-harness.ts)
 * with and without its integration in one Node process (scripts/bench-mysql-node.ts: two
 * copies of mysql2 side by side, alternated round by round, CPU per query and queries per
 * second), recording into an overwrite ring (no consumer); and the MySQL dialect of the
 * text normaliser against the standard one.
 *
 *   zig build -Doptimize=ReleaseFast && bun scripts/bench-mysql.ts [queries per round=2000] [rounds=7] [node]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ring } from "../src/core/ring";
import { startMySql } from "../spec/mysql-harness";

const queries = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 7);
const node = process.argv[4] ?? "node";
const repoRoot = join(import.meta.dir, "..");
const path = `/dev/shm/scope-bench-mysql-${process.pid}`;
const out = mkdtempSync(join(tmpdir(), "scope-bench-mysql-"));

const built = await Bun.build({ entrypoints: [join(import.meta.dir, "bench-mysql-node.ts")], target: "node", format: "cjs", outdir: out, external: ["mysql2", "mysql2/*"] });
if (!built.success) throw new Error(built.logs.join("\n"));
const ring = Ring.create(path, { laneCount: 4, laneCapacitySlots: 1 << 16, mode: "overwrite" });
const server = await startMySql();
try {
  const child = Bun.spawnSync([node, join(out, "bench-mysql-node.js"), join(repoRoot, "zig-out/lib/scope.node"), path, String(queries), String(rounds)], {
    env: { ...process.env, NODE_PATH: join(repoRoot, "node_modules"), MYSQL_PORT: String(server.port) },
  });
  if (child.exitCode !== 0) throw new Error(`node bench failed: ${child.stderr.toString()}`);
  const { results, errors } = JSON.parse(child.stdout.toString());
  console.log(`Node ${Bun.spawnSync([node, "--version"]).stdout.toString().trim()}: medians of ${rounds} rounds of ${queries} queries; load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}`);
  for (const [name, value] of Object.entries(results as Record<string, number>)) console.log(`${value.toFixed(1).padStart(10)}  ${name}`);
  if (errors !== 0) console.log(`agent errors: ${errors}`);
} finally {
  server.stop();
  ring.close();
  Ring.unlink(path);
  rmSync(out, { recursive: true, force: true });
}
