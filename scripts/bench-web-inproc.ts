/**
 * scripts/web-inproc.cjs (the web workload's Express + pg service, its HTTP over in-memory
 * streams, client in the same process) untraced, traced by this checkout (`scope run`) and
 * by another (`base`, BASE_CLI=/path/to/src/cli/main.ts), alternated `rounds` times against
 * the test PostgreSQL; prints each run's CPU µs per request and, per mode, the median and
 * its ratio to untraced (and each round's traced/base ratio). No load process and no HTTP
 * syscalls: the service's CPU per request with less of the machine's noise than the
 * closed-loop bench (BENCHMARKS.md "Web services"). The service keeps every connection busy from
 * its warm-up through its window (scripts/web-inproc.cjs: no pause at the window's edges, which
 * with many connections deoptimized code traced and untraced: BENCHMARKS.md "Web: 16 connections
 * steady, traced against untraced").
 *   bun scripts/bench-web-inproc.ts [rounds] [modes: untraced,traced,base,als] [requests]
 *   mode als: untraced with scripts/web-als-only.cjs preloaded (the request context alone);
 *   mode v8ctx: untraced with scripts/web-promise-context-only.cjs preloaded (a context on V8's promise hooks alone);
 *   mode nodb: traced without the db group (no pg integration; HTTP, Express, the context);
 *   SCOPE_ARGS="--events process": more `scope run` options for traced and base;
 *   CONNECTIONS=n (8): requests in flight (1: one at a time, each query its own round trip:
 *   no batching that depends on how fast PostgreSQL answers, so instruction counts repeat);
 *   NODE_FLAGS="...": flags for the service's node (e.g. --single-threaded: no background
 *   compiler or GC threads, whose timing moves instruction counts).
 * INSTRUCTIONS=short,long: instead, each mode under Valgrind's cachegrind twice, serving
 * `short` and then `long` requests after the same warm-up; the instructions a request costs
 * are the difference of the two totals over the difference of requests (start-up, warm-up
 * and shutdown cancel out). Instructions are not time, but a loaded machine does not move
 * them. The addon must be built for a CPU valgrind knows (`zig build -Doptimize=ReleaseFast
 * -Dcpu=x86_64_v2 --prefix DIR`, then SCOPE_ADDON=DIR/lib/scope.node SCOPE_LIBSCOPE=DIR/lib/libscope.so).
 * WARMUP=n: the requests served before the measured ones (2000; 1500 with INSTRUCTIONS). Node
 * 24's TurboFan still compiles the service's functions until ~12,000 requests, in bursts at
 * ~7,500 and ~11,000 (traced and untraced alike, BENCHMARKS.md "Web: the whole process's
 * share, compiles and allocation"): a longer warm-up leaves that tier-up out of the window.
 * With INSTRUCTIONS, FUNCTIONS=n also prints, per mode, the n native functions (V8's builtins
 * and runtime, Node's C++, libc; JIT code is one "???") whose instructions a request grew most against the first mode; CATEGORIES=1 prints, per mode, a request's
 * instructions by kind of native function (categoryOf: JIT code, builtins, TurboFan's and
 * Maglev's compilers, the GC, the interpreter's runtime, Node's C++, libc, ...); KEEP=dir keeps
 * each run's cachegrind output there. CACHEGRIND_FLAGS="--cache-sim=yes --branch-sim=yes": valgrind
 * flags in place of the default --cache-sim=no; every event cachegrind then counts (Ir, I1mr,
 * D1mr, D1mw, ILmr/DLmr/DLmw, Bcm, Bim, ...) is printed a request beside the instructions
 * (BENCHMARKS.md "Web: caches and branches, traced against untraced").
 */
import { join } from "node:path";
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { startPostgres } from "../spec/postgres-harness";

