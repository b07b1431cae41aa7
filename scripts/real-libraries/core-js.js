// scope's real-libraries check (run.sh): core-js 3.51's polyfills (45 of its internals declare their own globalThis).
require("core-js/actual/array/group-by");
require("core-js/actual/structured-clone");
require("core-js/actual/set");
const s = new Set([1,2,3]);
console.log(Object.groupBy ? "ok" : "none", [...s.union ? s.union(new Set([4])) : s].join(","), structuredClone({a:[1]}).a[0]);
