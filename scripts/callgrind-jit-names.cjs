"use strict";
// Names the JIT code in a callgrind profile of node: callgrind shows V8's generated code as
// bare addresses (`???:0x...`); node's --perf-basic-prof writes /tmp/perf-PID.map (start, size,
// name of every code object it makes), which names them. Prints, per request (or per unit), the
// JIT code's instructions by JavaScript function, and the part in the agent's bundles
// (node-bundle.cjs / node-extras.cjs, built or from `scope-dev-agent-*`).
//   NODE_FLAGS=--perf-basic-prof scripts/web-inproc-callgrind.sh OUT traced 3000 1000
//   node scripts/callgrind-jit-names.cjs OUT /tmp/perf-PID.map 1000 [top=40] [--inclusive]
// Self instructions are exact; --inclusive ones (callgrind's call tracking through JIT frames)
// include what the code called, the wrapped originals of a wrapper too. A code address V8
// reused for later code takes the later name (the map is searched from its last entries).
// BENCHMARKS.md "The request context on Node 20".
const { execFileSync } = require("node:child_process");
const { readFileSync } = require("node:fs");

const [file, mapFile, perArg, topArg] = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
const inclusive = process.argv.includes("--inclusive");
const per = Number(perArg ?? 1);
const top = Number(topArg ?? 40);
const annotate = execFileSync("callgrind_annotate", ["--threshold=100", ...(inclusive ? ["--inclusive=yes"] : []), file], { encoding: "utf8", maxBuffer: 1 << 28 });
const entries = [];
for (const line of readFileSync(mapFile, "utf8").split("\n")) {
  const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
  if (match) entries.push({ start: parseInt(match[1], 16), size: parseInt(match[2], 16), name: match[3], order: entries.length });
}
entries.sort((a, b) => a.start - b.start || a.order - b.order);
/** The name of the code covering `address`: of the entries starting at or below it, the latest written that covers it. */
function nameOf(address) {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (entries[middle].start <= address) low = middle + 1;
    else high = middle;
  }
  let best;
  for (let i = low - 1; i >= 0 && i >= low - 200; i--) {
    const entry = entries[i];
    if (entry.start <= address && address < entry.start + entry.size && (best === undefined || entry.order > best.order)) best = entry;
  }
  return best?.name;
}
const byName = new Map();
let total = 0;
let unnamed = 0;
for (const line of annotate.split("\n")) {
  const match = /^\s*([\d,]+) \([^)]*\)\s+\?\?\?:0x([0-9a-f]+)/.exec(line);
  if (!match) continue;
  const count = Number(match[1].replaceAll(",", ""));
  const name = nameOf(parseInt(match[2], 16));
  total += count;
  if (name === undefined) unnamed += count;
  else byName.set(name, (byName.get(name) ?? 0) + count);
}
const agent = /node-bundle\.cjs|node-extras\.cjs|node-walk\.cjs/;
let agentTotal = 0;
for (const [name, count] of byName) if (agent.test(name)) agentTotal += count;
const round = (count) => Math.round(count / per).toLocaleString("en-US");
console.log(`JIT code: ${round(total)} instructions per ${per === 1 ? "run" : "request"} (${inclusive ? "inclusive" : "self"}), unnamed ${round(unnamed)}; the agent's functions ${round(agentTotal)}`);
for (const [name, count] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${round(count).padStart(10)}  ${name}`);
