/**
 * Node side of scripts/bench-pubsub-receive.ts: shared/pubsub.ts's `receive` alone, in a loop,
 * on the addon's ring: a Redis message as node-redis and ioredis hand it (channel and payload
 * Buffers), a pg notification (strings and the notifying pid), against one `event` record.
 *   node <bundle> <scope.node> <ring-path> [rounds]
 */
import { makeDbRecorder } from "../src/agent/shared/db";
import { ChannelKind } from "../src/agent/shared/kinds";
import { previewWalk } from "../src/agent/shared/preview";
import { PubSubReceives } from "../src/agent/shared/pubsub";
import { Recorder } from "../src/agent/shared/recorder";
import type { Sink } from "../src/agent/shared/sink";

const [addonPath, ringPath, roundsText] = process.argv.slice(2);
const addon = require(addonPath!) as Sink & { attach(path: string, tid: number): boolean };
if (!addon.attach(ringPath!, 0)) throw new Error(`attach ${ringPath} failed`);
const db = makeDbRecorder(new Recorder(addon, { process: true, thread: true, message: true, http: true, db: true, loop: false, memory: false }, previewWalk), () => false);
const redis = new PubSubReceives(db.recorder, ChannelKind.redis_pubsub);
const pg = new PubSubReceives(db.recorder, ChannelKind.pg_notify);
const owner = {};
const channel = Buffer.from("news");
const payload = Buffer.from("12345");
const n = 200_000;
for (let round = 0; round < Number(roundsText ?? 5); round++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) redis.receive(owner, channel, payload);
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) pg.receive(owner, "jobs", "12345", undefined, ", processId: 4242");
  const t2 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) db.recorder.event(11, i, 7, 1, 5, 0);
  const t3 = process.hrtime.bigint();
  const ns = (a: bigint, b: bigint) => (Number(b - a) / n).toFixed(0);
  console.log(`round ${round + 1}: ns a receive: redis (Buffers) ${ns(t0, t1)}, pg (strings) ${ns(t1, t2)}; an event alone ${ns(t2, t3)}; agent errors ${db.recorder.errors}`);
}
