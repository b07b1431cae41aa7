/**
 * `scope merge` speed: two synthetic traces of N records each (a client and a server
 * trace: function events with a string every 16 steps, and one linked HTTP request
 * pair per 64 steps), merged by the CLI as a user runs it (`bun src/cli/main.ts merge`,
 * Bun start-up included). Runs alternate nothing (there is no "untraced" side); reported:
 * median wall time and CPU time (user + system of the merge process) over the runs, per
 * million input records, and the merge's peak RSS.
 *
 *   . scripts/env.sh && bun scripts/bench-merge.ts [records per input, default 1000000] [runs, default 5]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeRecord, encodeString } from "../src/core/events";
import { RECORD_SIZE } from "../src/core/layout";
import { TraceWriter } from "../src/core/trace-file";

const perInput = Number(process.argv[2] ?? 1_000_000);
const runs = Number(process.argv[3] ?? 5);
const dir = mkdtempSync(join(tmpdir(), "scope-bench-merge-"));

/** One input: `client` makes the requests, the server answers them; same four-tuples at both ends. */
function makeTrace(path: string, client: boolean): void {
  const pid = 4242; // the same pid in both: the merge must tell them apart
  const base = 1_000_000_000_000n;
  const writer = TraceWriter.open(path, { host: client ? "client-host" : "server-host", argv: ["node", "app.js"], anchors: { monotonicNs: base, realtimeNs: 1_700_000_000_000_000_000n, collectorPid: 99 } });
  const batch = new Uint8Array(4096 * RECORD_SIZE);
  let count = 0;
  let written = 0;
  let stringId = 1;
  let request = 0;
  const flush = () => {
    writer.append(batch, count);
    count = 0;
  };
  const put = (bytes: Uint8Array) => {
    if (count + bytes.byteLength / RECORD_SIZE > 4096) flush();
    batch.set(bytes, count * RECORD_SIZE);
    count += bytes.byteLength / RECORD_SIZE;
    written += bytes.byteLength / RECORD_SIZE;
  };
  const one = new Uint8Array(RECORD_SIZE);
  const event = (kind: string, t: bigint, a = 0, b = 0, c = 0, d = 0, e = 0, flags = 0) => {
    encodeRecord({ kind, flags, timestampNs: t, pid, tid: 0, a, b, c, d, e }, one);
    put(one);
  };
  const local = stringId++;
  const remote = stringId++;
  put(encodeString(pid, 0, local, "127.0.0.1", base));
  put(encodeString(pid, 0, remote, "127.0.0.1", base));
  // The schedule is by step, the same at both ends (the records per step differ).
  for (let step = 1; written < perInput; step++) {
    const t = base + BigInt(step) * 1000n;
    if (step % 64 === 0) {
      request++;
      const port = 10_000 + (request % 50_000);
      if (client) {
        event("http_client_request", t, request, 0, 0, 0, 1);
        event("http_connection", t + 10n, request, local, port, remote, 8080, 2);
        event("http_client_connection", t + 20n, request, request, 1);
        event("http_client_response", t + 500n, request, 200, 0, 10, 1);
      } else {
        event("http_connection", t + 100n, request, local, 8080, remote, port);
        event("http_server_request", t + 110n, request, 0, 0, request, 1);
        event("http_server_response", t + 300n, request, 200, 0, 10, 1);
      }
    } else if (step % 16 === 0) {
      put(encodeString(pid, 0, stringId, `preview ${stringId} of some value`, t));
      event("function_call", t, 1, written, stringId++);
    } else {
      event("function_return", t, 1, written);
    }
  }
  flush();
  writer.close({ written, dropped: 0, overwritten: 0 });
}

const client = join(dir, "client.bin");
const server = join(dir, "server.bin");
makeTrace(server, false);
makeTrace(client, true);

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
const walls: number[] = [];
const cpus: number[] = [];
const rss: number[] = [];
let lastOut = "";
for (let run = 0; run < runs; run++) {
  const started = performance.now();
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "../src/cli/main.ts"), "merge", server, client, "--out", join(dir, "all.bin")], { stdout: "pipe", stderr: "inherit" });
  lastOut = await new Response(child.stdout).text();
  if ((await child.exited) !== 0) throw new Error(`merge failed: ${lastOut}`);
  walls.push(performance.now() - started);
  const usage = child.resourceUsage()!;
  cpus.push(Number(usage.cpuTime.user + usage.cpuTime.system) / 1000);
  rss.push(usage.maxRSS);
}
const records = 2 * perInput;
const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
console.log(lastOut.trim());
console.log(`merge of 2 × ${perInput} records, ${runs} runs, load ${load}`);
console.log(`  wall: median ${median(walls).toFixed(0)} ms (${(median(walls) / (records / 1e6)).toFixed(0)} ms per million records)`);
console.log(`  cpu:  median ${median(cpus).toFixed(0)} ms (${(median(cpus) / (records / 1e6)).toFixed(0)} ms per million records)`);
console.log(`  peak RSS: median ${(median(rss) / 1024 / 1024).toFixed(0)} MiB`);
if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
