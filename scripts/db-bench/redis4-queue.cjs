// node-redis 4's commands queue without Redis (helper bunpg): `addCommand` (what every
// command of a 1.x client passes, wrapped since that helper to mark its queue's connection)
// then `getCommandToSend` and, every 64, `flushWaitingForReply`, on a queue no client filed
// (its wrapper's slow path: the last-queue comparison fails and the WeakMap is asked).
// argv[2]: commands timed (after 20,000 of warm-up). Prints {"cpuNsPerCommand"} of the loop.
const { dirname } = require("node:path");
const client = dirname(require.resolve("@redis/client/package.json", { paths: [dirname(require.resolve("redis4"))] }));
const Queue = require(`${client}/dist/lib/client/commands-queue.js`).default;
const count = Number(process.argv[2] ?? 200000);
const queue = new Queue(undefined, () => {});
const closed = new Error("flushed");
const ignore = () => {};
const run = (n) => {
  for (let i = 0; i < n; i++) {
    queue.addCommand(["SET", "k", "v"]).catch(ignore);
    queue.getCommandToSend();
    if ((i & 63) === 63) queue.flushWaitingForReply(closed);
  }
};
run(20000);
const cpu = process.cpuUsage();
run(count);
const used = process.cpuUsage(cpu);
console.log(JSON.stringify({ cpuNsPerCommand: ((used.user + used.system) * 1000) / count }));
