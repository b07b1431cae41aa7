/**
 * The Sink for Bun: libscope.so through bun:ffi (the cheap path), else the Node-API
 * addon, which Bun also loads. Assumed C ABI (zig/c_abi.zig):
 *   scope_producer_attach(path: [*:0]const u8, tid: u32) u32  (0 = ok)
 *   scope_producer_record(kind: u16, flags: u16, a..e: f64) bool
 *   scope_producer_string(id: u32, bytes: [*]const u8, len: u32) bool
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

function ffiSink(libraryPath: string, ring: string, tid: number): Sink {
  const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
  const lib = dlopen(libraryPath, {
    scope_producer_attach: { args: [FFIType.cstring, FFIType.u32], returns: FFIType.u32 },
    scope_producer_record: {
      args: [FFIType.u16, FFIType.u16, FFIType.f64, FFIType.f64, FFIType.f64, FFIType.f64, FFIType.f64],
      returns: FFIType.bool,
    },
    scope_producer_string: { args: [FFIType.u32, FFIType.ptr, FFIType.u32], returns: FFIType.bool },
  });
  const path = Buffer.from(`${ring}\0`);
  if (lib.symbols.scope_producer_attach(path, tid) !== 0) throw new Error(`cannot attach to ${ring}`);
  const { scope_producer_record: record, scope_producer_string: string } = lib.symbols;
  const encoder = new TextEncoder();
  return {
    record: (kind, flags, a, b, c, d, e) => record(kind, flags, a, b, c, d, e),
    string: (id, text) => {
      const bytes = encoder.encode(text);
      return string(id, bytes, bytes.length);
    },
  };
}
