/**
 * The Sink for Bun: libscope.so through bun:ffi (the cheap path), else the Node-API
 * addon, which Bun also loads. The C ABI is zig/c_abi.zig (the same calls as
 * src/core/ring.ts, copied here so the agent bundle stays self-contained):
 *   scope_ring_open(path: [*:0]const u8, out_ring: *?*anyopaque) Status   (0 = ok)
 *   scope_producer_attach(ring, pid: u32, tid: u32, out_producer: *?*anyopaque) Status
 *   scope_producer_record(producer, kind: u32, flags: u32, a..e: f64) u32  (1 = written)
 *   scope_producer_string(producer, id: u32, utf8: [*]const u8, len: u32) u32  (fragments)
 * Each thread (main, every worker) maps the ring and attaches its own producer: its own
 * lane, its own tid. The mapping stays until the process ends (workers may write late).
 */
import type { Sink } from "../shared/sink";

export function openSink(env: Record<string, string | undefined>, tid: number): Sink {
  const ring = env.SCOPE_RING;
  if (!ring) throw new Error("SCOPE_RING is not set");
  if (env.SCOPE_LIBSCOPE) {
    try {
      return ffiSink(env.SCOPE_LIBSCOPE, ring, tid);
    } catch (error) {
      if (!env.SCOPE_ADDON) throw error;
    }
  }
  if (!env.SCOPE_ADDON) throw new Error("SCOPE_LIBSCOPE or SCOPE_ADDON is not set");
  const addon = require(env.SCOPE_ADDON) as Sink & { attach(path: string, tid: number): boolean };
  if (!addon.attach(ring, tid)) throw new Error(`cannot attach to ${ring}`);
  return addon;
}

const STRING_BYTES_MAX = 4096;

function ffiSink(libraryPath: string, ringPath: string, tid: number): Sink {
  const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
  const { u32, f64, ptr } = FFIType;
  const lib = dlopen(libraryPath, {
    scope_ring_open: { args: [ptr, ptr], returns: u32 },
    scope_producer_attach: { args: [ptr, u32, u32, ptr], returns: u32 },
    scope_producer_record: { args: [ptr, u32, u32, f64, f64, f64, f64, f64], returns: u32 },
    scope_producer_string: { args: [ptr, u32, ptr, u32], returns: u32 },
    scope_producer_stopped: { args: [ptr], returns: u32 },
  });
  const out = new BigUint64Array(1);
  const opened = lib.symbols.scope_ring_open(Buffer.from(`${ringPath}\0`), out);
  if (opened !== 0) throw new Error(`cannot open ${ringPath} (status ${opened})`);
  const ring = Number(out[0]) as import("bun:ffi").Pointer;
  const attached = lib.symbols.scope_producer_attach(ring, process.pid, tid, out);
  if (attached !== 0) throw new Error(`cannot attach to ${ringPath} (status ${attached})`);
  const producer = Number(out[0]) as import("bun:ffi").Pointer;
  const { scope_producer_record: record, scope_producer_string: string, scope_producer_stopped: stopped } = lib.symbols;
  const encoder = new TextEncoder();
  // Worst case UTF-8 of STRING_BYTES_MAX UTF-16 units; the native side cuts to 4096 bytes.
  const buffer = new Uint8Array(STRING_BYTES_MAX * 3);
  let stamped: { scope_producer_now_ns(producer: import("bun:ffi").Pointer): number; scope_producer_write_batch(producer: import("bun:ffi").Pointer, records: Uint32Array, count: number): number } | undefined;
  return {
    record: (kind, flags, a, b, c, d, e) => record(producer, kind, flags, a, b, c, d, e) === 1,
    string: (id, text) => {
      const { written } = encoder.encodeInto(text.length > STRING_BYTES_MAX ? text.slice(0, STRING_BYTES_MAX) : text, buffer);
      return string(producer, id, buffer, written) > 0;
    },
    stopped: () => stopped(producer),
    // A record that carries an earlier time (Recorder.eventAt: a synchronous spawn's start):
    // their symbols bound at the first call, not at every thread's start.
    now: () => stampedCalls().scope_producer_now_ns(producer),
    recordStamped: (records, count) => stampedCalls().scope_producer_write_batch(producer, records, count),
  };
  function stampedCalls() {
    return (stamped ??= dlopen(libraryPath, {
      scope_producer_now_ns: { args: [ptr], returns: f64 },
      scope_producer_write_batch: { args: [ptr, ptr, u32], returns: u32 },
    }).symbols);
  }
}
