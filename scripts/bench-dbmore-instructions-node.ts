/**
 * Node side of scripts/bench-dbmore-instructions.ts: one workload, `count` operations one at a
 * time after `warmup`, against the real servers, with the database integrations installed
 * (TRACED=1) or not; no request context (the integrations' own path).
 *   node <bundle> <scope.node> <ring-path> <workload> <warmup> <count>
 * Workloads: postgres-query (`await sql\`select ${i}::int\``: postgres.js's per-query path,
 * its handle, handler and stringify), redis-message / redis4-message / ioredis-message (a PUBLISH
 * awaited with its message's arrival at a subscriber client: the receive's path),
 * pg-notify and postgres-notify (a NOTIFY awaited with its notification's arrival).
 * A hook a checkout lacks (base) is not installed: its workload then measures base's own path.
 */
import { makeDbRecorder } from "../src/agent/shared/db";
import { previewWalk } from "../src/agent/shared/preview";
import { Recorder } from "../src/agent/shared/recorder";
import type { Sink } from "../src/agent/shared/sink";
import * as pg from "../src/agent/node/db/pg";
import * as postgresJs from "../src/agent/node/db/postgres";
import * as ioredis from "../src/agent/node/db/ioredis";
import * as nodeRedis from "../src/agent/node/db/node-redis";
import * as nodeRedis4 from "../src/agent/node/db/node-redis4";

const [addonPath, ringPath, workload, warmupText, countText] = process.argv.slice(2);
const addon = require(addonPath!) as Sink & { attach(path: string, tid: number): boolean };
if (!addon.attach(ringPath!, 0)) throw new Error(`attach ${ringPath} failed`);
const db = makeDbRecorder(new Recorder(addon, { process: true, thread: true, message: true, http: true, db: true, loop: false, memory: false }, previewWalk), () => false);
const traced = process.env.TRACED === "1";
const hooks = (nodeRedis as Record<string, unknown>).hookNodeRedisPubSub as ((db: unknown, filename: string) => void) | undefined;
type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any

function installRedis(which: "redis" | "redis4"): void {
  const base = which === "redis" ? require.resolve("@redis/client/package.json") : require.resolve("@redis/client/package.json", { paths: [require.resolve("redis4")] });
  const dir = base.slice(0, -"package.json".length) + "dist/lib/client/";
  if (which === "redis") nodeRedis.hookNodeRedisList(db, require(dir + "linked-list"));
  const queue = require(dir + "commands-queue");
  nodeRedis.hookNodeRedisQueue(queue);
  nodeRedis4.hookNodeRedis4Queue(db, dir + "commands-queue.js", queue);
  hooks?.(db, dir + "commands-queue.js");
  nodeRedis.hookNodeRedisClient(db, require(dir + "index"));
  nodeRedis4.hookNodeRedis4Client(db, require(dir + "index"));
}

async function main(): Promise<void> {
  const total = Number(warmupText) + Number(countText);
  const url = process.env.PGURL!;
  if (workload === "postgres-query" || workload === "postgres-notify") {
    if (traced) {
      // Its CommonJS build's files (the package's exports name only its entry).
      const src = require.resolve("postgres").replace(/index\.js$/, "");
      postgresJs.hookPostgresQuery(db, require(`${src}query.js`).Query);
      postgresJs.hookPostgresTypes(db, require(`${src}types.js`));
      (postgresJs as Record<string, unknown> as Any).hookPostgresLarge?.(db, require(`${src}large.js`));
    }
    const sql = require("postgres")(url, { max: 1 });
    if (workload === "postgres-query") {
      for (let i = 0; i < total; i++) await sql`select ${i}::int as id`;
    } else {
      let arrived: (() => void) | undefined;
      await sql.listen("jobs", () => arrived!());
      for (let i = 0; i < total; i++) await Promise.all([new Promise<void>((resolve) => (arrived = resolve)), sql.notify("jobs", String(i))]);
    }
    await sql.end();
  } else if (workload === "pg-notify") {
    if (traced) {
      pg.hookPgClient(db, require("pg/lib/client"));
      pg.hookPgQuery(db, require("pg/lib/query"));
    }
    const { Client } = require("pg");
    const listener = new Client({ connectionString: url });
    const notifier = new Client({ connectionString: url });
    await listener.connect();
    await notifier.connect();
    let arrived: (() => void) | undefined;
    listener.on("notification", () => arrived!());
    await listener.query("LISTEN jobs");
    for (let i = 0; i < total; i++) await Promise.all([new Promise<void>((resolve) => (arrived = resolve)), notifier.query("SELECT pg_notify('jobs', $1)", [String(i)])]);
    await listener.end();
    await notifier.end();
  } else if (workload === "ioredis-message") {
    if (traced) {
      ioredis.hookIoredis(db, require("ioredis/built/Redis"));
      (ioredis as Record<string, unknown> as Any).hookIoredisPubSub?.(db, require.resolve("ioredis/built/Redis"));
    }
    const Redis = require("ioredis");
    const subscriber = new Redis(process.env.REDIS_URL);
    const publisher = new Redis(process.env.REDIS_URL);
    let arrived: (() => void) | undefined;
    subscriber.on("message", () => arrived!());
    await subscriber.subscribe("news");
    for (let i = 0; i < total; i++) await Promise.all([new Promise<void>((resolve) => (arrived = resolve)), publisher.publish("news", String(i))]);
    subscriber.disconnect();
    publisher.disconnect();
  } else {
    const which = workload === "redis4-message" ? "redis4" : "redis";
    if (traced) installRedis(which);
    const { createClient } = require(which);
    const subscriber = createClient({ url: process.env.REDIS_URL });
    const publisher = createClient({ url: process.env.REDIS_URL });
    await subscriber.connect();
    await publisher.connect();
    let arrived: (() => void) | undefined;
    await subscriber.subscribe("news", () => arrived!());
    for (let i = 0; i < total; i++) await Promise.all([new Promise<void>((resolve) => (arrived = resolve)), publisher.publish("news", String(i))]);
    await subscriber.quit();
    await publisher.quit();
  }
  console.log(JSON.stringify({ errors: db.recorder.errors }));
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
