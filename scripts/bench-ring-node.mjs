// Node side of scripts/bench-ring.ts: ns per event through scope.node, one record per
// call and in batches (JS encodes the records, the addon stamps and copies them).
//   node scripts/bench-ring-node.mjs <scope.node> <ring-path> <events> <rounds>
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const [addonPath, ringPath, eventsText, roundsText] = process.argv.slice(2);
const addon = require(addonPath);
const events = Number(eventsText);
const rounds = Number(roundsText);
if (!addon.attach(ringPath, 0)) throw new Error(`attach ${ringPath} failed`);

const BATCH = 256;
const RECORD_WORDS = 16;
const words = new Uint32Array(BATCH * RECORD_WORDS);

function singles(count) {
  for (let i = 0; i < count; i++) addon.record(13, 0, i, 2, 3, 4, 5);
}

function batches(count) {
  for (let i = 0; i < count; ) {
    for (let j = 0; j < BATCH; j++) {
      const base = j * RECORD_WORDS;
      words[base + 1] = 13;
      words[base + 6] = i + j;
      words[base + 8] = 2;
      words[base + 10] = 3;
      words[base + 12] = 4;
      words[base + 14] = 5;
    }
    addon.recordBatch(words, BATCH);
    i += BATCH;
  }
}

function noop() {}
function calls(count) {
  for (let i = 0; i < count; i++) noop(13, 0, i, 2, 3, 4, 5);
}

function measure(fn) {
  fn(Math.min(events, 200_000));
  const samples = [];
  for (let round = 0; round < rounds; round++) {
    const start = process.hrtime.bigint();
    fn(events);
    samples.push(Number(process.hrtime.bigint() - start) / events);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

const result = {
  "node: JS call, no addon (loop baseline)": measure(calls),
  "node: scope.node record(), one per call": measure(singles),
  [`node: scope.node recordBatch(), ${BATCH} per call, JS encode included`]: measure(batches),
  stats: addon.stats(),
};
addon.detach();
process.stdout.write(`${JSON.stringify(result)}\n`);
