/**
 * The web workload's server (src/bench/workloads/web-server.cjs: Express + pg) under
 * Valgrind's cachegrind (`--cache-sim=no`: instructions only), untraced and traced, each at
 * two lengths of load; the instructions a request costs are the difference of the two
 * runs' totals over the difference of their requests served (start-up and shutdown
 * cancel out). Instructions are not time (cache misses and the machine's load do not
 * show), but they do not move with the load of a shared machine: a before/after of the
 * agent's own work per request that a loaded 2-core machine can measure.
 *   bun scripts/bench-web-instructions.ts [modes: untraced,traced,base,als] [short_ms,long_ms]
 *   BASE_CLI=/path/to/other/src/cli/main.ts ...   # mode base: traced by another checkout
 *   mode als: untraced with scripts/web-als-only.cjs preloaded (the request context alone)
 * The addon must run under valgrind: build it for a baseline CPU (`zig build
 * -Doptimize=ReleaseFast -Dcpu=x86_64_v2 --prefix /tmp/zig-v2`, then SCOPE_ADDON=/tmp/zig-v2/lib/scope.node
 * SCOPE_LIBSCOPE=/tmp/zig-v2/lib/libscope.so); the host-CPU build dies of SIGILL there (AVX-512).
 * Each run starts the server under valgrind (a minute or more before it listens), loads it
 * with the bench's client (4 keep-alive connections, both routes, as fast as it answers),
 * then asks it to shut down. BENCHMARKS.md "Web services".
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startPostgres } from "../spec/postgres-harness";

const root = join(import.meta.dir, "..");
const workloads = join(root, "src/bench/workloads");
const modes = (process.argv[2] ?? "untraced,traced").split(",");
const lengths = (process.argv[3] ?? "4000,16000").split(",").map(Number);
const pg = await startPostgres();
const env = { ...process.env, PGURL: pg.url, NODE_PATH: join(root, "node_modules") };

async function run(mode: string, durationMs: number): Promise<{ instructions: number; served: number }> {
  const dir = mkdtempSync(join(tmpdir(), "scope-web-instructions-"));
  const ready = join(dir, "ready.json");
  const out = join(dir, "cachegrind.out");
  // Mode `als`: untraced with scripts/web-als-only.cjs preloaded (Node's request context alone).
  const preload = mode === "als" ? ["-r", join(root, "scripts/web-als-only.cjs")] : [];
  const server = ["valgrind", "--tool=cachegrind", "--cache-sim=no", `--cachegrind-out-file=${out}`, "node", ...preload, join(workloads, "web-server.cjs"), join(dir, "result.json"), JSON.stringify({ ready })];
  const cli = mode === "base" ? process.env.BASE_CLI : join(root, "src/cli/main.ts");
  if (cli === undefined) throw new Error("mode base needs BASE_CLI=/path/to/src/cli/main.ts");
  const argv = mode === "untraced" || mode === "als" ? server : ["bun", cli, "run", "--out", join(dir, "trace.bin"), "--", ...server];
  const child = Bun.spawn(argv, { env, stdio: ["ignore", "ignore", "ignore"] });
  while (!existsSync(ready)) await Bun.sleep(100);
  const { port } = JSON.parse(readFileSync(ready, "utf8")) as { port: number };
  const load = Bun.spawn(["node", join(workloads, "http-load.cjs"), JSON.stringify({ port, connections: 4, warmupMs: 0, durationMs, paths: ["/items/7", "/orders/3"] })], { stdout: "ignore" });
  await load.exited;
  await fetch(`http://127.0.0.1:${port}/shutdown`).catch(() => undefined);
  await child.exited;
  const served = (JSON.parse(readFileSync(join(dir, "result.json"), "utf8")) as { ops: number }).ops;
  const summary = readFileSync(out, "utf8").match(/^summary:\s+(\d+)/m);
  rmSync(dir, { recursive: true, force: true });
  if (!summary) throw new Error(`no cachegrind summary for ${mode}`);
  return { instructions: Number(summary[1]), served };
}

try {
  for (const mode of modes) {
    const [short, long] = [await run(mode, lengths[0]!), await run(mode, lengths[1]!)];
    const perRequest = (long.instructions - short.instructions) / (long.served - short.served);
    console.log(`${mode}: ${short.served} requests ${(short.instructions / 1e9).toFixed(3)} G instructions, ${long.served} requests ${(long.instructions / 1e9).toFixed(3)} G: ${Math.round(perRequest).toLocaleString("en-US")} instructions/request; load ${readFileSync("/proc/loadavg", "utf8").split(" ")[0]}`);
  }
} finally {
  pg.stop();
}
