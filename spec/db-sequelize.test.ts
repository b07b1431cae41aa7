/**
 * Sequelize's pool waits (src/agent/node/db/sequelize.ts): Sequelize 6 takes every connection
 * from its own pool (sequelize-pool), not pg-pool, so an exhausted pool was invisible: queries
 * simply took longer. Each ask is a db_pool_wait of the driver's system (pg), naming the
 * configured database and server, in the request that asked, ended when the pool hands the
 * connection over or fails it (a timeout). Real Sequelize and pg (toolchain set "sequelize")
 * against the PostgreSQL harness, on Node 20 and Bun.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { requestTargetOf } from "./db-checks";
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
// transaction holds it longer than the pool's acquire timeout, which is far above what /load
// needs (at 300 ms, loaded machines timed out /load's third query traced: spec/db-knex.test.ts).
const app = `
const http = require("node:http");
const { Sequelize } = require("sequelize");
const sequelize = new Sequelize("postgres", "postgres", "sq-pw-4711", {
  host: "127.0.0.1", port: Number(process.env.PG_PORT), dialect: "postgres", logging: false, databaseVersion: "16.0.0",
  pool: { min: 0, max: 1, acquire: 1500 },
});
const one = async (sql) => (await sequelize.query(sql, { type: "SELECT", plain: true }));
const routes = {
  "/load": async () => (await Promise.all([1, 2, 3].map((i) => one("select pg_sleep(0.03), " + i + "::int as i")))).map((r) => r.i).join(","),
  "/tx": async () => sequelize.transaction(async (transaction) => (await sequelize.query("select 2 as n", { type: "SELECT", plain: true, transaction })).n),
  "/timeout": async () => {
    const held = sequelize.transaction(async (transaction) => sequelize.query("select pg_sleep(2.5)", { transaction }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const late = await one("select 3 as n").then(() => "no timeout", (error) => error.name);
    await held;
    return late;
  },
};
const server = http.createServer(async (req, res) => res.end(String(await routes[req.url]())));
server.listen(0, "127.0.0.1", async () => {
  const base = "http://127.0.0.1:" + server.address().port;
  for (const path of Object.keys(routes)) console.log(path, await (await fetch(base + path)).text());
  server.close();
  await sequelize.close();
});
`;

const runtimes: [string, string][] = [
  ["node 20", "node"],
  ["bun", process.execPath],
];

for (const [name, runtime] of runtimes) {
  test(`${name}: Sequelize's pool waits, each in its request, naming its database; a wait that timed out failed`, async () => {
    const nodeModules = await installTools("sequelize");
    const dir = writeProject(join(scratchDir(), `sequelize-${name.replace(/\W/g, "")}`), nodeModules, { "app.js": app });
    const argv = [runtime, join(dir, "app.js")];
    const env = { PG_PORT: String(server.port) };
    const plain = await runUntraced(argv, { cwd: dir, env });
    const run = await runTraced(argv, { cwd: dir, env });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: plain.stdout, stderr: plain.stderr });
    expect(run.stdout.split("\n").filter((line) => line.startsWith("/"))).toEqual(["/load 1,2,3", "/tx 2", "/timeout SequelizeConnectionAcquireTimeoutError"]);
    const target = requestTargetOf(run.events);
    const waits = ofKind(run.events, "db_pool_wait");
    expect(waits.map((e) => [target(e), e.fields.system, e.fields.failed, e.fields.database, e.fields.serverAddress, e.fields.serverPort, e.fields.user])).toEqual([
      ...[1, 2, 3, 4, 5].map((i) => [i <= 3 ? "/load" : i === 4 ? "/tx" : "/timeout", "pg", false, "postgres", "127.0.0.1", server.port, "postgres"]),
      ["/timeout", "pg", true, "postgres", "127.0.0.1", server.port, "postgres"],
    ]);
    // The first ask found no connection; the last two of /load waited for a pg_sleep each.
    expect(waits.map((e) => [e.fields.open, e.fields.idle])).toEqual([[0, 0], [1, 0], [1, 0], [1, 1], [1, 1], [1, 0]]);
    expect(waits.slice(1, 3).every((e) => (e.fields.durationNs as number) > 20e6)).toBe(true);
    expect(waits[5]!.fields.errorMessage).toBe("Operation timeout");
    // The waits and pg's queries name one connection (pg's Client resolved the same four).
    expect(new Set([...waits, ...ofKind(run.events, "db_query")].map((e) => e.fields.connection)).size).toBe(1);
    // Sequelize's own queries on its new connection first (its session settings, the server's types).
    const queries = ofKind(run.events, "db_query").map((e) => [target(e), e.fields.text]);
    expect(queries.slice(0, 2).map(([at, text]) => [at, String(text).slice(0, 28)])).toEqual([
      ["/load", "SET client_min_messages TO w"],
      ["/load", "WITH ranges AS ( SELECT pg_r"],
    ]);
    expect(queries.slice(2)).toEqual([
      ["/load", "select pg_sleep(?), ?::int as i"],
      ["/load", "select pg_sleep(?), ?::int as i"],
      ["/load", "select pg_sleep(?), ?::int as i"],
      ["/tx", "START TRANSACTION;"],
      ["/tx", "select ? as n"],
      ["/tx", "COMMIT;"],
      ["/timeout", "START TRANSACTION;"],
      ["/timeout", "select pg_sleep(?)"],
      ["/timeout", "COMMIT;"],
    ]);
    expect(readFileSync(run.out).toString("latin1")).not.toContain("sq-pw-4711");
  }, 120_000);
}
