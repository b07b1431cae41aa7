/**
 * `scope query` and `scope top` on a trace recorded by a real `scope run` of
 * fixtures/query/app.cjs (calls with busy waits of known length, an HTTP server whose
 * requests make known numbers of better-sqlite3 queries, messages to a worker): known
 * counts and joins, output formats, bad SQL, the cache, damaged and unfinished traces.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { chmodSync, chownSync, copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EventKind, Offset, RECORD_SIZE } from "../src/core/layout";
import { TraceWriter } from "../src/core/trace-file";
import { loadTrace } from "../src/dump/load";
import { cleanup, fixtures, runTraced, scratchDir, type Traced } from "./agent-harness";
import { encodeRecords, runCli, runCliWithCollectorStopped } from "./harness";
import { openTrace, threadCalls, threadEvents, threads } from "../src/query";

let traced: Traced;

beforeAll(async () => {
  traced = await runTraced(["node", "query/app.cjs"], { scopeArgs: ["--level", "full", "--include", "query/app.cjs", "--include", "query/echo-worker.cjs"] });
  if (traced.status !== 0) throw new Error(`fixture failed: ${traced.stderr}`);
  const [worker] = await rows("SELECT tid FROM threads WHERE main = 0");
  workerTid = worker!.tid as number;
}, 120_000);
afterAll(() => cleanup());

let workerTid: number;

/** The line of `function name(` in the fixture (1-based). */
function lineOf(name: string): number {
  return readFileSync(join(fixtures, "query/app.cjs"), "utf8").split("\n").findIndex((line) => line.startsWith(`function ${name}(`)) + 1;
}

