"use strict";
// Keeping per-request state for two short-lived objects a turn (a request and its response):
// a WeakMap entry for each vs a symbol-keyed property vs a private field stamped on the object
// (src/agent/shared/stamp.ts's way), ns a turn including GC (median of 5).
//   node scripts/bench-weakmap-state.cjs
const key = Symbol("state");
class Carrier {
  constructor(object) {
    return object;
  }
}
class Stamp extends Carrier {
  #value;
  constructor(object, value) {
    super(object);
    this.#value = value;
  }
  static get(object) {
    return #value in object ? object.#value : undefined;
  }
  static set(object, value) {
    if (#value in object) object.#value = value;
    else new Stamp(object, value);
  }
}
class Message {
  constructor() {
    this.a = 1;
    this.b = null;
  }
}
function turns(mode, count) {
  const map = new WeakMap();
  const kept = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const request = new Message();
    const response = new Message();
    const state = { id: i, bytes: 0 };
    if (mode === "WeakMap") {
      map.set(request, state);
      map.set(response, state);
      if (map.get(response) !== state) throw new Error("lost");
    } else if (mode === "private field") {
      Stamp.set(request, state);
      if (Stamp.get(request) !== state || Stamp.get(response) !== undefined) throw new Error("lost");
    } else if (mode === "symbol property") {
      request[key] = state;
      response[key] = state;
      if (response[key] !== state) throw new Error("lost");
    }
    // A few survive a while, as requests in flight do.
    if (i % 64 === 0) kept.push(request);
    if (kept.length > 1000) kept.length = 0;
  }
  return Number(process.hrtime.bigint() - start) / count;
}
const modes = ["nothing", "WeakMap", "symbol property", "private field"];
const samples = Object.fromEntries(modes.map((mode) => [mode, []]));
for (let round = 0; round < 5; round++) for (const mode of modes) samples[mode].push(turns(mode, 1_000_000));
for (const mode of modes) {
  const sorted = samples[mode].sort((x, y) => x - y);
  console.log(`${mode.padEnd(16)} ${sorted[2].toFixed(1).padStart(8)} ns a turn`);
}
