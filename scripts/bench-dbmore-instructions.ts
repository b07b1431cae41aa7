/**
 * Instructions per operation that scope's database integrations add, by Valgrind's cachegrind
 * (as scripts/bench-pg-pool-instructions.ts): scripts/bench-dbmore-instructions-node.ts bundled
 * from this checkout (and from BASE=/path/to/other/checkout), run untraced and with the
 * integrations installed, each for `short` and `long` operations after the same warm-up; per
 * operation = the difference of the two totals over the difference of counts. Rounds alternate
 * the order of the traced builds (this, base; then base, this). Real PostgreSQL and Redis.
 *   bun scripts/bench-dbmore-instructions.ts <workload,...> [rounds] [short,long] [warmup]
 * Workloads: the node side's (postgres-query, redis-message, redis4-message, ioredis-message,
 * pg-notify, postgres-notify). The addon must run under valgrind: SCOPE_ADDON=<dir>/lib/scope.node
 * built with `zig build -Doptimize=ReleaseFast -Dcpu=x86_64_v2 --prefix <dir>`.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ring } from "../src/core/ring";
import { startPostgres } from "../spec/postgres-harness";
import { startRedis } from "../spec/redis-harness";

const workloads = (process.argv[2] ?? "postgres-query").split(",");
const rounds = Number(process.argv[3] ?? 2);
const [short, long] = (process.argv[4] ?? "1000,3000").split(",").map(Number) as [number, number];
const warmup = Number(process.argv[5] ?? 1000);
const root = join(import.meta.dir, "..");
const addon = process.env.SCOPE_ADDON ?? join(root, "zig-out/lib/scope.node");
const out = mkdtempSync(join(tmpdir(), "scope-bench-dbmore-"));
const path = `/dev/shm/scope-bench-dbmore-${process.pid}`;

async function bundle(checkout: string, name: string): Promise<string> {
  const built = await Bun.build({
    entrypoints: [join(root, "scripts/bench-dbmore-instructions-node.ts")],
    target: "node",
    format: "cjs",
    outdir: join(out, name),
    packages: "external",
    // BASE: the agent's modules from the other checkout (this checkout's driver file).
    plugins: checkout === root ? [] : [{ name: "base", setup(build) { build.onResolve({ filter: /\/src\/agent\// }, (args) => ({ path: join(args.resolveDir, args.path).replace(root, checkout) + ".ts" })); } }],
  });
  if (!built.success) throw new Error(built.logs.join("\n"));
  return join(out, name, "bench-dbmore-instructions-node.js");
}

const ring = Ring.create(path, { laneCount: 4, laneCapacitySlots: 1 << 16, mode: "overwrite" });
const pg = await startPostgres();
const redis = await startRedis();
try {
  const builds: [string, string][] = [["this", await bundle(root, "this")]];
  if (process.env.BASE) builds.push(["base", await bundle(process.env.BASE, "base")]);
  const count = (file: string, workload: string, traced: boolean, operations: number): number => {
    const cg = join(out, "cachegrind.out");
    const child = Bun.spawnSync(["valgrind", "--tool=cachegrind", "--cache-sim=no", `--cachegrind-out-file=${cg}`, "node", "--single-threaded", file, addon, path, workload, String(warmup), String(operations)], {
      env: { ...process.env, PGURL: pg.url, REDIS_URL: redis.url, NODE_PATH: join(root, "node_modules"), TRACED: traced ? "1" : "0" },
      stderr: "pipe",
    });
    if (child.exitCode !== 0) throw new Error(child.stderr.toString().slice(-800));
    const errors = JSON.parse(child.stdout.toString()).errors;
    if (errors !== 0) throw new Error(`agent errors: ${errors}`);
    return Number(/^summary:\s+(\d+)/m.exec(readFileSync(cg, "utf8"))![1]);
  };
  for (const workload of workloads) {
    for (let round = 0; round < rounds; round++) {
      const per = (file: string, traced: boolean) => (count(file, workload, traced, long) - count(file, workload, traced, short)) / (long - short);
      const untraced = per(builds[0]![1], false);
      const order = round % 2 === 0 ? builds : [...builds].reverse();
      const added = new Map(order.map(([name, file]) => [name, per(file, true) - untraced]));
      const line = builds.map(([name]) => `${name} +${Math.round(added.get(name)!).toLocaleString("en-US")}`);
      console.log(`${workload} round ${round + 1} (${order.map(([name]) => name).join(" then ")}): untraced ${Math.round(untraced).toLocaleString("en-US")}, ${line.join(", ")}; load ${readFileSync("/proc/loadavg", "utf8").split(" ")[0]}`);
    }
  }
} finally {
  pg.stop();
  redis.stop();
  ring.close();
  Ring.unlink(path);
  rmSync(out, { recursive: true, force: true });
}
