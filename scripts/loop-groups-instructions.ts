/**
 * Instructions per unit of work that the loop and memory groups add to each `scope bench`
 * workload, counted by valgrind (cachegrind, user space, every thread of the program and of
 * its child processes): a figure the machine's load does not move, unlike CPU time on this
 * shared 2-core machine. Each workload is traced as `scope bench` traces it (its own groups,
 * --functions, --async) against the same with `loop` and `memory` added (ADD=loop or
 * ADD=memory: that group alone), alternated, ROUNDS pairs (default 1). Program workloads:
 * the whole run's instructions (start-up included) over its units of work; http: the
 * server's whole life (warm-up included) over the requests it served.
 *
 * Under valgrind a program runs ~30-60x slower in wall time, so the groups' time-based work
 * (samples each interval, long tasks past the threshold) would fall ~50x as often per unit
 * of work as without it: the interval and threshold are scaled by SLOW (below; SLOW=0 for
 * the defaults as they are, an upper bound), and V8 runs single-threaded with a fixed GC
 * schedule (NODE_FLAGS) on both sides. The warm-up run (not counted) writes the agent's code
 * cache: control with the default groups, WARM=on with the groups added, WARM_WITH=name:scale
 * another workload (seed: its first worker's paths are cached too). KEEP=dir: callgrind
 * instead of cachegrind, one profile per thread kept in dir (`<workload>-<side>-<round>.<pid>-<thread>`)
 * to split what is added by thread and function (callgrind_annotate); the counts are the same.
 *
 *   bun scripts/loop-groups-instructions.ts [workload[:scale],...]
 *
 * (from the repository root after `. scripts/env.sh`; scale multiplies the workload's
 * params, default 1; the addon is built for valgrind's CPU into a temporary prefix.)
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { defaultEventGroups } from "../src/run/options";
import { scaledParams, workloads, type HttpWorkload, type ProgramWorkload } from "../src/bench/catalogue";
import { functionsSetting, launch, nextPaths, readResult, waitForReady, type RunContext } from "../src/bench/runner";
import { extractWorkloads } from "../src/bench/workloads";

const wanted = (process.argv[2] ?? "seed,pool,pingpong,functions,async,control,http").split(",").map((item) => {
  const [name, scale] = item.split(":");
  return { name: name!, scale: scale === undefined ? 1 : Number(scale) };
});
const rounds = Number(process.env.ROUNDS ?? 1);
const added = (process.env.ADD ?? "loop,memory").split(",");
// V8 without its background threads (concurrent compilation, marking, sweeping, parallel
// scavenges) on both sides: when optimised code is installed then no longer depends on the
// thread schedule, which otherwise moves a run's count by up to ~3% (NODE_FLAGS= to drop it).
// --predictable-gc-schedule: V8's heap growing and memory reducer then do not depend on
// measured speeds (wall time), which moved a run's GC count by ±20% (control: 178-265
// scavenges, ~0.9 M instructions each).
const nodeFlags = (process.env.NODE_FLAGS ?? "--single-threaded --predictable-gc-schedule").split(" ").filter((flag) => flag !== "");
// The groups' time-based work (a sample a second, a long task per turn of 50 ms or more)
// scaled by valgrind's slowdown (SLOW, default 50), so that it falls as often per unit of
// work as it does without valgrind: at the default settings every turn under valgrind is
// a "long task" and every 20 ms of work brings a sample (valgrind's slowness, not scope's).
const slow = Number(process.env.SLOW ?? 50);
const loopEnv = slow > 0 ? ["env", `SCOPE_LOOP=${1000 * slow},${50 * slow}`] : [];

const tmp = mkdtempSync(join(tmpdir(), "scope-loopgc-vg-"));
const zig = join(tmp, "zig");
const built = Bun.spawnSync(["zig", "build", "-Doptimize=ReleaseFast", "-Dcpu=x86_64_v3", "--prefix", zig], { stdout: "ignore", stderr: "inherit" });
if (built.exitCode !== 0) throw new Error("zig build for valgrind failed");
process.env.SCOPE_ADDON = join(zig, "lib", "scope.node");
process.env.SCOPE_LIBSCOPE = join(zig, "lib", "libscope.so");

const dir = await extractWorkloads();
const context: RunContext = { dir, ringBytes: 16 * 2 ** 20, keepTraces: false, sequence: 0 };
let logSequence = 0;

const keep = process.env.KEEP;
/** The name of the run being counted (KEEP's profile names). */
let runName = "warm-up";

/** valgrind's argv before the program's: one log per process (children traced too). */
function valgrind(): { argv: string[]; logs: string } {
  const logs = join(tmp, `logs-${logSequence++}`);
  Bun.spawnSync(["mkdir", "-p", logs]);
  const tool =
    keep !== undefined
      ? ["--tool=callgrind", "--separate-threads=yes", `--callgrind-out-file=${join(keep, runName)}.%p`]
      : ["--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"];
  return { argv: [...loopEnv, "valgrind", ...tool, "--trace-children=yes", `--log-file=${logs}/%p.log`], logs };
}

/** Instructions counted in every log of a run (each process's own summary). */
function instructions(logs: string): number {
  let total = 0;
  for (const file of readdirSync(logs)) {
    const match = /(?:I\s+refs|Collected)\s*:\s+([\d,]+)/.exec(readFileSync(join(logs, file), "utf8"));
    if (match) total += Number(match[1]!.replaceAll(",", ""));
  }
  return total;
}

