// One Redis workload for scripts/bench-redis.ts: argv[2] the library ("ioredis", "redis" or
// "redis4": node-redis 4), argv[3] the mode ("await": one SET or GET at a time; "batch": 100
// at once, auto-pipelined by node-redis, ioredis' own writes; "yallist": no Redis, the
// library loaded and a yallist list used as lru-cache 6 does, a push and a shift a
// "command": what node-redis 4's hook costs the program's other yallist lists), argv[4]
// the number of commands timed. Prints
// {"cpuNsPerCommand", "commandsPerSecond"} of the timed loop (after a warm-up of 2,000).
const which = process.argv[2];
const mode = process.argv[3];
const count = Number(process.argv[4] ?? 20000);
const lib = require(which);

async function main() {
  if (mode === "yallist") return yallist();
  const io = which === "ioredis";
  const client = io ? new lib(process.env.REDIS_URL) : lib.createClient({ url: process.env.REDIS_URL });
  if (!io) await client.connect();
  const run = async (n) => {
    if (mode === "await") {
      for (let i = 0; i < n; i++) await (i & 1 ? client.get(`k${i & 63}`) : client.set(`k${i & 63}`, "value"));
    } else {
      for (let i = 0; i < n; i += 100) {
        const batch = [];
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
  io ? client.disconnect() : await client.quit();
}

main();

function yallist() {
  const Yallist = require("yallist");
  const list = new Yallist();
  const run = (n) => {
    for (let i = 0; i < n; i++) {
      if (i & 1) list.unshiftNode(new Yallist.Node({ key: i, value: "v" }));
      else list.push({ key: i, value: "v" });
      if (list.length > 64) list.shift();
    }
  };
  run(20000);
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  run(count);
  const wall = Number(process.hrtime.bigint() - start);
  const used = process.cpuUsage(cpu);
  console.log(JSON.stringify({ cpuNsPerCommand: ((used.user + used.system) * 1000) / count, commandsPerSecond: (count / wall) * 1e9 }));
}
