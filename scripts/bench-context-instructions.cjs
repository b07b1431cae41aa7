"use strict";
// Instructions (not time) a request context costs per unit of async work on Node, by store:
// run under Valgrind at two lengths and take the difference, so start-up cancels out and a
// loaded machine moves nothing (BENCHMARKS.md "The request context on Node 20"):
//   for m in none empty als agent; do for n in 20000 60000; do
//     valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
//       node --single-threaded scripts/bench-context-instructions.cjs $m $n 2>&1 | grep 'I *refs'; done; done
//   instructions per unit = (I refs at 60000 - I refs at 20000) / 40000
// A unit: an async function that starts a nextTick, awaits null, starts another nextTick,
// reads the context, awaits a promise a nextTick resolves, reads the context again (promises
// and TickObjects, the resources an Express + pg request makes most of, scripts/web-inproc.cjs).
// Stores (each entered once at the start, as the agent enters a request):
//   none    nothing (the untraced program)
//   empty   an async_hooks init hook that does nothing: what async_hooks alone costs (its
//           promise hooks, async ids, execution-resource stack); no context is carried
//   als     an AsyncLocalStorage (what the agent used on Node 20 before)
//   agent   the agent's own store (src/agent/shared/request-context.ts, bundled on the fly by
//           `bun build` into AGENT_CONTEXT=path.cjs: enterRequest / currentRequest)
//   frame   Node 24's AsyncContextFrame used directly (what AsyncLocalStorage is built on there;
//           needs `node --expose-internals`, which the agent cannot give a program): a frame
//           holding the value, read with current().get (BENCHMARKS.md "Web on Node 24")
const mode = process.argv[2] ?? "none";
const units = Number(process.argv[3] ?? 20000);
const hooks = require("node:async_hooks");
let current = () => 0;
if (mode === "als") {
  const storage = new hooks.AsyncLocalStorage();
  storage.enterWith(1);
  current = () => storage.getStore() ?? 0;
} else if (mode === "empty") {
  hooks.createHook({ init() {} }).enable();
} else if (mode === "agent") {
  const context = require(process.env.AGENT_CONTEXT);
  context.enterRequest(1);
  current = context.currentRequest;
} else if (mode === "frame") {
  const Frame = require("internal/async_context_frame");
  // Read first: Node swaps the class's static methods to the active ones when it is.
  if (!Frame.enabled) throw new Error("no AsyncContextFrame (Node 24, or Node 22 with --experimental-async-context-frame)");
  const key = {};
  Frame.set(new Frame(key, 1));
  current = () => Frame.current()?.get(key) ?? 0;
} else if (mode !== "none") throw new Error(`unknown store ${mode}`);
let sink = 0;
const tick = (x) => {
  sink += x;
};
// TICKS=n: the first step starts n nextTicks (one callback creating several resources, as a
// request's callbacks do: 1 by default; BENCHMARKS.md "Strict bundles; a stamp's own code").
const ticks = Number(process.env.TICKS ?? 1);
async function unit() {
  process.nextTick(tick, 1);
  for (let i = 1; i < ticks; i++) process.nextTick(tick, 0);
  await null;
  process.nextTick(tick, 2);
  sink += current();
  await new Promise((resolve) => process.nextTick(resolve));
  sink += current();
}
(async () => {
  for (let i = 0; i < units; i++) await unit();
  // Every read saw the store entered at the start (1), or 0 with none/empty.
  const expected = units * 3 + (mode === "als" || mode === "agent" || mode === "frame" ? units * 2 : 0);
  if (sink !== expected) throw new Error(`context lost: ${sink} != ${expected}`);
  console.log(`${mode} ${units} ok`);
})();
