/**
 * What Redis command tracing costs the program: each workload of scripts/db-bench/redis.cjs
 * run untraced and under `scope run` (from source), alternated, `pairs` times, against a
 * fresh test server (spec/redis-harness.ts); prints the median CPU time per command, the
 * median commands per second, and the differences.
 *
 *   bun scripts/bench-redis.ts [pairs=5] [node binary=node] [only the workloads whose name has this]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRedis } from "../spec/redis-harness";

const root = join(import.meta.dir, "..");
const pairs = Number(process.argv[2] ?? 5);
const node = process.argv[3] ?? "node";
const only = process.argv[4] ?? "";
const out = mkdtempSync(join(tmpdir(), "scope-bench-redis-"));
const server = await startRedis();

interface Result {
  cpuNsPerCommand: number;
  commandsPerSecond: number;
}

async function once(argv: string[], traced: boolean): Promise<Result> {
  const command = traced ? [process.execPath, join(root, "src/cli/main.ts"), "run", "--out", join(out, "trace.bin"), "--", ...argv] : argv;
  const child = Bun.spawn(command, { env: { ...process.env, REDIS_URL: server.url }, stdout: "pipe", stderr: "pipe" });
  const [text, errors] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  if ((await child.exited) !== 0) throw new Error(`${command.join(" ")}: ${errors}`);
  const line = text.trim().split("\n").find((l) => l.startsWith("{"));
  return JSON.parse(line!) as Result;
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
const workload = (library: string, mode: string, count: number, runtime = node): string[] => [runtime, join(root, "scripts/db-bench/redis.cjs"), library, mode, String(count)];
const workloads: [string, string[]][] = [
  ["ioredis await (node)", workload("ioredis", "await", 20000)],
  ["ioredis batch (node)", workload("ioredis", "batch", 100000)],
  ["redis await (node)", workload("redis", "await", 20000)],
  ["redis batch (node)", workload("redis", "batch", 100000)],
  ["ioredis batch (bun)", workload("ioredis", "batch", 100000, process.execPath)],
  ["redis batch (bun)", workload("redis", "batch", 100000, process.execPath)],
  ["Bun.redis await (bun)", [process.execPath, join(root, "scripts/db-bench/bun-redis.ts"), "await", "20000"]],
  ["Bun.redis batch (bun)", [process.execPath, join(root, "scripts/db-bench/bun-redis.ts"), "batch", "100000"]],
  ["redis4 await (node)", workload("redis4", "await", 20000)],
  ["redis4 batch (node)", workload("redis4", "batch", 100000)],
  ["redis4 batch (bun)", workload("redis4", "batch", 100000, process.execPath)],
  // No Redis: node-redis 4 loaded, a yallist list of the program's pushed (its hook's shape test).
  ["redis4 yallist (node)", workload("redis4", "yallist", 5000000)],
];
try {
  console.log(`load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}; ${pairs} pairs, medians`);
  for (const [name, argv] of workloads.filter(([name]) => name.includes(only))) {
    const plain: Result[] = [];
    const traced: Result[] = [];
    for (let i = 0; i < pairs; i++) {
      plain.push(await once(argv, false));
      traced.push(await once(argv, true));
    }
    const p = median(plain.map((r) => r.cpuNsPerCommand));
    const t = median(traced.map((r) => r.cpuNsPerCommand));
    const ps = median(plain.map((r) => r.commandsPerSecond));
    const ts = median(traced.map((r) => r.commandsPerSecond));
    console.log(
      `${name.padEnd(22)} CPU/command untraced ${p.toFixed(0).padStart(6)} ns traced ${t.toFixed(0).padStart(6)} ns +${(t - p).toFixed(0)} ns | commands/s ${ps.toFixed(0).padStart(7)} → ${ts.toFixed(0).padStart(7)} (${((ts / ps - 1) * 100).toFixed(1)}%)`,
    );
  }
} finally {
  server.stop();
  rmSync(out, { recursive: true, force: true });
}
