/**
 * Where the memory a `scope attach` leaves behind comes from: a fresh idle
 * workloads/attach-service.cjs (--expose-gc) per variant, then `cycles` rounds of
 *   inspector: SIGUSR1, connect, Runtime.evaluate("1"), close (no scope agent at all);
 *   attach: `scope attach <pid> --duration 1s`;
 *   functions: `scope attach <pid> --duration 1s --functions attach-orders.cjs`;
 *   none: the same requests and pauses without any attach (the control: the service's own
 *     growth, its JIT warming up);
 * with the service's heap after a full GC (and RSS) read after each round.
 * Usage: bun src/bench/attach-memory.ts [--cycles 5] [--variants none,inspector,attach,functions]
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CdpClient, closeInspector, openInspector } from "../attach/inspector";
import { inspectTarget } from "../attach/target";

const args = process.argv.slice(2);
const cycles = args.includes("--cycles") ? Number(args[args.indexOf("--cycles") + 1]) : 5;
const chosen = args.includes("--variants") ? args[args.indexOf("--variants") + 1]!.split(",") : undefined;
const workloads = join(import.meta.dir, "workloads");
const cli = join(import.meta.dir, "..", "cli", "main.ts");
const out = join(mkdtempSync(join(tmpdir(), "scope-attach-memory-")), "t.bin");

async function startService() {
  const service = Bun.spawn(["node", "--expose-gc", join(workloads, "attach-service.cjs")], { stdout: "pipe", stderr: "ignore", env: { ...process.env, NODE_OPTIONS: "" } });
  const reader = service.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
  const port = Number(text.trim());
  const memory = async () => {
    const { heapUsed, rss } = (await (await fetch(`http://127.0.0.1:${port}/memory`)).json()) as { heapUsed: number; rss: number };
    return { heapMiB: Number((heapUsed / 1024 ** 2).toFixed(3)), rssMiB: Number((rss / 1024 ** 2).toFixed(1)) };
  };
  // Warm: the service's own first requests.
  for (let i = 0; i < 50; i++) await fetch(`http://127.0.0.1:${port}/order/${i}`);
  return { service, memory };
}

async function inspectorOnly(pid: number) {
  const target = inspectTarget(pid);
  const inspector = await openInspector(target);
  const client = await CdpClient.connect(inspector.webSocketUrl);
  await client.evaluate("1");
  await closeInspector(client, inspector, pid);
}

async function scope(argv: string[]) {
  const child = Bun.spawn([process.execPath, cli, ...argv], { stdout: "ignore", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(stderr);
}

const variants: Record<string, (pid: number) => Promise<void>> = {
  none: () => Bun.sleep(1500),
  inspector: inspectorOnly,
  attach: (pid) => scope(["attach", String(pid), "--out", out, "--duration", "1s"]),
  functions: (pid) => scope(["attach", String(pid), "--out", out, "--duration", "1s", "--functions", join(workloads, "attach-orders.cjs")]),
};
const report: Record<string, { heapMiB: number; rssMiB: number }[]> = {};
for (const [name, run] of Object.entries(variants)) {
  if (chosen !== undefined && !chosen.includes(name)) continue;
  const { service, memory } = await startService();
  const series = [await memory()];
  for (let cycle = 0; cycle < cycles; cycle++) {
    await run(service.pid);
    series.push(await memory());
  }
  service.kill();
  report[name] = series;
  console.log(`${name.padEnd(10)} heap after GC (MiB): ${series.map((m) => m.heapMiB.toFixed(3)).join(" → ")}; RSS (MiB): ${series.map((m) => m.rssMiB).join(" → ")}`);
}
console.log(JSON.stringify({ cycles, load: (await Bun.file("/proc/loadavg").text()).trim(), report }));
