/**
 * The proof of `scope attach` (issue 17): a live HTTP service (workloads/attach-service.cjs,
 * started without scope, --expose-gc) under a steady keep-alive load
 * (workloads/attach-load.cjs), attached to, traced, given live function tracing, the
 * tracing removed, detached, three times in a row. Per phase: the load's latency, failed
 * requests and responses that differ from the untraced body; after each detach the
 * service's heap after a full GC and its RSS against the level before the first attach; and
 * each attach's trace against the load's own log: every request sent and answered while
 * attached is in it, none from outside, each with its end, and one traced call of each
 * function per request while functions were traced.
 *
 * Usage: bun src/bench/attach.ts [--rate 400] [--connections 8] [--phase-seconds 4] [--cycles 3]
 * Prints a JSON report and a table; exits 1 when a check fails.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readEvents } from "../../spec/harness";

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const rate = option("rate", 400);
const connections = option("connections", 8);
const phaseMs = option("phase-seconds", 4) * 1000;
const cycles = option("cycles", 3);
const workloads = join(import.meta.dir, "workloads");
const cli = join(import.meta.dir, "..", "cli", "main.ts");
const dir = mkdtempSync(join(tmpdir(), "scope-attach-proof-"));

async function firstLine(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("ended before its first line");
    text += new TextDecoder().decode(value);
  }
  const newline = text.indexOf("\n");
  return { line: text.slice(0, newline), reader, rest: text.slice(newline + 1) };
}

function scope(argv: string[]) {
  return Bun.spawn([process.execPath, cli, ...argv], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
}

async function scopeDone(argv: string[]): Promise<string> {
  const child = scope(argv);
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`scope ${argv.join(" ")}: ${stderr}`);
  return stderr.trim();
}

const service = Bun.spawn(["node", "--expose-gc", join(workloads, "attach-service.cjs")], { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { ...process.env, NODE_OPTIONS: "" } });
const port = Number((await firstLine(service.stdout)).line);
const memory = async () => (await (await fetch(`http://127.0.0.1:${port}/memory`)).json()) as { heapUsed: number; rss: number };

const load = Bun.spawn(["node", join(workloads, "attach-load.cjs"), JSON.stringify({ port, connections, rate })], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
const loadOut = load.stdout.getReader();
let loadText = "";
async function phase(name: string): Promise<void> {
  load.stdin.write(`${name}\n`);
  load.stdin.flush();
  while (!loadText.includes(`phase ${name}\n`)) {
    const { value, done } = await loadOut.read();
    if (done) throw new Error("the load ended early");
    loadText += new TextDecoder().decode(value);
  }
}

await phase("warm");
await Bun.sleep(phaseMs);
const baseline = await memory();
const memoryAfter: { heapUsed: number; rss: number }[] = [];
const traces: { out: string; attachedLine: string; functionsLine: string; removeLine: string }[] = [];
for (let cycle = 1; cycle <= cycles; cycle++) {
  await phase(`before-${cycle}`);
  await Bun.sleep(phaseMs);
  const out = join(dir, `attach-${cycle}.bin`);
  // Sent while the agent is being loaded: may or may not be in the trace.
  await phase(`attaching-${cycle}`);
  const attach = scope(["attach", String(service.pid), "--out", out]);
  const attached = await firstLine(attach.stderr);
  // From here every request sent is inside the window (the agent is loaded).
  await phase(`attached-${cycle}`);
  await Bun.sleep(phaseMs);
  const functionsLine = await scopeDone(["attach", String(service.pid), "--functions", join(workloads, "attach-orders.cjs")]);
  await phase(`functions-${cycle}`);
  await Bun.sleep(phaseMs);
  // Answered before the remove is asked: the last requests of the functions phase.
  await phase(`removing-${cycle}`);
  const removeLine = await scopeDone(["attach", String(service.pid), "--remove-functions"]);
  await phase(`removed-${cycle}`);
  await Bun.sleep(phaseMs);
  await phase(`detaching-${cycle}`);
  await scopeDone(["detach", String(service.pid)]);
  let rest = attached.rest;
  for (;;) {
    const { value, done } = await attached.reader.read();
    if (done) break;
    rest += new TextDecoder().decode(value);
  }
  if ((await attach.exited) !== 0) throw new Error(`scope attach: ${attached.line}\n${rest}`);
  await phase(`detached-${cycle}`);
  await Bun.sleep(phaseMs);
  memoryAfter.push(await memory());
  traces.push({ out, attachedLine: attached.line, functionsLine, removeLine });
}
load.stdin.write("end\n");
load.stdin.flush();
for (;;) {
  const { value, done } = await loadOut.read();
  if (done) break;
  loadText += new TextDecoder().decode(value);
}
service.kill();
const result = JSON.parse(loadText.trim().split("\n").at(-1)!) as {
  phases: Record<string, { requests: number; errors: number; mismatches: number; non2xx: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number }>;
  requests: [number, string, string][];
};

// Each trace against the load's log.
const inWindow = (phaseName: string, cycle: number) => [`attached-${cycle}`, `functions-${cycle}`, `removing-${cycle}`, `removed-${cycle}`].includes(phaseName);
const outside = (phaseName: string, cycle: number) => !inWindow(phaseName, cycle) && phaseName !== `attaching-${cycle}` && phaseName !== `detaching-${cycle}`;
const checks = traces.map((trace, index) => {
  const cycle = index + 1;
  const events = readEvents(trace.out);
  const starts = events.filter((event) => event.kind === "http_server_request");
  const seen = new Set(starts.map((event) => Number(String(event.fields.target).slice("/order/".length))));
  const ends = events.filter((event) => event.kind === "http_server_response").length;
  const must = result.requests.filter(([, sent, answered]) => inWindow(sent, cycle) && inWindow(answered, cycle)).map(([n]) => n);
  const mustNot = result.requests.filter(([, sent, answered]) => outside(sent, cycle) && outside(answered, cycle)).map(([n]) => n);
  const functionsSent = result.requests.filter(([, sent, answered]) => sent === `functions-${cycle}` && answered === `functions-${cycle}`).map(([n]) => n);
  const calls = events.filter((event) => event.kind === "attach_function_call");
  const callArgs = new Set(calls.filter((event) => event.fields.name === "createOrder").map((event) => Number(JSON.parse(String(event.fields.args))[0])));
  const callsByName: Record<string, number> = {};
  for (const call of calls) callsByName[String(call.fields.name)] = (callsByName[String(call.fields.name)] ?? 0) + 1;
  return {
    cycle,
    requestsInTrace: starts.length,
    requestsEnded: ends,
    missing: must.filter((n) => !seen.has(n)).length,
    mustBeIn: must.length,
    fromOutside: mustNot.filter((n) => seen.has(n)).length,
    functionRequests: functionsSent.length,
    functionRequestsWithoutCall: functionsSent.filter((n) => !callArgs.has(n)).length,
    callsByName,
    removed: events.filter((event) => event.kind === "attach_function_remove" && !event.fields.failed).length,
    attachEnd: events.find((event) => event.kind === "attach_end")?.fields.reason,
    attachedLine: trace.attachedLine,
  };
});
const failed = Object.values(result.phases).reduce((sum, stats) => sum + stats.errors + stats.non2xx, 0);
const mismatches = Object.values(result.phases).reduce((sum, stats) => sum + stats.mismatches, 0);
const report = {
  rate,
  connections,
  phaseSeconds: phaseMs / 1000,
  load: (await Bun.file("/proc/loadavg").text()).trim(),
  failed,
  mismatches,
  memoryBefore: baseline,
  memoryAfter,
  phases: result.phases,
  checks,
};
console.log(JSON.stringify(report, null, 1));
const mib = (bytes: number) => (bytes / 1024 ** 2).toFixed(2);
console.log(`\nphase              requests  p50 ms  p90 ms  p99 ms  max ms  failed  differing`);
for (const [name, stats] of Object.entries(result.phases)) {
  console.log(`${name.padEnd(18)} ${String(stats.requests).padStart(8)} ${stats.p50Ms.toFixed(2).padStart(7)} ${stats.p90Ms.toFixed(2).padStart(7)} ${stats.p99Ms.toFixed(2).padStart(7)} ${stats.maxMs.toFixed(1).padStart(7)} ${String(stats.errors + stats.non2xx).padStart(7)} ${String(stats.mismatches).padStart(10)}`);
}
console.log(`\nheap after full GC: before ${mib(baseline.heapUsed)} MiB, after each detach ${memoryAfter.map((m) => mib(m.heapUsed)).join(", ")} MiB; RSS before ${mib(baseline.rss)} MiB, after ${memoryAfter.map((m) => mib(m.rss)).join(", ")} MiB`);
for (const check of checks) {
  console.log(`attach ${check.cycle}: ${check.requestsInTrace} requests in the trace (${check.requestsEnded} ended); ${check.mustBeIn} sent and answered while attached, ${check.missing} missing; ${check.fromOutside} from outside the window; ${check.functionRequests} requests while functions were traced, ${check.functionRequestsWithoutCall} without their createOrder call; calls ${JSON.stringify(check.callsByName)}; ${check.removed} restored; ended ${check.attachEnd}`);
}
const ok = failed === 0 && mismatches === 0 && checks.every((check) => check.missing === 0 && check.fromOutside === 0 && check.functionRequestsWithoutCall === 0 && check.requestsInTrace - check.requestsEnded <= connections && check.attachEnd === "detachCommand");
console.log(ok ? "verdict: ok" : "verdict: FAILED");
process.exit(ok ? 0 : 1);
