/**
 * The web workload's service (src/bench/workloads/web-server.cjs: Express + pg over loopback
 * HTTP) in every mode at the same time, not one after the other: untraced, traced by this
 * checkout (`scope run`) and, with BASE_CLI=/path/to/src/cli/main.ts, by another (`base`),
 * each driven by its own load generator (http-load.cjs, `CONNECTIONS` keep-alive connections,
 * 16 as the bench) over the same window. Whatever slows this host (another process, a vCPU
 * halting, the hypervisor) slows every mode alike, where the bench's alternated pairs each
 * meet their own moment (BENCHMARKS.md "Web side by side"). Prints each round's server CPU µs
 * a request and requests a second per mode, and per mode the median of its per-round ratios
 * to untraced. The modes share the two cores, so their absolute figures are not the bench's;
 * the ratios are the point.
 *   bun scripts/bench-web-sidebyside.ts [rounds=5] [modes=untraced,traced] [warmupMs=8000] [durationMs=10000]
 *   SCOPE_ARGS="--events process": more `scope run` options for traced and base.
 *   RATE=n: each load generator paced at n requests a second (http-load.cjs `rate`) instead of
 *   as fast as its server answers: every mode then serves the same rate, so a request's CPU
 *   does not move with how many requests one wake-up of the server finds.
 */
import { join } from "node:path";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { startPostgres } from "../spec/postgres-harness";
import { cpuSeconds } from "../src/bench/proc";

const root = join(import.meta.dir, "..");
const workloads = join(root, "src/bench/workloads");
const rounds = Number(process.argv[2] ?? 5);
const modes = (process.argv[3] ?? "untraced,traced").split(",");
const warmupMs = Number(process.argv[4] ?? 8000);
const durationMs = Number(process.argv[5] ?? 10000);
const connections = Number(process.env.CONNECTIONS ?? 16);
const rate = Number(process.env.RATE ?? 0);
const scopeArgs = (process.env.SCOPE_ARGS ?? "").split(" ").filter(Boolean);
if (modes[0] !== "untraced") throw new Error("the first mode must be untraced: the others are read against it");

const pg = await startPostgres();
const env = { ...process.env, PGURL: pg.url, NODE_PATH: join(root, "node_modules") };
const dir = mkdtempSync(join(tmpdir(), "scope-sidebyside-"));
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ")[0];

function serverCommand(mode: string, result: string, ready: string): string[] {
  const service = ["node", join(workloads, "web-server.cjs"), result, JSON.stringify({ ready })];
  if (mode === "untraced") return service;
  const cli = mode === "base" ? process.env.BASE_CLI : join(root, "src/cli/main.ts");
  if (cli === undefined) throw new Error("mode base needs BASE_CLI=/path/to/src/cli/main.ts");
  return ["bun", cli, "run", ...scopeArgs, "--out", join(dir, `${mode}.bin`), "--", ...service];
}

async function waitForReady(path: string, mode: string): Promise<{ port: number; pid: number }> {
  for (let waited = 0; waited < 30_000; waited += 50) {
    if (existsSync(path)) return JSON.parse(readFileSync(path, "utf8"));
    await Bun.sleep(50);
  }
  throw new Error(`the ${mode} server did not start in 30 s`);
}

interface Window {
  cpu: number;
  requests: number;
  requestsPerSecond: number;
}

/** One load generator on `port`; the server's CPU read at its window's edges. */
async function drive(port: number, pid: number): Promise<Window> {
  const params = { port, connections, warmupMs, durationMs, paths: ["/items/7", "/orders/3"], rate };
  const loader = Bun.spawn(["node", join(workloads, "http-load.cjs"), JSON.stringify(params)], { stdout: "pipe", stderr: "inherit", stdin: "ignore" });
  let start = Number.NaN;
  let cpu = Number.NaN;
  let result = "";
  let pending = "";
  const decoder = new TextDecoder();
  for await (const chunk of loader.stdout) {
    pending += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line === "measure") start = cpuSeconds(pid) ?? Number.NaN;
      else if (line === "done") cpu = (cpuSeconds(pid) ?? Number.NaN) - start;
      else if (line.startsWith("{")) result = line;
    }
  }
  if ((await loader.exited) !== 0 || !result) throw new Error("a load generator failed");
  const { requests, requestsPerSecond, errors, non2xx } = JSON.parse(result);
  if (errors > 0 || non2xx > 0) throw new Error(`${errors} socket errors, ${non2xx} non-2xx responses`);
  return { cpu, requests, requestsPerSecond };
}

const cpuRatios = new Map<string, number[]>(modes.map((mode) => [mode, []]));
const rateRatios = new Map<string, number[]>(modes.map((mode) => [mode, []]));
try {
  for (let round = 0; round < rounds; round++) {
    // Each round starts the modes in another order, so none is always first to warm.
    const order = modes.map((_, i) => modes[(i + round) % modes.length]!);
    const servers = order.map((mode) => {
      const result = join(dir, `${mode}.result.json`);
      const ready = join(dir, `${mode}.ready.json`);
      rmSync(ready, { force: true });
      return { mode, ready, process: Bun.spawn(serverCommand(mode, result, ready), { env, stdout: "ignore", stderr: "ignore", stdin: "ignore" }) };
    });
    const started = await Promise.all(servers.map((server) => waitForReady(server.ready, server.mode)));
    const windows = await Promise.all(started.map(({ port, pid }) => drive(port, pid)));
    await Promise.all(started.map(({ port }) => fetch(`http://127.0.0.1:${port}/shutdown`).catch(() => undefined)));
    await Promise.all(servers.map((server) => server.process.exited));
    const byMode = new Map(order.map((mode, i) => [mode, windows[i]!]));
    const untraced = byMode.get("untraced")!;
    const cells = modes.map((mode) => {
      const window = byMode.get(mode)!;
      const us = (window.cpu / window.requests) * 1e6;
      const cpuRatio = us / ((untraced.cpu / untraced.requests) * 1e6);
      const rateRatio = window.requestsPerSecond / untraced.requestsPerSecond;
      cpuRatios.get(mode)!.push(cpuRatio);
      rateRatios.get(mode)!.push(rateRatio);
      return `${mode} ${us.toFixed(1)} µs ${window.requestsPerSecond.toFixed(0)}/s${mode === "untraced" ? "" : ` (${cpuRatio.toFixed(3)}x, ${(rateRatio * 100).toFixed(1)}%)`}`;
    });
    console.log(`round ${round + 1} (load ${load()}): ${cells.join("; ")}`);
  }
  for (const mode of modes.slice(1)) {
    const cpu = cpuRatios.get(mode)!;
    const rate = rateRatios.get(mode)!;
    console.log(
      `${mode}: server CPU a request ${median(cpu).toFixed(3)}x untraced (rounds ${cpu.map((r) => r.toFixed(3)).join(" ")}); ` +
        `throughput ${(median(rate) * 100).toFixed(1)}% (${rate.map((r) => (r * 100).toFixed(1)).join(" ")})`,
    );
  }
} finally {
  pg.stop();
  rmSync(dir, { recursive: true, force: true });
}
