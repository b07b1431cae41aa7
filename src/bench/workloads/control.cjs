"use strict";
// Control: CPU-bound JavaScript that produces no traced event (no processes, no
// threads, no messages). Traced and untraced must be the same within noise.
const { params, report, nowSeconds } = require("./common.cjs");

const { iterations } = params({ iterations: 1000 });

function unit(seed) {
  // A mix a program typically does: objects, arrays, strings, a Map, JSON.
  const map = new Map();
  let text = "";
  for (let i = 0; i < 200; i++) {
    const item = { id: seed + i, name: `item-${i}`, tags: [i % 7, i % 11, i % 13] };
    map.set(item.name, item);
    text += item.name.length;
  }
  let sum = 0;
  for (const item of map.values()) sum += item.tags.reduce((a, b) => a + b, 0) * item.id;
  const copy = JSON.parse(JSON.stringify([...map.values()].slice(0, 50)));
  return (sum + copy.length + text.length) % 1000003;
}

const start = nowSeconds();
let checksum = 0;
for (let i = 0; i < iterations; i++) {
  for (let j = 0; j < 50; j++) checksum = (checksum + unit(i * 50 + j)) % 1000003;
}
const seconds = nowSeconds() - start;
report({ ops: iterations, unit: "iterations", seconds, checksum, expect: { messages: 0, threads: 0, processes: 0 } });
