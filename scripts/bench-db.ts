/**
 * What database tracing costs the program, per query: each workload of scripts/db-bench/
 * run untraced and under `scope run` (from source), alternated, `pairs` times; prints the
 * median CPU time per query of each and the difference. PostgreSQL workloads run against a
 * fresh test server (spec/postgres-harness.ts), mysql2's against a fresh MariaDB
 * (spec/mysql-harness.ts). `filter`: only the workloads whose name contains it.
 *
 *   bun scripts/bench-db.ts [pairs=5] [filter]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMySql } from "../spec/mysql-harness";
import { startPostgres } from "../spec/postgres-harness";

const root = join(import.meta.dir, "..");
const pairs = Number(process.argv[2] ?? 5);
const out = mkdtempSync(join(tmpdir(), "scope-bench-db-"));
const filter = process.argv[3] ?? "";

async function once(argv: string[], traced: boolean): Promise<number> {
  const command = traced ? [process.execPath, join(root, "src/cli/main.ts"), "run", "--out", join(out, "trace.bin"), "--", ...argv] : argv;
  const env = { ...process.env, ...(server ? { PGURL: server.url } : {}), ...(mysqlServer ? { MYSQL_PORT: String(mysqlServer.port) } : {}) };
  const child = Bun.spawn(command, { env, stdout: "pipe", stderr: "pipe" });
  const [text, errors] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  if ((await child.exited) !== 0) throw new Error(`${command.join(" ")}: ${errors}`);
  const line = text.trim().split("\n").find((l) => l.startsWith("{"));
  return JSON.parse(line!).cpuNsPerQuery as number;
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
const allWorkloads: [string, string[]][] = [
  ["better-sqlite3 get (node)", ["node", join(root, "scripts/db-bench/workload.cjs"), "better-sqlite3", "20000"]],
  ["bun:sqlite get (bun)", [process.execPath, join(root, "scripts/db-bench/bun-sqlite.mjs"), "20000"]],
  ["pg query $1 (node)", ["node", join(root, "scripts/db-bench/workload.cjs"), "pg", "2000"]],
  ["pg query, literals (node)", ["node", join(root, "scripts/db-bench/workload.cjs"), "pg-literal", "2000"]],
  ["pg pool.query x4 (node)", ["node", join(root, "scripts/db-bench/workload.cjs"), "pg-pool", "2000"]],
  ["mysql2 query ? (node)", ["node", join(root, "scripts/db-bench/workload.cjs"), "mysql2", "2000"]],
  ["mysql2 execute (node)", ["node", join(root, "scripts/db-bench/workload.cjs"), "mysql2-execute", "2000"]],
  ["mysql2 pool.query x4 (node)", ["node", join(root, "scripts/db-bench/workload.cjs"), "mysql2-pool", "2000"]],
  ["pg Bun.sql query $1 (bun)", [process.execPath, join(root, "scripts/db-bench/bun-sql.ts"), "2000"]],
  ["mysql2 query ? (bun)", [process.execPath, join(root, "scripts/db-bench/workload.cjs"), "mysql2", "2000"]],
];
const workloads = allWorkloads.filter(([name]) => name.includes(filter));
const server = workloads.some(([name]) => name.startsWith("pg")) ? await startPostgres() : undefined;
const mysqlServer = workloads.some(([name]) => name.startsWith("mysql2")) ? await startMySql() : undefined;
try {
  console.log(`load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}; ${pairs} pairs, medians of CPU ns per query`);
  for (const [name, argv] of workloads) {
    const plain: number[] = [];
    const traced: number[] = [];
    for (let i = 0; i < pairs; i++) {
      plain.push(await once(argv, false));
      traced.push(await once(argv, true));
    }
    const p = median(plain);
    const t = median(traced);
    console.log(`${name.padEnd(28)} untraced ${p.toFixed(0).padStart(7)} ns  traced ${t.toFixed(0).padStart(7)} ns  +${(t - p).toFixed(0)} ns (${((t / p - 1) * 100).toFixed(1)}%)`);
  }
} finally {
  server?.stop();
  mysqlServer?.stop();
  rmSync(out, { recursive: true, force: true });
}
