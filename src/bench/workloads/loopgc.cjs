"use strict";
// Loop and GC recording's cost (`--events process,loop,memory` when traced): allocation-heavy
// units of work, each run as its own turn of the loop (setImmediate, and 1 in 8 through
// setTimeout(0)), so every unit passes the measured timer wrappers and the GC observer
// sees many scavenges. Nothing else is traced.
const { params, report, nowSeconds } = require("./common.cjs");

const { units, objectsPerUnit } = params({ units: 4000, objectsPerUnit: 2000 });

let keep = [];
let done = 0;
let checksum = 0;
const start = nowSeconds();

function unit() {
  for (let i = 0; i < objectsPerUnit; i++) {
    const item = { id: i, name: `item-${done}-${i}`, tags: [i % 7, i % 11] };
    keep.push(item);
    if (keep.length > 20000) keep = [];
    checksum = (checksum + item.name.length + item.tags[1]) % 1000003;
  }
  done++;
  if (done >= units) {
    const seconds = nowSeconds() - start;
    report({ ops: units, unit: "units", seconds, checksum, expect: { messages: 0, threads: 0, processes: 0 } });
  } else if (done % 8 === 0) setTimeout(unit, 0);
  else setImmediate(unit);
}

unit();
