/** The test PostgreSQL server: started as a non-root user in a temporary directory, reachable on loopback and its socket, removed by stop(). */
import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { startPostgres, type Postgres } from "./postgres-harness";

let server: Postgres | undefined;
afterAll(() => server?.stop());

test("a fresh server runs as a non-root user, answers on 127.0.0.1 and its socket, and stop() removes it", async () => {
  server = await startPostgres();
  expect(server.psql("select 40 + 2")).toBe("42\n");
  const dataDir = server.psql("show data_directory").trim();
  const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  const owner = statSync(`/proc/${pid}`).uid;
  if (process.getuid?.() === 0) expect(owner).not.toBe(0);
  expect(existsSync(join(server.socketDir, `.s.PGSQL.${server.port}`))).toBe(true);
  const root = join(dataDir, "..");
  server.stop();
  server = undefined;
  expect(existsSync(root)).toBe(false);
  // Gone, or a zombie until this machine's init reaps it (pg_ctl's child is reparented).
  const state = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").charAt(0) : "gone";
  expect(["gone", "Z", "X"]).toContain(state);
});
