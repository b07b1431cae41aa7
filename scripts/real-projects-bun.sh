#!/bin/bash
# Bun-native programs under `scope run` (BENCHMARKS.md "Real projects on Bun"): Elysia 1.4 and
# Hono 4 on Bun.serve, drizzle-orm on bun:sqlite, `bun test`, Worker threads and a Bun.spawn
# tree with IPC, Bun's WebSocket server, Bun.file/Bun.write. Each untraced, at default settings,
# with --functions (the program's own files) at --level calls and full, and with one
# node_modules package too (--package, full); stdout, stderr (scope's summary cut off) and exit
# status compared byte for byte, CPU (/usr/bin/time's user+sys of the run and everything under
# it) printed, and the main process's own CPU (process.cpuUsage() at its end, into the file
# PROGRAM_CPU names; not bun test's), traces left in $WORK/out.
#   bash scripts/real-projects-bun.sh [name ...]     # default: all
# Needs npm (the registry) once, /usr/bin/time, bun on PATH (. scripts/env.sh), dist/scope built.
# WORK defaults to /tmp/scope-real-projects-bun.
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
scope=$repo/dist/scope
WORK=${WORK:-/tmp/scope-real-projects-bun}
mkdir -p "$WORK" && cd "$WORK" || exit 1
if [ ! -e node_modules/.complete ]; then
  echo '{"name":"scope-real-projects-bun","private":true}' > package.json
  npm install --no-audit --no-fund --loglevel=error --before=2026-11-28 elysia@1.4.30 hono@4.13.23 drizzle-orm@0.45.4 || exit 1
  touch node_modules/.complete
fi
mkdir -p elysia hono drizzle btest work ws fs
cat > elysia/app.ts <<'FILE'
import { Elysia, t } from "elysia";
const N = Number(process.argv[2] ?? 100);
const app = new Elysia()
  .onBeforeHandle(function checkAuth({ headers, set }) { if (headers["x-deny"]) { set.status = 403; return "denied"; } })
  .onError(function handleError({ code, error, set }) {
    if (code === "NOT_FOUND") { set.status = 404; return "nope"; }
    if (code === "VALIDATION") { set.status = 422; return { validation: true }; }
    set.status = 500; return "boom: " + (error as Error).message;
  })
  .get("/", () => "hello")
  .get("/users/:id", ({ params }) => ({ id: params.id, name: "user" + params.id }))
  .post("/items", ({ body }) => ({ created: body.name }), { body: t.Object({ name: t.String(), qty: t.Number() }) })
  .get("/files/*", ({ params }) => "file " + params["*"])
  .get("/throw", () => { throw new Error("handler failed"); })
  .listen({ port: 0, hostname: "127.0.0.1" });
const base = `http://127.0.0.1:${app.server!.port}`;
const json = { "content-type": "application/json" };
const kinds: [string, RequestInit?][] = [["/"], ["/users/42"], ["/files/a/b"], ["/throw"], ["/missing"], ["/", { headers: { "x-deny": "1" } }],
  ["/items", { method: "POST", headers: json, body: '{"name":"a","qty":2}' }], ["/items", { method: "POST", headers: json, body: '{"name":5}' }]];
