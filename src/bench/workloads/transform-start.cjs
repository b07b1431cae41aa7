"use strict";
// Transform: the start of a real program that loads large libraries. Requires each
// module given (absolute paths) and reports the time the requires took; traced with
// those files instrumented, that time includes the transform (first start) or the
// cache lookup (second start).
// Usage: node transform-start.cjs <result.json> '{"modules": ["/abs/path", ...]}'
const { params, report, nowSeconds } = require("./common.cjs");

const { modules } = params({ modules: [] });
const start = nowSeconds();
let exported = 0;
for (const path of modules) exported += Object.keys(require(path)).length;
const seconds = nowSeconds() - start;
report({ ops: modules.length, unit: "modules", seconds, exported, expect: { messages: 0, threads: 0, processes: 0 } });
