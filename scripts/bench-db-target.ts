/**
 * What naming the database and server costs a query (db_connection; helper dbgaps): each
 * workload traced by two trees' `scope run` (from source), alternated, `pairs` times, against
 * fresh servers (spec/*-harness.ts); the median CPU ns a query or command of each, and head −
 * base. scripts/db-bench/workload.cjs (pg-pool, postgres, mysql2, mysql2-pool) and redis.cjs
 * ("ioredis", "redis", "redis4": 100 commands at once), each from the head tree (the same program).
 *
 *   . scripts/env.sh && bun scripts/bench-db-target.ts <base tree> [pairs=5] [workloads]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMySql } from "../spec/mysql-harness";
import { startPostgres } from "../spec/postgres-harness";
import { startRedis } from "../spec/redis-harness";

const head = join(import.meta.dir, "..");
const base = process.argv[2];
if (!base) throw new Error("usage: bench-db-target.ts <base tree> [pairs] [workloads]");
const pairs = Number(process.argv[3] ?? 5);
const workloads = (process.argv[4] ?? "pg-pool,postgres,mysql2,mysql2-pool,ioredis,redis").split(",");
const out = mkdtempSync(join(tmpdir(), "scope-bench-dbtarget-"));
const [pg, mysql, redis] = await Promise.all([startPostgres(), startMySql(), startRedis()]);
const env = { ...process.env, PGURL: pg.url, MYSQL_PORT: String(mysql.port), REDIS_URL: redis.url };

function argv(workload: string): string[] {
  if (workload === "ioredis" || workload === "redis" || workload === "redis4") return ["node", join(head, "scripts/db-bench/redis.cjs"), workload, "batch", "20000"];
  return ["node", join(head, "scripts/db-bench/workload.cjs"), workload, "4000"];
}

async function once(tree: string, workload: string): Promise<number> {
  const command = [process.execPath, join(tree, "src/cli/main.ts"), "run", "--out", join(out, "trace.bin"), "--", ...argv(workload)];
  const child = Bun.spawn(command, { cwd: head, env, stdout: "pipe", stderr: "pipe" });
  const [text, errors] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  if ((await child.exited) !== 0) throw new Error(`${command.join(" ")}: ${errors}`);
  const line = JSON.parse(text.trim().split("\n").at(-1)!);
  return line.cpuNsPerQuery ?? line.cpuNsPerCommand;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
try {
  console.log("| workload | base ns | head ns | head − base |\n|---|---:|---:|---:|");
  for (const workload of workloads) {
    const b: number[] = [];
    const h: number[] = [];
    for (let i = 0; i < pairs; i++) {
      // Alternate which goes first.
      if (i % 2 === 0) {
        b.push(await once(base, workload));
        h.push(await once(head, workload));
      } else {
        h.push(await once(head, workload));
        b.push(await once(base, workload));
      }
    }
    const mb = median(b);
    const mh = median(h);
    console.log(`| ${workload} | ${Math.round(mb)} | ${Math.round(mh)} | ${mh - mb >= 0 ? "+" : "−"}${Math.abs(Math.round(mh - mb))} |`);
  }
} finally {
  pg.stop();
  mysql.stop();
  redis.stop();
  rmSync(out, { recursive: true, force: true });
}