async function program(workload: ProgramWorkload, events: string[], scale: number): Promise<{ instructions: number; units: number; recorded: number }> {
  const paths = nextPaths(context, workload.name, "traced");
  const vg = valgrind();
  const argv = [...vg.argv, "node", ...nodeFlags, dir.path(workload.file), paths.result, JSON.stringify(scaledParams(workload, scale))];
  const ended = await launch(context, argv, paths.trace, functionsSetting(context, workload.functions), context.ringBytes, workload.async, events).exited;
  const result = readResult(paths.result, workload.name, ended);
  rmSync(paths.result, { force: true });
  if (paths.trace) rmSync(paths.trace, { force: true });
  return { instructions: instructions(vg.logs), units: result.ops, recorded: ended.summary?.recorded ?? 0 };
}

async function http(workload: HttpWorkload, events: string[]): Promise<{ instructions: number; units: number; recorded: number }> {
  const paths = nextPaths(context, workload.name, "traced");
  const vg = valgrind();
  const argv = [...vg.argv, "node", ...nodeFlags, dir.path(workload.server ?? "http-server.cjs"), paths.result, JSON.stringify({ ready: paths.ready, otel: 0 })];
  const server = launch(context, argv, paths.trace, functionsSetting(context, workload.functions), context.ringBytes, workload.async, events);
  // valgrind starts the server ~50x slower than node would: a longer wait than the bench's.
  const deadline = Date.now() + 300_000;
  while (!existsSync(paths.ready) && !server.ended() && Date.now() < deadline) await Bun.sleep(50);
  const { port } = await waitForReady<{ port: number }>(paths.ready, server, "the HTTP server");
  const params = { port, connections: workload.connections, warmupMs: 1000, durationMs: Number(process.env.HTTP_MS ?? 20000), paths: workload.paths };
  const load = Bun.spawn(["node", dir.path("http-load.cjs"), JSON.stringify(params)], { stdout: "ignore", stderr: "inherit", stdin: "ignore" });
  await load.exited;
  await fetch(`http://127.0.0.1:${port}/shutdown`).catch(() => undefined);
  const ended = await server.exited;
  const result = readResult(paths.result, workload.name, ended);
  for (const path of [paths.result, paths.ready, paths.trace]) if (path && existsSync(path)) rmSync(path, { force: true });
  return { instructions: instructions(vg.logs), units: result.ops, recorded: ended.summary?.recorded ?? 0 };
}

const rows: string[] = [];
try {
  // Not counted: the first traced start compiles the agent and writes its code cache, with
  // what its main thread compiled by then: with WARM=on the groups' code too (as when the
  // groups are on by default), otherwise not (a worker of the "on" side then compiles the
  // groups' functions itself: ~4-6 M instructions per worker, seed).
  // WARM_WITH=workload:scale warms with that program workload instead (seed: its first worker
  // to end then rewrites the cache with the worker paths of the warm-up's groups).
  const [warmName, warmScale] = (process.env.WARM_WITH ?? "control:0.001").split(":");
  const warmWith = workloads.find((w): w is ProgramWorkload => w.name === warmName && w.kind === "program");
  if (warmWith === undefined) throw new Error(`WARM_WITH: no program workload ${warmName}`);
  const withoutGroups = defaultEventGroups.filter((group) => group !== "loop" && group !== "memory");
  await program(warmWith, process.env.WARM === "on" ? [...withoutGroups, ...added] : withoutGroups, Number(warmScale ?? 1));
  for (const { name, scale } of wanted) {
    const workload = workloads.find((w) => w.name === name);
    if (!workload || (workload.kind !== "program" && workload.kind !== "http")) throw new Error(`no program or http workload ${name}`);
    const base = (workload.events ?? defaultEventGroups).filter((group) => group !== "loop" && group !== "memory");
    const sides = { off: base, on: [...base, ...added] };
    const perUnit: Record<"off" | "on", number[]> = { off: [], on: [] };
    const detail: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const order: ("off" | "on")[] = round % 2 === 0 ? ["off", "on"] : ["on", "off"];
      for (const side of order) {
        runName = `${name}-${side}-${round}`;
        const m = workload.kind === "http" ? await http(workload, sides[side]) : await program(workload, sides[side], scale);
        perUnit[side].push(m.instructions / m.units);
        detail.push(`${side} ${(m.instructions / 1e6).toFixed(1)} M / ${m.units} ${m.recorded} records`);
        process.stderr.write(`${name} ${side}: ${(m.instructions / 1e6).toFixed(1)} M instructions, ${m.units} units, ${(m.instructions / m.units).toFixed(0)} per unit, ${m.recorded} records (load ${loadavg()[0]!.toFixed(1)})\n`);
      }
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const off = mean(perUnit.off);
    const on = mean(perUnit.on);
    const row = `| ${name}${scale !== 1 ? ` (×${scale})` : ""} | ${off.toFixed(0)} | ${on.toFixed(0)} | ${on - off >= 0 ? "+" : ""}${(on - off).toFixed(0)} | ${on >= off ? "+" : ""}${((on / off - 1) * 100).toFixed(2)}% | ${detail.join("; ")} |`;
    rows.push(row);
    console.log(row);
  }
} finally {
  dir.remove();
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`\n| workload | instructions per unit, groups off | +${added.join(",+")} | added per unit | added | runs (instructions / units, records) |\n|---|---|---|---|---|---|\n${rows.join("\n")}\nload average after: ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
