"use strict";
// Per unit of work, from `perf script -F ip,sym,dso` of `perf record -e cpu-clock -g` on a
// node run with --perf-basic-prof (scripts/bench-web-profile.ts PERF=1): on-CPU µs a unit,
// each sample charged to the JavaScript frame nearest its leaf (natives and builtins to
// the JavaScript that called them): the agent's frames, async_hooks/AsyncLocalStorage,
// Node's own, the libraries'; samples with no JavaScript frame by their leaf (GC, kernel).
// `agent (inclusive)`: samples with an agent frame anywhere in their stack (the program's
// code the agent's wrappers call included: an upper bound).
//   node scripts/perf-web-share.cjs <perf.txt> <units> <sampling Hz> [top]
const fs = require("node:fs");

const [file, unitsText, hzText, topText] = process.argv.slice(2);
const units = Number(unitsText);
const hz = Number(hzText);
const top = Number(topText ?? 14);
const text = fs.readFileSync(file, "utf8");
const isAgent = (sym) => sym.includes("scope-dev-agent") || /agent\/node\.cjs:/.test(sym);
const isContext = (sym) => /node:internal\/async_hooks|node:async_hooks|async_local_storage|promise_hooks/.test(sym);
const by = new Map();
const categories = new Map();
const add = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);
let samples = 0;
let agentInclusive = 0;
for (const block of text.split(/\n\s*\n/)) {
  const frames = [];
  for (const line of block.split("\n")) {
    const match = /^\s*[0-9a-f]+\s+(.*)\s+\(([^)]*)\)\s*$/.exec(line);
    if (match) frames.push({ sym: match[1], dso: match[2] });
  }
  if (frames.length === 0) continue;
  samples++;
  if (frames.some((frame) => isAgent(frame.sym))) agentInclusive++;
  const js = frames.find((frame) => frame.sym.startsWith("JS:") || frame.sym.startsWith("LazyCompile:") || frame.sym.startsWith("Function:"));
  let category;
  let key;
  if (js !== undefined) {
    const sym = js.sym.replace(/^(JS|LazyCompile|Function):/, "");
    const name = sym.replace(/ file:\/\/\S*\/(node\.cjs:\d+):\d+$/, " $1");
    if (isAgent(js.sym)) category = "agent's own frames";
    else if (isContext(js.sym)) category = "request context (async_hooks, AsyncLocalStorage)";
    else if (/ node:/.test(sym)) category = "Node's JavaScript";
    else category = "libraries and program (express, pg, ...)";
    key = `${category === "agent's own frames" ? "agent" : category === "Node's JavaScript" ? "node" : category.startsWith("request") ? "context" : "lib"}: ${name}`;
  } else {
    const leaf = frames[0];
    if (/\[kernel/.test(leaf.dso) || leaf.dso === "[unknown]" && /^\[/.test(leaf.sym)) category = "kernel (no JavaScript on the stack)";
    else if (frames.some((frame) => /Heap::|Scavenge|MarkCompact|GCTracer|Sweeper|Marking|Evacuat|Collect/.test(frame.sym))) category = "GC (no JavaScript on the stack)";
    else category = "native (no JavaScript on the stack)";
    key = `native: ${leaf.sym} (${leaf.dso.replace(/^.*\//, "")})`;
  }
  add(categories, category);
  add(by, key);
}
const us = (count) => ((count / hz / units) * 1e6).toFixed(2);
console.log(`on-CPU µs per unit: ${us(samples)} (${samples} samples); agent inclusive ${us(agentInclusive)}`);
for (const [name, count] of [...categories].sort((a, b) => b[1] - a[1])) console.log(`  ${us(count).padStart(8)} ${name}`);
console.log("  by frame:");
for (const [name, count] of [...by].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${us(count).padStart(8)} ${name.slice(0, 140)}`);
const agentFrames = [...by].filter(([name]) => name.startsWith("agent:")).sort((a, b) => b[1] - a[1]);
console.log("  agent's frames:");
for (const [name, count] of agentFrames.slice(0, top)) console.log(`  ${us(count).padStart(8)} ${name.slice(0, 140)}`);
