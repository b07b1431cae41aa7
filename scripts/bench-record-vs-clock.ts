/**
 * What a record costs against a JavaScript clock read, warm (BENCHMARKS.md "Per-request cost,
 * 2026-12-04"): a Node child attaches scope.node to an overwrite-mode ring (no consumer) and
 * times 2 M commit() calls through the scratch (what Recorder.event does) and 2 M
 * performance.now() / process.hrtime() reads, CPU ns a call.
 *   bun scripts/bench-record-vs-clock.ts
 */
import { Ring } from "../src/core/ring";
const ringPath = `/dev/shm/scope-webmb-${process.pid}`;
const ring = Ring.create(ringPath, { laneCount: 4, laneCapacitySlots: 1 << 16, mode: "overwrite" });
const code = `
const addon = require(process.argv[1]);
if (!addon.attach(process.argv[2], 0)) throw new Error("attach");
const f = new Float64Array(addon.scratch(), 0, 8);
const N = 2e6;
function commitLoop(){ for (let i=0;i<N;i++){ f[0]=57; f[1]=0; f[2]=i; f[3]=1; f[4]=2; f[5]=3; f[6]=4; addon.commit(); } }
function nowLoop(){ let s=0; for (let i=0;i<N;i++){ s+=performance.now(); } return s; }
function hrLoop(){ let s=0; for (let i=0;i<N;i++){ s+=process.hrtime()[1]; } return s; }
for (const [name, fn] of [["commit", commitLoop], ["performance.now", nowLoop], ["process.hrtime", hrLoop], ["commit", commitLoop], ["performance.now", nowLoop]]) {
  const t = process.cpuUsage(); fn(); const u = process.cpuUsage(t); console.log(name, ((u.user+u.system)*1000/N).toFixed(1), "ns");
}`;
const r = Bun.spawnSync(["node", "-e", code, process.env.SCOPE_ADDON ?? `${import.meta.dir}/../zig-out/lib/scope.node`, ringPath]);
console.log(r.stdout.toString(), r.stderr.toString().slice(0, 500));
ring.close();
import("node:fs").then((fs) => fs.rmSync(ringPath, { force: true }));
