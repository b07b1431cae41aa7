#!/bin/bash
# Real tools from npm under `scope run` (BENCHMARKS.md "Real projects"): each program untraced,
# at default settings, and with --functions (node_modules included) at --level calls and full;
# stdout, stderr (scope's summary cut off) and exit status compared byte for byte, CPU
# (/usr/bin/time's user+sys of the run and everything under it) printed, traces left in $WORK/out.
#   bash scripts/real-projects.sh [runtime ...]     # default: node; e.g. node /path/to/node24 bun
# Needs npm (the registry) once, /usr/bin/time, dist/scope built. WORK defaults to /tmp/scope-real-projects.
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
scope=$repo/dist/scope
WORK=${WORK:-/tmp/scope-real-projects}
mkdir -p "$WORK" && cd "$WORK" || exit 1
if [ ! -e node_modules/.complete ]; then
  echo '{"name":"scope-real-projects","private":true}' > package.json
  npm install --no-audit --no-fund --loglevel=error prettier@3.10.1 eslint@9.39.5 @eslint/js@9.39.5 typescript@5.9.3 terser@5.51.4 esbuild-wasm@0.28.2 mocha@11.8.0 piscina@4.9.4 fastify@5.12.8 express@5.3.0 || exit 1
  touch node_modules/.complete
