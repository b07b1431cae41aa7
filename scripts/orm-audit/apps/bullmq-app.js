const { runApp } = require("./common");
const { Queue, Worker, QueueEvents } = require("bullmq");
const url = new URL(process.env.REDIS_URL);
const connection = { host: url.hostname, port: +url.port, maxRetriesPerRequest: null };
const name = "orders-" + process.pid;
const queue = new Queue(name, { connection });
const results = [];
let attempts = {};
let finished;
const allDone = new Promise((r) => (finished = r));
const worker = new Worker(name, async (job) => {
  attempts[job.data.n] = (attempts[job.data.n] || 0) + 1;
  if (job.data.n === 3 && attempts[3] === 1) throw new Error("flaky payment");
  if (job.data.n === 4) throw new Error("card declined");
  return job.data.n * 10;
}, { connection, concurrency: 2 });
let settled = 0;
const settle = () => { if (++settled === 5) finished(); };
worker.on("completed", (job, value) => { results.push(`${job.data.n}=${value}`); settle(); });
worker.on("failed", (job, err) => { if (job.attemptsMade >= job.opts.attempts) { results.push(`${job.data.n}!${err.message}`); settle(); } });
runApp("bullmq", {
  async enqueue() {
    const jobs = await Promise.all([1, 2, 3, 4, 5].map((n) => queue.add("order", { n }, { attempts: 2, backoff: { type: "fixed", delay: 50 }, removeOnComplete: false })));
    return jobs.length;
  },
  async wait() { await allDone; return results.sort(); },
  async counts() { return queue.getJobCounts("completed", "failed", "waiting", "delayed"); },
}, async () => { await worker.close(); await queue.obliterate({ force: true }); await queue.close(); console.log("attempts", JSON.stringify(attempts)); });