/** JSON lines, none for an empty output. */
function jsonLines(text: string): Record<string, any>[] {
  return text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

async function rows(sql: string, path = traced.out): Promise<Record<string, unknown>[]> {
  const result = await runCli(["query", "--json", path, sql]);
  if (result.exitCode !== 0) throw new Error(`scope query failed (${result.exitCode}): ${result.stderr}`);
  return result.stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

describe("scope query on a recorded trace", () => {
  test("the program ran as untraced", () => {
    expect(traced.stdout).toBe("1,3,6 2,4,6,8,10\n");
  });

  test("events: every record but string fragments, as the decoder reads them", async () => {
    const trace = loadTrace(traced.out);
    const byKind = new Map<string, number>();
    for (const record of trace.records) {
      if (record.kind === "string") continue;
      byKind.set(String(record.kind), (byKind.get(String(record.kind)) ?? 0) + 1);
    }
    const counted = await rows("SELECT kind, count(*) AS n FROM events GROUP BY kind");
    expect(Object.fromEntries(counted.map((row) => [row.kind, row.n]))).toEqual(Object.fromEntries(byKind));
    // Field for field (calls and their ends are rebuilt from call_rows).
    const anchor = trace.header.monotonicAnchorNs;
    const key = (r: { kind: unknown; ts: unknown; flags: unknown; pid: unknown; tid: unknown; a: unknown; b: unknown; c: unknown; d: unknown; e: unknown }) =>
      [r.kind, r.ts, r.flags, r.pid, r.tid, r.a, r.b, r.c, r.d, r.e].map(String).join("/");
    const recorded = trace.records
      .filter((record) => record.kind !== "string")
      // u64 payload fields are stored as the signed 64-bit integer of the same bits.
      .map((r) => key({ ...r, ts: BigInt(r.timestampNs) - anchor, ...Object.fromEntries(["a", "b", "c", "d", "e"].map((f) => [f, BigInt.asIntN(64, BigInt(r[f as "a"]))])) }))
      .sort();
    const loaded = (await rows("SELECT kind, ts_ns AS ts, flags, pid, tid, a, b, c, d, e FROM events")).map((r) => key(r as never)).sort();
    expect(loaded).toEqual(recorded);
    const ids = await rows("SELECT count(*) AS n, count(DISTINCT id) AS distinct_ids, min(id) AS first, max(id) AS last FROM events");
    expect(ids).toEqual([{ n: recorded.length, distinct_ids: recorded.length, first: 1, last: recorded.length }]);
    // Strings resolve: the main thread's trace_start names the runtime.
    const [start] = await rows("SELECT s.text FROM events e JOIN strings s ON s.pid = e.pid AND s.tid = e.tid AND s.id = e.c WHERE e.kind = 'trace_start' AND e.tid = 0");
    expect(String(start!.text)).toStartWith("node v");
  });

  test("processes and threads", async () => {
    const processes = await rows("SELECT pid, runtime, exit_code, exit_reason, collector FROM processes ORDER BY collector");
    expect(processes.map((p) => [p.exit_code, p.exit_reason, p.collector])).toEqual([
      [0, "normal", 0],
      [null, null, 1],
    ]);
    const threads = await rows("SELECT tid, main, entry, parent_tid FROM threads WHERE pid = (SELECT pid FROM processes WHERE collector = 0) ORDER BY tid");
    expect(threads.length).toBe(2);
    expect([threads[0]!.tid, threads[0]!.main]).toEqual([0, 1]);
    expect([threads[1]!.main, threads[1]!.parent_tid, String(threads[1]!.entry).endsWith("echo-worker.cjs")]).toEqual([0, 0, true]);
  });

  test("calls: counts, outcome, parent, depth and self time", async () => {
    const counts = await rows("SELECT name, count(*) AS n, count(end_ns) AS ended FROM calls WHERE name IN ('outer', 'inner', 'work', 'handle', 'onEcho', 'onPing') GROUP BY name ORDER BY name");
    expect(counts.map((row) => [row.name, row.n, row.ended])).toEqual([
      ["handle", 3, 3],
      ["inner", 6, 6],
      ["onEcho", 5, 5],
      ["onPing", 5, 5],
      ["outer", 3, 3],
      ["work", 3, 3],
    ]);
    // Each outer has exactly its two inner calls as children, one level deeper.
    const outers = await rows(
      `SELECT o.id, o.depth, o.duration_ns, o.self_ns, o.outcome, o.value,
         (SELECT count(*) FROM calls i WHERE i.parent = o.id) AS children,
         (SELECT sum(i.duration_ns) FROM calls i WHERE i.parent = o.id) AS children_ns,
         (SELECT group_concat(DISTINCT i.name) FROM calls i WHERE i.parent = o.id) AS child_names,
         (SELECT min(i.depth) FROM calls i WHERE i.parent = o.id) AS child_depth
       FROM calls o WHERE o.name = 'outer'`,
    );
    expect(outers.length).toBe(3);
    for (const outer of outers) {
      expect([outer.children, outer.child_names, outer.child_depth, outer.outcome, outer.value]).toEqual([2, "inner", (outer.depth as number) + 1, "return", "2"]);
      // Self time is what the children did not take, exactly; the busy waits bound it from below.
      expect(outer.self_ns).toBe((outer.duration_ns as number) - (outer.children_ns as number));
      expect(outer.self_ns as number).toBeGreaterThanOrEqual(2_000_000);
    }
    const inners = await rows("SELECT self_ns, duration_ns FROM calls WHERE name = 'inner'");
    for (const inner of inners) {
      expect(inner.self_ns).toBe(inner.duration_ns); // spin() is not instrumented: no children
      expect(inner.self_ns as number).toBeGreaterThanOrEqual(3_000_000);
    }
    // An async call has no self time (its duration includes its awaits) and is nobody's parent.
    const [main] = await rows("SELECT self_ns, outcome, (SELECT count(*) FROM calls c WHERE c.parent = m.id) AS children FROM calls m WHERE name = 'main'");
    expect(main).toEqual({ self_ns: null, outcome: "resolve", children: 0 });
  });

  test("previews: a call's argument and value texts are the strings its events name", async () => {
    // Previews are stored in their call's row (not as string rows): `strings` still lists each once, under its id.
    const [args] = await rows(
      `SELECT count(*) AS n, sum(s.text = c.args) AS same FROM calls c JOIN events e ON e.id = c.id
         JOIN strings s ON s.pid = e.pid AND s.tid = e.tid AND s.id = e.c WHERE e.c != 0`,
    );
    expect(args!.n as number).toBeGreaterThan(20);
    expect(args!.same).toBe(args!.n);
    expect(await rows("SELECT count(*) AS n FROM calls WHERE args IS NOT NULL")).toEqual([{ n: args!.n }]);
    const [values] = await rows(
      `SELECT count(*) AS n, sum(s.text = c.value) AS same FROM calls c JOIN events e ON e.id = c.end_event
         JOIN strings s ON s.pid = e.pid AND s.tid = e.tid AND s.id = e.c WHERE c.outcome IN ('return', 'resolve') AND e.c != 0`,
    );
    expect(values!.n as number).toBeGreaterThan(20);
    expect(values!.same).toBe(values!.n);
    expect(await rows("SELECT count(*) AS n FROM (SELECT pid, tid, id FROM strings GROUP BY pid, tid, id HAVING count(*) > 1)")).toEqual([{ n: 0 }]);
  });

  test("requests with their queries, and the calls that served them", async () => {
    const requests = await rows(
      `SELECT r.kind, r.method, r.target, r.status, r.duration_ns > 0 AS timed,
         (SELECT count(*) FROM queries q WHERE q.request = r.id) AS queries,
         (SELECT group_concat(q.text, ' | ') FROM queries q WHERE q.request = r.id AND q.text LIKE 'SELECT%') AS selects
       FROM requests r ORDER BY r.start_ns`,
    );
    expect(requests.filter((r) => r.kind === "server").map((r) => [r.method, r.target, r.status, r.timed, r.queries, r.selects])).toEqual([
      ["GET", "/r/1", 200, 1, 2, "SELECT count(*) AS n FROM t"],
      ["GET", "/r/2", 200, 1, 3, "SELECT count(*) AS n FROM t"],
      ["GET", "/r/3", 200, 1, 4, "SELECT count(*) AS n FROM t"],
    ]);
    expect(requests.filter((r) => r.kind === "client").map((r) => [r.method, String(r.target).replace(/:\d+/, ":PORT"), r.status, r.queries])).toEqual([
      ["GET", "http://127.0.0.1:PORT/r/1", 200, 0],
      ["GET", "http://127.0.0.1:PORT/r/2", 200, 0],
      ["GET", "http://127.0.0.1:PORT/r/3", 200, 0],
    ]);
    // The CREATE TABLE ran outside any request.
    expect(await rows("SELECT text, request FROM queries WHERE request IS NULL")).toEqual([{ text: "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)", request: null }]);
    // work(n) ran in the request for /r/n, called by handle().
    const work = await rows("SELECT c.args, r.target, p.name AS parent FROM calls c JOIN requests r ON r.id = c.request JOIN calls p ON p.id = c.parent WHERE c.name = 'work' ORDER BY c.start_ns");
    expect(work).toEqual([1, 2, 3].map((n) => ({ args: `[${n}]`, target: `/r/${n}`, parent: "handle" })));
    // A query's time lies within its request's.
    const outside = await rows("SELECT count(*) AS n FROM queries q JOIN requests r ON r.id = q.request WHERE q.start_ns < r.start_ns OR q.end_ns > r.end_ns");
    expect(outside).toEqual([{ n: 0 }]);
  });

  test("messages: each send joined to its receive, with latency and handler", async () => {
    const messages = await rows(
      `SELECT m.channel, m.direction, m.ordinal, m.send_tid, m.receive_tid, m.latency_ns, m.receive_ns - m.send_ns AS gap, m.preview, h.name AS handler
       FROM messages m LEFT JOIN calls h ON h.id = m.handler ORDER BY m.direction, m.ordinal`,
    );
    expect(messages.map((m) => [m.channel, m.direction, m.ordinal, m.send_tid, m.receive_tid, m.preview, m.handler])).toEqual([
      ...[1, 2, 3, 4, 5].map((n, i) => ["worker", 0, i, 0, workerTid, String(n), "onPing"]),
      ...[2, 4, 6, 8, 10].map((n, i) => ["worker", 1, i, workerTid, 0, String(n), "onEcho"]),
    ]);
    for (const m of messages) {
      expect(m.latency_ns).toBe(m.gap);
      expect(m.latency_ns as number).toBeGreaterThan(0);
    }
  });

  test("spans: one time-range view over calls, requests, queries, messages, threads", async () => {
    const spans = await rows("SELECT type, count(*) AS n FROM spans GROUP BY type ORDER BY type");
    const calls = await rows("SELECT count(*) AS n FROM calls");
    expect(Object.fromEntries(spans.map((s) => [s.type, s.n]))).toEqual({ call: calls[0]!.n, message: 10, query: 10, request: 6, thread: 3 });
  });

  test("output: table, --csv, --json", async () => {
    const sql = "SELECT name, count(*) AS n FROM calls WHERE name IN ('inner', 'outer') GROUP BY name ORDER BY name";
    const table = await runCli(["query", traced.out, sql]);
    expect(table.exitCode, table.stderr).toBe(0);
    expect(table.stdout.split("\n").map((line) => line.trimEnd())).toEqual(["name   n", "─────  ─", "inner  6", "outer  3", "(2 rows)", ""]);
    const csv = await runCli(["query", "--csv", traced.out, `SELECT 'a,"b"' AS text, NULL AS empty, 1.5 AS x`]);
    expect(csv.stdout).toBe('text,empty,x\n"a,""b""",,1.5\n');
    const json = await runCli(["query", "--json", traced.out, sql]);
    expect(json.stdout).toBe('{"name":"inner","n":6}\n{"name":"outer","n":3}\n');
    const both = await runCli(["query", "--csv", "--json", traced.out, sql]);
    expect([both.exitCode, both.stderr]).toEqual([1, "scope: choose one of --csv, --json\n"]);
    // 64-bit integers (u64 payload fields) exact: digits in the table and CSV, a string in JSON past 2^53.
    const wide = "SELECT 9223372036854775807 AS big, -9007199254740993 AS low, 42 AS small";
    expect((await runCli(["query", traced.out, wide])).stdout.split("\n")[2]).toBe("9223372036854775807  -9007199254740993     42");
    expect((await runCli(["query", "--csv", traced.out, wide])).stdout).toBe("big,low,small\n9223372036854775807,-9007199254740993,42\n");
    expect((await runCli(["query", "--json", traced.out, wide])).stdout).toBe('{"big":"9223372036854775807","low":"-9007199254740993","small":42}\n');
    // Without SQL: the tables and their columns.
    const schema = await runCli(["query", "--json", traced.out]);
    const relations = schema.stdout.trim().split("\n").map((line) => JSON.parse(line).relation);
    expect(relations).toEqual(["processes", "threads", "events", "functions", "calls", "messages", "connections", "requests", "steps", "queries", "pool_waits", "gc", "loop", "memory", "spans", "strings", "kinds", "meta"]);
  });

  test("bad SQL: the engine's message in one line, exit 1; the database cannot be changed", async () => {
    const bad = await runCli(["query", traced.out, "SELEC name FROM calls"]);
    expect([bad.exitCode, bad.stdout, bad.stderr]).toEqual([1, "", 'scope: near "SELEC": syntax error\n']);
    const missing = await runCli(["query", traced.out, "SELECT * FROM nope"]);
    expect([missing.exitCode, missing.stderr]).toEqual([1, "scope: no such table: nope\n"]);
    const write = await runCli(["query", traced.out, "DELETE FROM call_rows"]);
    expect([write.exitCode, write.stderr]).toEqual([1, "scope: attempt to write a readonly database\n"]);
    // SQLite prepares the first statement only: what follows it is not dropped in silence.
    const two = await runCli(["query", traced.out, "SELECT 1 AS n; SELECT 2"]);
    expect([two.exitCode, two.stdout, two.stderr]).toEqual([1, "", "scope: one SQL statement at a time; this follows the first: SELECT 2\n"]);
    const junk = await runCli(["query", traced.out, "SELECT 1 AS n; garbage"]);
    expect([junk.exitCode, junk.stdout, junk.stderr]).toEqual([1, "", 'scope: near "garbage": syntax error\n']);
    expect(await rows("SELECT 1 AS n;; -- the end")).toEqual([{ n: 1 }]);
    expect(await rows("SELECT count(*) AS n FROM calls WHERE name = 'inner'")).toEqual([{ n: 6 }]);
    // Comments and no statement: said so, not Bun's bare "Invalid SQL statement".
    const none = await runCli(["query", traced.out, "-- only a comment\n;"]);
    expect([none.exitCode, none.stdout, none.stderr]).toEqual([1, "", "scope: no SQL statement in the text given (only comments or semicolons)\n"]);
    // A statement with parameters (never bound: NULL) followed by another is refused as any second statement.
    const bound = await runCli(["query", traced.out, "SELECT ?1 AS n; SELECT 2"]);
    expect([bound.exitCode, bound.stdout, bound.stderr]).toEqual([1, "", "scope: one SQL statement at a time; this follows the first: SELECT 2\n"]);
  });

  test("SQL that starts with a comment is SQL, wherever the options are; after -- any SQL is; else one line saying so", async () => {
    const commented = "-- how many calls\nSELECT count(*) AS n FROM calls WHERE name = 'inner'";
    expect(await rows(commented)).toEqual([{ n: 6 }]);
    for (const argv of [["query", traced.out, commented, "--json"], ["query", "--json", traced.out, "--", commented], ["query", traced.out, "--json", "--", "-- after dashes\nSELECT 6 AS n"]]) {
      const result = await runCli(argv);
      expect([argv, result.exitCode, result.stdout, result.stderr]).toEqual([argv, 0, '{"n":6}\n', ""]);
    }
    const dash = await runCli(["query", traced.out, "-1"]);
    expect([dash.exitCode, dash.stdout, dash.stderr]).toEqual([1, "", 'scope: Invalid option name ("-1"); SQL that starts with "-" goes after --: scope query trace.bin -- "<SQL>"\n']);
  });
});

describe("a trace at the calls level (entries only)", () => {
  test("every call a row without an end, a leaf; scope top counts them", async () => {
    const calls = await runTraced(["node", "query/app.cjs"], { scopeArgs: ["--level", "calls", "--include", "query/app.cjs", "--include", "query/echo-worker.cjs"] });
    expect(calls.status, calls.stderr).toBe(0);
    const counted = await rows("SELECT name, count(*) AS n, count(end_ns) AS ended, max(depth) AS depth, count(parent) AS parents FROM calls WHERE name IN ('inner', 'outer', 'work') GROUP BY name ORDER BY name", calls.out);
    expect(counted).toEqual([
      { name: "inner", n: 6, ended: 0, depth: 0, parents: 0 },
      { name: "outer", n: 3, ended: 0, depth: 0, parents: 0 },
      { name: "work", n: 3, ended: 0, depth: 0, parents: 0 },
    ]);
    const top = jsonLines((await runCli(["top", "--json", "--name", "inner", calls.out])).stdout);
    expect(top.filter((l) => l.section === "calls").map((l) => [l.function, l.calls, l.total_ms, l.self_ms])).toEqual([["inner", 6, null, null]]);
  }, 120_000);
});

describe("the API (src/query/index.ts)", () => {
  test("windows of one thread: events by time, calls overlapping the window", async () => {
    const trace = openTrace(traced.out);
    try {
      const main = threads(trace).find((t) => t.main === 1 && t.tid === 0 && t.events > 10)!;
      const [outer] = trace.db.query("SELECT id, start_ns, end_ns FROM calls WHERE name = 'outer' ORDER BY start_ns LIMIT 1").all() as { id: number; start_ns: number; end_ns: number }[];
      // A window in the middle of the first outer call: the async main and outer (started before it) and
      // the inner calls in it; main is nobody's parent (async), so outer is at depth 0 too.
      const from = outer!.start_ns + 1;
      const to = outer!.end_ns - 1;
      const calls = threadCalls(trace, main.pid, main.tid, from, to);
      expect(calls.map((c) => [c.name, c.depth])).toEqual([["main", 0], ["outer", 0], ["inner", 1], ["inner", 1]]);
      const events = threadEvents(trace, main.pid, main.tid, from, to);
      expect(events.map((e) => e.kind)).toEqual(["function_call", "function_return", "function_call", "function_return"]);
      expect(events.every((e) => e.ts_ns >= from && e.ts_ns <= to)).toBe(true);
      expect(threadEvents(trace, 1, 12345, 0, Number.MAX_SAFE_INTEGER)).toEqual([]);
    } finally {
      trace.close();
    }
  });
});

describe("the cache", () => {
  test("a directory in the database's place: one line naming it and what to do, before any load; --no-cache still answers", async () => {
    const dir = join(scratchDir(), "cache-dir");
    mkdirSync(`${join(dir, "t.bin")}.sqlite`, { recursive: true });
    const path = join(dir, "t.bin");
    copyFileSync(traced.out, path);
    for (const argv of [["query", path, "SELECT 1 AS n"], ["top", path]]) {
      const result = await runCli(argv);
      expect([argv[0], result.exitCode, result.stdout, result.stderr]).toEqual([argv[0], 1, "", `scope: cannot keep the query database at ${path}.sqlite: it is a directory (EISDIR); move or remove that directory, or use --no-cache (loads into memory, keeps nothing)\n`]);
    }
    expect(readdirSync(dir).sort()).toEqual(["t.bin", "t.bin.sqlite"]);
    const memory = await runCli(["query", "--no-cache", "--json", path, "SELECT 1 AS n"]);
    expect([memory.exitCode, memory.stdout, memory.stderr]).toEqual([0, '{"n":1}\n', ""]);
  });

  test("kept next to the trace and reused; rebuilt when the trace changes or the schema version differs", async () => {
    const dir = join(scratchDir(), "cache");
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "t.bin");
    copyFileSync(traced.out, path);
    chmodSync(path, 0o600);
    expect(await rows("SELECT count(*) AS n FROM calls WHERE name = 'outer'", path)).toEqual([{ n: 3 }]);
    const first = statSync(`${path}.sqlite`);
    // It holds what the trace holds: no more readable than the trace (scope run's 0600).
    expect((first.mode & 0o777).toString(8)).toBe("600");
    expect(await rows("SELECT count(*) AS n FROM calls WHERE name = 'outer'", path)).toEqual([{ n: 3 }]);
    const second = statSync(`${path}.sqlite`);
    expect([second.ino, second.mtimeMs]).toEqual([first.ino, first.mtimeMs]);

    // Another trace at the same path: the database is rebuilt from it.
    const other = join(dir, "other.bin");
    const writer = TraceWriter.open(other, { host: "h", argv: ["x"] });
    writer.append(encodeRecords([{ kind: EventKind.trace_start, pid: 7, tid: 0, payload: [1, 0, 0, 0, 1] }]));
    writer.close({ written: 1, dropped: 0, overwritten: 0 });
    copyFileSync(other, path);
    expect(await rows("SELECT pid FROM processes", path)).toEqual([{ pid: 7 }]);
    const third = statSync(`${path}.sqlite`);
    expect(third.ino).not.toBe(second.ino);

    // A database of another schema version is not used.
    const stale = new Database(`${path}.sqlite`);
    stale.run("UPDATE meta SET value = 0 WHERE key = 'schema_version'");
    stale.run("DELETE FROM processes");
    stale.close();
    expect(await rows("SELECT pid FROM processes", path)).toEqual([{ pid: 7 }]);
    expect(statSync(`${path}.sqlite`).ino).not.toBe(third.ino);

    // A temporary left by a load that was killed (its process is gone) is removed by the next load.
    const gone = Bun.spawnSync(["true"]).pid;
    const leftover = `${path}.sqlite.${gone}.1.tmp`;
    writeFileSync(leftover, "half a database");
    copyFileSync(traced.out, path);
    expect(await rows("SELECT count(*) AS n FROM calls WHERE name = 'outer'", path)).toEqual([{ n: 3 }]);
    expect(() => statSync(leftover)).toThrow();

    // --no-cache keeps nothing.
    const fresh = join(dir, "fresh.bin");
    copyFileSync(other, fresh);
    const result = await runCli(["query", "--no-cache", "--json", fresh, "SELECT pid FROM processes"]);
    expect(result.stdout).toBe('{"pid":7}\n');
    expect(() => statSync(`${fresh}.sqlite`)).toThrow();
  });

  // Root can give a file away (chown), which is what another user's planted file looks like.
  test.skipIf(process.getuid?.() !== 0)("another user's trace.bin.sqlite beside the trace is not read (its rows could say anything): the private cache is used", async () => {
    const dir = join(scratchDir(), "planted");
    const cache = join(scratchDir(), "xdg-planted");
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "t.bin");
    copyFileSync(traced.out, path);
    // A database with this trace's identity (built by scope), its rows changed, owned by someone else.
    expect(await rows("SELECT count(*) AS n FROM calls WHERE name = 'outer'", path)).toEqual([{ n: 3 }]);
    const planted = new Database(`${path}.sqlite`);
    planted.run("DELETE FROM call_rows");
    planted.close();
    chownSync(`${path}.sqlite`, 65534, 65534);
    const result = await runCli(["query", "--json", path, "SELECT count(*) AS n FROM calls WHERE name = 'outer'"], { env: { XDG_CACHE_HOME: cache } });
    expect([result.exitCode, result.stdout, result.stderr]).toEqual([0, '{"n":3}\n', ""]);
    // Left as it was, and the answer kept in the private cache.
    expect(statSync(`${path}.sqlite`).uid).toBe(65534);
    expect(readdirSync(join(cache, "scope", "query")).filter((name) => name.endsWith(".sqlite"))).toHaveLength(1);
  });

  test.skipIf(process.getuid?.() === 0)("a trace in a read-only directory is cached in the private cache", async () => {
    const dir = join(scratchDir(), "readonly");
    const cache = join(scratchDir(), "xdg");
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "t.bin");
    copyFileSync(traced.out, path);
    chmodSync(dir, 0o555);
    try {
      const result = await runCli(["query", "--json", path, "SELECT count(*) AS n FROM calls WHERE name = 'inner'"], { env: { XDG_CACHE_HOME: cache } });
      expect(result.stdout).toBe('{"n":6}\n');
      expect(() => statSync(`${path}.sqlite`)).toThrow();
      expect(statSync(join(cache, "scope", "query")).isDirectory()).toBe(true);
    } finally {
      chmodSync(dir, 0o755);
    }
  });
});



