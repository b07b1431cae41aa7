/**
 * knex's pool waits (src/agent/node/db/knex.ts): knex 3 takes every connection from its own
 * pool (tarn), not pg-pool, so an exhausted pool was invisible: queries simply took longer.
 * Each ask is a db_pool_wait of the driver's system, in the request that asked, ended when
 * tarn hands the connection over or fails it (a timeout). Real knex and pg (toolchain set
 * "knex") against the PostgreSQL harness, on Node 20 and Bun.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { expectAllEnded, requestTargetOf } from "./db-checks";
import { startPostgres, type Postgres } from "./postgres-harness";
import { installTools, writeProject } from "./toolchain-harness";

let server: Postgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => {
  server?.stop();
  cleanup();
});

// One connection: /load's three queries wait for it in turn; /timeout's query waits while a
// transaction holds it longer than acquireConnectionTimeout. The timeout is far above what /load
// needs (its first connect and three 30 ms queries): at 300 ms a CI run under load timed out
// /load's third query, traced.
const app = `
const http = require("node:http");
const knex = require("knex")({ client: "pg", connection: process.env.PG_URL, pool: { min: 0, max: 1 }, acquireConnectionTimeout: 1500 });
const routes = {
  "/load": async () => (await Promise.all([1, 2, 3].map((i) => knex.raw("select pg_sleep(0.03), ?::int as i", [i])))).map((r) => r.rows[0].i).join(","),
  "/tx": async () => knex.transaction(async (trx) => (await trx.raw("select 2 as n")).rows[0].n),
  "/timeout": async () => {
    const held = knex.transaction(async (trx) => trx.raw("select pg_sleep(2.5)"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const late = await knex.raw("select 3").then(() => "no timeout", (error) => error.name);
    await held;
    return late;
  },
};
const server = http.createServer(async (req, res) => res.end(String(await routes[req.url]())));
server.listen(0, "127.0.0.1", async () => {
  const base = "http://127.0.0.1:" + server.address().port;
  for (const path of Object.keys(routes)) console.log(path, await (await fetch(base + path)).text());
  server.close();
  await knex.destroy();
});
`;

const runtimes: [string, string][] = [
  ["node 20", "node"],
  ["bun", process.execPath],
];

for (const [name, runtime] of runtimes) {
  test(`${name}: knex's pool waits, each in its request; a wait that timed out failed`, async () => {
    const nodeModules = await installTools("knex");
    const dir = writeProject(join(scratchDir(), `knex-${name.replace(/\W/g, "")}`), nodeModules, { "app.js": app });
    const argv = [runtime, join(dir, "app.js")];
    const env = { PG_URL: server.url };
    const plain = await runUntraced(argv, { cwd: dir, env });
    const run = await runTraced(argv, { cwd: dir, env });
    // knex logs the timeout itself ("Acquire connection error: ...", with tarn's stack): the same untraced.
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: plain.stdout, stderr: plain.stderr });
    expect(run.stdout.split("\n").filter((line) => line.startsWith("/"))).toEqual(["/load 1,2,3", "/tx 2", "/timeout KnexTimeoutError"]);
    const target = requestTargetOf(run.events);
    const waits = ofKind(run.events, "db_pool_wait");
    expect(waits.map((e) => [target(e), e.fields.system, e.fields.failed])).toEqual([
      ["/load", "pg", false],
      ["/load", "pg", false],
      ["/load", "pg", false],
      ["/tx", "pg", false],
      ["/timeout", "pg", false],
      ["/timeout", "pg", true],
    ]);
    // The first ask found no connection (one being created after it); the last two of /load waited for a pg_sleep each.
    expect(waits.map((e) => [e.fields.open, e.fields.idle])).toEqual([[0, 0], [1, 0], [1, 0], [1, 1], [1, 1], [1, 0]]);
    expect(waits.slice(1, 3).every((e) => (e.fields.durationNs as number) > 20e6)).toBe(true);
    expect(waits[5]!.fields.errorMessage).toBeString();
    // Every query is still the driver's, in its request.
    expect(ofKind(run.events, "db_query").map((e) => [target(e), e.fields.text])).toEqual([
      ["/load", "select version();"],
      ["/load", "select pg_sleep(?), $1::int as i"],
      ["/load", "select pg_sleep(?), $1::int as i"],
      ["/load", "select pg_sleep(?), $1::int as i"],
      ["/tx", "BEGIN;"],
      ["/tx", "select ? as n"],
      ["/tx", "COMMIT;"],
      ["/timeout", "BEGIN;"],
      ["/timeout", "select pg_sleep(?)"],
      ["/timeout", "COMMIT;"],
    ]);
    expectAllEnded(run.events);
  }, 120_000);
}