const root = join(import.meta.dir, "..");
const rounds = Number(process.argv[2] ?? 5);
const modes = (process.argv[3] ?? "untraced,traced").split(",");
const requests = Number(process.argv[4] ?? 10000);
const pg = await startPostgres();
const env = { ...process.env, PGURL: pg.url, NODE_PATH: join(root, "node_modules") };
const results = new Map<string, number[]>(modes.map((mode) => [mode, []]));
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ")[0];
const instructions = process.env.INSTRUCTIONS?.split(",").map(Number);
const connections = Number(process.env.CONNECTIONS ?? 8);
const nodeFlags = (process.env.NODE_FLAGS ?? "").split(" ").filter(Boolean);
const functions = Number(process.env.FUNCTIONS ?? 0);
const categories = process.env.CATEGORIES === "1";
const cachegrindFlags = (process.env.CACHEGRIND_FLAGS ?? "--cache-sim=no").split(" ").filter(Boolean);
/** A native function's kind, by its (demangled) name in cachegrind's output. */
function categoryOf(fn: string): string {
  if (fn === "???") return "JIT code (???)";
  if (fn.startsWith("Builtins_")) return "builtins";
  if (/v8::internal::compiler::|turboshaft|TurboFan|Pipeline|v8::internal::OptimizedCompilationJob|v8::internal::wasm/i.test(fn)) return "TurboFan compiler";
  if (/v8::internal::maglev::/.test(fn)) return "Maglev compiler";
  if (/Scaveng|MarkCompact|Marking|Sweeper|Heap::|heap::|Evacuat|RememberedSet|SlotSet|MemoryAllocator|PagedSpace|NewSpace|SemiSpace|Worklist|GCTracer|MinorMS|Compactor|LocalHeap|Safepoint|ObjectVisitor|BodyDescriptor|IterateAndScavenge|EphemeronTable/.test(fn)) return "GC";
  if (/v8::internal::interpreter::|BytecodeArray|Parser|Scanner|AstNode|v8::internal::Compiler::|Zone::|ScopeInfo|Scope::|PreParser|AstValueFactory/.test(fn)) return "parser / bytecode compiler";
  if (/^v8::internal::Runtime_|v8::internal::__RT_impl/.test(fn)) return "V8 runtime functions";
  if (/^node::|uv_|^napi_|^v8impl/.test(fn)) return "Node C++ / libuv / N-API";
  if (/scope|ring\.|napi\./.test(fn)) return "scope addon";
  if (/^v8::/.test(fn)) return "V8 other";
  if (/^(mem|str|__|_int_|malloc|free|cfree|pthread|_dl|__libc|operator new|operator delete)/.test(fn)) return "libc / allocator";
  return "other";
}
const warmupInstructions = Number(process.env.WARMUP ?? 1500);
const warmupTimed = Number(process.env.WARMUP ?? 2000);
/** Modes als and v8ctx: the untraced service with a context alone preloaded. */
function preloadOf(mode: string): string[] {
  if (mode === "als") return ["-r", join(root, "scripts/web-als-only.cjs")];
  if (mode === "v8ctx") return ["-r", join(root, "scripts/web-promise-context-only.cjs")];
  return [];
}
/** The service's argv for a mode (untraced, als, traced, base, nodb), `service` its node command. */
function command(mode: string, service: string[], dir: string): string[] {
  const cli = mode === "base" ? process.env.BASE_CLI : join(root, "src/cli/main.ts");
  if (cli === undefined) throw new Error("mode base needs BASE_CLI=/path/to/src/cli/main.ts");
  // SCOPE_ARGS: more `scope run` options for the traced runs (e.g. "--events process").
  const scopeArgs = [...(process.env.SCOPE_ARGS ?? "").split(" ").filter(Boolean), ...(mode === "nodb" ? ["--events", "process,thread,message,http"] : [])];
  return mode === "untraced" || mode === "als" || mode === "v8ctx" ? service : ["bun", cli, "run", ...scopeArgs, "--out", join(dir, "trace.bin"), "--", ...service];
}
/** Every event by native function in a cachegrind output (fn= lines; then a line number and the event columns). */
function byFunctionAll(text: string): Map<string, number[]> {
  const counts = new Map<string, number[]>();
  let fn = "";
  for (const line of text.split("\n")) {
    if (line.startsWith("fn=")) fn = line.slice(3);
    else if (fn !== "" && /^\d/.test(line)) {
      const values = line.split(" ").slice(1).map(Number);
      const sum = counts.get(fn) ?? [];
      values.forEach((value, i) => (sum[i] = (sum[i] ?? 0) + value));
      counts.set(fn, sum);
    }
  }
  return counts;
}
/** Instructions by native function (the first event column). */
function byFunction(all: Map<string, number[]>): Map<string, number> {
  return new Map([...all].map(([fn, values]) => [fn, values[0] ?? 0]));
}
/** Every event's total in a cachegrind output (its `events:` and `summary:` lines). */
function eventsOf(text: string): Map<string, number> {
  const names = /^events:\s+(.*)$/m.exec(text)?.[1]?.trim().split(/\s+/) ?? [];
  const values = /^summary:\s+(.*)$/m.exec(text)?.[1]?.trim().split(/\s+/).map(Number) ?? [];
  return new Map(names.map((name, i) => [name, values[i] ?? 0]));
}
function instructionsOf(mode: string, count: number): { total: number; functions: Map<string, number>; all: Map<string, number[]>; events: Map<string, number> } {
  const dir = mkdtempSync(join(tmpdir(), "scope-web-inproc-"));
  const out = join(dir, "cachegrind.out");
  const preload = preloadOf(mode);
  const service = ["valgrind", "--tool=cachegrind", ...cachegrindFlags, `--cachegrind-out-file=${out}`, "node", ...nodeFlags, ...preload, join(root, "scripts/web-inproc.cjs"), JSON.stringify({ connections, warmup: warmupInstructions, requests: count })];
  const child = Bun.spawnSync(command(mode, service, dir), { env, stderr: "pipe" });
  const text = readFileSync(out, "utf8");
  const summary = /^summary:\s+(\d+)/m.exec(text);
  // KEEP=dir: each run's cachegrind output kept there (mode-count.out), e.g. for cg_annotate.
  if (process.env.KEEP) writeFileSync(join(process.env.KEEP, `${mode}-${count}.out`), text);
  rmSync(dir, { recursive: true, force: true });
  if (!summary || child.exitCode !== 0) throw new Error(`${mode}: no cachegrind summary (${child.stderr.toString().slice(-300)})`);
  const all = functions > 0 || categories ? byFunctionAll(text) : new Map<string, number[]>();
  return { total: Number(summary[1]), functions: byFunction(all), all, events: eventsOf(text) };
}
try {
  if (instructions !== undefined) {
    const [short, long] = instructions as [number, number];
    for (let round = 0; round < rounds; round++) {
      let first: Map<string, number> | undefined;
      for (const mode of modes) {
        const a = instructionsOf(mode, short);
        const b = instructionsOf(mode, long);
        console.log(`round ${round + 1} ${mode}: ${Math.round((b.total - a.total) / (long - short)).toLocaleString("en-US")} instructions/request (${(a.total / 1e9).toFixed(3)} G for ${short} after ${warmupInstructions}, ${(b.total / 1e9).toFixed(3)} G for ${long}); load ${load()}`);
        if (a.events.size > 1) {
          const perRequest = [...b.events].map(([name, value]) => `${name} ${Math.round(((value - (a.events.get(name) ?? 0)) / (long - short)) * 10) / 10}`);
          console.log(`  ${mode} events a request: ${perRequest.join(", ")}`);
        }
        if (categories) {
          const byCategory = new Map<string, number>();
          for (const [fn, count] of b.functions) byCategory.set(categoryOf(fn), (byCategory.get(categoryOf(fn)) ?? 0) + count);
          for (const [fn, count] of a.functions) byCategory.set(categoryOf(fn), (byCategory.get(categoryOf(fn)) ?? 0) - count);
          const rows = [...byCategory].sort((x, y) => y[1] - x[1]);
          for (const [category, count] of rows) console.log(`  ${mode} by kind: ${Math.round(count / (long - short)).toLocaleString("en-US").padStart(8)} ${category}`);
          if (a.events.size > 1) {
            // With CACHEGRIND_FLAGS' cache and branch models: every event a request by kind.
            const names = [...b.events.keys()];
            const sums = new Map<string, number[]>();
            for (const [run, sign] of [[b, 1], [a, -1]] as const)
              for (const [fn, values] of run.all) {
                const sum = sums.get(categoryOf(fn)) ?? names.map(() => 0);
                values.forEach((value, i) => (sum[i]! += sign * value));
                sums.set(categoryOf(fn), sum);
              }
            console.log(`  ${mode} by kind, a request: ${names.join(" ")}`);
            for (const [category, sum] of sums) console.log(`    ${sum.map((value) => (value / (long - short)).toFixed(1)).join(" ")} ${category}`);
          }
        }
        if (functions === 0) continue;
        // Per request, by function: the long run's count minus the short one's.
        const perRequest = new Map<string, number>();
        for (const [fn, count] of b.functions) perRequest.set(fn, (count - (a.functions.get(fn) ?? 0)) / (long - short));
        for (const [fn, count] of a.functions) if (!b.functions.has(fn)) perRequest.set(fn, -count / (long - short));
        if (first === undefined) {
          first = perRequest;
          continue;
        }
        const grown = [...new Set([...perRequest.keys(), ...first.keys()])].map((fn) => [fn, (perRequest.get(fn) ?? 0) - (first!.get(fn) ?? 0)] as const);
        grown.sort((x, y) => y[1] - x[1]);
        for (const [fn, delta] of grown.slice(0, functions)) console.log(`  ${mode} vs ${modes[0]}: ${Math.round(delta).toLocaleString("en-US").padStart(8)} ${fn}`);
      }
    }
  } else await timed();
} finally {
  pg.stop();
}

