// The measured timers' replacement (src/agent/shared/loop.ts wrapTimers): its body inline in the
// function, against a function that hands `arguments` to the body (the shape the replacement took
// so Bun's prototype-less timers can be matched by a method): CPU per setTimeout + clearTimeout,
// three alternating rounds. BENCHMARKS.md "A measured timer in its original's shape".
//   node scripts/bench-timer-wrapper.cjs
"use strict";
const original = setTimeout;
const call = original;
const wrap = (cb) => cb;
function mkInline() {
  return function (callback) {
    if (typeof callback !== "function") return Reflect.apply(original, this, arguments);
    const wrapped = wrap(callback);
    if (arguments.length === 1) return call.call(this, wrapped);
    if (arguments.length === 2) return call.call(this, wrapped, arguments[1]);
    const args = Array.prototype.slice.call(arguments); args[0] = wrapped; return Reflect.apply(original, this, args);
  };
}
function mkDelegate() {
  const schedule = (self, args) => {
    const callback = args[0];
    if (typeof callback !== "function") return Reflect.apply(original, self, args);
    const wrapped = wrap(callback);
    if (args.length === 1) return call.call(self, wrapped);
    if (args.length === 2) return call.call(self, wrapped, args[1]);
    const list = Array.prototype.slice.call(args); list[0] = wrapped; return Reflect.apply(original, self, list);
  };
  return function () { return schedule(this, arguments); };
}
const fns = { inline: mkInline(), delegate: mkDelegate() };
const f = () => {};
for (let round = 0; round < 3; round++) for (const [name, st] of Object.entries(fns)) {
  const n = 300000; const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) clearTimeout(st(f, 1000));
  const t = process.cpuUsage(t0); console.log(name, ((t.user + t.system) * 1000 / n).toFixed(1), "ns per setTimeout+clearTimeout");
}
