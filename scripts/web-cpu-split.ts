/**
 * Where the web workload's CPU goes, traced against untraced, in alternation: the bench's
 * service (src/bench/workloads/web-server.cjs) and load (http-load.cjs, 16 connections,
 * the web paths), with /proc read at the load's "measure" and "done" lines (the bench's own
 * window). Per request in the window: the server's CPU by thread (utime/stime from
 * /proc/<pid>/task/<tid>/stat, grouped by thread name), its context switches and minor
 * faults; the scope process's (the collector), PostgreSQL's (postmaster and its backends)
 * and the load generator's CPU; and the machine's busy fraction (/proc/stat).
 *   bun scripts/web-cpu-split.ts [pairs=3] [durationMs=5000] [warmupMs=2000] [untraced,traced,...]
 * (No `perf stat` of cycles or instructions: this KVM guest exposes no hardware counters.)
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startPostgres } from "../spec/postgres-harness";

const root = join(import.meta.dir, "..");
const workloads = join(root, "src", "bench", "workloads");
const pairs = Number(process.argv[2] ?? 3);
const durationMs = Number(process.argv[3] ?? 5000);
const warmupMs = Number(process.argv[4] ?? 2000);
const modes = (process.argv[5] ?? "untraced,traced").split(",");
const TICK = 100;
/** WEB_RATE=<requests/s>: the load paced (http-load.cjs `rate`) instead of a closed loop, the same for both modes. */
const rate = Number(process.env.WEB_RATE ?? 0);
/** WEB_PERF_RECORD=<dir>: `perf record -e cpu-clock` of the server over the window, into <dir>/<mode>-<n>.data (run the server with NODE_OPTIONS=--perf-basic-prof to name JIT code). */
const recordTo = process.env.WEB_PERF_RECORD;
/** WEB_STRACE=<dir>: `strace -c -f` of the server over the window, into <dir>/<mode>-<n>.txt (syscall counts; strace slows the server). */
const straceTo = process.env.WEB_STRACE;

interface Task {
  comm: string;
  utime: number;
  stime: number;
  minflt: number;
}
interface Snapshot {
  tasks: Map<string, Task>;
  vol: number;
  invol: number;
  scope: number;
  pg: number;
  load: number;
  machine: { busy: number; total: number };
}

const read = (path: string) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
};
function statFields(text: string) {
  const close = text.lastIndexOf(")");
  return { comm: text.slice(text.indexOf("(") + 1, close), fields: text.slice(close + 2).split(" ") };
}
function procCpu(pid: number): number {
  const text = read(`/proc/${pid}/stat`);
  if (!text) return 0;
  const { fields } = statFields(text);
  return (Number(fields[11]) + Number(fields[12])) / TICK;
}
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const text = read(`/proc/${name}/stat`);
    if (text && Number(statFields(text).fields[1]) === pid) out.push(Number(name));
  }
  return out;
}
function machine() {
  const cpu = read("/proc/stat").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = cpu[3]! + cpu[4]!;
  return { busy: total - idle, total };
}
function snapshot(server: number, scope: number | undefined, postmaster: number, loadPid: number): Snapshot {
  const tasks = new Map<string, Task>();
  for (const tid of readdirSync(`/proc/${server}/task`)) {
    const text = read(`/proc/${server}/task/${tid}/stat`);
    if (!text) continue;
    const { comm, fields } = statFields(text);
    tasks.set(tid, { comm, utime: Number(fields[11]), stime: Number(fields[12]), minflt: Number(fields[7]) });
  }
  const status = read(`/proc/${server}/status`);
  const num = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? Number.NaN);
  const pg = [postmaster, ...childrenOf(postmaster)].reduce((sum, pid) => sum + procCpu(pid), 0);
  return {
    tasks,
    vol: num("voluntary_ctxt_switches"),
    invol: num("nonvoluntary_ctxt_switches"),
    scope: scope === undefined ? 0 : procCpu(scope),
    pg,
    load: procCpu(loadPid),
    machine: machine(),
  };
}

/** Thread groups: V8's and Node's by name. */
function group(comm: string, tid: string, pid: number): string {
  if (Number(tid) === pid) return "main";
  if (/^V8 Default|^V8 Worker|^v8 /i.test(comm)) return "v8-workers";
  if (/libuv-worker|^node-worker/.test(comm)) return "libuv";
  if (/^node$/.test(comm)) return "node-other";
  return comm;
}