async function timed(): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      const dir = mkdtempSync(join(tmpdir(), "scope-web-inproc-"));
      // Mode `als`: untraced with scripts/web-als-only.cjs preloaded (one AsyncLocalStorage entered per request, nothing recorded).
      const service = ["node", ...nodeFlags, ...preloadOf(mode), join(root, "scripts/web-inproc.cjs"), JSON.stringify({ connections, warmup: warmupTimed, requests })];
      const child = Bun.spawnSync(command(mode, service, dir), { env, stderr: "pipe" });
      const line = child.stdout.toString().split("\n").find((text) => text.startsWith("{"));
      rmSync(dir, { recursive: true, force: true });
      if (line === undefined) throw new Error(`${mode}: no result (${child.stderr.toString().slice(-400)})`);
      const { cpuUs } = JSON.parse(line) as { cpuUs: number };
      results.get(mode)!.push(cpuUs);
      console.log(`round ${round + 1} ${mode}: ${cpuUs.toFixed(1)} µs/request; load ${load()}`);
    }
  }
  const untraced = results.has("untraced") ? median(results.get("untraced")!) : undefined;
  for (const [mode, values] of results) {
    const m = median(values);
    console.log(`${mode}: median ${m.toFixed(1)} µs/request (${values.map((v) => v.toFixed(1)).join(" / ")})${untraced !== undefined ? `, ${(m / untraced).toFixed(3)}x untraced` : ""}`);
  }
  if (results.has("traced") && results.has("base")) {
    const ratios = results.get("traced")!.map((value, i) => value / results.get("base")![i]!);
    console.log(`traced / base per round: ${ratios.map((r) => r.toFixed(3)).join(", ")} (median ${median(ratios).toFixed(3)})`);
  }
}
