/**
 * `scope query`'s load alone, in this process (no CLI start-up, no query): the trace
 * loaded by buildDatabase into `out` (a file, removed first, or ":memory:", the default),
 * CPU time of the process (user + system) and events per CPU second. For comparing
 * loader changes on a trace made by a bench workload (BENCHMARKS.md "scope query").
 *
 *   . scripts/env.sh && bun scripts/bench-query-load.ts <trace.bin> [out.sqlite | :memory:]
 */
import { rmSync } from "node:fs";
import { loadavg } from "node:os";
import { traceIdentity } from "../src/query/cache";
import { buildDatabase } from "../src/query/database";

const trace = process.argv[2];
if (!trace) throw new Error("usage: bun scripts/bench-query-load.ts <trace.bin> [out.sqlite | :memory:]");
const out = process.argv[3] ?? ":memory:";
if (out !== ":memory:") rmSync(out, { force: true });
const before = process.cpuUsage();
const { db, summary } = buildDatabase(trace, out, traceIdentity(trace));
db.close();
const used = process.cpuUsage(before);
const cpuS = (used.user + used.system) / 1e6;
console.log(
  `${trace}: ${summary.events} events, ${summary.records} records; load cpu ${cpuS.toFixed(2)} s → ${(summary.events / cpuS / 1e6).toFixed(2)} M events/s cpu; load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}`,
);