/** The string records of text `text` (id `id` of pid/tid), its fragments in `order` (default in order), bytes past its end set to `junk`. */
function stringRecords(pid: number, tid: number, id: number, text: string, order?: number[], junk = 0): Uint8Array[] {
  const bytes = new TextEncoder().encode(text);
  const fragments = Math.max(1, Math.ceil(bytes.length / 32));
  return (order ?? [...Array(fragments).keys()]).map((fragment) => {
    const record = new Uint8Array(RECORD_SIZE).fill(junk, Offset.b);
    const view = new DataView(record.buffer);
    view.setUint16(Offset.kind, EventKind.string, true);
    view.setUint16(Offset.flags, fragment, true);
    view.setUint32(Offset.pid, pid, true);
    view.setUint32(Offset.tid, tid, true);
    view.setBigUint64(Offset.a, BigInt(id) | (BigInt(bytes.length) << 32n), true);
    record.set(bytes.subarray(fragment * 32, fragment * 32 + 32), Offset.b);
    return record;
  });
}

describe("a merged trace", () => {
  test("each input's collector is a collector (collector = 1), as in the inputs", async () => {
    const merged = join(scratchDir(), "merged.bin");
    const merge = await runCli(["merge", traced.out, traced.out, "--out", merged]);
    expect(merge.exitCode, merge.stderr).toBe(0);
    const [meta] = await rows("SELECT value FROM meta WHERE key = 'collector_pid'");
    const collector = Number(meta!.value);
    expect(await rows("SELECT pid FROM processes WHERE collector = 1 AND pid <> 0 ORDER BY pid", merged)).toEqual([{ pid: collector }, { pid: collector + 2 ** 22 }]);
    expect(await rows("SELECT count(*) AS n FROM processes WHERE collector = 0 AND runtime = 'scope'", merged)).toEqual([{ n: 0 }]);
  });
});

