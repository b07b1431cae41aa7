/**
 * What a recorded WebSocket message costs (BENCHMARKS.md "WebSocket messages"): a Bun.serve
 * echo server and a WebSocket client in one Bun process, `count` sequential round trips (each
 * is 4 recorded messages: client send, server receive, server send, client receive), untraced
 * and under `scope run` alternated `rounds` times; medians of the round-trip loop's time.
 *
 *   bun scripts/bench-websocket.ts [count=20000] [rounds=9] [client runtime=bun]
 * With a client runtime other than bun (e.g. Node 24), the client is a child process of that
 * runtime (its WebSocket: 2 of the 4 messages recorded there). With `ws=<node>` the program
 * is that Node's instead: Node's `ws` package (this repository's devDependency), a
 * WebSocketServer and a ws client in one process, the same alternating messages; the loop's
 * wall time and the process's CPU time over it.
 */
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const ECHO = `
const count = Number(process.argv[2]);
const clientRuntime = process.argv[3];
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch(r, s) { return s.upgrade(r) ? undefined : new Response("no"); },
  websocket: { message(ws, data) { ws.send(data); } } });
const CLIENT = ${JSON.stringify(`
const [port, count] = [process.argv[2], Number(process.argv[3])];
const ws = new WebSocket("ws://127.0.0.1:" + port);
let n = 0, start = 0;
ws.onopen = () => { start = performance.now(); ws.send("message " + n); };
ws.onmessage = () => { if (++n === count) { console.log(performance.now() - start); ws.close(); } else ws.send(n % 2 ? "message " + n : new Uint8Array(64)); };
`)};
if (clientRuntime === "bun") {
  await new Promise((resolve) => {
    const ws = new WebSocket("ws://127.0.0.1:" + server.port);
    let n = 0, start = 0, cpu;
    ws.onopen = () => { start = performance.now(); cpu = process.cpuUsage(); ws.send("message " + n); };
    ws.onmessage = () => { if (++n === count) { const used = process.cpuUsage(cpu); console.log(performance.now() - start, (used.user + used.system) / 1000); ws.close(); resolve(); } else ws.send(n % 2 ? "message " + n : new Uint8Array(64)); };
  });
} else {
  const file = process.env.TMPDIR_BENCH + "/client.mjs";
  await Bun.write(file, CLIENT);
  const child = Bun.spawn([clientRuntime, file, String(server.port), String(count)], { stdout: "inherit" });
  await child.exited;
}
server.stop(true);
`;

/** Node's ws package: server and client in one Node process (its path to ws given as argv[3]). */
const WS_ECHO = `
import { createRequire } from "node:module";
const { WebSocket, WebSocketServer } = createRequire(process.argv[3])("ws");
const count = Number(process.argv[2]);
const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
server.on("connection", (socket) => socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary })));
await new Promise((resolve) => server.on("listening", resolve));
const ws = new WebSocket("ws://127.0.0.1:" + server.address().port);
const binary = new Uint8Array(64);
let n = 0, start = 0, cpu;
ws.on("open", () => { start = performance.now(); cpu = process.cpuUsage(); ws.send("message " + n); });
ws.on("message", () => {
  if (++n === count) { const used = process.cpuUsage(cpu); console.log(performance.now() - start, (used.user + used.system) / 1000); ws.close(); server.close(); }
  else ws.send(n % 2 ? "message " + n : binary);
});
`;

const count = Number(process.argv[2] ?? 20000);
const rounds = Number(process.argv[3] ?? 9);
const client = process.argv[4] ?? "bun";
const dir = mkdtempSync(join(tmpdir(), "scope-bench-ws-"));
const wsNode = client.startsWith("ws=") ? client.slice(3) : undefined;
const program = join(dir, wsNode === undefined ? "echo.ts" : "ws-echo.mjs");
await Bun.write(program, wsNode === undefined ? ECHO : WS_ECHO);
const wsPath = join(import.meta.dir, "../package.json");
const scope = join(import.meta.dir, "../dist/scope");
const env = { ...process.env, TMPDIR_BENCH: dir };

/** The loop's wall time (ms), and for a Bun client its process CPU time over the loop (ms; NaN otherwise). */
async function once(traced: boolean): Promise<[number, number]> {
  const command = wsNode === undefined ? ["bun", program, String(count), client] : [wsNode, program, String(count), wsPath];
  const argv = traced ? [scope, "run", "--out", join(dir, "trace.bin"), "--", ...command] : command;
  const child = Bun.spawn(argv, { env, stdout: "pipe", stderr: "pipe" });
  const out = await new Response(child.stdout).text();
  const status = await child.exited;
  if (status !== 0) throw new Error(`${argv.join(" ")}: status ${status}: ${await new Response(child.stderr).text()}`);
  const [wall, cpu] = out.trim().split("\n").at(-1)!.split(" ").map(Number);
  return [wall!, cpu ?? NaN];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const untraced: number[] = [];
const traced: number[] = [];
const untracedCpu: number[] = [];
const tracedCpu: number[] = [];
try {
  await once(false);
  await once(true);
  for (let i = 0; i < rounds; i++) {
    const [u, uc] = await once(false);
    const [t, tc] = await once(true);
    untraced.push(u);
    traced.push(t);
    untracedCpu.push(uc);
    tracedCpu.push(tc);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const u = median(untraced);
const t = median(traced);
const recordedPerTrip = 4;
console.log(`client ${client}, ${count} round trips, ${rounds} alternated rounds`);
console.log(`untraced: median ${u.toFixed(1)} ms (${((u / count) * 1000).toFixed(2)} µs a round trip)  [${untraced.map((x) => x.toFixed(0)).join(" ")}]`);
console.log(`traced:   median ${t.toFixed(1)} ms (${((t / count) * 1000).toFixed(2)} µs a round trip)  [${traced.map((x) => x.toFixed(0)).join(" ")}]`);
console.log(`+${(((t - u) / count) * 1000).toFixed(2)} µs a round trip (${recordedPerTrip} messages recorded): +${(((t - u) / count / recordedPerTrip) * 1000).toFixed(2)} µs a message, +${(((t - u) / u) * 100).toFixed(1)}%`);
if (client === "bun" || wsNode !== undefined) {
  const uc = median(untracedCpu);
  const tc = median(tracedCpu);
  console.log(`CPU time over the loop: untraced ${uc.toFixed(1)} ms, traced ${tc.toFixed(1)} ms: +${(((tc - uc) / count / recordedPerTrip) * 1000).toFixed(2)} µs a message`);
}
