// scope run's own CPU while the program runs, by thread (BENCHMARKS.md "scope run's own CPU
// while the program runs"). Starts `<scope> run --out <tmp> -- <program...>`, finds the
// program (scope's child) and reads every thread of scope's process (/proc/<pid>/task/*:
// comm, and schedstat's run time in ns) when the child is first seen and when it has ended
// (a zombie or gone); prints each thread's CPU between the two, and the child's own CPU.
//
//   bun scripts/bench-scope-cpu.ts <scope> <runs> -- node src/bench/workloads/pool.cjs /tmp/r.json '{"jobs":100000}'
//
// Polls /proc every ~1 ms from this process (its own CPU is not counted).
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { basename } from "node:path";

type Threads = Map<string, { comm: string; ns: number }>;

function readThreads(pid: number): Threads {
  const threads: Threads = new Map();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      threads.set(tid, { comm, ns });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return threads;
}

/** The program: scope's child running `command` (scope's group probe, a `cat`, is a child too). */
function childOf(parent: number, command: string): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) !== parent) continue;
      const argv0 = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")[0] ?? "";
      if (basename(argv0) === basename(command)) return Number(entry);
    } catch {
      // Gone.
    }
  }
  return undefined;
}

/** The child's state and its whole CPU (utime + stime, clock ticks → ms), or undefined once gone. */
function childState(pid: number): { state: string; cpuMs: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0]!, cpuMs: (Number(fields[11]) + Number(fields[12])) * 10 };
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function once(scope: string, program: string[]) {
  const out = `/tmp/scope-cpu-${process.pid}.bin`;
  const child = Bun.spawn([scope, "run", "--out", out, "--", ...program], { stdout: "ignore", stderr: "pipe" });
  const scopePid = child.pid;
  let programPid: number | undefined;
  while (programPid === undefined) {
    programPid = childOf(scopePid, program[0]!);
    if (programPid === undefined) await sleep(0.5);
  }
  const before = readThreads(scopePid);
  let programCpuMs = 0;
  const startedAt = performance.now();
  // Read every ~20 ms too: a thread scope has ended by the last look (the drain thread, joined
  // as soon as scope reaps the program) keeps its last reading instead of counting nothing.
  let recent = before;
  let polls = 0;
  while (true) {
    const state = childState(programPid);
    if (state === undefined) break;
    programCpuMs = state.cpuMs;
    if (state.state === "Z") break;
    if (++polls % 20 === 0) recent = readThreads(scopePid);
    await sleep(1);
  }
  const programMs = performance.now() - startedAt;
  const after = readThreads(scopePid);
  for (const [tid, reading] of recent) if (!after.has(tid)) after.set(tid, reading);
  const stderr = await new Response(child.stderr).text();
  await child.exited;
  rmSync(out, { force: true });
  const lost = /lost: ([^\n]+)/.exec(stderr)?.[1] ?? "?";
  const byThread: { comm: string; ms: number }[] = [];
  for (const [tid, end] of after) {
    const start = before.get(tid)?.ns ?? 0;
    byThread.push({ comm: `${end.comm}(${tid === String(scopePid) ? "main" : tid})`, ms: (end.ns - start) / 1e6 });
  }
  byThread.sort((a, b) => b.ms - a.ms);
  const total = byThread.reduce((sum, each) => sum + each.ms, 0);
  // The drain thread (zig/collector.zig): scope's own thread named as the process, not its main.
  const drain = byThread.find((each) => each.comm.startsWith("scope(") && !each.comm.endsWith("(main)"))?.ms ?? 0;
  return { total, drain, byThread, programMs, programCpuMs, lost, stderr };
}

const [scope, runsText, dashes, ...program] = process.argv.slice(2);
if (!scope || !runsText || dashes !== "--" || program.length === 0) {
  console.error("usage: bun scripts/bench-scope-cpu.ts <scope> <runs> -- <program...>");
  process.exit(2);
}
const totals: number[] = [];
const drains: number[] = [];
for (let run = 0; run < Number(runsText); run++) {
  const result = await once(scope, program);
  totals.push(result.total);
  drains.push(result.drain);
  const threads = result.byThread
    .filter((each) => each.ms >= 0.05)
    .map((each) => `${each.comm} ${each.ms.toFixed(2)}`)
    .join(", ");
  console.log(
    `run ${run + 1}: scope ${result.total.toFixed(2)} ms CPU while the program ran ${result.programMs.toFixed(0)} ms (program CPU ${result.programCpuMs} ms), lost ${result.lost}: ${threads}`,
  );
}
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return `${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} ms (min ${sorted[0]!.toFixed(2)}, max ${sorted.at(-1)!.toFixed(2)})`;
};
console.log(`median scope CPU: ${median(totals)}; drain thread: ${median(drains)}`);
