// Bun's built-in Redis client for scripts/bench-redis.ts: argv[2] the mode ("await": one SET or
// GET at a time; "batch": 100 at once), argv[3] commands timed (after a warm-up of 2,000), on
// `new RedisClient(REDIS_URL)`. Prints {"cpuNsPerCommand", "commandsPerSecond"}.
import { RedisClient } from "bun";

const mode = process.argv[2];
const count = Number(process.argv[3] ?? 20000);
const client = new RedisClient(process.env.REDIS_URL);
const run = async (n: number) => {
  if (mode === "await") {
    for (let i = 0; i < n; i++) await (i & 1 ? client.get(`k${i & 63}`) : client.set(`k${i & 63}`, "value"));
  } else {
    for (let i = 0; i < n; i += 100) {
      const batch: Promise<unknown>[] = [];
      for (let j = 0; j < 100; j++) batch.push(j & 1 ? client.get(`k${j & 63}`) : client.set(`k${j & 63}`, "value"));
      await Promise.all(batch);
    }
  }
};
await run(2000);
const cpu = process.cpuUsage();
const start = process.hrtime.bigint();
await run(count);
const wall = Number(process.hrtime.bigint() - start);
const used = process.cpuUsage(cpu);
console.log(JSON.stringify({ cpuNsPerCommand: ((used.user + used.system) * 1000) / count, commandsPerSecond: (count / wall) * 1e9 }));
client.close();
