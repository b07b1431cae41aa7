"use strict";
// Per unit of work, from a V8 .cpuprofile: busy time, the agent's own frames, async_hooks
// outside them, GC. A sample is the agent's when, walking up from the leaf, a frame of the
// agent bundle comes before any other JavaScript frame (the natives it calls are its own).
//   node scripts/profile-agent-share.cjs <file.cpuprofile> <units>
const fs = require("node:fs");

const profile = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const units = Number(process.argv[3]);
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const self = new Map();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const isAgent = (url) => url.includes("scope-dev-agent") || /agent\/node\.cjs$/.test(url);
let busy = 0;
let agent = 0;
let hooks = 0;
let gc = 0;
const agentBy = new Map();
for (const [id, time] of self) {
  const name = byId.get(id).callFrame.functionName;
  if (name === "(idle)") continue;
  busy += time;
  if (name === "(garbage collector)") gc += time;
  for (let current = id; current !== undefined; current = parent.get(current)) {
    const frame = byId.get(current).callFrame;
    if (isAgent(frame.url)) {
      agent += time;
      const key = frame.functionName || `(anonymous ${frame.lineNumber + 1}:${frame.columnNumber + 1})`;
      agentBy.set(key, (agentBy.get(key) ?? 0) + time);
      break;
    }
    if (frame.url.includes("async_hooks")) {
      hooks += time;
      break;
    }
    if (frame.url !== "") break;
  }
}
const per = (us) => (us / units).toFixed(2);
console.log(`profiled µs per unit: busy ${per(busy)}, agent's own frames ${per(agent)}, async_hooks outside them ${per(hooks)}, GC ${per(gc)}`);
for (const [name, time] of [...agentBy].sort((x, y) => y[1] - x[1]).slice(0, 8)) console.log(`  ${per(time).padStart(7)} ${name}`);
