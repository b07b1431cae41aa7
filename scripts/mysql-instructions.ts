/**
 * What tracing adds to each mysql2 query, in instructions (valgrind's cachegrind, every thread
 * of the program: a figure the machine's load does not move): scripts/db-bench/workload.cjs
 * against a fresh MariaDB (spec/mysql-harness.ts), untraced and under `scope run` (from this
 * tree's source), at two sizes; the slope of traced over untraced between them is the cost a
 * query (the integration, the text's recorded form, two records), the intercept the agent's start.
 * The server is another process: not counted.
 *
 *   . scripts/env.sh && bun scripts/mysql-instructions.ts [node=node] [low=500] [high=2000] [workloads=mysql2,mysql2-execute,mysql2-pool]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMySql } from "../spec/mysql-harness";

const root = join(import.meta.dir, "..");
const node = process.argv[2] ?? "node";
const low = Number(process.argv[3] ?? 500);
const high = Number(process.argv[4] ?? 2000);
const workloads = (process.argv[5] ?? "mysql2,mysql2-execute,mysql2-pool").split(",");
const dir = mkdtempSync(join(tmpdir(), "scope-mysql-instructions-"));
// valgrind cannot decode the AVX-512 a native build may use: the addon built for x86-64-v3.
const zig = Bun.spawnSync(["zig", "build", "-Doptimize=ReleaseFast", "-Dcpu=x86_64_v3", "--prefix", join(dir, "zig")], { cwd: root, stderr: "pipe" });
if (zig.exitCode !== 0) throw new Error(`zig build: ${zig.stderr.toString()}`);
const server = await startMySql();

function refs(log: string): number {
  const match = /I\s+refs:\s+([\d,]+)/.exec(log);
  if (!match) throw new Error(`no cachegrind summary:\n${log.slice(-2000)}`);
  return Number(match[1]!.replaceAll(",", ""));
}

function count(workload: string, size: number, traced: boolean): number {
  const program = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", node, join(root, "scripts/db-bench/workload.cjs"), workload, String(size)];
  const argv = traced ? [process.execPath, join(root, "src/cli/main.ts"), "run", "--out", join(dir, "t.bin"), "--", ...program] : program;
  const env = { ...process.env, MYSQL_PORT: String(server.port), SCOPE_ADDON: join(dir, "zig/lib/scope.node"), SCOPE_LIBSCOPE: join(dir, "zig/lib/libscope.so") };
  const run = Bun.spawnSync(argv, { env, stdout: "pipe", stderr: "pipe" });
  const stderr = run.stderr.toString();
  if (run.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${stderr.slice(-2000)}`);
  if (traced && !stderr.includes("lost: none")) console.log(`${workload} ${size}: records lost (see a rerun)`);
  return refs(stderr);
}

try {
  console.log(`${node} ${Bun.spawnSync([node, "--version"]).stdout.toString().trim()}, sizes ${low} and ${high} queries; load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}`);
  for (const workload of workloads) {
    const [ul, uh, tl, th] = [count(workload, low, false), count(workload, high, false), count(workload, low, true), count(workload, high, true)];
    const untracedPer = (uh - ul) / (high - low);
    const added = (th - tl - (uh - ul)) / (high - low);
    console.log(`${workload.padEnd(16)} untraced ${untracedPer.toFixed(0).padStart(7)} instructions a query; traced adds ${added.toFixed(0).padStart(6)} (${((added / untracedPer) * 100).toFixed(1)} %); fixed ${((tl - ul - added * low) / 1e6).toFixed(0)} M`);
  }
} finally {
  server.stop();
  rmSync(dir, { recursive: true, force: true });
}
