"use strict";
// Shared by the workload programs: parameters in, one result file out.
// Usage of every workload: node <workload>.cjs <result.json> '<params json>'
const fs = require("node:fs");

function params(defaults) {
  const given = process.argv[3] ? JSON.parse(process.argv[3]) : {};
  return { ...defaults, ...given };
}

/**
 * The peak resident set of this process since it started: VmHWM. Not rusage's maxRSS,
 * which on Linux also counts the spawning process's memory from before exec.
 */
function peakRssBytes() {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) * 1024 : null;
}

/** Writes the result atomically (write, then rename), so a reader never sees half of it. */
function report(result) {
  const path = process.argv[2];
  if (!path) throw new Error("usage: node <workload>.cjs <result.json> [params json]");
  fs.writeFileSync(`${path}.tmp`, JSON.stringify({ ...result, peakRssBytes: peakRssBytes() }));
  fs.renameSync(`${path}.tmp`, path);
}

function nowSeconds() {
  return performance.now() / 1000;
}

module.exports = { params, report, nowSeconds };
