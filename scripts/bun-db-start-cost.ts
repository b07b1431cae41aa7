// What the Bun agent's start adds for Bun's built-in database clients (src/agent/bun/db/index.ts:
// four stand-ins assigned on Bun, RedisClient's class read), timed inside Bun workers, each
// worker's first (cold), medians in µs.
//   bun scripts/bun-db-start-cost.ts [workers=20]
import { Worker, isMainThread, parentPort } from "node:worker_threads";
if (isMainThread) {
  const n = Number(process.argv[2] ?? 20);
  const all: number[][] = [];
  for (let i = 0; i < n; i++) {
    const w = new Worker(new URL(import.meta.url));
    all.push(await new Promise<number[]>((resolve) => w.once("message", resolve)));
    await new Promise((r) => w.once("exit", r));
  }
  const med = (k: number) => all.map((a) => a[k]!).sort((x, y) => x - y)[Math.floor(n / 2)]!;
  console.log(`median µs per worker: stand-ins for sql/SQL ${med(0).toFixed(1)}, RedisClient read ${med(1).toFixed(1)}, redis stand-ins ${med(2).toFixed(1)}`);
} else {
  const bun = Bun as any;
  const standIn = (target: object) => new Proxy(target, { get: () => 1, apply: () => 1, construct: () => ({}) });
  let t = Bun.nanoseconds();
  bun.sql = standIn(function () {}.bind(null));
  bun.SQL = standIn(function SQL() {});
  const a = (Bun.nanoseconds() - t) / 1e3;
  t = Bun.nanoseconds();
  const R = bun.RedisClient;
  const b = (Bun.nanoseconds() - t) / 1e3;
  t = Bun.nanoseconds();
  bun.RedisClient = standIn(function RedisClient() {});
  bun.redis = standIn({});
  const c = (Bun.nanoseconds() - t) / 1e3;
  parentPort!.postMessage([a, b, c, typeof R]);
}
