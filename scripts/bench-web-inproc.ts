/**
 * scripts/web-inproc.cjs (the web workload's Express + pg service, its HTTP over in-memory
 * streams, client in the same process) untraced, traced by this checkout (`scope run`) and
 * by another (`base`, BASE_CLI=/path/to/src/cli/main.ts), alternated `rounds` times against
 * the test PostgreSQL; prints each run's CPU µs per request and, per mode, the median and
 * its ratio to untraced (and each round's traced/base ratio). No load process and no HTTP
 * syscalls: the service's CPU per request with less of the machine's noise than the
 * closed-loop bench (BENCHMARKS.md "Web services").
 *   bun scripts/bench-web-inproc.ts [rounds] [modes: untraced,traced,base,als] [requests]
 *   mode als: untraced with scripts/web-als-only.cjs preloaded (the request context alone);
 *   SCOPE_ARGS="--events process": more `scope run` options for traced and base.
 * INSTRUCTIONS=short,long: instead, each mode under Valgrind's cachegrind twice, serving
 * `short` and then `long` requests after the same warm-up; the instructions a request costs
 * are the difference of the two totals over the difference of requests (start-up, warm-up
 * and shutdown cancel out). Instructions are not time, but a loaded machine does not move
 * them. The addon must be built for a CPU valgrind knows (`zig build -Doptimize=ReleaseFast
 * -Dcpu=x86_64_v2 --prefix DIR`, then SCOPE_ADDON=DIR/lib/scope.node SCOPE_LIBSCOPE=DIR/lib/libscope.so).
 */
import { join } from "node:path";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { startPostgres } from "../spec/postgres-harness";

const root = join(import.meta.dir, "..");
const rounds = Number(process.argv[2] ?? 5);
const modes = (process.argv[3] ?? "untraced,traced").split(",");
const requests = Number(process.argv[4] ?? 10000);
const pg = await startPostgres();
const env = { ...process.env, PGURL: pg.url, NODE_PATH: join(root, "node_modules") };
const results = new Map<string, number[]>(modes.map((mode) => [mode, []]));
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ")[0];
const instructions = process.env.INSTRUCTIONS?.split(",").map(Number);
function instructionsOf(mode: string, count: number): number {
  const dir = mkdtempSync(join(tmpdir(), "scope-web-inproc-"));
  const out = join(dir, "cachegrind.out");
  const service = ["valgrind", "--tool=cachegrind", "--cache-sim=no", `--cachegrind-out-file=${out}`, "node", join(root, "scripts/web-inproc.cjs"), JSON.stringify({ connections: 8, warmup: 1500, requests: count })];
  const cli = mode === "base" ? process.env.BASE_CLI : join(root, "src/cli/main.ts");
  const argv = mode === "untraced" ? service : ["bun", cli!, "run", "--out", join(dir, "trace.bin"), "--", ...service];
  const child = Bun.spawnSync(argv, { env, stderr: "pipe" });
  const summary = /^summary:\s+(\d+)/m.exec(readFileSync(out, "utf8"));
  rmSync(dir, { recursive: true, force: true });
  if (!summary || child.exitCode !== 0) throw new Error(`${mode}: no cachegrind summary (${child.stderr.toString().slice(-300)})`);
  return Number(summary[1]);
}
try {
  if (instructions !== undefined) {
    const [short, long] = instructions as [number, number];
    for (let round = 0; round < rounds; round++) {
      for (const mode of modes) {
        const a = instructionsOf(mode, short);
        const b = instructionsOf(mode, long);
        console.log(`round ${round + 1} ${mode}: ${Math.round((b - a) / (long - short)).toLocaleString("en-US")} instructions/request (${(a / 1e9).toFixed(3)} G for ${short}, ${(b / 1e9).toFixed(3)} G for ${long}); load ${load()}`);
      }
    }
  } else await timed();
} finally {
  pg.stop();
}

async function timed(): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      const dir = mkdtempSync(join(tmpdir(), "scope-web-inproc-"));
      // Mode `als`: untraced with scripts/web-als-only.cjs preloaded (one AsyncLocalStorage entered per request, nothing recorded).
      const service = ["node", ...(mode === "als" ? ["-r", join(root, "scripts/web-als-only.cjs")] : []), join(root, "scripts/web-inproc.cjs"), JSON.stringify({ connections: 8, warmup: 2000, requests })];
      const cli = mode === "base" ? process.env.BASE_CLI : join(root, "src/cli/main.ts");
      if (cli === undefined) throw new Error("mode base needs BASE_CLI=/path/to/src/cli/main.ts");
      // SCOPE_ARGS: more `scope run` options for the traced runs (e.g. "--events process").
      const scopeArgs = (process.env.SCOPE_ARGS ?? "").split(" ").filter(Boolean);
      const argv = mode === "untraced" || mode === "als" ? service : ["bun", cli, "run", ...scopeArgs, "--out", join(dir, "trace.bin"), "--", ...service];
      const child = Bun.spawnSync(argv, { env, stderr: "pipe" });
      const line = child.stdout.toString().split("\n").find((text) => text.startsWith("{"));
      rmSync(dir, { recursive: true, force: true });
      if (line === undefined) throw new Error(`${mode}: no result (${child.stderr.toString().slice(-400)})`);
      const { cpuUs } = JSON.parse(line) as { cpuUs: number };
      results.get(mode)!.push(cpuUs);
      console.log(`round ${round + 1} ${mode}: ${cpuUs.toFixed(1)} µs/request; load ${load()}`);
    }
  }
  const untraced = results.has("untraced") ? median(results.get("untraced")!) : undefined;
  for (const [mode, values] of results) {
    const m = median(values);
    console.log(`${mode}: median ${m.toFixed(1)} µs/request (${values.map((v) => v.toFixed(1)).join(" / ")})${untraced !== undefined ? `, ${(m / untraced).toFixed(3)}x untraced` : ""}`);
  }
  if (results.has("traced") && results.has("base")) {
    const ratios = results.get("traced")!.map((value, i) => value / results.get("base")![i]!);
    console.log(`traced / base per round: ${ratios.map((r) => r.toFixed(3)).join(", ")} (median ${median(ratios).toFixed(3)})`);
  }
}
