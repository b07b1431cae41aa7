/**
 * What the Bun agent's start adds to every Bun thread for Bun's built-in database clients
 * (src/agent/bun/db/index.ts), in CPU per Bun worker: untraced workers started one after
 * another (40 a run), each doing at its start only one of: nothing; reading Bun.RedisClient
 * (the class the agent reads at start); assigning two Proxies to Bun.sql and Bun.SQL (the SQL
 * stand-ins); reading Bun.SQL (what an eager hook would cost). Rounds alternate the variants;
 * medians of ms of CPU per worker (user + system of the process / workers).
 *
 *   bun scripts/bun-db-start-cost.ts [rounds=10] [workers=40]
 */
import { Worker, isMainThread, parentPort } from "node:worker_threads";

const variants = ["nothing", "read RedisClient", "SQL stand-ins", "read Bun.SQL"] as const;

if (isMainThread && process.argv[2] === "--chain") {
  const n = Number(process.argv[3]);
  for (let i = 0; i < n; i++) {
    const worker = new Worker(import.meta.path, { workerData: process.argv[4] });
    worker.postMessage(1);
    await new Promise((resolve) => worker.once("exit", resolve));
  }
  const used = process.resourceUsage();
  process.stdout.write(String((used.userCPUTime + used.systemCPUTime) / 1000 / n));
} else if (isMainThread) {
  const rounds = Number(process.argv[2] ?? 10);
  const workers = process.argv[3] ?? "40";
  const results = new Map<string, number[]>(variants.map((v) => [v, []]));
  for (let r = 0; r < rounds; r++) {
    for (const variant of variants) {
      const run = Bun.spawnSync([process.execPath, import.meta.path, "--chain", workers, variant]);
      results.get(variant)!.push(Number(run.stdout.toString()));
    }
  }
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
  console.log(`load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}; ${rounds} rounds, ${workers} Bun workers a run; ms of CPU a worker (median)`);
  const base = median(results.get("nothing")!);
  for (const [variant, values] of results) console.log(`${variant.padEnd(18)} ${median(values).toFixed(2)} (${(median(values) - base >= 0 ? "+" : "") + (median(values) - base).toFixed(2)})`);
} else {
  const { workerData } = await import("node:worker_threads");
  const bun = Bun as unknown as Record<string, unknown>;
  if (workerData === "read RedisClient") (globalThis as Record<string, unknown>).kept = bun.RedisClient;
  else if (workerData === "SQL stand-ins") {
    bun.sql = new Proxy(function () {}.bind(null), {});
    bun.SQL = new Proxy(function SQL() {}, {});
  } else if (workerData === "read Bun.SQL") (globalThis as Record<string, unknown>).kept = bun.SQL;
  parentPort!.once("message", () => process.exit(0));
}