async function once(mode: string, pgUrl: string, postmaster: number, n: number) {
  const dir = mkdtempSync(join(tmpdir(), "webcpu-"));
  const ready = join(dir, "ready.json");
  const result = join(dir, "result.json");
  const serverArgv = ["node", join(workloads, "web-server.cjs"), result, JSON.stringify({ ready, otel: 0 })];
  const wrapped = serverArgv;
  const argv = mode === "traced" ? ["bun", join(root, "src", "cli", "main.ts"), "run", "--out", join(dir, "trace.bin"), "--", ...wrapped] : wrapped;
  const env = { ...process.env, PGURL: pgUrl, NODE_PATH: join(root, "node_modules") };
  const proc = Bun.spawn(argv, { env, stdio: ["ignore", "ignore", "inherit"] });
  while (!existsSync(ready)) await Bun.sleep(5);
  await Bun.sleep(20);
  const { port, pid } = JSON.parse(readFileSync(ready, "utf8"));
  const scopePid = mode === "traced" ? proc.pid : undefined;
  const load = Bun.spawn(["node", join(workloads, "http-load.cjs"), JSON.stringify({ port, connections: 16, warmupMs, durationMs, paths: ["/items/7", "/orders/3"], rate })], { stdout: "pipe", stderr: "inherit" });
  let start: Snapshot | undefined;
  let end: Snapshot | undefined;
  let resultLine = "";
  let recorder: ReturnType<typeof Bun.spawn> | undefined;
  let pending = "";
  const decoder = new TextDecoder();
  for await (const chunk of load.stdout) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line === "measure") {
        start = snapshot(pid, scopePid, postmaster, load.pid);
        if (straceTo) recorder = Bun.spawn(["strace", "-c", "-f", "-p", String(pid), "-o", `${straceTo}/${mode}-${n}.txt`], { stdio: ["ignore", "ignore", "ignore"] });
        if (recordTo) recorder = Bun.spawn(["perf", "record", "-q", "-e", "cpu-clock", "-F", "4000", "-p", String(pid), "-o", `${recordTo}/${mode}-${n}.data`], { stdio: ["ignore", "ignore", "inherit"] });
      } else if (line === "done") {
        end = snapshot(pid, scopePid, postmaster, load.pid);
        recorder?.kill("SIGINT");
      }
      else if (line.startsWith("{")) resultLine = line;
    }
  }
  await load.exited;
  await recorder?.exited;
  await fetch(`http://127.0.0.1:${port}/shutdown`).catch(() => undefined);
  await proc.exited;
  rmSync(dir, { recursive: true, force: true });
  const r = JSON.parse(resultLine) as { requests: number; requestsPerSecond: number };
  const us = (ticks: number) => ((ticks / TICK) * 1e6) / r.requests;
  const groups = new Map<string, { u: number; s: number; f: number; threads: number }>();
  for (const [tid, e] of end!.tasks) {
    const s = start!.tasks.get(tid) ?? { comm: e.comm, utime: 0, stime: 0, minflt: 0 };
    const g = group(e.comm, tid, pid);
    const entry = groups.get(g) ?? { u: 0, s: 0, f: 0, threads: 0 };
    entry.u += e.utime - s.utime;
    entry.s += e.stime - s.stime;
    entry.f += e.minflt - s.minflt;
    entry.threads++;
    groups.set(g, entry);
  }
  let u = 0;
  let s = 0;
  let faults = 0;
  for (const e of groups.values()) {
    u += e.u;
    s += e.s;
    faults += e.f;
  }
  const perReq = (x: number) => (x * 1e6) / r.requests;
  const mach = end!.machine;
  const busy = (mach.busy - start!.machine.busy) / (mach.total - start!.machine.total);
  const line = [
    `${n} ${mode.padEnd(8)} ${new Date().toISOString().slice(11, 19)} load ${read("/proc/loadavg").split(" ")[0]}`,
    `req/s ${r.requestsPerSecond.toFixed(0)}`,
    `server µs/req ${us(u + s).toFixed(1)} (user ${us(u).toFixed(1)} sys ${us(s).toFixed(1)})`,
    `threads: ${[...groups].filter(([, e]) => e.u + e.s > 0).map(([g, e]) => `${g}×${e.threads} ${us(e.u).toFixed(1)}/${us(e.s).toFixed(1)}`).join(", ")}`,
    `vcsw/req ${((end!.vol - start!.vol) / r.requests).toFixed(2)} ivcsw/req ${((end!.invol - start!.invol) / r.requests).toFixed(3)} minflt/req ${(faults / r.requests).toFixed(2)}`,
    `scope µs/req ${perReq(end!.scope - start!.scope).toFixed(1)} pg µs/req ${perReq(end!.pg - start!.pg).toFixed(1)} loadgen µs/req ${perReq(end!.load - start!.load).toFixed(1)} machine busy ${(busy * 100).toFixed(0)}%`,
  ].join(" | ");
  console.log(line);
}

const pg = await startPostgres();
try {
  const postmaster = Number(read(join(dirname(pg.socketDir), "data", "postmaster.pid")).split("\n")[0]);
  pg.psql("select 1");
  for (let i = 0; i < pairs; i++) for (const mode of modes) await once(mode, pg.url, postmaster, i);
} finally {
  pg.stop();
}
