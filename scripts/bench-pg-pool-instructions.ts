/**
 * Instructions per `await pool.query(text, values)` that scope's pg integration adds, by
 * Valgrind's cachegrind: scripts/bench-pg-pool-instructions-node.ts bundled from this
 * checkout (and from BASE=/path/to/other/checkout), run untraced and with the integration
 * installed, each serving `short` and `long` queries after the same warm-up; per query =
 * the difference of the two totals over the difference of counts. One query in flight,
 * no HTTP and no request context: the integration's own path, which a loaded machine does
 * not move (the web workload's whole-service counts move ±5% from run to run).
 *   bun scripts/bench-pg-pool-instructions.ts [rounds] [short,long] [warmup]
 * The addon must run under valgrind: SCOPE_ADDON=<dir>/lib/scope.node built with
 * `zig build -Doptimize=ReleaseFast -Dcpu=x86_64_v2 --prefix <dir>`.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ring } from "../src/core/ring";
import { startPostgres } from "../spec/postgres-harness";

const rounds = Number(process.argv[2] ?? 2);
const [short, long] = (process.argv[3] ?? "2000,6000").split(",").map(Number) as [number, number];
const warmup = Number(process.argv[4] ?? 3000);
const root = join(import.meta.dir, "..");
const addon = process.env.SCOPE_ADDON ?? join(root, "zig-out/lib/scope.node");
const out = mkdtempSync(join(tmpdir(), "scope-bench-pg-pool-"));
const path = `/dev/shm/scope-bench-pg-pool-${process.pid}`;

async function bundle(checkout: string, name: string): Promise<string> {
  const built = await Bun.build({ entrypoints: [join(root, "scripts/bench-pg-pool-instructions-node.ts")], target: "node", format: "cjs", outdir: join(out, name), external: ["pg", "pg-pool", "pg/lib/client", "pg/lib/query"],
    // BASE: the agent's modules from the other checkout (this checkout's driver file).
    plugins: checkout === root ? [] : [{ name: "base", setup(build) { build.onResolve({ filter: /\/src\/agent\// }, (args) => ({ path: join(args.resolveDir, args.path).replace(root, checkout) + ".ts" })); } }] });
  if (!built.success) throw new Error(built.logs.join("\n"));
  return join(out, name, "bench-pg-pool-instructions-node.js");
}

const ring = Ring.create(path, { laneCount: 4, laneCapacitySlots: 1 << 16, mode: "overwrite" });
const pg = await startPostgres();
try {
  const builds: [string, string][] = [["this", await bundle(root, "this")]];
  if (process.env.BASE) builds.push(["base", await bundle(process.env.BASE, "base")]);
  const count = (file: string, traced: boolean, queries: number): number => {
    const cg = join(out, "cachegrind.out");
    const child = Bun.spawnSync(["valgrind", "--tool=cachegrind", "--cache-sim=no", `--cachegrind-out-file=${cg}`, "node", "--single-threaded", file, addon, path, String(warmup), String(queries)], {
      env: { ...process.env, PGURL: pg.url, NODE_PATH: join(root, "node_modules"), TRACED: traced ? "1" : "0" },
      stderr: "pipe",
    });
    if (child.exitCode !== 0) throw new Error(child.stderr.toString().slice(-500));
    const errors = JSON.parse(child.stdout.toString()).errors;
    if (errors !== 0) throw new Error(`agent errors: ${errors}`);
    return Number(/^summary:\s+(\d+)/m.exec(readFileSync(cg, "utf8"))![1]);
  };
  for (let round = 0; round < rounds; round++) {
    const perQuery = (file: string, traced: boolean) => (count(file, traced, long) - count(file, traced, short)) / (long - short);
    const untraced = perQuery(builds[0]![1], false);
    const line = [`untraced ${Math.round(untraced).toLocaleString("en-US")}`];
    for (const [name, file] of builds) line.push(`${name} +${Math.round(perQuery(file, true) - untraced).toLocaleString("en-US")}`);
    console.log(`round ${round + 1}: instructions per pool.query: ${line.join(", ")}; load ${readFileSync("/proc/loadavg", "utf8").split(" ")[0]}`);
  }
} finally {
  pg.stop();
  ring.close();
  Ring.unlink(path);
  rmSync(out, { recursive: true, force: true });
}