describe("strings from a written trace", () => {
  test("each string's text whatever its length, fragment order or repeats; a text written once per distinct value", async () => {
    const path = join(scratchDir(), "strings.bin");
    const writer = TraceWriter.open(path, { host: "h", argv: ["x"] });
    const long = "préviews répétées: ".repeat(4); // 88 bytes of UTF-8 (3 fragments)
    const exactly32 = "0123456789abcdef0123456789abcdef";
    const texts: [number, number, number, string, number[]?, number?][] = [
      [5, 0, 1, "abc", undefined, 0xff],
      [5, 0, 2, "abc"],
      [5, 0, 3, "abd", undefined, 0x41],
      [5, 0, 4, exactly32],
      [5, 0, 5, `${exactly32}!`],
      [5, 0, 6, long],
      [5, 0, 7, long, [2, 0, 1]],
      [5, 1, 1, long],
      [5, 1, 2, ""],
      [5, 1, 3, "x".repeat(100), [0, 3]],
    ];
    for (const [pid, tid, id, text, order, junk] of texts) for (const record of stringRecords(pid, tid, id, text, order, junk)) writer.append(record);
    writer.append(encodeRecords([{ kind: EventKind.trace_start, pid: 5, tid: 0, t: 1_000, payload: [1, 0, 0, 0, 1] }]));
    writer.close({ written: 1, dropped: 0, overwritten: 0 });
    const missing = `${"x".repeat(32)}\uFFFD${"x".repeat(4)}`;
    expect(await rows("SELECT tid, id, text FROM strings ORDER BY tid, id", path)).toEqual([
      { tid: 0, id: 1, text: "abc" },
      { tid: 0, id: 2, text: "abc" },
      { tid: 0, id: 3, text: "abd" },
      { tid: 0, id: 4, text: exactly32 },
      { tid: 0, id: 5, text: `${exactly32}!` },
      { tid: 0, id: 6, text: long },
      { tid: 0, id: 7, text: long },
      { tid: 1, id: 1, text: long },
      { tid: 1, id: 2, text: "" },
      { tid: 1, id: 3, text: missing },
    ]);
    // "abc" and the long text once each, whichever way their fragments came.
    expect(await rows("SELECT count(*) AS n, count(DISTINCT text) AS distinct_texts FROM texts", path)).toEqual([{ n: 7, distinct_texts: 7 }]);
  });
});

