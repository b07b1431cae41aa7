/**
 * Node side of scripts/bench-pg-pool-instructions.ts: `count` awaited `pool.query(text,
 * [i])` (the web workload's shape: pg-pool's promise, its own connect and client.query
 * callbacks) on a Pool of one against a real PostgreSQL, one at a time, with the pg
 * integration installed (TRACED=1) or not; no request context (the integration's own path).
 *   node <bundle> <scope.node> <ring-path> <warmup> <count>
 */
import { makeDbRecorder } from "../src/agent/shared/db";
import { previewWalk } from "../src/agent/shared/preview";
import { Recorder } from "../src/agent/shared/recorder";
import type { Sink } from "../src/agent/shared/sink";
import { hookPgClient, hookPgPool, hookPgQuery } from "../src/agent/node/db/pg";

const [addonPath, ringPath, warmupText, countText] = process.argv.slice(2);
const addon = require(addonPath!) as Sink & { attach(path: string, tid: number): boolean };
if (!addon.attach(ringPath!, 0)) throw new Error(`attach ${ringPath} failed`);
const db = makeDbRecorder(new Recorder(addon, { process: true, thread: true, message: true, http: true, db: true, loop: false, memory: false }, previewWalk), () => false);
if (process.env.TRACED === "1") {
  hookPgClient(db, require("pg/lib/client"));
  hookPgQuery(db, require("pg/lib/query"));
  hookPgPool(db, require("pg-pool"));
}
const { Pool } = require("pg") as { Pool: new (options: { connectionString: string; max: number }) => { query(text: string, values: unknown[]): Promise<unknown>; end(): Promise<void> } };

async function main(): Promise<void> {
  const pool = new Pool({ connectionString: process.env.PGURL!, max: 1 });
  const total = Number(warmupText) + Number(countText);
  for (let i = 0; i < total; i++) await pool.query("SELECT $1::int AS id, 3 AS lines", [i]);
  await pool.end();
  console.log(JSON.stringify({ errors: db.recorder.errors }));
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
