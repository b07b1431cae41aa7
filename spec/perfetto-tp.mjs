// Loads a .pftrace into Perfetto's own trace processor (its WebAssembly build, installed by
// scripts/perfetto-tp-install.sh into .tools/perfetto-tp) and runs SQL on it, in Node:
//   node spec/perfetto-tp.mjs trace.pftrace < {"name": "SELECT ...", ...}
// prints {"name": [rows...] | {"error": "..."}, ...} as one JSON line. The trace processor
// runs as in the Perfetto UI's worker: the Emscripten glue evaluated in this context (told
// to take the wasm bytes given and memory32, and to hand over its bridge), and the UI's
// engine (EngineBase) speaking the trace processor's RPC over a MessageChannel.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import vm from "node:vm";

const dir = process.env.SCOPE_PERFETTO_TP ?? join(dirname(fileURLToPath(import.meta.url)), "..", ".tools", "perfetto-tp");
const trace = process.argv[2];
const queries = JSON.parse(readFileSync(0, "utf8"));
// The trace processor's own chatter ("Loading trace", unsupported syscalls) goes to stderr.
console.log = console.warn = console.info = (...args) => process.stderr.write(`${args.join(" ")}\n`);

globalThis.self = globalThis;
globalThis.WorkerGlobalScope ??= function WorkerGlobalScope() {};
globalThis.location ??= { href: `${pathToFileURL(dir).href}/` };
globalThis.__scopeWasmBytes = new Uint8Array(readFileSync(join(dir, "trace_processor.wasm")));
let glue = readFileSync(join(dir, "engine_bundle.node.js"), "utf8");
for (const [from, to] of [
  ["this.useMemory64 = hasMemory64Support();", "this.useMemory64 = false;"],
  ["locateFile: (s) => s,", "locateFile: (s) => s, wasmBinary: globalThis.__scopeWasmBytes,"],
  ["const wasmBridge = new wasm_bridge_1.WasmBridge();", "const wasmBridge = new wasm_bridge_1.WasmBridge(); globalThis.__scopeBridge = wasmBridge;"],
]) {
  if (!glue.includes(from)) throw new Error(`perfetto-tp: the glue has changed (no "${from}")`);
  glue = glue.replace(from, to);
}
vm.runInThisContext(glue, { filename: "engine_bundle.node.js" });
const bridge = globalThis.__scopeBridge;
const { EngineBase } = await import(pathToFileURL(join(dir, "engine.mjs")).href);

class Engine extends EngineBase {
  mode = "WASM";
  id = "scope-test";
  constructor(port) {
    super();
    this.port = port;
    port.onmessage = (message) => this.onRpcResponseBytes(message.data);
  }
  rpcSendRequestBytes(data) {
    this.port.postMessage(data);
  }
}

// The runtime is ready once the bridge has its request buffer (set after trace_processor_rpc_init).
for (let waited = 0; !bridge.reqBufferAddr; waited += 20) {
  if (waited > 120_000) throw new Error("perfetto-tp: the trace processor did not start");
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const channel = new MessageChannel();
bridge.initialize(channel.port1);
const engine = new Engine(channel.port2);
// In pieces, as the UI feeds a file: one RPC message is at most 64 MiB.
const bytes = new Uint8Array(readFileSync(trace));
for (let at = 0; at < bytes.byteLength || at === 0; at += 32 << 20) await engine.parse(bytes.subarray(at, at + (32 << 20)));
await engine.notifyEof();
const out = {};
for (const [name, sql] of Object.entries(queries)) {
  let result;
  try {
    result = await engine.query(sql);
  } catch (error) {
    out[name] = { error: String(error.message ?? error) };
    continue;
  }
  if (result.error()) {
    out[name] = { error: result.error() };
    continue;
  }
  const columns = result.columns();
  const rows = [];
  for (const it = result.iter({}); it.valid(); it.next()) {
    const row = {};
    for (const column of columns) {
      const value = it.get(column);
      row[column] = typeof value === "bigint" && Number.isSafeInteger(Number(value)) ? Number(value) : typeof value === "bigint" ? String(value) : value;
    }
    rows.push(row);
  }
  out[name] = rows;
}
channel.port1.close();
channel.port2.close();
process.stdout.write(`${JSON.stringify(out)}\n`);