describe("gc, loop and memory (kinds 80..83) from a written trace", () => {
  test("GCs and long tasks at their start, loop and memory samples", async () => {
    const path = join(scratchDir(), "loop.bin");
    const writer = TraceWriter.open(path, { host: "h", argv: ["x"] });
    const origin = new Uint8Array(RECORD_SIZE);
    const text = new TextEncoder().encode("onTick");
    new DataView(origin.buffer).setUint16(Offset.kind, EventKind.string, true);
    new DataView(origin.buffer).setUint32(Offset.pid, 5, true);
    new DataView(origin.buffer).setBigUint64(Offset.a, 1n | (BigInt(text.length) << 32n), true);
    origin.set(text, Offset.b);
    writer.append(origin);
    writer.append(encodeRecords([
      { kind: EventKind.trace_start, pid: 5, tid: 0, t: 1_000, payload: [1, 0, 0, 0, 1] },
      // gc: a = duration, b = ago (start = t - ago), c = GcKind mark_compact, d/e = heap before/after
      { kind: EventKind.gc, pid: 5, tid: 0, t: 50_000, payload: [7_000, 20_000, 4, 900, 300] },
      // long_task: a = duration, b = ago, c = LongTaskKind timer, d = str origin, e = error bound
      { kind: EventKind.long_task, pid: 5, tid: 0, t: 90_000, payload: [60_000, 61_000, 1, 1, 0] },
      // loop_sample: delay min/p50/p99/max, utilisation ppm
      { kind: EventKind.loop_sample, pid: 5, tid: 0, t: 100_000, payload: [10, 20, 30, 40, 250_000] },
      { kind: EventKind.memory_sample, pid: 5, tid: 0, t: 100_001, payload: [1, 2, 3, 4, 5] },
    ]));
    writer.close({ written: 6, dropped: 0, overwritten: 0 });
    const header = loadTrace(path).header.monotonicAnchorNs;
    const at = (t: number) => t - Number(header);
    expect(await rows("SELECT gc_kind, start_ns, end_ns, duration_ns, heap_before_bytes, heap_after_bytes FROM gc", path)).toEqual([
      { gc_kind: "mark_compact", start_ns: at(30_000), end_ns: at(37_000), duration_ns: 7_000, heap_before_bytes: 900, heap_after_bytes: 300 },
    ]);
    expect(await rows("SELECT type, start_ns, duration_ns, task_kind, origin, delay_p99_ns, utilisation FROM loop ORDER BY id", path)).toEqual([
      { type: "long_task", start_ns: at(29_000), duration_ns: 60_000, task_kind: "timer", origin: "onTick", delay_p99_ns: null, utilisation: null },
      { type: "sample", start_ns: at(100_000), duration_ns: null, task_kind: null, origin: null, delay_p99_ns: 30, utilisation: 0.25 },
    ]);
    expect(await rows("SELECT heap_used_bytes, rss_bytes FROM memory", path)).toEqual([{ heap_used_bytes: 1, rss_bytes: 5 }]);
    expect(await rows("SELECT type, name FROM spans WHERE type IN ('gc', 'long_task') ORDER BY start_ns", path)).toEqual([
      { type: "long_task", name: "onTick" },
      { type: "gc", name: "mark_compact" },
    ]);
  });
});

