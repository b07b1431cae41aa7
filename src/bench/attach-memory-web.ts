/**
 * Memory a `scope attach` leaves in a web service with libraries: spec/fixtures/attach/
 * express-pg.cjs (Express + a pg pool, a real PostgreSQL from spec/postgres-harness.ts),
 * started without scope, under a steady request loop. Per round: 300 requests, then
 * (variant `attach`) `scope attach --duration 4s` with 200 requests while attached, or
 * (variant `none`, the control: the service's own growth) a 4 s pause with the same 200
 * requests, then 100 more; the heap after full GCs and the RSS after each round (read
 * through workloads/memory-probe.cjs, preloaded).
 * Usage: bun src/bench/attach-memory-web.ts [--rounds 3] [--express express4|express5]
 */
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startPostgres } from "../../spec/postgres-harness";

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : fallback);
const rounds = Number(option("--rounds", "3"));
const express = option("--express", "express4");
const repo = join(import.meta.dir, "..", "..");
const cli = join(repo, "src", "cli", "main.ts");
const out = join(tmpdir(), `scope-attach-memory-web-${process.pid}.bin`);
const pg = await startPostgres();

async function run(variant: "none" | "attach") {
  const service = Bun.spawn(["node", "--expose-gc", "-r", join(import.meta.dir, "workloads", "memory-probe.cjs"), join(repo, "spec", "fixtures", "attach", "express-pg.cjs")], {
    stdout: "pipe",
    stderr: "ignore",
    env: { ...process.env, NODE_OPTIONS: "", PGURL: pg.url, EXPRESS: express },
  });
  const reader = service.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
  const base = `http://127.0.0.1:${text.trim()}`;
  const probeFile = join(tmpdir(), `scope-memory-probe-${service.pid}`);
  const probe = `http://127.0.0.1:${readFileSync(probeFile, "utf8")}`;
  const load = async (count: number) => {
    for (let i = 0; i < count; i++) {
      await (await fetch(`${base}/api/users/${i}`)).text();
      if (i % 10 === 0) await (await fetch(`${base}/fail`)).text();
    }
  };
  const memory = async () => {
    const { heapUsed, rss } = (await (await fetch(probe)).json()) as { heapUsed: number; rss: number };
    return { heapMiB: Number((heapUsed / 1024 ** 2).toFixed(3)), rssMiB: Number((rss / 1024 ** 2).toFixed(1)) };
  };
  await load(300);
  const series = [await memory()];
  for (let round = 0; round < rounds; round++) {
    await load(300);
    const waiting = variant === "attach" ? Bun.spawn([process.execPath, cli, "attach", String(service.pid), "--out", out, "--duration", "4s"], { stdout: "ignore", stderr: "ignore" }).exited : Bun.sleep(4000);
    await Bun.sleep(1500);
    await load(200);
    await waiting;
    await load(100);
    series.push(await memory());
  }
  service.kill();
  rmSync(probeFile, { force: true });
  console.log(`${variant.padEnd(7)} heap after GC (MiB): ${series.map((m) => m.heapMiB.toFixed(3)).join(" → ")}; RSS (MiB): ${series.map((m) => m.rssMiB).join(" → ")}`);
  return series;
}

const report = { none: await run("none"), attach: await run("attach") };
pg.stop();
rmSync(out, { force: true });
console.log(JSON.stringify({ rounds, express, load: (await Bun.file("/proc/loadavg").text()).trim(), report }));
process.exit(0);
