/** The test MariaDB server: started as a non-root user in a temporary directory, reachable on loopback and its socket, removed by stop(). */
import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { startMySql, type MySql } from "./mysql-harness";

let server: MySql | undefined;
afterAll(() => server?.stop());

test("a fresh server runs as a non-root user, answers on 127.0.0.1 and its socket, and stop() removes it", async () => {
  const began = performance.now();
  server = await startMySql();
  const took = performance.now() - began;
  expect(took).toBeLessThan(20_000);
  expect(server.sql("select 40 + 2")).toBe("42\n");
  const dataDir = server.sql("select @@datadir").trim();
  const pid = Number(readFileSync(join(dataDir, "..", "mysqld.pid"), "utf8").trim());
  if (process.getuid?.() === 0) expect(statSync(`/proc/${pid}`).uid).not.toBe(0);
  expect(existsSync(server.socketPath)).toBe(true);
  expect(server.sql("select @@port").trim()).toBe(String(server.port));
  const root = join(dataDir, "..");
  server.stop();
  server = undefined;
  expect(existsSync(root)).toBe(false);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const state = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").charAt(0) : "gone";
  expect(["gone", "Z", "X"]).toContain(state);
});

test("a test process killed without stop(): the watchdog kills the server and removes its directory", async () => {
  const script = `import { startMySql } from ${JSON.stringify(join(import.meta.dir, "mysql-harness.ts"))};
const s = await startMySql();
console.log(JSON.stringify({ dir: s.sql("select @@datadir").trim(), pid: Number(require("node:fs").readFileSync(s.socketPath.replace(/mysqld\\.sock$/, "mysqld.pid"), "utf8")) }));
setInterval(() => {}, 1000);`;
  const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`no line: ${await new Response(child.stderr).text()}`);
    text += new TextDecoder().decode(value);
  }
  const { dir, pid } = JSON.parse(text) as { dir: string; pid: number };
  const root = join(dir, "..");
  expect(existsSync(root)).toBe(true);
  child.kill("SIGKILL");
  await child.exited;
  const deadline = Date.now() + 15_000;
  const alive = () => existsSync(`/proc/${pid}/stat`) && !["Z", "X"].includes(readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").charAt(0));
  while ((existsSync(root) || alive()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  expect([existsSync(root), alive()]).toEqual([false, false]);
});
