// @ts-nocheck: a bench script (loose JSON from the client and the dump), run by Bun as is.
/**
 * `scope attach` on real services (BENCHMARKS.md "scope attach on real services"):
 *   PGURL=postgres://… bun scripts/attach-real-services/driver.ts MODE NODE CYCLES OUTDIR
 * MODE: express (Express 5 + pg), fastify (Fastify 5 + pg), workers (a worker_threads pool),
 * fork (forked children over IPC). The service (service.cjs, untraced, --expose-gc) serves a
 * bounded load from a separate process (client.cjs: CONC connections, RATE requests/s, every
 * body compared with the untraced one); 4 s warm, 4 s before; CYCLES attaches of 3 s
 * (--functions service.cjs every third, Ctrl-C instead of --duration every fifth), 1 s apart;
 * 4 s after. CONTROL=1: the same with no attach. Prints and writes OUTDIR/summary.json:
 * per cycle the trace's requests against the client's, queries linked to their request,
 * lost, the heap and handles after it, CPU per request (steady: a 2 s window inside the attach).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
const [mode, node, cyclesText, outDir] = process.argv.slice(2);
const cycles = Number(cyclesText);
const repo = join(import.meta.dir, "../..");
const scope = join(repo, "dist/scope");
const here = import.meta.dir;
mkdirSync(outDir, { recursive: true });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const env = { ...process.env, MODE: mode, NM: join(repo, "node_modules"), PGURL: process.env.PGURL ?? "", NODE_OPTIONS: "" };
const svc = spawn(node, ["--expose-gc", "--inspect-port=0", join(here, "service.cjs")], { env, cwd: here, stdio: ["ignore", "pipe", "pipe"] });
let svcErr = "";
svc.stderr.on("data", (c) => (svcErr += c));
const port = await new Promise<string>((resolve) => { let t = ""; svc.stdout.on("data", (c) => { t += c; if (t.includes("\n")) resolve(t.trim()); }); });
const base = `http://127.0.0.1:${port}`;
const state = async () => (await fetch(`${base}/state`)).json();
const cpu = () => { const f = readFileSync(`/proc/${svc.pid}/stat`, "utf8").split(") ")[1]!.split(" "); return (Number(f[11]) + Number(f[12])) * 10; }; // ms
const stop = join(outDir, "stop");
rmSync(stop, { force: true });
const clientLog = join(outDir, "client.json");
const client = spawn("node", [join(here, "client.cjs"), base, process.env.CONC ?? "4", process.env.RATE ?? "150", clientLog, stop], { stdio: ["ignore", "pipe", "inherit"] });
await new Promise<void>((resolve) => client.stdout.on("data", () => resolve()));
await sleep(1000);
const phases: { name: string; t0: number; t1: number; cpu: number }[] = [];
async function phase(name: string, ms: number) { const t0 = Date.now(), c0 = cpu(); await sleep(ms); phases.push({ name, t0, t1: Date.now(), cpu: cpu() - c0 }); }
await phase("warm", 4000);
await phase("before", 4000);
const pre = await state();
const results: any[] = [];
for (let i = 0; i < cycles; i++) {
  const out = join(outDir, `c${i}.bin`);
  const functions = i % 3 === 2;
  const sigint = i % 5 === 4;
  const args = ["attach", String(svc.pid), "--out", out, ...(sigint ? [] : ["--duration", "3s"]), ...(functions ? ["--functions", "service.cjs"] : [])];
  const t0 = Date.now(), c0 = cpu();
  const child = process.env.CONTROL ? spawn("sleep", ["4"], { stdio: ["ignore", "pipe", "pipe"] }) : spawn(scope, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  // Listened for at once: a SIGINT cycle's attach may end before its signal is sent.
  const exited = new Promise<number>((resolve) => child.on("exit", (c, s) => resolve(c ?? (s as any))));
  let err = "";
  let attachedAt = 0;
  let readyAt = 0;
  child.stderr.on("data", (c) => { err += c; if (!attachedAt && err.includes("scope: attached")) attachedAt = Date.now(); if (!readyAt && attachedAt && (!functions || err.includes("scope: tracing"))) readyAt = Date.now(); });
  // CPU in a window inside the attach: from 300 ms after it is ready (functions traced) for 2 s.
  const steady = (async () => {
    while (!readyAt && child.exitCode === null) await sleep(10);
    if (!readyAt) return undefined;
    await sleep(300);
    const s0 = Date.now(), c1 = cpu();
    await sleep(2000);
    return child.exitCode === null ? { t0: s0, t1: Date.now(), cpu: cpu() - c1 } : undefined;
  })();
  if (sigint) { while (!attachedAt && child.exitCode === null) await sleep(20); await sleep(3000); child.kill("SIGINT"); }
  const code = await exited;
  results.push({ steady: await steady, i, functions, sigint, code, t0, attachedAt, t1: Date.now(), cpu: cpu() - c0, err: err.trim() });
  await sleep(1000);
  const st = await state();
  results[results.length - 1].heap = st.heapUsed; results[results.length - 1].handles = st.handles; results[results.length - 1].left = [...st.changed, ...st.subscribed, ...st.scope];
}
await sleep(1000);
await phase("after", 4000);
const post = await state();
writeFileSync(stop, "");
await new Promise((r) => client.on("exit", r));
const log = JSON.parse(readFileSync(clientLog, "utf8"));
const reqs: number[][] = log.reqs;
const bySeq = new Map(reqs.map((r) => [r[0], r]));
const summary: any = { mode, node, total: reqs.length, notOk: reqs.filter((r) => !r[4]).length, bad: log.bad, maxMs: Math.max(...reqs.map((r) => r[2] - r[1])), p99: reqs.map((r) => r[2] - r[1]).sort((a, b) => a - b)[Math.floor(reqs.length * 0.99)] };
const inWindow = (t0: number, t1: number) => reqs.filter((r) => r[2] >= t0 && r[2] <= t1).length;
summary.phases = phases.map((p) => ({ ...p, maxLat: Math.max(...reqs.filter((q) => q[1] >= p.t0 && q[1] <= p.t1).map((q) => q[2] - q[1])), reqs: inWindow(p.t0, p.t1), cpuPerReqUs: Math.round((p.cpu * 1000) / inWindow(p.t0, p.t1)) }));
summary.cycles = process.env.CONTROL ? results.map((r) => ({ i: r.i, heap: r.heap, handles: r.handles, left: r.left, kinds: {}, notInTrace: [] })) : results.map((r) => {
  const dump = spawnSync(scope, ["dump", "--json", join(outDir, `c${r.i}.bin`)], { encoding: "utf8", maxBuffer: 1 << 30 });
  const events = dump.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const reqEvents = events.filter((e) => e.kind === "http_server_request" && /^\/u\//.test(e.target));
  const seqs = reqEvents.map((e) => Number(/seq=(\d+)/.exec(e.target)![1])).sort((a, b) => a - b);
  const min = seqs[0], max = seqs[seqs.length - 1];
  const have = new Set(seqs);
  const missing: number[] = [];
  for (let s = min; s <= max; s++) if (!have.has(s)) missing.push(s);
  const ids = new Set(reqEvents.map((e) => e.requestId));
  const queries = events.filter((e) => e.kind === "db_query");
  const linked = queries.filter((e) => ids.has(e.request)).length;
  const kinds: Record<string, number> = {};
  for (const e of events) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
  const lost = /lost: (.*)/.exec(r.err)?.[1];
  // The trace's own window in wall time: its start (the text dump's header) plus attach_start's and attach_end's offsets.
  const header = spawnSync(scope, ["dump", "--kind", "attach_start", join(outDir, `c${r.i}.bin`)], { encoding: "utf8" }).stdout.split("\n")[0]!;
  const startedWall = Date.parse(/started (\S+)/.exec(header)?.[1] ?? "");
  const attachStart = startedWall + (events.find((e) => e.kind === "attach_start" && e.tid === 0)?.timeNs ?? 0) / 1e6;
  const attachEnd = startedWall + (events.find((e) => e.kind === "attach_end" && e.tid === 0)?.timeNs ?? 0) / 1e6;
  // Client requests answered while attached (from the attached line to the attach's end)
  const clientWindow = reqs.filter((q) => q[1] >= attachStart + 50 && q[2] <= attachEnd - 50).map((q) => q[0]);
  const notInTrace = clientWindow.filter((s) => !have.has(s));
  const lat = reqs.filter((q) => q[1] >= r.t0 && q[1] <= r.t1).map((q) => q[2] - q[1]);
  const cycleReqs = inWindow(r.t0, r.t1);
  const steadyUs = r.steady ? Math.round((r.steady.cpu * 1000) / inWindow(r.steady.t0, r.steady.t1)) : undefined;
  return { steadyUs, cpuPerReqUs: Math.round((r.cpu * 1000) / cycleReqs), heap: r.heap, handles: r.handles, left: r.left, maxLat: Math.max(...lat), i: r.i, functions: r.functions, sigint: r.sigint, code: r.code, dumpStatus: dump.status, dumpErr: dump.stderr.slice(0, 300), traced: seqs.length, clientWindow: clientWindow.length, notInTrace: notInTrace.slice(0, 10), missing: missing.slice(0, 10), missingCount: missing.length, queries: queries.length, linked, kinds: { fc: kinds.attach_function_call ?? 0, fadd: kinds.attach_function_add ?? 0, ms: kinds.message_send ?? 0, mr: kinds.message_receive ?? 0, err: kinds.agent_error ?? 0 }, lost, attachCpuMs: r.cpu, secs: (r.t1 - r.t0) / 1000, errTail: r.code ? r.err : undefined };
});
summary.pre = pre;
summary.post = post;
summary.svcAlive = svc.exitCode === null;
summary.svcErr = svcErr.slice(0, 1000);
svc.kill();
writeFileSync(join(outDir, "summary.json"), JSON.stringify(summary, null, 1));
const brief = { ...summary, cycles: summary.cycles.map((c: any) => `${c.i}${c.functions ? "F" : ""}${c.sigint ? "S" : ""} code=${c.code} dump=${c.dumpStatus} traced=${c.traced} win=${c.clientWindow} notIn=${c.notInTrace.length} miss=${c.missingCount} q=${c.queries}/${c.linked} fc=${c.kinds.fc} m=${c.kinds.ms}/${c.kinds.mr} aerr=${c.kinds.err} lost=${c.lost} heap=${(c.heap/1e6).toFixed(2)} h=${c.handles} left=${c.left.join(",")} maxLat=${c.maxLat} cpu/req=${c.cpuPerReqUs}us steady=${c.steadyUs}us secs=${c.secs} ${c.errTail ?? ""}`) };
console.log(JSON.stringify(brief, null, 1));