describe("gc, loop and memory recorded by scope run --events +loop,+memory", () => {
  test("the long task at its start with its origin, the forced GC, a loop and a memory sample", async () => {
    const run = await runTraced(["node", "--expose-gc", "query/long-task.cjs"], { scopeArgs: ["--events", "+loop,+memory"] });
    expect(run.status, run.stderr).toBe(0);
    const [task] = await rows("SELECT type, task_kind, origin, duration_ns, start_ns, end_ns FROM loop WHERE type = 'long_task'", run.out);
    expect([task!.task_kind, task!.origin, (task!.duration_ns as number) >= 120_000_000, task!.end_ns]).toEqual(["timer", "onTick", true, (task!.start_ns as number) + (task!.duration_ns as number)]);
    const forced = await rows("SELECT gc_kind, duration_ns > 0 AS timed, start_ns > (SELECT start_ns FROM loop WHERE type = 'long_task') AS after FROM gc WHERE forced = 1", run.out);
    expect(forced.length).toBeGreaterThanOrEqual(1);
    expect(forced.every((gc) => gc.timed === 1 && gc.after === 1)).toBe(true);
    expect(forced.map((gc) => gc.gc_kind)).toContain("mark_compact");
    const samples = await rows("SELECT (SELECT count(*) FROM loop WHERE type = 'sample') AS loop, (SELECT count(*) FROM memory WHERE heap_used_bytes > 0 AND rss_bytes > 0) AS memory", run.out);
    expect((samples[0]!.loop as number) >= 1 && (samples[0]!.memory as number) >= 1).toBe(true);
  }, 120_000);
});

describe("damaged, unfinished and missing traces", () => {
  test("a truncated trace loads every valid record, says so in a line, exits 2", async () => {
    const path = join(scratchDir(), "truncated.bin");
    copyFileSync(traced.out, path);
    truncateSync(path, statSync(path).size - 300);
    const trace = loadTrace(path);
    expect(trace.error).not.toBeNull();
    const expected = trace.records.filter((record) => record.kind !== "string").length;
    expect(expected).toBeGreaterThan(0);
    const result = await runCli(["query", "--json", path, "SELECT count(*) AS n FROM events"]);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe(`{"n":${expected}}\n`);
    expect(result.stderr).toBe(`scope: ${path}: ${trace.error!.reason} at byte ${trace.error!.offset}; the ${expected} events before it were loaded\n`);
    // From the cache, the same.
    const again = await runCli(["query", "--json", path, "SELECT count(*) AS n FROM events"]);
    expect([again.exitCode, again.stdout, again.stderr]).toEqual([2, result.stdout, result.stderr]);
  });

  test("a trace still being written (no end chunk) loads what it holds and says so", async () => {
    const path = join(scratchDir(), "open.bin");
    const writer = TraceWriter.open(path, { host: "h", argv: ["x"] });
    writer.append(encodeRecords([
      { kind: EventKind.trace_start, pid: 9, tid: 0, payload: [1, 0, 0, 0, 1] },
      { kind: EventKind.thread_spawn, pid: 9, tid: 0, payload: [1, 0] },
    ]));
    writer.abandon();
    const result = await runCli(["query", "--json", path, "SELECT count(*) AS n FROM events"]);
    expect([result.exitCode, result.stdout], result.stderr).toEqual([0, '{"n":2}\n']);
    expect(result.stderr).toBe(`scope: ${path}: trace was not closed (no end chunk: still being written, or the scope that recorded it was killed, or its write failed where the file system could keep no room for the end: then scope run said so); all 2 events in it were loaded\n`);
  });

  test("a missing file or one that is not a trace: one line, exit 1", async () => {
    const missing = await runCli(["query", "/nonexistent/t.bin", "SELECT 1"]);
    expect([missing.exitCode, missing.stdout, missing.stderr]).toEqual([1, "", "scope: /nonexistent/t.bin: no such file\n"]);
    const garbage = join(scratchDir(), "garbage.bin");
    writeFileSync(garbage, "this is not a trace file at all, just some text that goes on for a while".repeat(10));
    const result = await runCli(["query", garbage, "SELECT 1"]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.split("\n")).toEqual([expect.stringMatching(/^scope: .*garbage\.bin: /), ""]);
    const top = await runCli(["top", garbage]);
    expect([top.exitCode, top.stderr]).toEqual([1, result.stderr]);
  });
});