const seen = new Map<string, number>();
for (let i = 0; i < N; i += 8) await Promise.all(kinds.map(async ([p, init]) => { const r = await fetch(base + p, init); const key = `${p} ${r.status} ${await r.text()}`; seen.set(key, (seen.get(key) ?? 0) + 1); }));
for (const [k, v] of [...seen].sort()) console.log(v, k);
app.stop();
if (process.env.PROGRAM_CPU) require("node:fs").appendFileSync(process.env.PROGRAM_CPU, `${(process.cpuUsage().user + process.cpuUsage().system) / 1e6}\n`);
FILE
cat > hono/app.ts <<'FILE'
import { Hono } from "hono";
import { cors } from "hono/cors";
import { etag } from "hono/etag";
import { secureHeaders } from "hono/secure-headers";
import { HTTPException } from "hono/http-exception";
const N = Number(process.argv[2] ?? 100);
const app = new Hono();
app.use("*", cors());
app.use("/api/*", etag(), secureHeaders());
app.use("/api/*", async function auth(c, next) { if (c.req.header("x-deny")) throw new HTTPException(401, { message: "no" }); await next(); });
const api = new Hono();
api.get("/items/:id", (c) => c.json({ id: c.req.param("id") }));
api.post("/items", async (c) => c.json({ got: await c.req.json() }, 201));
api.get("/boom", () => { throw new Error("kaput"); });
app.route("/api", api);
app.onError(function onErr(err, c) { return c.text("err: " + err.message, err instanceof HTTPException ? err.status : 500); });
const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
const base = `http://127.0.0.1:${server.port}`;
const kinds: [string, RequestInit?][] = [["/api/items/9"], ["/api/items", { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' }], ["/api/boom"], ["/api/items/1", { headers: { "x-deny": "1" } }], ["/zzz"]];
const seen = new Map<string, number>();
for (let i = 0; i < N; i += 5) await Promise.all(kinds.map(async ([p, init]) => { const r = await fetch(base + p, init); const key = `${p} ${r.status} ${r.headers.get("etag")} ${await r.text()}`; seen.set(key, (seen.get(key) ?? 0) + 1); }));
for (const [k, v] of [...seen].sort()) console.log(v, k);
server.stop();
if (process.env.PROGRAM_CPU) require("node:fs").appendFileSync(process.env.PROGRAM_CPU, `${(process.cpuUsage().user + process.cpuUsage().system) / 1e6}\n`);
FILE
cat > drizzle/app.ts <<'FILE'
import { Database } from "bun:sqlite";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { sqliteTable, integer, text } from "drizzle-orm/sqlite-core";
import { eq, sql } from "drizzle-orm";
const N = Number(process.argv[2] ?? 100);
const users = sqliteTable("users", { id: integer("id").primaryKey(), name: text("name").notNull(), age: integer("age") });
const db = drizzle(new Database(":memory:"));
db.run(sql`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER)`);
for (let i = 0; i < N; i++) db.insert(users).values({ name: "u" + i, age: i % 90 }).run();
let found = 0;
for (let i = 0; i < N; i++) found += db.select().from(users).where(eq(users.id, i + 1)).all().length;
db.transaction((tx) => { for (let i = 0; i < 10; i++) tx.update(users).set({ age: 99 }).where(eq(users.id, i + 1)).run(); });
console.log("found", found, db.select({ n: sql<number>`count(*)` }).from(users).where(eq(users.age, 99)).get());
try { db.run(sql`SELECT * FROM nope`); } catch (e) { console.log("err", (e as Error).message); }
if (process.env.PROGRAM_CPU) require("node:fs").appendFileSync(process.env.PROGRAM_CPU, `${(process.cpuUsage().user + process.cpuUsage().system) / 1e6}\n`);
FILE
cat > btest/math.ts <<'FILE'
export function add(a: number, b: number) { return a + b; }
export async function fetchUser(id: number, get: (id: number) => Promise<string>) { return (await get(id)).toUpperCase(); }
export class Counter { n = 0; inc() { return ++this.n; } }
export function fib(n: number): number { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
FILE
cat > btest/math.test.ts <<'FILE'
import { describe, expect, test, mock, spyOn, beforeEach } from "bun:test";
import { add, fetchUser, Counter, fib } from "./math";
describe("math", () => {
  let c: Counter;
  beforeEach(() => { c = new Counter(); });
  test("adds", () => { expect(add(2, 3)).toBe(5); });
  test("fib", () => { expect(fib(20)).toBe(6765); });
  test("fails on purpose", () => { expect(add(2, 2)).toBe(5); });
  test("snapshot", () => { expect({ sum: add(1, 1), list: [1, 2, 3] }).toMatchSnapshot(); });
  test("mock fn", async () => { const get = mock(async (id: number) => "user" + id); expect(await fetchUser(7, get)).toBe("USER7"); expect(get).toHaveBeenCalledWith(7); });
  test("spyOn", () => { const spy = spyOn(c, "inc"); c.inc(); c.inc(); expect(spy).toHaveBeenCalledTimes(2); });
  test("throws", () => { expect(() => { throw new TypeError("bad"); }).toThrow("bad"); });
  test.todo("later");
});
FILE
cat > btest/mod.test.ts <<'FILE'
import { expect, test, mock } from "bun:test";
mock.module("./math", () => ({ add: () => 42 }));
test("module mock", async () => { const m = await import("./math"); expect(m.add(1, 1)).toBe(42); });
FILE
cat > work/main.ts <<'FILE'
const N = Number(process.argv[2] ?? 100);
const workers = [0, 1].map(() => new Worker(new URL("./worker.ts", import.meta.url).href));
let done = 0, sum = 0;
await new Promise<void>((resolve) => workers.forEach((w, i) => {
  w.onmessage = (e) => { if (e.data === "done") { if (++done === 2) resolve(); } else sum += e.data.n; };
  for (let k = 0; k < N; k++) w.postMessage({ k, from: i });
  w.postMessage("end");
}));
console.log("sum", sum);
for (const w of workers) w.terminate();
const got: unknown[] = [];
const child = Bun.spawn(["bun", new URL("./child.ts", import.meta.url).pathname], { ipc(m, proc) { if (m === "bye") proc.send("exit"); else got.push(m); }, stdout: "inherit" });
for (let i = 0; i < N / 10; i++) child.send({ i });
child.send("last");
console.log("child", await child.exited, got.length);
const sync = Bun.spawnSync(["bun", "-e", "console.log('sync child')"]);
console.log(sync.stdout.toString().trim(), sync.exitCode);
if (process.env.PROGRAM_CPU) require("node:fs").appendFileSync(process.env.PROGRAM_CPU, `${(process.cpuUsage().user + process.cpuUsage().system) / 1e6}\n`);
FILE
cat > work/worker.ts <<'FILE'
declare var self: Worker;
self.onmessage = (e: MessageEvent) => { if (e.data === "end") { postMessage("done"); return; } postMessage({ n: e.data.k * 2 }); };
FILE
cat > work/child.ts <<'FILE'
let n = 0;
process.on("message", (m: any) => {
  if (m === "last") { process.send!({ n }); process.send!("bye"); return; }
  if (m === "exit") { const g = Bun.spawn(["bun", "-e", "console.log('grandchild')"], { stdout: "inherit" }); g.exited.then(() => process.exit(3)); return; }
  n += m.i; process.send!({ echo: m.i });
});
FILE
cat > ws/app.ts <<'FILE'
const CLIENTS = 50, MSGS = Number(process.argv[2] ?? 20);
let opened = 0, closed = 0, received = 0;
const server = Bun.serve({
  port: 0, hostname: "127.0.0.1",
  fetch(req, server) { if (server.upgrade(req)) return; return new Response("no", { status: 400 }); },
  websocket: {
    open(ws) { opened++; ws.subscribe("room"); },
    message(ws, msg) { received++; ws.send("echo:" + msg); if (received % 100 === 0) server.publish("room", "tick" + received); },
    close() { closed++; },
  },
});
const clients = await Promise.all(Array.from({ length: CLIENTS }, () => new Promise<{ ws: WebSocket; got: string[] }>((res) => {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`); const got: string[] = [];
  ws.onmessage = (e) => got.push(String(e.data)); ws.onopen = () => res({ ws, got });
})));
const echoed = () => clients.every((c) => c.got.filter((g) => g.startsWith("echo")).length === MSGS);
for (let m = 0; m < MSGS; m++) for (const [i, c] of clients.entries()) c.ws.send(`c${i}m${m}`);
while (!echoed()) await Bun.sleep(5);
await Bun.sleep(50);
const ticks = clients.reduce((n, c) => n + c.got.filter((g) => g.startsWith("tick")).length, 0);
await Promise.all(clients.map((c) => new Promise((res) => { c.ws.onclose = res; c.ws.close(1000, "bye"); })));
while (closed < CLIENTS) await Bun.sleep(5);
console.log("opened", opened, "received", received, "ticks", ticks, "closed", closed);
server.stop();
if (process.env.PROGRAM_CPU) require("node:fs").appendFileSync(process.env.PROGRAM_CPU, `${(process.cpuUsage().user + process.cpuUsage().system) / 1e6}\n`);
FILE
cat > fs/app.ts <<'FILE'
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
const N = Number(process.argv[2] ?? 100);
const dir = mkdtempSync(join(tmpdir(), "scope-bun-fs-"));
function line(i: number) { return `row ${i} ${"x".repeat(i % 50)}\n`; }
async function writeMany(n: number) { for (let i = 0; i < n; i++) await Bun.write(join(dir, `f${i}.txt`), line(i).repeat(20)); }
async function readAll(n: number) { let total = 0; for (let i = 0; i < n; i++) { const f = Bun.file(join(dir, `f${i}.txt`)); total += (await f.text()).length + f.size; } return total; }
await writeMany(N);
console.log("total", await readAll(N));
const w = Bun.file(join(dir, "big.txt")).writer();
for (let i = 0; i < N * 40; i++) w.write(line(i));
await w.end();
console.log("big", Bun.file(join(dir, "big.txt")).size, await Bun.file(join(dir, "nope")).exists());
try { await Bun.file(join(dir, "missing.txt")).text(); } catch (e) { console.log("err", (e as NodeJS.ErrnoException).code); }
rmSync(dir, { recursive: true });
if (process.env.PROGRAM_CPU) require("node:fs").appendFileSync(process.env.PROGRAM_CPU, `${(process.cpuUsage().user + process.cpuUsage().system) / 1e6}\n`);
FILE
ln -sfn ../node_modules elysia/node_modules; ln -sfn ../node_modules hono/node_modules; ln -sfn ../node_modules drizzle/node_modules
# bun test's snapshot, written once untraced (a first run writes it: "1 added").
( cd btest && bun test >/dev/null 2>&1 )

run() { # run NAME DIR PACKAGE -- PROGRAM ARGS...
  local name=$1 dir=$2 package=$3; shift 4
  local out=$WORK/out/$name; rm -rf "$out"; mkdir -p "$out"
  ( cd "$dir" && PROGRAM_CPU=$out/plain.program /usr/bin/time -o "$out/plain.cpu" -f "%U %S" "$@" >"$out/plain.out" 2>"$out/plain.err" </dev/null; echo $? >"$out/plain.rc" )
  sed -i -E 's/\[[0-9.]+m?s\]//g' "$out/plain.out" "$out/plain.err"
  echo "$name plain rc=$(cat "$out/plain.rc") cpu=$(tail -1 "$out/plain.cpu") program=$(cat "$out/plain.program" 2>/dev/null)"
  for mode in ${MODES:-default calls full package}; do
    local opts=()
    case $mode in
      calls|full) opts=(--functions --level "$mode") ;;
      package) opts=(--include '**' --package "$package" --level full) ;;
    esac
    ( cd "$dir" && PROGRAM_CPU=$out/$mode.program timeout 900 /usr/bin/time -o "$out/$mode.cpu" -f "%U %S" "$scope" run -o "$out/$mode.bin" "${opts[@]}" -- "$@" >"$out/$mode.out" 2>"$out/$mode.err" </dev/null; echo $? >"$out/$mode.rc" )
    awk '/^scope: .*program exit code/{stop=1} !stop && !/^scope: /' "$out/$mode.err" >"$out/$mode.err.program"
    # bun test prints each test's and the run's duration.
    sed -i -E 's/\[[0-9.]+m?s\]//g' "$out/$mode.out" "$out/$mode.err.program"
    local same=same
    cmp -s "$out/plain.out" "$out/$mode.out" || same="STDOUT DIFFERS"
    cmp -s "$out/plain.err" "$out/$mode.err.program" || same="$same, STDERR DIFFERS"
    [ "$(cat "$out/plain.rc")" = "$(cat "$out/$mode.rc")" ] || same="$same, EXIT DIFFERS"
    echo "$name $mode rc=$(cat "$out/$mode.rc") cpu=$(tail -1 "$out/$mode.cpu") program=$(cat "$out/$mode.program" 2>/dev/null) $same $(grep -E '^  (lost|[0-9]+ processes)' "$out/$mode.err" | tr -s ' ' | tr '\n' ' ')"
  done
}

want() { [ $# -eq 0 ] && return 0; local x; for x in "${names[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }
names=("$@")
all=$([ $# -eq 0 ] && echo 1)
{ [ -n "$all" ] || want elysia; } && run elysia elysia elysia -- bun app.ts 16000
{ [ -n "$all" ] || want hono; } && run hono hono hono -- bun app.ts 16000
{ [ -n "$all" ] || want drizzle; } && run drizzle drizzle drizzle-orm -- bun app.ts 20000
{ [ -n "$all" ] || want btest; } && MODES="default calls full" run btest btest - -- bun test
{ [ -n "$all" ] || want work; } && MODES="default calls full" run work work - -- bun main.ts 50000
{ [ -n "$all" ] || want ws; } && MODES="default calls full" run ws ws - -- bun app.ts 200
{ [ -n "$all" ] || want fs; } && MODES="default calls full" run fs fs - -- bun app.ts 5000
exit 0