fi
mkdir -p proj/src lint/src mocha/test
cat > bad.js <<'FILE'
const   x = {a:1,
b:[1,2,3], c: function(){ return   "s" }}
async function  foo ( ) { await x; if(x.a==1){console.log('hi')} }
class K extends Object { #p = 1; get p(){return this.#p} static { this.q = 2 } }
export default   foo
FILE
cat > terser-run.js <<'FILE'
const { minify } = require("terser");
const fs = require("fs");
(async () => {
  const code = fs.readFileSync(require.resolve("prettier/bin/prettier.cjs"), "utf8").replace(/^#!.*\n/, "");
  const r = await minify(code, { compress: { passes: 2 }, mangle: true, sourceMap: true });
  console.log(r.code.length, r.code.slice(0, 200), r.map.length);
  try { await minify("function (", {}); } catch (e) { console.log("syntax:", e.message, e.line, e.col); }
})();
FILE
cat > esbuild-run.js <<'FILE'
const esbuild = require("esbuild-wasm");
(async () => {
  const r = await esbuild.build({ entryPoints: ["proj/src/b.ts"], bundle: true, write: false, format: "cjs", platform: "node", logLevel: "silent" });
  console.log(r.outputFiles[0].text);
  try { await esbuild.transform("let x = ;", { loader: "ts" }); } catch (e) { console.log("err:", e.errors.map((x) => x.text + "@" + x.location.line + ":" + x.location.column)); }
  esbuild.stop();
})();
FILE
cat > piscina-run.js <<'FILE'
const Piscina = require("piscina");
const path = require("path");
const pool = new Piscina({ filename: path.resolve(__dirname, "piscina-worker.js"), maxThreads: 4, minThreads: 2 });
(async () => {
  const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => pool.run({ n: 18 + (i % 5) })));
  console.log(rs.join(","));
  try { await pool.run({ n: -1 }); } catch (e) { console.log("worker error:", e.message); }
  await pool.destroy();
})();
FILE
cat > piscina-worker.js <<'FILE'
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
module.exports = function task({ n }) { if (n < 0) throw new RangeError("negative " + n); return fib(n); };
FILE
cat > fastify-load.js <<'FILE'
const fastify = require("fastify")({ logger: false });
const http = require("http");
fastify.get("/item/:id", async (req) => ({ id: Number(req.params.id), sq: req.params.id * req.params.id }));
fastify.post("/echo", async (req) => ({ got: req.body }));
fastify.get("/fail", async () => { throw new Error("nope"); });
function get(port, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ port, path, method: body ? "POST" : "GET", headers: body ? { "content-type": "application/json" } : {}, agent }, (res) => {
      let data = ""; res.setEncoding("utf8"); res.on("data", (c) => (data += c)); res.on("end", () => resolve(res.statusCode + " " + data));
    });
    req.on("error", reject); if (body) req.write(JSON.stringify(body)); req.end();
  });
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
fastify.listen({ port: 0, host: "127.0.0.1" }).then(async () => {
  const port = fastify.server.address().port;
  const N = Number(process.argv[2] || 2000); let sum = 0, codes = {}; let next = 0;
  const t0 = process.hrtime.bigint();
  async function worker() { while (next < N) { const i = next++; const r = await (i % 50 === 0 ? get(port, "/fail") : i % 7 === 0 ? get(port, "/echo", { i }) : get(port, "/item/" + i)); const code = r.slice(0, 3); codes[code] = (codes[code] || 0) + 1; sum += r.length; } }
  await Promise.all(Array.from({ length: 16 }, worker));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(JSON.stringify({ N, codes, sum }));
  if (process.env.RPS_LOG) require("fs").appendFileSync(process.env.RPS_LOG, process.env.TAG + " fastify rps " + Math.round(N / ms * 1000) + "\n");
  agent.destroy(); await fastify.close();
});
FILE
cat > express-load.js <<'FILE'
const express = require("express");
const http = require("http");
const app = express();
app.use(express.json());
app.use(function logger(req, res, next) { next(); });
app.get("/item/:id", function item(req, res) { res.json({ id: Number(req.params.id) }); });
app.post("/echo", (req, res) => res.json({ got: req.body }));
app.get("/fail", async function fail() { throw new Error("nope"); });
app.use(function onError(err, req, res, next) { res.status(500).json({ error: err.message }); });
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
function get(port, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ port, path, method: body ? "POST" : "GET", headers: body ? { "content-type": "application/json" } : {}, agent }, (res) => {
      let data = ""; res.setEncoding("utf8"); res.on("data", (c) => (data += c)); res.on("end", () => resolve(res.statusCode + " " + data));
    });
    req.on("error", reject); if (body) req.write(JSON.stringify(body)); req.end();
  });
}
const server = app.listen(0, "127.0.0.1", async () => {
  const port = server.address().port;
  const N = Number(process.argv[2] || 2000); let sum = 0, codes = {}; let next = 0;
  const t0 = process.hrtime.bigint();
  async function worker() { while (next < N) { const i = next++; const r = await (i % 50 === 0 ? get(port, "/fail") : i % 7 === 0 ? get(port, "/echo", { i }) : get(port, "/item/" + i)); const code = r.slice(0, 3); codes[code] = (codes[code] || 0) + 1; sum += r.length; } }
  await Promise.all(Array.from({ length: 16 }, worker));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(JSON.stringify({ N, codes, sum }));
  if (process.env.RPS_LOG) require("fs").appendFileSync(process.env.RPS_LOG, process.env.TAG + " express rps " + Math.round(N / ms * 1000) + "\n");
  agent.destroy(); server.close();
});
FILE
cat > cp-heavy.js <<'FILE'
const cp = require("child_process");
const util = require("util");
const execFile = util.promisify(cp.execFile);
(async () => {
  const outs = await Promise.all(Array.from({ length: 12 }, (_, i) => execFile(process.execPath, ["-e", `process.stdout.write(String(${i}*${i}))`])));
  console.log(outs.map((o) => o.stdout).join(" "));
  console.log(cp.execFileSync(process.execPath, ["-e", "console.log('sync child')"]).toString().trim());
  console.log(cp.spawnSync("sh", ["-c", "echo shell; exit 3"]).status);
  const kid = cp.fork(__dirname + "/cp-kid.js");
  kid.on("message", (m) => { console.log("from kid", JSON.stringify(m)); if (m.n === 3) kid.send({ stop: true }); else kid.send({ n: m.n }); });
  kid.on("exit", (code) => { console.log("kid exit", code);
    try { cp.execFileSync(process.execPath, ["-e", "process.exit(5)"], { stdio: "pipe" }); } catch (e) { console.log("status", e.status); }
  });
})();
FILE
cat > cp-kid.js <<'FILE'
let n = 0;
process.on("message", (m) => { if (m.stop) process.exit(7); process.send({ n: ++n }); });
process.send({ n });
FILE
cat > proj/src/a.ts <<'FILE'
export interface Point { x: number; y: number }
export function add(a: Point, b: Point): Point { return { x: a.x + b.x, y: a.y + b.y } }
export class Shape { constructor(public name: string) {} area(): number { return 0 } }
export const bad: number = "str";
FILE
cat > proj/src/b.ts <<'FILE'
import { add, Shape } from "./a";
class Sq extends Shape { constructor(private s: number) { super("sq") } area() { return this.s ** 2 } }
console.log(add({x:1,y:2},{x:3,y:4}), new Sq(3).area());
FILE
cat > proj/src/c.ts <<'FILE'
export async function* gen(n: number) { for (let i = 0; i < n; i++) yield i }
export enum Color { Red, Green }
export function pick<T>(xs: T[], f: (x: T) => boolean): T | undefined { return xs.find(f) }
FILE
cat > proj/tsconfig.json <<'FILE'
{"compilerOptions":{"strict":true,"outDir":"out","target":"es2020","module":"commonjs"},"include":["src"]}
FILE
cat > lint/eslint.config.mjs <<'FILE'
import js from "@eslint/js";
export default [js.configs.recommended, { rules: { "no-unused-vars": "error", eqeqeq: "error", "prefer-const": "warn" }, languageOptions: { globals: { console: "readonly", process: "readonly" } } }];
FILE
cat > lint/src/a.js <<'FILE'
let unused = 1;
function f(a) { if (a == 2) { return undef } let b = 3; return b }
console.log(f(1));
FILE
cat > mocha/test/a.spec.js <<'FILE'
const assert = require("assert");
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
describe("math", () => {
  it("fib", () => assert.strictEqual(fib(15), 610));
  it("async", async () => { await new Promise((r) => setTimeout(r, 5)); assert.ok(true); });
  it("fails", () => assert.deepStrictEqual({ a: 1 }, { a: 2 }));
  it("done cb", (done) => setImmediate(done));
  describe("nested", () => { beforeEach(() => {}); it("throws", () => { throw new TypeError("boom"); }); });
});
FILE
ln -sfn ../node_modules lint/node_modules; ln -sfn ../node_modules mocha/node_modules
# A big file for eslint too: prettier's CLI without its #! line.
sed '1{/^#!/d}' node_modules/prettier/bin/prettier.cjs > lint/src/big.js
export RPS_LOG=$WORK/rps.log