describe("scope top", () => {
  test("functions by total and self time and by calls, slowest requests and queries, as --json", async () => {
    const result = await runCli(["top", "--json", "--limit", "50", traced.out]);
    expect(result.exitCode, result.stderr).toBe(0);
    const lines = result.stdout.trim().split("\n").map((line) => JSON.parse(line));
    const section = (name: string) => lines.filter((line) => line.section === name);
    // The figures agree with the calls table.
    const truth = await rows(
      "SELECT name, count(*) AS calls, round(sum(duration_ns) / 1e6, 3) AS total_ms, round(sum(self_ns) / 1e6, 3) AS self_ms FROM calls GROUP BY name, file, line",
    );
    const byName = (list: Record<string, unknown>[]) => Object.fromEntries(list.filter((r) => r.name !== "<anonymous>").map((r) => [r.name, [r.calls, r.total_ms, r.self_ms]]));
    expect(byName(section("calls").map((r) => ({ ...r, name: r.function })))).toEqual(byName(truth));
    for (const key of ["total", "self", "calls"]) {
      const column = key === "total" ? "total_ms" : key === "self" ? "self_ms" : "calls";
      const values = section(key).map((row) => row[column] as number);
      expect(values).toEqual([...values].sort((x, y) => y - x));
    }
    // inner: 6 calls of at least 3 ms of its own.
    const inner = section("self").find((row) => row.function === "inner")!;
    expect([inner.calls, inner.self_ms >= 18, String(inner.location).endsWith(`query/app.cjs:${lineOf("inner")}`)]).toEqual([6, true, true]);
    expect(section("self").some((row) => row.function === "main")).toBe(false); // async: no self time
    const requests = section("requests");
    expect(requests.length).toBe(6);
    expect(requests.map((r) => r.ms)).toEqual(requests.map((r) => r.ms).sort((x: number, y: number) => y - x));
    expect(requests.filter((r) => r.kind === "server").map((r) => [r.target, r.queries]).sort()).toEqual([["/r/1", 2], ["/r/2", 3], ["/r/3", 4]]);
    const queries = section("queries");
    expect(queries.length).toBe(10);
    expect(queries.map((q) => q.ms)).toEqual(queries.map((q) => q.ms).sort((x: number, y: number) => y - x));
  });

  test("--limit, --name, --tid filters; the terminal table", async () => {
    const limited = await runCli(["top", "--json", "--limit", "2", traced.out]);
    const lines = limited.stdout.trim().split("\n").map((line) => JSON.parse(line));
    expect(["total", "self", "calls", "requests", "queries"].map((key) => lines.filter((l) => l.section === key).length)).toEqual([2, 2, 2, 2, 2]);

    const named = await runCli(["top", "--json", "--name", "inn", traced.out]);
    const namedLines = named.stdout.trim().split("\n").map((line) => JSON.parse(line));
    expect([...new Set(namedLines.filter((l) => ["total", "self", "calls"].includes(l.section)).map((l) => l.function))]).toEqual(["inner"]);
    // A glob matches the whole route (else target): the server requests /r/1 and /r/2, not the client's URLs.
    const globbed = await runCli(["top", "--json", "--name", "/r/[12]", traced.out]);
    expect(jsonLines(globbed.stdout).filter((l) => l.section === "requests").map((l) => l.target).sort()).toEqual(["/r/1", "/r/2"]);
    const substring = await runCli(["top", "--json", "--name", "INSERT", traced.out]);
    const subLines = substring.stdout.trim().split("\n").map((line) => JSON.parse(line));
    expect(subLines.filter((l) => l.section === "queries").length).toBe(6);

    const worker = await runCli(["top", "--json", "--tid", String(workerTid), traced.out]);
    const workerFunctions = new Set(worker.stdout.trim().split("\n").map((line) => JSON.parse(line)).filter((l) => l.section === "calls").map((l) => l.function));
    expect([...workerFunctions]).toEqual(["onPing"]);

    const table = await runCli(["top", "--limit", "1", traced.out]);
    expect(table.exitCode, table.stderr).toBe(0);
    const titles = table.stdout.split("\n").filter((line) => /^[A-Z]/.test(line));
    expect(titles).toEqual(["Functions by total time", "Functions by self time", "Most-called functions", "Slowest requests", "Slowest queries"]);
    const bad = await runCli(["top", "--limit", "0", traced.out]);
    expect([bad.exitCode, bad.stderr]).toEqual([1, 'scope: --limit: expected a whole number of rows (1 or more), got "0"\n']);
    // Past 2^53 a number is no whole number SQLite takes ("datatype mismatch" before).
    const huge = await runCli(["top", "--limit", "99999999999999999999", traced.out]);
    expect([huge.exitCode, huge.stderr]).toEqual([1, 'scope: --limit: expected a whole number of rows (1 or more), got "99999999999999999999"\n']);
    const pid = await runCli(["top", "--pid", "99999999999999999999", traced.out]);
    expect([pid.exitCode, pid.stderr]).toEqual([1, 'scope: --pid: expected comma-separated whole numbers, got "99999999999999999999"\n']);
  });
});

