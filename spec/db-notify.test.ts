/**
 * PostgreSQL's LISTEN/NOTIFY (pg's 'notification'): each notification a client receives is a
 * message_receive on a channel of kind pg_notify (shared/pubsub.ts), with the channel's name,
 * the payload's preview and size and the notifying backend's pid, never paired (the NOTIFY is a
 * query). Against the real server (postgres-harness.ts), under Node and Bun.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cleanup, type Traced } from "./agent-harness";
import { runCli } from "./harness";
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