run() { # run NAME RUNTIME DIR -- PROGRAM ARGS...
  local name=$1 runtime=$2 dir=$3; shift 4
  local out=$WORK/out/$name; rm -rf "$out"; mkdir -p "$out"
  ( cd "$dir" && /usr/bin/time -o "$out/plain.cpu" -f "%U %S" "$runtime" "$@" >"$out/plain.out" 2>"$out/plain.err" </dev/null; echo $? >"$out/plain.rc" )
  echo "$name plain rc=$(cat "$out/plain.rc") cpu=$(tail -1 "$out/plain.cpu")"
  for mode in ${MODES:-default calls full}; do
    local opts=()
    [ "$mode" != default ] && opts=(--include '**' --include 'node_modules/**' --level "$mode")
    ( cd "$dir" && TAG=$name-$mode timeout 900 /usr/bin/time -o "$out/$mode.cpu" -f "%U %S" "$scope" run -o "$out/$mode.bin" "${opts[@]}" -- "$runtime" "$@" >"$out/$mode.out" 2>"$out/$mode.err" </dev/null; echo $? >"$out/$mode.rc" )
    awk '/^scope: .*program exit code/{stop=1} !stop && !/^scope: /' "$out/$mode.err" >"$out/$mode.err.program"
    local same=same
    cmp -s "$out/plain.out" "$out/$mode.out" || same="STDOUT DIFFERS"
    cmp -s "$out/plain.err" "$out/$mode.err.program" || same="$same, STDERR DIFFERS"
    [ "$(cat "$out/plain.rc")" = "$(cat "$out/$mode.rc")" ] || same="$same, EXIT DIFFERS"
    echo "$name $mode rc=$(cat "$out/$mode.rc") cpu=$(tail -1 "$out/$mode.cpu") $same $(grep -E '^  (lost|[0-9]+ processes)' "$out/$mode.err" | tr -s ' ' | tr '\n' ' ')"
  done
}

for runtime in "${@:-node}"; do
  tag=$(basename "$(dirname "$(dirname "$runtime")")")-$(basename "$runtime"); [ "$runtime" = node ] || [ "$runtime" = bun ] && tag=$runtime
  run prettier-$tag "$runtime" . -- node_modules/prettier/bin/prettier.cjs bad.js
  run eslint-$tag "$runtime" lint -- node_modules/eslint/bin/eslint.js src
  MODES="default calls" run tsc-$tag "$runtime" proj -- ../node_modules/typescript/bin/tsc -p . --noEmit
  run terser-$tag "$runtime" . -- terser-run.js
  run esbuild-$tag "$runtime" . -- esbuild-run.js
  run mocha-$tag "$runtime" mocha -- node_modules/mocha/bin/mocha.js   # its durations differ run to run
  run piscina-$tag "$runtime" . -- piscina-run.js
  run fastify-$tag "$runtime" . -- fastify-load.js 2000
  run express-$tag "$runtime" . -- express-load.js 2000
  run cp-$tag "$runtime" . -- cp-heavy.js
done