describe("steps and routes of a framework (layout version 2: a route on its handler's start, steps ended by the request's end)", () => {
  test("the steps table and the requests' routes say what the events say", async () => {
    const web = await runTraced(["node", "web/express.cjs"], { env: { EXPRESS: "express4" } });
    expect(web.status, web.stderr).toBe(0);
    const starts = web.events.filter((event) => event.kind === "http_step_start");
    const request = (index: unknown) => web.events[index as number]!;
    // Every step ended (the model read the folded records), as the steps table says, with the same durations.
    expect(starts.length).toBeGreaterThan(20);
    const table = await rows("SELECT s.step, s.name, s.step_kind, s.route, s.end_ns - s.start_ns AS duration, s.failed, r.target FROM steps s JOIN requests r ON r.id = s.request ORDER BY s.start_ns, s.step", web.out);
    expect(table).toEqual(
      starts.map((event) => ({
        step: event.fields.step,
        name: event.fields.name,
        step_kind: event.fields.stepKind,
        route: event.fields.route ?? null,
        duration: event.fields.durationNs,
        failed: event.fields.failed ? 1 : 0,
        target: request(event.fields.requestIndex).fields.target,
      })),
    );
    const routes = await rows("SELECT target, route, framework FROM requests WHERE kind = 'server' ORDER BY start_ns", web.out);
    expect(routes).toEqual(
      web.events
        .filter((event) => event.kind === "http_server_request")
        .map((event) => ({ target: event.fields.target, route: event.fields.route ?? null, framework: event.fields.route === undefined ? null : "express" })),
    );
    expect(routes.filter((row) => row.route !== null).length).toBeGreaterThan(5);
  }, 60_000);
});

// A call whose return was lost stayed open: every later call of its thread nested under it
// (depth 23 where the program's deepest is 1). At a `drop` record the thread's open calls
// end, unfinished, and later calls start from depth 0 again.
describe("records lost", () => {
  test("a tiny ring in discard mode: calls after a loss nest as the program called them", async () => {
    const out = join(scratchDir(), "lossy.bin");
    // The collector stopped during the calls: a draining one loses nothing (the producer waits).
    const run = await runCliWithCollectorStopped(["run", "--functions", "--hot-calls-per-second", "0", "--ring-size", "64KiB", "--out", out, "--", "node", join(fixtures, "lossy/shallow.cjs")], 500);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toBe("ready\n5001000000\n");
    const [drops] = await rows("SELECT count(*) AS n, min(tid) AS tid FROM events WHERE kind = 'drop' AND flags = 1", out);
    expect(drops!.n as number).toBeGreaterThan(0);
    expect(drops!.tid).toBe(0);
    // Depth 0: outer (or an inner whose outer was lost); depth 1: inner under an outer.
    const depths = await rows("SELECT f.name, c.depth, count(*) AS n FROM calls c JOIN functions f ON f.id = c.function GROUP BY 1, 2 ORDER BY 1, 2", out);
    expect(Math.max(...depths.map((row) => row.depth as number))).toBe(1);
    expect(depths.filter((row) => row.name === "outer").map((row) => row.depth)).toEqual([0]);
    // An inner's parent is an outer, and within it.
    const [wrong] = await rows(
      `SELECT count(*) AS n FROM calls c JOIN calls p ON p.id = c.parent JOIN functions f ON f.id = p.function
       WHERE f.name <> 'outer' OR c.start_ns < p.start_ns OR (p.end_ns IS NOT NULL AND c.end_ns > p.end_ns)`,
      out,
    );
    expect(wrong!.n).toBe(0);
    // What a loss cut is unfinished and comes before the drop record that reports it.
    const [cut] = await rows("SELECT count(*) AS n FROM calls WHERE end_ns IS NULL", out);
    expect(cut!.n as number).toBeGreaterThan(0);
  }, 120_000);

  // Overwrite mode: the collector marks overwritten records with the pid and tid of the
  // thread whose lane lost them, where the drain found them gone (before that thread's
  // records kept after the loss); the summary says them by thread.
  test("a tiny ring in overwrite mode: the collector's markers name the thread; calls after a loss nest as the program called them", async () => {
    const out = join(scratchDir(), "overwritten.bin");
    const run = await runCli(["run", "--mode", "overwrite", "--functions", "--hot-calls-per-second", "0", "--ring-size", "1MiB", "--out", out, "--", "node", join(fixtures, "lossy/shallow.cjs")]);
    expect(run.exitCode, run.stderr).toBe(0);
    const [{ pid }] = (await rows("SELECT pid FROM processes WHERE collector = 0", out)) as [{ pid: number }];
    const marked = await rows("SELECT pid, tid, count(*) AS n, sum(a) AS lost FROM events WHERE kind = 'drop' AND flags = 2 GROUP BY 1, 2", out);
    expect(marked.map((row) => [row.pid, row.tid])).toEqual([[pid, 0]]);
    const overwritten = Number(/lost: 0 dropped, (\d+) overwritten/.exec(run.stderr)?.[1]);
    expect(overwritten).toBeGreaterThan(0);
    expect(run.stderr).toContain(`    ${marked[0]!.lost} in pid ${pid} main thread\n`);
    // Never deeper than the program (before: 3–34). Whether an outer call survives with the
    // inners after it depends on when the drains came (a loaded machine drains less often, and
    // the newest 1,024 records of the lane are all inner calls): depth 0 alone is right too.
    const [{ depth }] = (await rows("SELECT max(depth) AS depth FROM calls", out)) as [{ depth: number }];
    expect(depth).toBeLessThanOrEqual(1);
    // At most one pair: inner under outer (the function table may be overwritten: named by id then).
    const pairs = await rows("SELECT DISTINCT c.function AS child, p.function AS parent FROM calls c JOIN calls p ON p.id = c.parent", out);
    expect(pairs.length).toBe(depth);
    for (const pair of pairs) expect(pair.child).not.toBe(pair.parent);
  }, 120_000);
});
