"use strict";
// Costs of the candidate mechanisms for `scope attach`'s live function tracing, per call of
// a small function, CPU time (process.cpuUsage) over a loop, median of `rounds` rounds:
//  - untouched;
//  - the function replaced where the module exports it by a wrapper that records and calls it;
//  - an inspector breakpoint at its first statement whose condition records and is false
//    (it never pauses), with the condition `false` alone, and recording the arguments;
//  - LiveEdit (Debugger.setScriptSource): the call scope inserts, first in the body;
//  - untouched again after the edit is undone (what is left behind).
// The breakpoint and the edit go through an in-process node:inspector Session, as the agent's.
// Usage: node attach-mechanisms.cjs [calls=200000] [breakpointCalls=3000] [rounds=5]
const inspector = require("node:inspector");

const calls = Number(process.argv[2] ?? 200000);
const breakpointCalls = Number(process.argv[3] ?? 3000);
const rounds = Number(process.argv[4] ?? 5);
let recorded = 0;
Object.defineProperty(globalThis, "__scope$attach", { value: { c() { recorded++; } }, configurable: true });

function createOrder(count, price) {
  return count * price + 1;
}
const orders = { createOrder };

function perCallNs(n) {
  const samples = [];
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < Math.min(n, 1000); i++) orders.createOrder(i, 2);
    const before = process.cpuUsage();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += orders.createOrder(i, 2);
    const used = process.cpuUsage(before);
    if (sum === -1) console.log(sum);
    samples.push(((used.user + used.system) * 1000) / n);
  }
  samples.sort((x, y) => x - y);
  return samples[Math.floor(samples.length / 2)];
}

const session = new inspector.Session();
session.connect();
const post = (method, params = {}) => new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
const results = {};
(async () => {
  perCallNs(calls); // warm-up: optimised before the first figure
  results.untouched = perCallNs(calls);
  const original = orders.createOrder;
  orders.createOrder = function createOrder() {
    globalThis.__scope$attach.c(1, arguments);
    return Reflect.apply(original, this, arguments);
  };
  results.exportWrapper = perCallNs(calls);
  orders.createOrder = original;

  const scripts = [];
  session.on("Debugger.scriptParsed", (message) => scripts.push(message.params));
  await post("Debugger.enable");
  const me = scripts.find((script) => script.url.endsWith("attach-mechanisms.cjs"));
  const { scriptSource } = await post("Debugger.getScriptSource", { scriptId: me.scriptId });
  const header = "function createOrder(count, price) {";
  const bodyLine = scriptSource.slice(0, scriptSource.indexOf(header)).split("\n").length; // 0-based line of the body
  results.untouchedDebuggerEnabled = perCallNs(calls);
  for (const [name, condition] of [["breakpointFalse", "false"], ["breakpointRecording", "(globalThis.__scope$attach.c(1), false)"], ["breakpointRecordingArguments", "(globalThis.__scope$attach.c(1, arguments), false)"]]) {
    const { breakpointId } = await post("Debugger.setBreakpoint", { location: { scriptId: me.scriptId, lineNumber: bodyLine, columnNumber: 2 }, condition });
    recorded = 0;
    results[name] = perCallNs(breakpointCalls);
    if (name !== "breakpointFalse" && recorded === 0) throw new Error("the breakpoint's condition never ran");
    await post("Debugger.removeBreakpoint", { breakpointId });
  }
  const insertion = "/*scope:attach*/try{globalThis.__scope$attach?.c(1,arguments)}catch{}/*scope:attach*/";
  const edited = scriptSource.replace(header, header + insertion);
  const status = (await post("Debugger.setScriptSource", { scriptId: me.scriptId, scriptSource: edited })).status;
  if (status !== "Ok") throw new Error(`edit: ${status}`);
  await post("Debugger.disable");
  recorded = 0;
  results.liveEdit = perCallNs(calls);
  if (recorded === 0) throw new Error("the edited function did not record");
  await post("Debugger.enable");
  await post("Debugger.setScriptSource", { scriptId: me.scriptId, scriptSource });
  await post("Debugger.disable");
  results.untouchedAfterRestore = perCallNs(calls);
  session.disconnect();
  const rounded = Object.fromEntries(Object.entries(results).map(([name, ns]) => [name, Math.round(ns * 10) / 10]));
  console.log(JSON.stringify({ node: process.version, calls, breakpointCalls, rounds, nsPerCall: rounded }));
})();
