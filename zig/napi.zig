//! scope.node: the Node-API producer, for Node processes (bun:ffi does not exist there).
//!
//! One ring mapping per process, shared by every worker thread (set up once under a spin
//! lock: attaches are rare); one producer per JavaScript environment (the main thread
//! and each worker have their own env), kept in a per-env state that every function
//! receives as its callback data (cheaper than napi_get_instance_data per call) and that
//! the env's instance-data finalizer detaches and frees at teardown.
//!
//! Exports, none of which throws (a tracer never throws into the program it traces):
//!   attach(ringPath: string, tid: number): boolean
//!   record(kind, flags, a, b, c, d, e): boolean    numbers; stamped natively
//!   string(id: number, s: string): boolean         string-table fragments, all or nothing
//!   recordString(kind, flags, a, b, c, d, id, s): number   string(id, s) then record(kind,
//!                                                  flags, a, b, c, d, id) in one crossing;
//!                                                  how many of the two were written (0..2)
//!   recordBatch(buf: ArrayBuffer | TypedArray, count: number): number   written
//!   now(): number                                  the producer's clock (CLOCK_MONOTONIC ns,
//!                                                  as records are stamped); 0 when detached
//!   stats(fast?): { written, dropped }             this env's producer; with fast true also
//!                                                  { fast, fastCalls }: the V8 Fast API self-report
//!   detach(): void
//!   scratch(): ArrayBuffer                         this env's scratch (scratch_bytes): a
//!                                                  record's fields as f64 at 0..7, UTF-8 from
//!                                                  byte 64; what commit* read, so a hot event
//!                                                  crosses with no argument to convert
//!   commit(): undefined | true | false             record(f64[0..7) of the scratch): undefined
//!                                                  when written (no value made on the hot path;
//!                                                  true from a V8 Fast API function), else false
//!   commitString(): undefined | number             string(f64[6], bytes 64..64+f64[7]) then
//!                                                  record(f64[0..6), e = f64[6]): as
//!                                                  recordString; undefined when both were
//!                                                  written (2 from a Fast API function), else how many
//!                                                  (0..1)
//!   (commit, commitString, now and commitEvents are V8 Fast API functions on the V8s checked
//!   in "V8 Fast API calls" below, Node-API functions everywhere else.)
//!   events(): ArrayBuffer                          this env's function-event buffer (function
//!                                                  tracing, src/instrument/runtime.ts): a
//!                                                  header of u32 words, events_batch_records
//!                                                  records, two preview texts (events_* below);
//!                                                  in a slot of the ring's batches when free
//!                                                  (zig/batches.zig: a killed process's calls)
//!   commitEvents(): undefined                      writes the buffer's records (and texts
//!                                                  before its last one: producer.write_events),
//!                                                  zeroes them; header word 6 = records not
//!                                                  written
//!   gcWatch(): boolean                             V8's GC callbacks on this env's isolate:
//!                                                  each GC's `gc` record written as it ends
//!   gcDropped(): number                            GCs not recorded (counted)
//!   gcUnwatch(): void                              the callbacks removed
//!   loopWatch(thresholdNs, onLongTurn): ArrayBuffer | false   this thread's loop turns
//!                                                  measured natively (libuv prepare handle,
//!                                                  unref'd); f64 word 0 of the buffer is the
//!                                                  turn running now; onLongTurn(turn,
//!                                                  busyNs, endNs) is called for each turn
//!                                                  busy for thresholdNs or more
//!   loopTake(into: Float64Array): number           the interval's turn times and utilisation
//!                                                  (min, p50, p99, max ns, ppm, turns); 1, or
//!                                                  0 when not watching
//!   loopUnwatch(into?: Float64Array): number       the last turn reported and summarised
//!                                                  (as loopTake), the handle closed
//!   tickStart(intervalMs, onTick): boolean         onTick() every interval from a libuv
//!                                                  timer, unref'd (the groups' samples)
//!   tickStop(): void                               the timer closed
//!   sharedFile(path, latin1?): ArrayBuffer | string | undefined   the process's copy of a
//!                                                  file, read by the first thread that asks
//!                                                  (zig/shared_files.zig): an external buffer
//!                                                  over it, or a one-byte string; the agent's
//!                                                  loader takes its bundle and code cache so
//!                                                  (src/agent/node/code-cache.ts)
//!   shareFile(path, data): boolean                 a copy of data becomes that file's copy
//!                                                  (a code cache this thread just wrote)
//!   prefault(view: Uint8Array, from, to): boolean  view[from, to)'s pages mapped on a libuv
//!                                                  thread, every byte kept (a large source's
//!                                                  parse, src/instrument/oxc-raw.ts)
//!
//! The Node-API functions are declared here as extern (resolved from the node binary at
//! load time; the library is linked with undefined symbols allowed).
const std = @import("std");
const builtin = @import("builtin");
const assert = std.debug.assert;
const layout = @import("layout.zig");
const ring = @import("ring.zig");
const shm = @import("shm.zig");
const producer_module = @import("producer.zig");
const clock_module = @import("clock.zig");
const loop_turns = @import("loop_turns.zig");
const shared_files = @import("shared_files.zig");
const js_number = @import("js_number.zig");
const digits = @import("digits.zig");
const batches = @import("batches.zig");

const napi_env = *opaque {};
const napi_value = *opaque {};
const napi_callback_info = *opaque {};
const napi_status = c_int;
const napi_ok: napi_status = 0;
const napi_callback = *const fn (napi_env, napi_callback_info) callconv(.c) ?napi_value;
const napi_finalize = *const fn (napi_env, ?*anyopaque, ?*anyopaque) callconv(.c) void;

extern fn napi_get_cb_info(env: napi_env, info: napi_callback_info, argc: *usize, argv: ?[*]?napi_value, this: ?*?napi_value, data: ?*?*anyopaque) napi_status;
extern fn napi_get_value_double(env: napi_env, value: ?napi_value, result: *f64) napi_status;
extern fn napi_get_value_uint32(env: napi_env, value: ?napi_value, result: *u32) napi_status;
extern fn napi_get_value_string_utf8(env: napi_env, value: ?napi_value, buffer: ?[*]u8, buffer_size: usize, result: ?*usize) napi_status;
extern fn napi_get_value_bool(env: napi_env, value: ?napi_value, result: *bool) napi_status;
extern fn napi_get_boolean(env: napi_env, value: bool, result: *?napi_value) napi_status;
extern fn napi_create_double(env: napi_env, value: f64, result: *?napi_value) napi_status;
extern fn napi_create_uint32(env: napi_env, value: u32, result: *?napi_value) napi_status;
extern fn napi_create_object(env: napi_env, result: *?napi_value) napi_status;
extern fn napi_typeof(env: napi_env, value: ?napi_value, result: *c_int) napi_status;
extern fn napi_set_named_property(env: napi_env, object: ?napi_value, name: [*:0]const u8, value: ?napi_value) napi_status;
extern fn napi_has_named_property(env: napi_env, object: ?napi_value, name: [*:0]const u8, result: *bool) napi_status;
extern fn napi_create_function(env: napi_env, name: [*:0]const u8, length: usize, callback: napi_callback, data: ?*anyopaque, result: *?napi_value) napi_status;
extern fn napi_set_instance_data(env: napi_env, data: ?*anyopaque, finalize: napi_finalize, hint: ?*anyopaque) napi_status;
extern fn napi_get_typedarray_info(env: napi_env, value: ?napi_value, kind: ?*c_int, length: ?*usize, data: ?*?[*]u8, arraybuffer: ?*?napi_value, byte_offset: ?*usize) napi_status;
extern fn napi_get_arraybuffer_info(env: napi_env, value: ?napi_value, data: ?*?[*]u8, byte_length: ?*usize) napi_status;
extern fn napi_create_array(env: napi_env, result: *?napi_value) napi_status;
extern fn napi_create_arraybuffer(env: napi_env, byte_length: usize, data: *?[*]u8, result: *?napi_value) napi_status;
extern fn napi_create_reference(env: napi_env, value: ?napi_value, initial_refcount: u32, result: *?*anyopaque) napi_status;
extern fn napi_get_reference_value(env: napi_env, reference: ?*anyopaque, result: *?napi_value) napi_status;
extern fn napi_get_uv_event_loop(env: napi_env, loop: *?*anyopaque) napi_status;
extern fn napi_add_env_cleanup_hook(env: napi_env, function: *const fn (?*anyopaque) callconv(.c) void, arg: ?*anyopaque) napi_status;
extern fn napi_remove_env_cleanup_hook(env: napi_env, function: *const fn (?*anyopaque) callconv(.c) void, arg: ?*anyopaque) napi_status;
extern fn napi_open_handle_scope(env: napi_env, result: *?*anyopaque) napi_status;
extern fn napi_close_handle_scope(env: napi_env, scope: ?*anyopaque) napi_status;
extern fn napi_call_function(env: napi_env, recv: ?napi_value, function: ?napi_value, argc: usize, argv: [*]const ?napi_value, result: *?napi_value) napi_status;
extern fn napi_get_undefined(env: napi_env, result: *?napi_value) napi_status;
extern fn napi_get_null(env: napi_env, result: *?napi_value) napi_status;
extern fn napi_get_and_clear_last_exception(env: napi_env, result: *?napi_value) napi_status;
extern fn napi_delete_reference(env: napi_env, reference: ?*anyopaque) napi_status;
extern fn napi_create_external_arraybuffer(env: napi_env, data: ?*anyopaque, byte_length: usize, finalize: ?napi_finalize, hint: ?*anyopaque, result: *?napi_value) napi_status;
extern fn napi_create_string_latin1(env: napi_env, text: [*]const u8, length: usize, result: *?napi_value) napi_status;
extern fn napi_create_string_utf8(env: napi_env, str: [*]const u8, length: usize, result: *?napi_value) napi_status;
const napi_async_execute = *const fn (napi_env, ?*anyopaque) callconv(.c) void;
const napi_async_complete = *const fn (napi_env, napi_status, ?*anyopaque) callconv(.c) void;
extern fn napi_create_async_work(env: napi_env, async_resource: ?napi_value, async_resource_name: ?napi_value, execute: napi_async_execute, complete: napi_async_complete, data: ?*anyopaque, result: *?*anyopaque) napi_status;
extern fn napi_queue_async_work(env: napi_env, work: ?*anyopaque) napi_status;
extern fn napi_delete_async_work(env: napi_env, work: ?*anyopaque) napi_status;
extern fn napi_get_dataview_info(env: napi_env, value: ?napi_value, byte_length: ?*usize, data: ?*?[*]u8, arraybuffer: ?*?napi_value, byte_offset: ?*usize) napi_status;

// ---------------------------------------------------------------------------------------
// The process's mapping.

const ring_path_bytes_max = 4096;

const ProcessRing = struct {
    mapping: shm.Mapping,
    path_buffer: [ring_path_bytes_max]u8,
    path_len: usize,
    /// Environments attached to it now (changed under the lock): `release` unmaps only at 0.
    environments_attached: u32 = 0,
};

/// Set once and kept for the process's life under `scope run` (workers may write into it
/// until exit); only `release` (scope attach's detach) unmaps it, when no environment is
/// attached, so a later attach of the same process can map another ring.
var process_ring: ?ProcessRing = null;
var process_ring_lock: std.atomic.Value(u32) = .init(0);

fn lock() void {
    // Acquire: everything the previous holder wrote to process_ring is visible to us.
    while (process_ring_lock.cmpxchgWeak(0, 1, .acquire, .monotonic) != null) std.atomic.spinLoopHint();
}

fn unlock() void {
    // Release: our writes to process_ring are visible to the next holder.
    process_ring_lock.store(0, .release);
}

/// Maps the ring at `path` the first time; later calls must name the same ring.
fn process_ring_get(path: []const u8) ?*ProcessRing {
    assert(path.len < ring_path_bytes_max);
    lock();
    defer unlock();
    if (process_ring) |*existing| {
        if (!std.mem.eql(u8, existing.path_buffer[0..existing.path_len], path)) return null;
        return existing;
    }
    var path_z: [ring_path_bytes_max]u8 = undefined;
    @memcpy(path_z[0..path.len], path);
    path_z[path.len] = 0;
    const mapping = shm.open(path_z[0..path.len :0]) catch return null;
    process_ring = .{ .mapping = mapping, .path_buffer = path_z, .path_len = path.len };
    return &process_ring.?;
}

// ---------------------------------------------------------------------------------------
// Per-environment state.

/// The scratch's size: eight f64 fields, then a string's UTF-8 (at most string_max_bytes).
const scratch_fields_bytes = 64;
const scratch_bytes = scratch_fields_bytes + layout.string_max_bytes;
comptime {
    // commitHeld's text and its copies' slack (copy_slack) fit.
    assert(layout.string_max_bytes >= 96 + 1 + 16);
}

/// The function-event buffer (batches.zig: its layout, and where it lives when the ring's
/// batches have a free slot). JavaScript fills it and makes one call without arguments per
/// commit: one crossing stamps and writes a full-level event with its previews.
const events_header_bytes = batches.header_bytes;
const events_batch_records = batches.batch_records;
const events_text_bytes = batches.text_bytes;
const events_bytes = batches.buffer_bytes;

/// The slot of the ring's batches an env's buffer is (batches.zig), released at its teardown.
const BatchClaim = struct {
    index: u32,
    pid: u32,
    tid: u32,
    /// The ring it is in (its creation time): `scope attach` may have mapped another since.
    ring_created_ns: u64,
};

const EnvState = struct {
    producer: ring.Producer = undefined,
    attached: bool = false,
    /// The env this state belongs to (the fast calls' slow callbacks make their values with it).
    env: ?napi_env = null,
    /// This env's per-event functions are V8 Fast API functions (fast_define); fast_calls
    /// counts the calls V8 made to their fast C functions (optimized code), for the
    /// addon's self-report in stats().
    fast: bool = false,
    fast_calls: u64 = 0,
    /// The ArrayBuffer `scratch()` made (held by a reference for the env's life, so the
    /// pointer stays valid whatever JavaScript keeps); null until asked for.
    scratch: ?[*]align(8) u8 = null,
    scratch_reference: ?*anyopaque = null,
    /// The ArrayBuffer `events()` made, held the same way.
    events: ?[*]align(8) u8 = null,
    events_reference: ?*anyopaque = null,
    /// events_salvage is registered as this env's cleanup hook (until it ran or was removed).
    events_hook: bool = false,
    /// The ring's batch slot `events` is in (its own mapping); null: process memory.
    batch: ?BatchClaim = null,
    /// V8's GC callbacks of this env's isolate (`gcWatch`); null until asked for.
    gc_watch: ?*GcWatch = null,
    /// The loop's prepare handle and turn figures (`loopWatch`); null until asked for.
    loop_watch: ?*LoopWatch = null,
    /// The samples' timer (`tickStart`); null until asked for.
    ticker: ?*Ticker = null,
    /// The shape writers' held maps (`mapApi`); null until asked for.
    map_proofs: ?*MapProofs = null,
    /// How commitEvent's slow body reads its number arguments (commit_event_words): probed at
    /// its first call; .words where Smis are 64-bit words (no pointer compression) and the
    /// HeapNumber map is known.
    number_words: NumberWords = .unknown,
    heap_number_map: usize = 0,

    fn detach(state: *EnvState) void {
        if (!state.attached) return;
        state.producer.detach();
        state.attached = false;
        lock();
        defer unlock();
        if (process_ring) |*shared| {
            assert(shared.environments_attached > 0);
            shared.environments_attached -= 1;
        }
    }
};

/// Unmaps the process's ring when no environment is attached to it; true when unmapped.
fn process_ring_release() bool {
    lock();
    defer unlock();
    if (process_ring) |*shared| {
        if (shared.environments_attached != 0) return false;
        shm.close(&shared.mapping);
        process_ring = null;
        return true;
    }
    return false;
}

fn env_finalize(env: napi_env, data: ?*anyopaque, hint: ?*anyopaque) callconv(.c) void {
    _ = env;
    _ = hint;
    const state: *EnvState = @ptrCast(@alignCast(data orelse return));
    if (main_state == state) main_state = null;
    // Torn down on its own thread: no commit of this env can come after.
    if (thread_env.state == state) thread_env = .{ .live_count = thread_env.live_count };
    thread_env.live_count -|= 1;
    if (fast_state == state) {
        fast_state = null;
        fast_thread_unregister(state);
    }
    // No dangling sole state: every later fast call reads its thread's.
    if (fast_sole.load(.monotonic) == @intFromPtr(state)) fast_sole.store(fast_many, .monotonic);
    if (state.events_hook and state.env != null) _ = napi_remove_env_cleanup_hook(state.env.?, events_salvage, state);
    // After the cleanup hook wrote what the buffer held: nothing is left for the collector,
    // and no JavaScript of this env runs again (V8 keeps the buffer's object, not its bytes).
    if (state.batch) |claim| {
        batch_release(claim);
        batch_unmap(state.events.?);
    }
    gc_unwatch(state);
    map_proofs_release(state);
    if (state.loop_watch) |watch| LoopHandle.close(watch);
    if (state.ticker) |ticker| TickHandle.close(ticker);
    state.detach();
    std.heap.c_allocator.destroy(state);
}

/// The main thread's state, for the exit handler: process.exit() ends the process
/// without tearing the main environment down, so its finalizer (which detaches, and so
/// hands the producer's overflow to the collector) never runs. Only the main thread
/// touches it (attach, finalize, and exit(), which runs atexit handlers on the thread
/// that called it: the main thread, since process.exit() in a worker ends only the worker).
var main_state: ?*EnvState = null;
var exit_handler_registered = false;

extern "c" fn atexit(function: *const fn () callconv(.c) void) c_int;
/// Bun ends the process with quick_exit(), which runs these instead of atexit's.
extern "c" fn at_quick_exit(function: *const fn () callconv(.c) void) c_int;

fn exit_handler() callconv(.c) void {
    const state = main_state orelse return;
    if (!state.attached) return;
    // Waits (bounded) while the collector drains what a last burst left in the overflow.
    state.producer.flush(true);
}

const args_max = 8;

const Call = struct {
    env: napi_env,
    state: *EnvState,
    argc: usize,
    argv: [args_max]?napi_value,
};

fn call_begin(env: napi_env, info: napi_callback_info) ?Call {
    var call: Call = .{ .env = env, .state = undefined, .argc = args_max, .argv = @splat(null) };
    var data: ?*anyopaque = null;
    if (napi_get_cb_info(env, info, &call.argc, &call.argv, null, &data) != napi_ok) return null;
    call.state = @ptrCast(@alignCast(data orelse return null));
    return call;
}

/// This thread's env and its state, for the per-event commits: found by one compare
/// instead of napi_get_cb_info (~40 instructions a call; BENCHMARKS.md "Per-message cost:
/// the preview at the receive, measured"). Kept only while the thread has exactly one
/// live state (Node runs one env per thread: the main thread's, each worker's; the agent
/// loads the addon once). A second registration on the thread (the addon loaded again,
/// which Node-API gives an env of its own but a runtime may not; a runtime that reuses a
/// thread without tearing its env down) turns the shortcut off until every state of the
/// thread is torn down: each call then finds its state through its callback data, as
/// every other function does.
const ThreadEnv = struct {
    env: ?napi_env = null,
    state: ?*EnvState = null,
    /// States registered on this thread and not torn down.
    live_count: u32 = 0,
};
threadlocal var thread_env: ThreadEnv = .{};

/// state_of for the hot commits (no arguments): this thread's env by compare, else the callback data.
inline fn commit_state_of(env: napi_env, info: napi_callback_info) ?*EnvState {
    const known = thread_env;
    if (known.env != null and known.env == env) return known.state;
    return state_of(env, info);
}

/// The env's state alone, for functions that take no arguments (none are copied).
fn state_of(env: napi_env, info: napi_callback_info) ?*EnvState {
    var argc: usize = 0;
    var data: ?*anyopaque = null;
    if (napi_get_cb_info(env, info, &argc, null, null, &data) != napi_ok) return null;
    return @ptrCast(@alignCast(data orelse return null));
}

fn boolean(env: napi_env, value: bool) ?napi_value {
    var result: ?napi_value = null;
    _ = napi_get_boolean(env, value, &result);
    return result;
}

fn number(env: napi_env, value: f64) ?napi_value {
    var result: ?napi_value = null;
    _ = napi_create_double(env, value, &result);
    return result;
}

fn arg_double(call: *const Call, index: usize) f64 {
    var value: f64 = 0;
    if (index >= call.argc) return 0;
    // A non-number reads as 0: never throw.
    if (napi_get_value_double(call.env, call.argv[index], &value) != napi_ok) return 0;
    return value;
}

fn arg_u32(call: *const Call, index: usize) u32 {
    return @truncate(producer_module.u64_from_f64(arg_double(call, index)));
}

// ---------------------------------------------------------------------------------------
// Exports.

fn js_attach(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    var path: [ring_path_bytes_max]u8 = undefined;
    var path_len: usize = 0;
    if (call.argc < 1) return boolean(env, false);
    if (napi_get_value_string_utf8(env, call.argv[0], &path, path.len, &path_len) != napi_ok) return boolean(env, false);
    // The buffer keeps one byte for the terminator: a longer path arrives cut, so refuse it.
    if (path_len == 0 or path_len >= path.len - 1) return boolean(env, false);
    const tid = arg_u32(&call, 1);
    const shared = process_ring_get(path[0..path_len]) orelse return boolean(env, false);
    call.state.detach();
    call.state.producer = shared.mapping.ring.attach(@intCast(std.c.getpid()), tid);
    call.state.attached = true;
    lock();
    shared.environments_attached += 1;
    unlock();
    if (tid == 0) {
        main_state = call.state;
        if (!exit_handler_registered) {
            exit_handler_registered = true;
            _ = atexit(exit_handler);
            _ = at_quick_exit(exit_handler);
        }
    }
    return boolean(env, true);
}

fn js_record(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    if (!call.state.attached) return boolean(env, false);
    const record = record_from_args(&call, arg_double(&call, 6));
    return boolean(env, call.state.producer.write(&record));
}

/// The record of (kind, flags, a, b, c, d) in arguments 0..5, with field e as given.
fn record_from_args(call: *const Call, e: f64) layout.Record {
    return producer_module.record_from_values(
        arg_u32(call, 0),
        arg_u32(call, 1),
        arg_double(call, 2),
        arg_double(call, 3),
        arg_double(call, 4),
        arg_double(call, 5),
        e,
    );
}

/// Room for string_max_bytes plus a cut character and the terminator; the ring cuts the
/// rest on a UTF-8 boundary.
const StringBuffer = [layout.string_max_bytes + 4]u8;

/// The UTF-8 of argument `index` in `buffer`, or null when it is not a string.
fn arg_string(call: *const Call, index: usize, buffer: *StringBuffer) ?[]const u8 {
    var len: usize = 0;
    if (napi_get_value_string_utf8(call.env, call.argv[index], buffer, buffer.len, &len) != napi_ok) return null;
    assert(len < buffer.len);
    return buffer[0..len];
}

fn js_string(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    if (!call.state.attached or call.argc < 2) return boolean(env, false);
    var buffer: StringBuffer = undefined;
    const text = arg_string(&call, 1, &buffer) orelse return boolean(env, false);
    return boolean(env, producer_module.write_string(&call.state.producer, arg_u32(&call, 0), text) > 0);
}

/// The per-message pair (an event and its preview) in one crossing: the string's fragments
/// (all or nothing, as `string`), then the event with the string id as field e (as
/// `record`). Two claims, so each keeps its own drop semantics exactly.
fn js_record_string(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    if (!call.state.attached or call.argc < 8) return number(env, 0);
    const id = arg_u32(&call, 6);
    var buffer: StringBuffer = undefined;
    var written: u32 = 0;
    if (arg_string(&call, 7, &buffer)) |text| {
        if (producer_module.write_string(&call.state.producer, id, text) > 0) written += 1;
    }
    const record = record_from_args(&call, @floatFromInt(id));
    if (call.state.producer.write(&record)) written += 1;
    return number(env, @floatFromInt(written));
}

/// scratch(): this env's scratch ArrayBuffer, made on the first call and kept for the env's life.
fn js_scratch(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const state = state_of(env, info) orelse return null;
    // One per env: every caller (two Recorders in one thread) writes where commit reads.
    return env_buffer(env, scratch_bytes, &state.scratch, &state.scratch_reference);
}

/// events(): this env's function-event buffer, made on the first call and kept for the env's life.
fn js_events(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const state = state_of(env, info) orelse return null;
    const in_batch = if (state.events_reference == null) batch_buffer(env, state) else null;
    const buffer = in_batch orelse env_buffer(env, events_bytes, &state.events, &state.events_reference) orelse return null;
    const header: *[events_header_bytes / 4]u32 = @ptrCast(state.events.?);
    header[7] = @intFromBool(state.attached and state.producer.mode == .discard);
    if (!state.events_hook and napi_add_env_cleanup_hook(env, events_salvage, state) == napi_ok) state.events_hook = true;
    return buffer;
}

/// This env's cleanup hook (registered with the buffer, after Node-API's own teardown hook,
/// so it runs before it, while the buffer is still held): writes the records JavaScript
/// buffered but never committed. A worker stopped by terminate() runs no JavaScript again
/// (not its 'exit' listeners, not the end of its job), so the calls of the job it was in,
/// the function a runaway loop is stuck in among them, would go with it. The buffer's
/// records are zeroed after every commit and JavaScript writes each record's kind first,
/// so what is buffered is the records before the first zero kind; they are stamped now
/// (calls-level events carry an upper bound of their time: the runtime's header).
fn events_salvage(arg: ?*anyopaque) callconv(.c) void {
    const state: *EnvState = @ptrCast(@alignCast(arg orelse return));
    // Node runs its cleanup hooks once and forgets them: nothing to remove.
    state.events_hook = false;
    const events = state.events orelse return;
    const records: [*]align(8) const layout.Record = @ptrCast(events + events_header_bytes);
    var count: u32 = 0;
    while (count < events_batch_records and records[count].kind != 0) count += 1;
    if (count == 0) return;
    const header: *[events_header_bytes / 4]u32 = @ptrCast(events);
    header[0] = count;
    // A text is written only by the commit that stamps its event: none waits here.
    header[1] = 0;
    commit_events(state);
}

/// The env's function-event buffer in a free slot of the ring's batches (batches.zig), so
/// that the collector writes what it holds if the process is killed by a signal (no code of
/// ours runs then): the slot's pages mapped on their own (`scope attach`'s release may unmap
/// the ring while JavaScript holds the buffer; unmapped by the env's finalizer), zeroed,
/// held for the env's life. Null (the caller makes one in process memory) when detached, when the ring
/// has no batches (made for a run without function tracing), outside the ring creator's pid namespace (the collector could not tell when the owner ended), with
/// every slot taken, or when the mapping fails. Once a thread, at its first events(): one
/// open, mmap and close.
fn batch_buffer(env: napi_env, state: *EnvState) ?napi_value {
    if (!state.attached) return null;
    var path: [ring_path_bytes_max]u8 = undefined;
    var area: batches.Area = undefined;
    var area_offset: u64 = 0;
    var ring_created_ns: u64 = 0;
    {
        lock();
        defer unlock();
        if (process_ring == null) return null;
        const shared = &process_ring.?;
        const ring_view = &shared.mapping.ring;
        if (ring_view.batches.count == 0 or !ring_view.in_pid_namespace()) return null;
        @memcpy(path[0 .. shared.path_len + 1], shared.path_buffer[0 .. shared.path_len + 1]);
        area = ring_view.batches;
        area_offset = ring_view.header.batches_offset_bytes;
        ring_created_ns = ring_view.header.created_monotonic_ns;
    }
    const claim: BatchClaim = .{ .index = undefined, .pid = state.producer.pid, .tid = state.producer.tid, .ring_created_ns = ring_created_ns };
    const index = area.claim(claim.pid, claim.tid, claim.tid % area.count) orelse return null;
    const memory = batch_map(@ptrCast(&path), area_offset + batches.Area.slot_offset(index)) orelse {
        area.release(index, claim.pid, claim.tid);
        return null;
    };
    @memset(memory[0..events_bytes], 0);
    var buffer: ?napi_value = null;
    // No finalizer: Node may run an external buffer's before the env's cleanup hooks
    // (events_salvage reads the buffer there), so the env's own finalizer unmaps it.
    if (napi_create_external_arraybuffer(env, memory, events_bytes, null, null, &buffer) != napi_ok) {
        batch_unmap(memory);
        area.release(index, claim.pid, claim.tid);
        return null;
    }
    var made: ?*anyopaque = null;
    // Never released: one per env, unmapped with the env (env_finalize).
    if (napi_create_reference(env, buffer, 1, &made) != napi_ok) {
        // Left mapped: the buffer JavaScript cannot reach yet may still be alive in V8.
        area.release(index, claim.pid, claim.tid);
        return null;
    }
    state.events = memory;
    state.events_reference = made;
    state.batch = claim;
    state.batch.?.index = index;
    return buffer;
}

/// Slot pages of the ring file at `path`, at `offset`, mapped on their own; null when refused.
fn batch_map(path: [*:0]const u8, offset: u64) ?[*]align(8) u8 {
    assert(offset % batches.page_size_bytes == 0);
    const fd = std.c.open(path, .{ .ACCMODE = .RDWR, .CLOEXEC = true }, @as(std.c.mode_t, 0));
    if (fd < 0) return null;
    defer _ = std.c.close(fd);
    const address = std.c.mmap(null, batches.slot_bytes, .{ .READ = true, .WRITE = true }, .{ .TYPE = .SHARED }, fd, @intCast(offset));
    if (address == std.c.MAP_FAILED) return null;
    return @ptrCast(@alignCast(address));
}

/// A slot's pages mapped by batch_map, unmapped.
fn batch_unmap(memory: [*]align(8) u8) void {
    _ = std.c.munmap(@ptrCast(@alignCast(memory)), batches.slot_bytes);
}

/// Frees the env's slot, when the ring it is in is still the process's mapping.
fn batch_release(claim: BatchClaim) void {
    lock();
    defer unlock();
    if (process_ring == null) return;
    const shared = &process_ring.?;
    if (shared.mapping.ring.header.created_monotonic_ns != claim.ring_created_ns) return;
    shared.mapping.ring.batches.release(claim.index, claim.pid, claim.tid);
}

/// The env's buffer of `size_bytes` behind `pointer`: made (zeroed, referenced for the
/// env's life) on the first call, the same ArrayBuffer after.
fn env_buffer(env: napi_env, size_bytes: usize, pointer: *?[*]align(8) u8, reference: *?*anyopaque) ?napi_value {
    if (reference.*) |existing| {
        var value: ?napi_value = null;
        if (napi_get_reference_value(env, existing, &value) != napi_ok) return null;
        return value;
    }
    var data: ?[*]u8 = null;
    var buffer: ?napi_value = null;
    if (napi_create_arraybuffer(env, size_bytes, &data, &buffer) != napi_ok) return null;
    var made: ?*anyopaque = null;
    // Never released: one per env (the agent asks once), freed with the env.
    if (napi_create_reference(env, buffer, 1, &made) != napi_ok) return null;
    const bytes = data orelse return null;
    // V8 allocates array buffer backing stores at least 8-byte aligned.
    if (@intFromPtr(bytes) % 8 != 0) return null;
    @memset(bytes[0..size_bytes], 0);
    pointer.* = @alignCast(bytes);
    reference.* = made;
    return buffer;
}

/// commitEvents(): see events_header_bytes. Returns undefined (no value to make); the
/// count of records not written is in header word 6.
fn js_commit_events(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const state = state_of(env, info) orelse return null;
    commit_events(state);
    return null;
}

/// commitEvents()'s work (see events_header_bytes): no value, nothing of V8 touched.
inline fn commit_events(state: *EnvState) void {
    const events = state.events orelse return;
    const header: *[events_header_bytes / 4]u32 = @ptrCast(events);
    const count: u32 = @min(header[0], events_batch_records);
    const text_count: u32 = @min(header[1], 2);
    header[0] = 0;
    header[1] = 0;
    const records_bytes = events[events_header_bytes..][0 .. count * layout.record_size_bytes];
    const records: [*]align(1) layout.Record = @ptrCast(records_bytes.ptr);
    var texts: [2]producer_module.Text = undefined;
    const texts_at = events_header_bytes + events_batch_records * layout.record_size_bytes;
    for (0..text_count) |index| {
        const length: usize = @min(header[3 + 2 * index], events_text_bytes);
        texts[index] = .{ .id = header[2 + 2 * index], .utf8 = events[texts_at + index * events_text_bytes ..][0..length] };
    }
    // A process killed from here to the zeroing may have these records in the ring already:
    // the collector then leaves the batch (batches.zig). Only the compiler could move the
    // stores: a signal stops the thread between two instructions, and the collector reads
    // the buffer once the process is gone.
    header[batches.committing_word] = 1;
    compiler_barrier();
    if (state.attached) {
        if (count == 1 and text_count == 1 and texts[0].utf8.len <= layout.string_max_bytes) {
            // An event and its one text (a full-level entry or return): one claim, the
            // fragments built in their slots from the text's bytes, zero-padded here to the
            // next fragment's end (what the walk left past the text is an older text's).
            const fragment_bytes = layout.string_fragment_bytes;
            const length = texts[0].utf8.len;
            const padded_end = @max(fragment_bytes, std.mem.alignForward(usize, length, fragment_bytes));
            @memset(events[texts_at + length .. texts_at + padded_end], 0);
            header[6] = producer_module.write_event_padded(&state.producer, records[0..1], texts[0]);
        } else {
            header[6] = producer_module.write_events(&state.producer, records[0..count], texts[0..text_count]);
        }
    } else {
        header[6] = count;
    }
    // JavaScript writes only a record's non-zero words: the next batch starts from zeros.
    @memset(records_bytes, 0);
    compiler_barrier();
    header[batches.committing_word] = 0;
}

/// Keeps the compiler from moving memory accesses across it (no instruction).
inline fn compiler_barrier() void {
    asm volatile ("" ::: .{ .memory = true });
}

fn scratch_fields(state: *const EnvState) ?*const [8]f64 {
    const pointer = state.scratch orelse return null;
    return @ptrCast(pointer);
}

fn scratch_record(fields: *const [8]f64, e: f64) layout.Record {
    return producer_module.record_from_values(
        @truncate(producer_module.u64_from_f64(fields[0])),
        @truncate(producer_module.u64_from_f64(fields[1])),
        fields[2],
        fields[3],
        fields[4],
        fields[5],
        e,
    );
}

/// record(f64[0..7) of the scratch): whether it was written.
inline fn commit_write(state: *EnvState) bool {
    if (!state.attached) return false;
    const fields = scratch_fields(state) orelse return false;
    const record = scratch_record(fields, fields[6]);
    return state.producer.write(&record);
}

/// string(f64[6], bytes 64..64+f64[7]) then record(f64[0..6), e = f64[6]): how many of the
/// two were written (0..2).
inline fn commit_string_write(state: *EnvState) u32 {
    if (!state.attached) return 0;
    const fields = scratch_fields(state) orelse return 0;
    const id: u32 = @truncate(producer_module.u64_from_f64(fields[6]));
    const length: usize = @min(producer_module.u64_from_f64(fields[7]), layout.string_max_bytes);
    const bytes = state.scratch.?[scratch_fields_bytes..][0..length];
    const record = scratch_record(fields, fields[6]);
    // One claim and one clock reading for both while the lane has room (producer.zig).
    return producer_module.write_string_record(&state.producer, id, bytes, &record);
}

fn js_commit(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const state = commit_state_of(env, info) orelse return null;
    // Written: undefined, no value to make (napi_get_boolean, ~17 instructions a commit).
    if (commit_write(state)) return null;
    return boolean(env, false);
}

fn js_commit_string(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const state = commit_state_of(env, info) orelse return null;
    const written = commit_string_write(state);
    // Both written: undefined, no number to make (napi_create_double, ~29 instructions).
    if (written == 2) return null;
    return number(env, @floatFromInt(written));
}

/// The bytes behind an ArrayBuffer, a TypedArray or a DataView (empty otherwise).
fn buffer_bytes(env: napi_env, value: ?napi_value) []const u8 {
    var data: ?[*]u8 = null;
    var len: usize = 0;
    var element_count: usize = 0;
    var kind: c_int = 0;
    // TypedArray first (the common case): data is already adjusted by the byte offset.
    if (napi_get_typedarray_info(env, value, &kind, &element_count, &data, null, null) == napi_ok) {
        len = element_count * typedarray_element_bytes(kind);
    } else if (napi_get_arraybuffer_info(env, value, &data, &len) != napi_ok) {
        if (napi_get_dataview_info(env, value, &len, &data, null, null) != napi_ok) return &.{};
    }
    const pointer = data orelse return &.{};
    return pointer[0..len];
}

/// napi_typedarray_type → bytes per element.
fn typedarray_element_bytes(kind: c_int) usize {
    return switch (kind) {
        0, 1, 2 => 1, // int8, uint8, uint8_clamped
        3, 4, 11 => 2, // int16, uint16, float16
        5, 6, 7 => 4, // int32, uint32, float32
        8, 9, 10 => 8, // float64, bigint64, biguint64
        else => 0,
    };
}

fn js_record_batch(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    if (!call.state.attached or call.argc < 1) return number(env, 0);
    const bytes = buffer_bytes(env, call.argv[0]);
    const fits = bytes.len / layout.record_size_bytes;
    const count = if (call.argc >= 2) @min(fits, arg_u32(&call, 1)) else fits;
    if (count == 0) return number(env, 0);
    const records: [*]align(1) const layout.Record = @ptrCast(bytes.ptr);
    return number(env, @floatFromInt(call.state.producer.write_batch(records[0..count], 0)));
}

/// The time a record written now would carry, so JavaScript can stamp buffered records
/// (recordBatch keeps a non-zero timestamp) on the same clock as natively stamped ones.
/// A double holds every ns exactly for 104 days of uptime (2^53 ns), 2 ns steps after.
fn js_now(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const state = state_of(env, info) orelse return null;
    return number(env, now_value(state));
}

inline fn now_value(state: *EnvState) f64 {
    if (!state.attached) return 0;
    return @floatFromInt(state.producer.clock.now_ns());
}

/// 1 once recording stopped (`scope stop`, a limit): the agent then turns its hooks off.
fn js_stopped(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    if (!call.state.attached) return number(env, 0);
    return number(env, if (call.state.producer.stopped()) 1 else 0);
}

/// The pages a prefault touches, and what keeps their memory alive meanwhile.
const Prefault = struct {
    /// [low, high): page-aligned addresses.
    low: usize,
    high: usize,
    /// A reference to the typed array (its buffer stays while a libuv thread touches it).
    reference: ?*anyopaque = null,
    work: ?*anyopaque = null,
};

const page_bytes = 4096;

/// On a libuv thread: each page from the top down (the order oxc's arena fills a raw
/// transfer buffer), written once by a compare-and-swap of its first word (0 for 0), so the kernel maps the page here and not in the thread that writes it next (a
/// load would only map the shared zero page; LLVM turns an atomic add of 0 into a load).
/// Content-preserving: the parser may already be writing the same pages, and a swap of a
/// word for itself cannot undo a store on either side of it (one in between fails it).
fn prefault_execute(_: napi_env, data: ?*anyopaque) callconv(.c) void {
    const job: *Prefault = @ptrCast(@alignCast(data orelse return));
    var at = job.high;
    while (at > job.low) {
        at -= page_bytes;
        const word: *u32 = @ptrFromInt(at);
        // 0 for 0: a fresh page holds zeros (one fault, the write's; a load first would map the
        // zero page, a second fault); a word already written fails the compare and stays.
        _ = @cmpxchgStrong(u32, word, 0, 0, .monotonic, .monotonic);
    }
}

fn prefault_complete(env: napi_env, _: napi_status, data: ?*anyopaque) callconv(.c) void {
    const job: *Prefault = @ptrCast(@alignCast(data orelse return));
    if (job.reference) |reference| _ = napi_delete_reference(env, reference);
    if (job.work) |work| _ = napi_delete_async_work(env, work);
    std.heap.c_allocator.destroy(job);
}

/// prefault(view, from, to): boolean. Maps the pages of view[from, to) on a libuv thread
/// (prefault_execute), so a raw-transfer parse about to fill them (src/instrument/oxc-raw.ts)
/// does not take their page faults on the program's thread. Fire and forget: false when
/// nothing was queued.
fn js_prefault(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    if (call.argc < 3) return boolean(env, false);
    var base: ?[*]u8 = null;
    var length: usize = 0;
    var kind: c_int = 0;
    if (napi_get_typedarray_info(env, call.argv[0], &kind, &length, &base, null, null) != napi_ok) return boolean(env, false);
    // Uint8Array (napi_uint8_array = 1): length is in bytes.
    if (kind != 1 or base == null) return boolean(env, false);
    const from = arg_double(&call, 1);
    const to = arg_double(&call, 2);
    if (!(from >= 0 and to <= @as(f64, @floatFromInt(length)) and from < to)) return boolean(env, false);
    const start = @intFromPtr(base.?);
    const low = std.mem.alignBackward(usize, start + @as(usize, @intFromFloat(from)), page_bytes);
    const high = std.mem.alignBackward(usize, start + @as(usize, @intFromFloat(to)), page_bytes);
    // Only whole pages inside the view.
    const first = if (low < start) low + page_bytes else low;
    if (first >= high) return boolean(env, false);
    const job = std.heap.c_allocator.create(Prefault) catch return boolean(env, false);
    job.* = .{ .low = first, .high = high };
    var name: ?napi_value = null;
    const queued = napi_create_reference(env, call.argv[0], 1, &job.reference) == napi_ok and
        napi_create_string_utf8(env, "scope.prefault", "scope.prefault".len, &name) == napi_ok and
        napi_create_async_work(env, null, name, prefault_execute, prefault_complete, job, &job.work) == napi_ok and
        napi_queue_async_work(env, job.work) == napi_ok;
    if (!queued) {
        if (job.reference) |reference| _ = napi_delete_reference(env, reference);
        if (job.work) |work| _ = napi_delete_async_work(env, work);
        std.heap.c_allocator.destroy(job);
    }
    return boolean(env, queued);
}

fn js_stats(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    var written: u64 = 0;
    var dropped: u64 = 0;
    if (call.state.attached) {
        written = call.state.producer.written_count;
        dropped = call.state.producer.dropped_count;
    }
    var object: ?napi_value = null;
    if (napi_create_object(env, &object) != napi_ok) return null;
    _ = napi_set_named_property(env, object, "written", number(env, @floatFromInt(written)));
    _ = napi_set_named_property(env, object, "dropped", number(env, @floatFromInt(dropped)));
    var fast_report = false;
    if (call.argc >= 1 and napi_get_value_bool(env, call.argv[0], &fast_report) != napi_ok) fast_report = false;
    if (fast_report) {
        // stats(true), the fast calls' self-report (specs, benches): whether this env's
        // per-event functions are V8 Fast API functions (fast_define), and how many calls
        // optimized code made to their fast C bodies. Not an export of its own: a 20th
        // property turns a plain load's exports object into a dictionary in V8 (each load of
        // a function from it a LoadIC call from optimized code, ~70 instructions).
        _ = napi_set_named_property(env, object, "fast", boolean(env, call.state.fast));
        _ = napi_set_named_property(env, object, "fastCalls", number(env, @floatFromInt(call.state.fast_calls)));
    }
    return object;
}

fn js_detach(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    call.state.detach();
    return null;
}

/// Detaches this environment and unmaps the process's ring when no other environment is
/// attached to it (`scope attach` leaving a process that runs on): returns whether it was
/// unmapped. Under `scope run` nothing calls it.
fn js_release(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    if (main_state == call.state) main_state = null;
    call.state.detach();
    return boolean(env, process_ring_release());
}

// ---------------------------------------------------------------------------------------
// GC events (the memory group): V8's own GC prologue and epilogue callbacks on this env's
// isolate. Node's 'gc' PerformanceObserver and v8.GCProfiler cost ~250 µs of CPU per GC on
// this VM (a JavaScript entry object, two immediates, heap and space statistics as JSON:
// BENCHMARKS.md "Event loop and memory", third look); here a GC costs two clock reads,
// two heap-size reads and the write of its record, from the epilogue itself as the GC
// ends: a process that dies (an OOM, SIGKILL, abort) keeps every GC that ended before
// (held until the next sample, up to a second of them was lost: BENCHMARKS.md "GC
// records written as each GC ends"). The epilogue runs on the isolate's own thread, whose
// lane this env's producer writes, and never inside a write of that producer: a GC starts
// only at an allocation in V8's heap, and no producer call makes one (nor runs JavaScript). The
// V8 functions are the node binary's exported C++ symbols, looked up with dlsym: where one
// is missing `gcWatch` answers false and the agent keeps the observer.

const v8_isolate = *opaque {};
const GcCallback = *const fn (?v8_isolate, c_int, c_int, ?*anyopaque) callconv(.c) void;

const V8 = struct {
    get_current: *const fn () callconv(.c) ?v8_isolate,
    add_prologue: *const fn (?v8_isolate, GcCallback, ?*anyopaque, c_int) callconv(.c) void,
    add_epilogue: *const fn (?v8_isolate, GcCallback, ?*anyopaque, c_int) callconv(.c) void,
    remove_prologue: *const fn (?v8_isolate, GcCallback, ?*anyopaque) callconv(.c) void,
    remove_epilogue: *const fn (?v8_isolate, GcCallback, ?*anyopaque) callconv(.c) void,
    heap_statistics: *const fn (?v8_isolate, *HeapStatistics) callconv(.c) void,

    fn resolve() ?V8 {
        return .{
            .get_current = symbol(*const fn () callconv(.c) ?v8_isolate, "_ZN2v87Isolate10GetCurrentEv") orelse return null,
            .add_prologue = symbol(*const fn (?v8_isolate, GcCallback, ?*anyopaque, c_int) callconv(.c) void, "_ZN2v87Isolate21AddGCPrologueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_S2_") orelse return null,
            .add_epilogue = symbol(*const fn (?v8_isolate, GcCallback, ?*anyopaque, c_int) callconv(.c) void, "_ZN2v87Isolate21AddGCEpilogueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_S2_") orelse return null,
            .remove_prologue = symbol(*const fn (?v8_isolate, GcCallback, ?*anyopaque) callconv(.c) void, "_ZN2v87Isolate24RemoveGCPrologueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_") orelse return null,
            .remove_epilogue = symbol(*const fn (?v8_isolate, GcCallback, ?*anyopaque) callconv(.c) void, "_ZN2v87Isolate24RemoveGCEpilogueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_") orelse return null,
            .heap_statistics = symbol(*const fn (?v8_isolate, *HeapStatistics) callconv(.c) void, "_ZN2v87Isolate17GetHeapStatisticsEPNS_14HeapStatisticsE") orelse return null,
        };
    }

    fn symbol(comptime T: type, name: [*:0]const u8) ?T {
        const address = std.c.dlsym(null, name) orelse return null;
        return @ptrCast(@alignCast(address));
    }
};

/// v8::HeapStatistics: size_t fields, used_heap_size_ the fifth (V8 11 in Node 20 and V8 12
/// in Node 22 alike); the rest is room for the fields V8 adds after it.
const HeapStatistics = extern struct {
    fields: [64]usize,
    const used_heap_size_index = 4;
};

/// V8's GCType bits: every kind.
const gc_type_all: c_int = 31;
/// Nested prologues (an incremental step inside a collection) tracked; deeper ones are counted.
const gc_depth_max = 4;

const GcOpen = struct {
    start_ns: u64,
    heap_before_bytes: u64,
};

const GcWatch = struct {
    state: *EnvState,
    isolate: v8_isolate,
    v8: V8,
    dropped: u32 = 0,
    depth: u32 = 0,
    open: [gc_depth_max]GcOpen = undefined,

    fn now_ns(watch: *const GcWatch) u64 {
        if (!watch.state.attached) return 0;
        return watch.state.producer.clock.now_ns();
    }

    fn heap_used_bytes(watch: *const GcWatch) u64 {
        var statistics: HeapStatistics = .{ .fields = @splat(0) };
        watch.v8.heap_statistics(watch.isolate, &statistics);
        return statistics.fields[HeapStatistics.used_heap_size_index];
    }
};

fn gc_prologue(isolate: ?v8_isolate, gc_type: c_int, flags: c_int, data: ?*anyopaque) callconv(.c) void {
    _ = isolate;
    _ = gc_type;
    _ = flags;
    const watch: *GcWatch = @ptrCast(@alignCast(data orelse return));
    if (watch.depth < gc_depth_max) {
        watch.open[watch.depth] = .{ .start_ns = watch.now_ns(), .heap_before_bytes = watch.heap_used_bytes() };
    }
    watch.depth += 1;
}

/// Writes the GC that ends now: the `gc` record (layout.zig) the agent wrote from its
/// sample until 2026-12-06, the same fields, stamped at the GC's end, so its start (the
/// record's time minus b) is the prologue's reading.
fn gc_epilogue(isolate: ?v8_isolate, gc_type: c_int, flags: c_int, data: ?*anyopaque) callconv(.c) void {
    _ = isolate;
    const watch: *GcWatch = @ptrCast(@alignCast(data orelse return));
    // An epilogue without its prologue (callbacks added during a collection): not a whole GC.
    if (watch.depth == 0) return;
    watch.depth -= 1;
    if (watch.depth >= gc_depth_max) {
        watch.dropped +|= 1;
        return;
    }
    const state = watch.state;
    // Detached (the agent's detach, scope attach's release): nothing to write into.
    if (!state.attached) return;
    const open = watch.open[watch.depth];
    const end_ns = state.producer.clock.now_ns();
    const duration_ns = end_ns -| open.start_ns;
    const record: layout.Record = .{
        .seq = 0,
        .kind = @intFromEnum(layout.EventKind.gc),
        .flags = @truncate(@as(u32, @bitCast(flags))),
        .timestamp_ns = end_ns,
        .pid = 0,
        .tid = 0,
        .a = duration_ns,
        // ago_ns of the start, counted from the record's own stamp (the GC's end).
        .b = duration_ns,
        .c = @as(u32, @bitCast(gc_type)),
        .d = open.heap_before_bytes,
        .e = watch.heap_used_bytes(),
    };
    // Refused (the lane and its overflow full): a loss the agent counts as unrecorded, as
    // it did a refused write of its own; after a stop, nothing (as the agent's hooks).
    if (!state.producer.write(&record) and !state.producer.stopped()) watch.dropped +|= 1;
}

/// Removes this env's GC callbacks (the agent's flush at the thread's end, the env's teardown).
fn gc_unwatch(state: *EnvState) void {
    const watch = state.gc_watch orelse return;
    watch.v8.remove_prologue(watch.isolate, gc_prologue, watch);
    watch.v8.remove_epilogue(watch.isolate, gc_epilogue, watch);
    state.gc_watch = null;
    std.heap.c_allocator.destroy(watch);
}

/// gcWatch(): boolean. Starts recording this env's GCs natively (idempotent); false where
/// the runtime's V8 symbols are not found or the env is not attached.
fn js_gc_watch(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const state = state_of(env, info) orelse return null;
    if (state.gc_watch != null) return boolean(env, true);
    if (!state.attached) return boolean(env, false);
    const v8 = resolvedOnce(V8) orelse return boolean(env, false);
    const isolate = v8.get_current() orelse return boolean(env, false);
    const watch = std.heap.c_allocator.create(GcWatch) catch return boolean(env, false);
    watch.* = .{ .state = state, .isolate = isolate, .v8 = v8 };
    state.gc_watch = watch;
    v8.add_prologue(isolate, gc_prologue, watch, gc_type_all);
    v8.add_epilogue(isolate, gc_epilogue, watch, gc_type_all);
    return boolean(env, true);
}

/// gcDropped(): number. GCs not recorded since the last call (nested deeper than
/// gc_depth_max, or refused by a full lane and overflow); the agent counts them as unrecorded.
fn js_gc_dropped(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const state = state_of(env, info) orelse return null;
    const watch = state.gc_watch orelse return number(env, 0);
    const dropped = watch.dropped;
    watch.dropped = 0;
    return number(env, @floatFromInt(dropped));
}

/// gcUnwatch(): void. Removes the callbacks (the thread's last sample was taken).
fn js_gc_unwatch(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const state = state_of(env, info) orelse return null;
    gc_unwatch(state);
    return null;
}

// ---------------------------------------------------------------------------------------
// V8 Fast API calls for the per-event functions (commit, commitString, now). Every event
// the Node agent writes is one call of commit() or commitString() without arguments; made
// by napi_create_function, each call from optimized code goes through V8's
// CallApiCallback builtin and Node-API's FunctionCallbackWrapper::Invoke before it reaches
// js_commit (~135 instructions of entry: BENCHMARKS.md "Per-message cost: the preview at
// the receive, measured"). A function made from a FunctionTemplate with a CFunction is
// called by TurboFan's code as a plain C call instead. Node-API has no way to make one, so
// where the running V8 is one whose layouts were checked (fast_api_versions) the functions
// are made with V8's own C++ API, found with dlsym in the node binary as the GC callbacks
// are; everywhere else (another V8, a symbol missing, Bun, whose V8 shim exports
// FunctionTemplate::New but neither V8::GetVersion nor CFunction's constructor) they are
// the Node-API functions above, unchanged.
//
// Each function has two C bodies doing the same work and returning the same value: the
// fast one (called by optimized code: no allocation, no JavaScript, no throw, no handle)
// and a V8 FunctionCallback (interpreter, baseline, and any call the optimizer did not make
// fast). Written, commit() gives true and commitString() 2 there, where the Node-API
// functions give undefined (no value made); the agent reads only `false` and counts below 2. Neither has Node-API's callback data: the state is
// this thread's fast_state, the one env of the thread that owns fast functions (a second
// env on the thread gets Node-API functions, which carry their state).
//
// Layouts, checked in each binary (gdb on V8's own CFunctionInfo instances in Node 20.20.2,
// 22.23.5, 24.22.3) and V8's headers: CTypeInfo is three bytes (type, sequence type,
// flags), Type kVoid 0, kBool 1, kUint32 4, kFloat64 8, kV8Value 10; CFunctionInfo is
// {CTypeInfo return_info_, u8 repr_ (V8 12+; padding in 11.3), u32 arg_count_, const
// CTypeInfo* arg_info_}; CFunction is {const void* address_, const CFunctionInfo*
// type_info_}; FunctionCallbackInfo starts with `Address* implicit_args_`, whose slot 3
// is the return value (kReturnValueIndex in V8 11.3, 12.4 and 13.6). A Local and a
// napi_value are the same pointer (Node's js_native_api_v8.h JsValueFromV8LocalValue:
// reinterpret_cast<napi_value>(*local)), so a function made here is set on the exports
// with napi_set_named_property, and a value Node-API made (napi_get_boolean,
// napi_create_double) is read through its slot into the return value.

/// V8 versions (V8::GetVersion() prefixes) whose layouts above were checked.
const fast_api_versions = [_][]const u8{ "11.3.", "12.4.", "13.6." };

const CTypeInfo = extern struct {
    type: u8,
    sequence_type: u8 = 0,
    flags: u8 = 0,

    const void_type = 0;
    const bool_type = 1;
    const uint32_type = 4;
    const float64_type = 8;
    const v8_value_type = 10;
};

const CFunctionInfo = extern struct {
    return_info: CTypeInfo,
    int64_representation: u8 = 0,
    arg_count: u32,
    arg_info: [*]const CTypeInfo,
};

const CFunction = extern struct {
    address: *const anyopaque,
    type_info: *const CFunctionInfo,
};

comptime {
    assert(@sizeOf(CTypeInfo) == 3);
    assert(@sizeOf(CFunctionInfo) == 16 and @offsetOf(CFunctionInfo, "arg_count") == 4 and @offsetOf(CFunctionInfo, "arg_info") == 8);
    assert(@sizeOf(CFunction) == 16);
}

const V8FunctionCallbackInfo = extern struct {
    implicit_args: [*]usize,
    /// The first argument's slot (the next ones follow it).
    values: [*]usize,
    length: i32,
};
const v8_return_value_index = 3;
const V8FunctionCallback = *const fn (*const V8FunctionCallbackInfo) callconv(.c) void;

/// The receiver alone (every fast call's first argument): the functions take no arguments.
const receiver_only = [_]CTypeInfo{.{ .type = CTypeInfo.v8_value_type }};

const FastFunction = struct {
    slow: V8FunctionCallback,
    c_function: CFunction,
};

const fast_commit_function = fastFunction(bool, commit_write, boolean);
const fast_commit_string_function = fastFunction(u32, commit_string_write, count_value);
const fast_now_function = fastFunction(f64, now_value, number);
const fast_commit_events_function = fastFunction(void, commit_events, null);

/// A per-event function's two bodies, made from what it does (`body`, taking this env's
/// state) and how its result reads in JavaScript (`value`; null: undefined). The fast body is
/// what V8's optimized code calls directly: it never allocates, calls JavaScript or throws.
/// The slow one (a V8 FunctionCallback) does the same for every other call and returns the
/// same values: true when written, false when not (commit); how many were written, 2 too
/// (commitString); not js_commit's undefined, so that the caller's code, compiled with the
/// feedback of its interpreted calls, sees no value it has not seen before (a `=== 2` never
/// reached in the interpreter deoptimized the agent's eventWithPreview and send once the
/// fast body returned 2: a TurboFan compile again per thread, ~+60 M instructions in a
/// 2-worker pool).
fn fastFunction(comptime Result: type, comptime body: anytype, comptime value: ?fn (napi_env, Result) ?napi_value) FastFunction {
    const Bodies = struct {
        fn fast(receiver: ?*anyopaque) callconv(.c) Result {
            _ = receiver;
            const state = fast_state_get() orelse return std.mem.zeroes(Result);
            state.fast_calls +%= 1;
            return body(state);
        }
        fn slow(info: *const V8FunctionCallbackInfo) callconv(.c) void {
            const state = fast_state_get() orelse return;
            const result = body(state);
            if (value) |make| slow_return(info, make(state.env.?, result));
        }
    };
    const return_type = switch (Result) {
        bool => CTypeInfo.bool_type,
        u32 => CTypeInfo.uint32_type,
        f64 => CTypeInfo.float64_type,
        void => CTypeInfo.void_type,
        else => @compileError("no Fast API return type for " ++ @typeName(Result)),
    };
    return .{
        .slow = Bodies.slow,
        .c_function = .{ .address = &Bodies.fast, .type_info = &.{ .return_info = .{ .type = return_type }, .arg_count = 1, .arg_info = &receiver_only } },
    };
}

/// A count as a JavaScript number (commitString's result).
fn count_value(env: napi_env, value: u32) ?napi_value {
    return number(env, @floatFromInt(value));
}

// commitEvent(kind, flags, a, b, c, d, e): record() of its arguments, the Recorder's ordinary
// event (src/agent/shared/recorder.ts event). A Fast API signature of two uint32 and five
// float64 after the receiver, all in registers: the Recorder stores nothing into the scratch
// before the call, and the record is built from the registers, with the scratch path's
// conversions (producer.zig record_from_values: a..e as u64 from f64, so -1 is the u64
// "none" and ids above 2^32 stay whole). kind and flags come as V8 converts a uint32
// argument (ToUint32: the low 32 bits of the truncated number), which is the scratch's
// u64_from_f64 then @truncate for every number below 2^63 in magnitude and for NaN (0); the
// agent's kinds and flags are small integers. Only a Fast API function (no Node-API one):
// where none can be made (Bun, another V8, a second env on the thread) there is no
// commitEvent and the Recorder writes through the scratch as before. Answers 1 written, 0
// not; the slow body also answers 2 for "not taken" (an argument that is not a number, fewer
// than seven arguments): the Recorder then writes the event through the scratch, whose
// Float64Array stores convert any value as they always have.

/// commitEvent's answer from the slow body when it wrote nothing and the caller should take the scratch path.
const event_not_taken: u32 = 2;

inline fn commit_event_write(state: *EnvState, kind: u32, flags: u32, a: f64, b: f64, c: f64, d: f64, e: f64) bool {
    if (!state.attached) {
        @branchHint(.unlikely);
        return false;
    }
    const record = producer_module.record_from_values(kind, flags, a, b, c, d, e);
    // write's straight path inlined here (no call, no second function's lines): the fast
    // body runs ~11 times a web request (BENCHMARKS.md "The native write laid out straight,
    // one path").
    return state.producer.write(&record);
}

fn commit_event_fast(receiver: ?*anyopaque, kind: u32, flags: u32, a: f64, b: f64, c: f64, d: f64, e: f64) callconv(.c) u32 {
    _ = receiver;
    const state = fast_state_get() orelse return 0;
    state.fast_calls +%= 1;
    return @intFromBool(commit_event_write(state, kind, flags, a, b, c, d, e));
}

const NumberWords = enum(u8) { unknown, words, napi };

/// Whether this env's arguments can be read from their words (a Smi's value in the word's
/// upper half, a HeapNumber's f64 at heap_number_value_offset): probed once with a Smi and a
/// HeapNumber that Node-API makes; anything else (pointer compression) reads through Node-API.
fn slow_number_words(state: *EnvState, env: napi_env) bool {
    switch (state.number_words) {
        .words => return true,
        .napi => return false,
        .unknown => {},
    }
    state.number_words = .napi;
    var small: ?napi_value = null;
    var heap: ?napi_value = null;
    if (napi_create_uint32(env, 1, &small) != napi_ok or napi_create_double(env, 0.5, &heap) != napi_ok) return false;
    const small_word = @as(*const usize, @ptrCast(@alignCast(small orelse return false))).*;
    const heap_value = @as(*const usize, @ptrCast(@alignCast(heap orelse return false))).*;
    if (small_word != @as(usize, 1) << 32 or heap_value & 1 == 0) return false;
    state.heap_number_map = heap_word(heap_value, 0);
    if (@as(*const f64, @ptrFromInt(heap_value - 1 + heap_number_value_offset)).* != 0.5) return false;
    state.number_words = .words;
    return true;
}

/// An argument's number: a Smi or a HeapNumber read from its word where `words`, else
/// Node-API's reading; false for anything that is not a number (no conversion, no exception).
inline fn slow_number(state: *const EnvState, words: bool, env: napi_env, slot: *const usize, out: *f64) bool {
    const word = slot.*;
    if (words) {
        if (word & 1 == 0) {
            out.* = @floatFromInt(@as(i64, @bitCast(word)) >> 32);
            return true;
        }
        if (heap_word(word, 0) == state.heap_number_map) {
            out.* = @as(*const f64, @ptrFromInt(word - 1 + heap_number_value_offset)).*;
            return true;
        }
    }
    return napi_get_value_double(env, @ptrCast(@constCast(slot)), out) == napi_ok;
}

fn commit_event_slow(info: *const V8FunctionCallbackInfo) callconv(.c) void {
    const state = fast_state_get() orelse return;
    const env = state.env orelse return;
    const words = slow_number_words(state, env);
    var result = event_not_taken;
    if (info.length >= commit_event_args.len - 1) {
        // The interpreter's, baseline's and Maglev's calls: the numbers read as the fast body
        // gets them, kind and flags converted as the scratch's fields 0 and 1 are.
        var values: [7]f64 = undefined;
        var ok = true;
        inline for (&values, 0..) |*value, index| {
            if (ok) ok = slow_number(state, words, env, &info.values[index], value);
        }
        if (ok) result = @intFromBool(commit_event_write(
            state,
            @truncate(producer_module.u64_from_f64(values[0])),
            @truncate(producer_module.u64_from_f64(values[1])),
            values[2],
            values[3],
            values[4],
            values[5],
            values[6],
        ));
    }
    if (words) {
        // A Smi (its value in the word's upper half), as the fast body's uint32 reads.
        info.implicit_args[v8_return_value_index] = @as(usize, result) << 32;
        return;
    }
    var value: ?napi_value = null;
    if (napi_create_uint32(env, result, &value) == napi_ok) slow_return(info, value);
}

/// The receiver, kind and flags (uint32), a, b, c, d and e (float64).
const commit_event_args = [_]CTypeInfo{
    .{ .type = CTypeInfo.v8_value_type },
    .{ .type = CTypeInfo.uint32_type },  .{ .type = CTypeInfo.uint32_type },
    .{ .type = CTypeInfo.float64_type }, .{ .type = CTypeInfo.float64_type },
    .{ .type = CTypeInfo.float64_type }, .{ .type = CTypeInfo.float64_type },
    .{ .type = CTypeInfo.float64_type },
};

const fast_commit_event_function: FastFunction = .{
    .slow = commit_event_slow,
    .c_function = .{ .address = &commit_event_fast, .type_info = &.{ .return_info = .{ .type = CTypeInfo.uint32_type }, .arg_count = commit_event_args.len, .arg_info = &commit_event_args } },
};

/// This thread's env whose functions are fast (see above); null where none is.
threadlocal var fast_state: ?*EnvState = null;

/// The process's one state with fast functions while only one thread has made them (a
/// program without workers), read by the bodies instead of the thread-local (a
/// __tls_get_addr call from a dlopen'd library: ~15 instructions a call); fast_many once a
/// second thread makes fast functions or that state is torn down, for good. A thread whose
/// own state is not the one held here has stored fast_many (or seen it) before any of its
/// fast functions existed, and nothing stores a state after fast_many: it never reads
/// another thread's state.
var fast_sole: std.atomic.Value(usize) = .init(fast_none);
const fast_none: usize = 0;
const fast_many: usize = 1;

/// The state of the fast function being called: the sole one, else this thread's (by the
/// thread's pointer in fast_threads, else the thread-local).
inline fn fast_state_get() ?*EnvState {
    const sole = fast_sole.load(.monotonic);
    if (sole > fast_many) {
        // A program without workers: the thread's look-up out of the bodies' straight path
        // (BENCHMARKS.md "The native write laid out straight, one path").
        @branchHint(.likely);
        return @ptrFromInt(sole);
    }
    if (thread_keyed) {
        const key = thread_key();
        const entry = &fast_threads[fast_thread_slot(key)];
        if (entry.key.load(.monotonic) == key) return @ptrFromInt(entry.state.load(.monotonic));
    }
    return fast_thread_state();
}

/// Each thread's state with fast functions (while there are several), found by the thread's
/// pointer (x86-64 Linux: %fs:0, the thread control block's address, one load) in a
/// direct-mapped table: a probe of one slot instead of the thread-local's __tls_get_addr
/// call (~20 instructions a fast call). A slot holds the key of a live thread whose state
/// made fast functions (fast_define on that thread, before any of them can be called there)
/// and that state; the state's teardown on its thread (env_finalize) clears it. Only the
/// thread whose key a slot holds ever reads its state, so the slot's two words need no
/// ordering between threads; a thread whose key is in no slot (a slot taken by another
/// thread, or no x86-64) reads the thread-local as before. A thread started later on the
/// control block of one that ended finds its own entry, as its fast_define writes it first.
const thread_keyed = builtin.cpu.arch == .x86_64 and builtin.os.tag == .linux;
const fast_threads_bits = 6;
const FastThread = struct {
    key: std.atomic.Value(usize) = .init(0),
    state: std.atomic.Value(usize) = .init(0),
};
var fast_threads: [1 << fast_threads_bits]FastThread = @splat(.{});

/// This thread's pointer (never 0 on a live thread).
inline fn thread_key() usize {
    return asm ("movq %%fs:0, %[key]"
        : [key] "=r" (-> usize),
    );
}

inline fn fast_thread_slot(key: usize) usize {
    return @intCast((key *% 0x9e37_79b9_7f4a_7c15) >> (64 - fast_threads_bits));
}

/// `state` (which has just made fast functions on this thread) in this thread's slot, when the
/// slot is free or already this thread's.
fn fast_thread_register(state: *EnvState) void {
    if (!thread_keyed) return;
    const key = thread_key();
    const entry = &fast_threads[fast_thread_slot(key)];
    if (entry.key.load(.monotonic) != key) {
        if (entry.key.cmpxchgStrong(0, key, .monotonic, .monotonic) != null) return;
    }
    entry.state.store(@intFromPtr(state), .monotonic);
}

/// `state`'s slot cleared (its teardown, on its thread).
fn fast_thread_unregister(state: *EnvState) void {
    if (!thread_keyed) return;
    const key = thread_key();
    const entry = &fast_threads[fast_thread_slot(key)];
    if (entry.key.load(.monotonic) != key or entry.state.load(.monotonic) != @intFromPtr(state)) return;
    entry.state.store(0, .monotonic);
    entry.key.store(0, .monotonic);
}

/// Out of line, so the thread-local's look-up is not hoisted above the sole state's test.
noinline fn fast_thread_state() ?*EnvState {
    return fast_state;
}

/// Called when `state` makes fast functions on this thread (its teardown gives the sole state up: env cleanup above).
fn fast_sole_claim(state: *EnvState) void {
    if (fast_sole.cmpxchgStrong(fast_none, @intFromPtr(state), .monotonic, .monotonic)) |current| {
        if (current != @intFromPtr(state)) fast_sole.store(fast_many, .monotonic);
    }
}

/// `T.resolve()` (symbols of the node binary found with dlsym) once per process: dlsym walks
/// every loaded object's symbol table, ~8 of them per thread start otherwise. Under the
/// process ring's lock, as threads start concurrently; one cache per T.
fn resolvedOnce(comptime T: type) ?T {
    const Cache = struct {
        var value: ?T = null;
        var tried = false;
    };
    lock();
    defer unlock();
    if (!Cache.tried) {
        Cache.tried = true;
        Cache.value = T.resolve();
    }
    return Cache.value;
}

const FastApi = struct {
    get_current: *const fn () callconv(.c) ?v8_isolate,
    current_context: *const fn (?v8_isolate) callconv(.c) ?*anyopaque,
    template_new: *const fn (?v8_isolate, V8FunctionCallback, ?*anyopaque, ?*anyopaque, c_int, c_int, c_int, *const CFunction, u16, u16, u16) callconv(.c) ?*anyopaque,
    get_function: *const fn (*anyopaque, *anyopaque) callconv(.c) ?*anyopaque,
    /// Function::SetName, so `.name` reads as the Node-API function's did; null where missing.
    set_name: ?*const fn (*anyopaque, *anyopaque) callconv(.c) void,

    /// Resolved once per process (resolvedOnce).
    fn get() ?FastApi {
        return resolvedOnce(FastApi);
    }

    fn resolve() ?FastApi {
        // V8's own: Bun's V8 shim has FunctionTemplate::New (and ignores its CFunction) but not these.
        const get_version = V8.symbol(*const fn () callconv(.c) [*:0]const u8, "_ZN2v82V810GetVersionEv") orelse return null;
        _ = V8.symbol(*const anyopaque, "_ZN2v89CFunctionC1EPKvPKNS_13CFunctionInfoE") orelse return null;
        const version = std.mem.span(get_version());
        for (fast_api_versions) |prefix| {
            if (std.mem.startsWith(u8, version, prefix)) break;
        } else return null;
        return .{
            .get_current = V8.symbol(*const fn () callconv(.c) ?v8_isolate, "_ZN2v87Isolate10GetCurrentEv") orelse return null,
            .current_context = V8.symbol(*const fn (?v8_isolate) callconv(.c) ?*anyopaque, "_ZN2v87Isolate17GetCurrentContextEv") orelse return null,
            .template_new = V8.symbol(*const fn (?v8_isolate, V8FunctionCallback, ?*anyopaque, ?*anyopaque, c_int, c_int, c_int, *const CFunction, u16, u16, u16) callconv(.c) ?*anyopaque, "_ZN2v816FunctionTemplate3NewEPNS_7IsolateEPFvRKNS_20FunctionCallbackInfoINS_5ValueEEEENS_5LocalIS4_EENSA_INS_9SignatureEEEiNS_19ConstructorBehaviorENS_14SideEffectTypeEPKNS_9CFunctionEttt") orelse return null,
            .get_function = V8.symbol(*const fn (*anyopaque, *anyopaque) callconv(.c) ?*anyopaque, "_ZN2v816FunctionTemplate11GetFunctionENS_5LocalINS_7ContextEEE") orelse return null,
            .set_name = V8.symbol(*const fn (*anyopaque, *anyopaque) callconv(.c) void, "_ZN2v88Function7SetNameENS_5LocalINS_6StringEEE"),
        };
    }
};

/// v8::ConstructorBehavior::kThrow, v8::SideEffectType::kHasSideEffect.
const v8_constructor_throw = 0;
const v8_has_side_effect = 0;

/// A fast function for `state`, or null (not a checked V8, another env of this thread owns
/// fast functions, a V8 call failed): the caller then makes the Node-API one.
fn fast_define(env: napi_env, name: [*:0]const u8, state: *EnvState, function: *const FastFunction) ?napi_value {
    if (fast_state != null and fast_state != state) return null;
    const api = FastApi.get() orelse return null;
    const isolate = api.get_current() orelse return null;
    const context = api.current_context(isolate) orelse return null;
    const template = api.template_new(isolate, function.slow, null, null, 0, v8_constructor_throw, v8_has_side_effect, &function.c_function, 0, 0, 0) orelse return null;
    fast_sole_claim(state);
    const made = api.get_function(template, context) orelse return null;
    fast_state = state;
    fast_thread_register(state);
    state.fast = true;
    if (api.set_name) |set_name| {
        const text = std.mem.span(name);
        var name_value: ?napi_value = null;
        if (napi_create_string_latin1(env, text.ptr, text.len, &name_value) == napi_ok) set_name(made, @ptrCast(name_value.?));
    }
    return @ptrCast(made);
}

/// The value behind a Node-API value (its slot) as the call's return value.
fn slow_return(info: *const V8FunctionCallbackInfo, value: ?napi_value) void {
    const slot: *const usize = @ptrCast(@alignCast(value orelse return));
    info.implicit_args[v8_return_value_index] = slot.*;
}

// ---------------------------------------------------------------------------------------
// Map proofs for the preview walk's shape writers (src/agent/shared/preview.ts). A shape
// writer reads each key of a message through Object.getOwnPropertyDescriptor, the only
// read JavaScript has that never runs a getter: ~430 instructions a key, a descriptor
// object each (BENCHMARKS.md "Getter-safe reads"). V8 keeps what kind each own named
// property is (data or accessor) in the object's map, and two objects with the same map
// that is not a dictionary map have the same own named properties, in the same order, of
// the same kinds and attributes, and the same prototype: a map never changes a property's
// kind in place (reconfiguring one makes a new map or a dictionary). So once a writer has
// read an object's keys by descriptor (all own data properties, the exact key list), its
// map is held here (`mapProve`); a later object whose map is that one, and whose elements
// are the empty fixed array (elements are not in the map: `{a: 1}` with o[0] set keeps
// its map), has the same own data properties, and the writer reads them plainly
// (`o.key`: no getter can run, no Proxy can be behind it), after one Fast API call
// (`mapHeld`) that compares two words.
//
// The held map is a strong global handle (V8's api_internal::GlobalizeReference): it
// never dies and the GC updates the handle when it moves the map, so the compare never
// meets a freed address reused by another map; it holds no record, though a map keeps its
// prototype and constructor alive (held_maps_max + known_maps_max maps an env). Layouts
// (no pointer compression, as Node's builds on x64 have it; the agent asks for mapApi only
// where process.config says so, src/agent/shared/sink.ts mapProofsOf), checked in Node 20.20.2
// (V8 11.3), 22.23.5 (12.4) and 24.22.3 (13.6) and by spec/map-proof.test.ts: a heap
// object's tagged pointer has bit 0 set; its map is the word at its start; a JSObject's
// elements are the word at byte 16; a Map's bit_field3 is the u32 at byte 16, with the
// dictionary-map bit at 21 (V8's map.tq MapBitFields3: enum_length 10 bits,
// number_of_own_descriptors 10, is_prototype_map 1, is_dictionary_map 1).
// GlobalizeReference takes the object's slot in V8 11.3 and its address from 12 on.

/// Maps held per env: one per shape writer (preview.ts MAX_SHAPES).
const held_maps_max = 4;
/// Maps the general walk's fast() has learnt per env (mapLearn), replaced round robin.
const known_maps_max = 16;
const object_elements_offset = 16;
const map_bit_field3_offset = 16;
const map_dictionary_bit: u5 = 21;
/// A Map's bit_field2 (the byte after bit_field): elements kind in bits 2-7 (map.tq MapBitFields2).
const map_bit_field2_offset = 15;
const map_elements_kind_shift: u3 = 2;
/// PACKED_SMI_ELEMENTS, PACKED_ELEMENTS, PACKED_DOUBLE_ELEMENTS (V8's ElementsKind 0, 2, 4): no hole below the length, no accessor.
const packed_elements_kinds = [_]u8{ 0, 2, 4 };

const MapProofApi = struct {
    get_current: *const fn () callconv(.c) ?v8_isolate,
    /// V8 11.3: (isolate, Address* slot); 12.4 and 13.6: (isolate, Address value).
    globalize_slot: ?*const fn (?v8_isolate, *const usize) callconv(.c) ?*usize,
    globalize_value: ?*const fn (?v8_isolate, usize) callconv(.c) ?*usize,
    dispose: *const fn (*usize) callconv(.c) void,

    /// Asked only where FastApi.get() is not null: the V8 versions whose layouts were checked.
    fn resolve() ?MapProofApi {
        const slot = V8.symbol(*const fn (?v8_isolate, *const usize) callconv(.c) ?*usize, "_ZN2v812api_internal18GlobalizeReferenceEPNS_8internal7IsolateEPm");
        const value = V8.symbol(*const fn (?v8_isolate, usize) callconv(.c) ?*usize, "_ZN2v812api_internal18GlobalizeReferenceEPNS_8internal7IsolateEm");
        if (slot == null and value == null) return null;
        return .{
            .get_current = V8.symbol(*const fn () callconv(.c) ?v8_isolate, "_ZN2v87Isolate10GetCurrentEv") orelse return null,
            .globalize_slot = slot,
            .globalize_value = value,
            .dispose = V8.symbol(*const fn (*usize) callconv(.c) void, "_ZN2v812api_internal13DisposeGlobalEPm") orelse return null,
        };
    }

    fn globalize(api: MapProofApi, isolate: v8_isolate, address: usize) ?*usize {
        if (api.globalize_value) |globalize_value| return globalize_value(isolate, address);
        const held = address;
        return api.globalize_slot.?(isolate, &held);
    }
};

const MapProofs = struct {
    api: MapProofApi,
    isolate: v8_isolate,
    /// The empty fixed array (a read-only root: it never moves), as a new object's elements.
    empty_elements: usize,
    held: [held_maps_max]?*usize = @splat(null),
    /// fast()'s known maps and, for each, how many own data properties for-in lists first.
    known: [known_maps_max]?*usize = @splat(null),
    known_counts: [known_maps_max]u32 = @splat(0),
    /// Each known map's plan for previewNative (count 0: none; see "Function previews written natively").
    known_plans: [known_maps_max]KnownPlan = @splat(.{}),
    known_next: u32 = 0,
    /// JS_ARRAY_TYPE in this V8 (read from an array made at mapApi()).
    js_array_type: u16 = 0,
    /// previewNative's texts of numbers that are not integers, by their bits (direct-mapped;
    /// key 0, +0's bits, is never asked: 0 is written as an integer), as preview.ts emitFraction
    /// caches its own: a program passes the same few fractions again and again.
    fraction_keys: [fraction_slots]u64 = @splat(0),
    fraction_lengths: [fraction_slots]u8 = @splat(0),
    fraction_texts: [fraction_slots][js_number.max_bytes]u8 = undefined,
    /// Each held map's plan for commitHeld (count 0: none; see "One crossing a send" below).
    plans: [held_maps_max]HeldPlan = @splat(.{}),
    /// Read-only roots (they never move): true, false, null, undefined, and the HeapNumber map.
    true_value: usize = 0,
    false_value: usize = 0,
    null_value: usize = 0,
    undefined_value: usize = 0,
    heap_number_map: usize = 0,
    /// codeHeld (see "A function's code held" below): the byte offset of a JSFunction's
    /// SharedFunctionInfo (0: not found, nothing held), the instance type codeOffset's
    /// probes had, and the held functions' maps and SharedFunctionInfos, replaced round robin.
    code_offset: usize = 0,
    code_instance_type: u16 = 0,
    code_maps: [held_codes_max]?*usize = @splat(null),
    code_shared: [held_codes_max]?*usize = @splat(null),
    code_next: u32 = 0,
};

/// The word at `address + offset` of a tagged heap object pointer (bit 0 set).
inline fn heap_word(tagged: usize, offset: usize) usize {
    return @as(*const usize, @ptrFromInt(tagged - 1 + offset)).*;
}

/// The object behind a Local (a napi_value is its slot), if it is a heap object.
inline fn local_object(local: *const usize) ?usize {
    const tagged = local.*;
    return if (tagged & 1 == 1) tagged else null;
}

/// `object` has the map held in `slot` and no elements: its own named properties are that map's.
fn map_held_check(proofs: *const MapProofs, object_local: *const usize, slot: u32) bool {
    if (slot >= held_maps_max) return false;
    const held = proofs.held[slot] orelse return false;
    const object = local_object(object_local) orelse return false;
    if (heap_word(object, 0) != held.*) return false;
    return heap_word(object, object_elements_offset) == proofs.empty_elements;
}

const map_held_args = [_]CTypeInfo{ .{ .type = CTypeInfo.v8_value_type }, .{ .type = CTypeInfo.v8_value_type }, .{ .type = CTypeInfo.uint32_type } };

fn map_held_fast(receiver: ?*anyopaque, object_local: *const usize, slot: u32) callconv(.c) bool {
    _ = receiver;
    const state = fast_state_get() orelse return false;
    state.fast_calls +%= 1;
    const proofs = state.map_proofs orelse return false;
    return map_held_check(proofs, object_local, slot);
}

/// The slow body: FunctionCallbackInfo's values_ (its second word) points to the first
/// argument's slot, length_ (its third) is the argument count (V8 11.3, 12.4 and 13.6).
fn map_held_slow(info: *const V8FunctionCallbackInfo) callconv(.c) void {
    const state = fast_state_get() orelse return;
    const env = state.env orelse return;
    var held = false;
    if (state.map_proofs) |proofs| {
        if (info.length >= 2) {
            var slot: u32 = held_maps_max;
            if (napi_get_value_uint32(env, @ptrCast(&info.values[1]), &slot) != napi_ok) slot = held_maps_max;
            held = map_held_check(proofs, &info.values[0], slot);
        }
    }
    slow_return(info, boolean(env, held));
}

const fast_map_held_function: FastFunction = .{
    .slow = map_held_slow,
    .c_function = .{ .address = &map_held_fast, .type_info = &.{ .return_info = .{ .type = CTypeInfo.bool_type }, .arg_count = map_held_args.len, .arg_info = &map_held_args } },
};

/// The count + 1 of the known map `object` has (0: none, or `object` has elements).
fn map_known_check(proofs: *const MapProofs, object_local: *const usize) u32 {
    const object = local_object(object_local) orelse return 0;
    const map = heap_word(object, 0);
    for (proofs.known, proofs.known_counts) |known, count| {
        const held = known orelse break;
        if (held.* != map) continue;
        if (heap_word(object, object_elements_offset) != proofs.empty_elements) return 0;
        return count + 1;
    }
    return 0;
}

const map_known_args = [_]CTypeInfo{ .{ .type = CTypeInfo.v8_value_type }, .{ .type = CTypeInfo.v8_value_type } };

fn map_known_fast(receiver: ?*anyopaque, object_local: *const usize) callconv(.c) u32 {
    _ = receiver;
    const state = fast_state_get() orelse return 0;
    state.fast_calls +%= 1;
    const proofs = state.map_proofs orelse return 0;
    return map_known_check(proofs, object_local);
}

fn map_known_slow(info: *const V8FunctionCallbackInfo) callconv(.c) void {
    const state = fast_state_get() orelse return;
    const env = state.env orelse return;
    var count: u32 = 0;
    if (state.map_proofs) |proofs| {
        if (info.length >= 1) count = map_known_check(proofs, &info.values[0]);
    }
    slow_return(info, number(env, @floatFromInt(count)));
}

const fast_map_known_function: FastFunction = .{
    .slow = map_known_slow,
    .c_function = .{ .address = &map_known_fast, .type_info = &.{ .return_info = .{ .type = CTypeInfo.uint32_type }, .arg_count = map_known_args.len, .arg_info = &map_known_args } },
};

/// `array_local` (a JSArray: the caller checked) has packed elements: each index below its
/// length is an own data element (an accessor element makes dictionary elements, a hole a
/// holey kind, freezing or sealing kinds of their own).
fn map_packed_check(array_local: *const usize) bool {
    const array = local_object(array_local) orelse return false;
    const map = heap_word(array, 0);
    const bit_field2 = @as(*const u8, @ptrFromInt(map - 1 + map_bit_field2_offset)).*;
    const kind = bit_field2 >> map_elements_kind_shift;
    return std.mem.indexOfScalar(u8, &packed_elements_kinds, kind) != null;
}

fn map_packed_fast(receiver: ?*anyopaque, array_local: *const usize) callconv(.c) bool {
    _ = receiver;
    const state = fast_state_get() orelse return false;
    state.fast_calls +%= 1;
    if (state.map_proofs == null) return false;
    return map_packed_check(array_local);
}

fn map_packed_slow(info: *const V8FunctionCallbackInfo) callconv(.c) void {
    const state = fast_state_get() orelse return;
    const env = state.env orelse return;
    const is_packed = state.map_proofs != null and info.length >= 1 and map_packed_check(&info.values[0]);
    slow_return(info, boolean(env, is_packed));
}

const fast_map_packed_function: FastFunction = .{
    .slow = map_packed_slow,
    .c_function = .{ .address = &map_packed_fast, .type_info = &.{ .return_info = .{ .type = CTypeInfo.bool_type }, .arg_count = map_known_args.len, .arg_info = &map_known_args } },
};

// A function's code held (codeHeld, for the web frameworks' step `next`: src/agent/node/
// frameworks.ts plainNext). The wrapper Express's layers get in place of Express's `next`
// must have its name and length, which V8 reads through accessors (`name`: the
// SharedFunctionInfo's name found through its ScopeInfo; `length`: its parameter count),
// ~650 instructions the pair on Node 24, and Express makes two new `next` closures a request
// (BENCHMARKS.md "Web: an Express layer's visit"). A JSFunction's `name` and `length` are
// its SharedFunctionInfo's as long as its map is a function map that has not been changed:
// redefining or deleting either (or adding any own property) gives the function another map
// (a new one or a dictionary map). So once the agent has read "next" and 1 off a function,
// it holds that function's map and SharedFunctionInfo (codeProve); a later function with
// the same map and the same SharedFunctionInfo (a closure of the same `function next(err)`
// literal) has the same name and length, which one Fast API call compares (codeHeld): the
// map word first, then (a map held is a JSFunction's, so the object is that big) the
// SharedFunctionInfo's. The SharedFunctionInfo's offset is not written in here: codeOffset
// is given two closures of one literal made in two contexts and two functions of two other
// literals, and takes the one word among a JSFunction's fields (bytes 24 to 48: the code or
// dispatch handle, SharedFunctionInfo, context and feedback cell, in an order that changed
// between V8 versions) that is a heap object equal in the two closures and different in the
// others, with the same map in all four (each a SharedFunctionInfo); a context differs
// between the two closures, the code (the lazy compile builtin or the interpreter's entry)
// and the feedback cell (a shared root until the enclosing function has a feedback vector)
// are the same in the others. No such word, or two: nothing is held, the agent reads the
// accessors as before. Handles as the held maps' (strong globals: never freed, moved by the GC).

/// Functions held for codeHeld (Express 4 and 5 make their `next`s in two places each).
const held_codes_max = 4;
const code_offset_first = 24;
const code_offset_last = 48;

/// `function_local` has a held function's map and SharedFunctionInfo.
fn code_held_check(proofs: *const MapProofs, function_local: *const usize) bool {
    const offset = proofs.code_offset;
    if (offset == 0) return false;
    const function = local_object(function_local) orelse return false;
    const map = heap_word(function, 0);
    for (proofs.code_maps, proofs.code_shared) |held_map, held_shared| {
        const held = held_map orelse break;
        if (held.* != map) continue;
        if (heap_word(function, offset) == held_shared.?.*) return true;
    }
    return false;
}

const code_held_args = [_]CTypeInfo{ .{ .type = CTypeInfo.v8_value_type }, .{ .type = CTypeInfo.v8_value_type } };

fn code_held_fast(receiver: ?*anyopaque, function_local: *const usize) callconv(.c) bool {
    _ = receiver;
    const state = fast_state_get() orelse return false;
    state.fast_calls +%= 1;
    const proofs = state.map_proofs orelse return false;
    return code_held_check(proofs, function_local);
}

fn code_held_slow(info: *const V8FunctionCallbackInfo) callconv(.c) void {
    const state = fast_state_get() orelse return;
    const env = state.env orelse return;
    const held = state.map_proofs != null and info.length >= 1 and code_held_check(state.map_proofs.?, &info.values[0]);
    slow_return(info, boolean(env, held));
}

const fast_code_held_function: FastFunction = .{
    .slow = code_held_slow,
    .c_function = .{ .address = &code_held_fast, .type_info = &.{ .return_info = .{ .type = CTypeInfo.bool_type }, .arg_count = code_held_args.len, .arg_info = &code_held_args } },
};

/// The JSFunction behind `value` (napi_typeof "function"), as a tagged pointer, with its map's instance type.
fn function_object(env: napi_env, value: ?napi_value) ?struct { object: usize, instance_type: u16 } {
    const napi_function_type = 7;
    var kind: c_int = 0;
    if (napi_typeof(env, value, &kind) != napi_ok or kind != napi_function_type) return null;
    const object = local_object(@ptrCast(@alignCast(value orelse return null))) orelse return null;
    const instance_type = @as(*const u16, @ptrFromInt(heap_word(object, 0) - 1 + map_instance_type_offset)).*;
    return .{ .object = object, .instance_type = instance_type };
}

/// codeOffset(a, b, c, d): boolean. Finds the SharedFunctionInfo's offset from `a` and `b`
/// (closures of one literal, made in two contexts) and `c`, `d` (two other literals), all
/// of one instance type (see above); once an env.
fn js_code_offset(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    const proofs = call.state.map_proofs orelse return boolean(env, false);
    if (proofs.code_offset != 0) return boolean(env, true);
    if (call.argc < 4) return boolean(env, false);
    var objects: [4]usize = undefined;
    var instance_type: u16 = 0;
    for (0..4, &objects) |i, *object| {
        const function = function_object(env, call.argv[i]) orelse return boolean(env, false);
        if (i == 0) instance_type = function.instance_type else if (function.instance_type != instance_type) return boolean(env, false);
        object.* = function.object;
    }
    var found: usize = 0;
    var offset: usize = code_offset_first;
    while (offset <= code_offset_last) : (offset += 8) {
        var words: [4]usize = undefined;
        for (objects, &words) |object, *word| word.* = heap_word(object, offset);
        if (words[0] != words[1] or words[0] == words[2] or words[0] == words[3] or words[2] == words[3]) continue;
        if (words[0] & 1 == 0 or words[2] & 1 == 0 or words[3] & 1 == 0) continue;
        const map = heap_word(words[0], 0);
        if (heap_word(words[2], 0) != map or heap_word(words[3], 0) != map) continue;
        if (found != 0) return boolean(env, false);
        found = offset;
    }
    if (found == 0) return boolean(env, false);
    proofs.code_offset = found;
    proofs.code_instance_type = instance_type;
    return boolean(env, true);
}

/// codeProve(fn): boolean. Holds `fn`'s map and SharedFunctionInfo (the agent has just read
/// its name and length): a later function with both has the same. False, nothing held, for
/// anything but a function of codeOffset's instance type with a map that is not a dictionary's.
fn js_code_prove(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    const proofs = call.state.map_proofs orelse return boolean(env, false);
    if (proofs.code_offset == 0 or call.argc < 1) return boolean(env, false);
    const function = function_object(env, call.argv[0]) orelse return boolean(env, false);
    if (function.instance_type != proofs.code_instance_type) return boolean(env, false);
    const map = heap_word(function.object, 0);
    const bit_field3: u32 = @truncate(heap_word(map, map_bit_field3_offset));
    if (bit_field3 & (@as(u32, 1) << map_dictionary_bit) != 0) return boolean(env, false);
    const shared = heap_word(function.object, proofs.code_offset);
    for (proofs.code_maps, proofs.code_shared) |held_map, held_shared| {
        const held = held_map orelse break;
        if (held.* == map and held_shared.?.* == shared) return boolean(env, true);
    }
    const index = proofs.code_next % held_codes_max;
    proofs.code_next +%= 1;
    if (proofs.code_maps[index]) |held| proofs.api.dispose(held);
    if (proofs.code_shared[index]) |held| proofs.api.dispose(held);
    proofs.code_maps[index] = null;
    proofs.code_shared[index] = null;
    const held_shared = proofs.api.globalize(proofs.isolate, shared) orelse return boolean(env, false);
    const held_map = proofs.api.globalize(proofs.isolate, map) orelse {
        proofs.api.dispose(held_shared);
        return boolean(env, false);
    };
    proofs.code_shared[index] = held_shared;
    proofs.code_maps[index] = held_map;
    return boolean(env, true);
}

// One crossing a send (commitHeld): a shape writer's send was two native calls, mapHeld and
// then commitString, since the writer's plain reads (`o.key`) must come after the proof.
// commitHeld(object) is both: it compares the object's map with the held ones and, for a map
// with a plan, reads the values here (the map proves them own data fields, so what is read is
// a word of the object, not a getter's result), writes the writer's bytes into the scratch
// and commits string and record as commitString does. A plan is made when a writer proves a
// map (mapProve's third argument: the length the writer has just written into the scratch):
// each own descriptor of the map (at most plan_keys_max), a data property in a field of the
// object (an in-object field: V8's field index below the map's in-object count), enumerable,
// its key a sequential one-byte string of printable ASCII without `"` or `\`; and the plan
// run on that object must write exactly the bytes the writer wrote by descriptor, or there is
// no plan (the check catches a layout read wrongly, and a map whose descriptors are not the
// writer's keys: a non-enumerable or symbol key). Values written: Smis, HeapNumbers whose
// value is an integer within ±1e15 (the shape writer's digits), true, false, null, undefined
// (read-only roots, compared by address) and sequential one-byte strings of printable ASCII
// without `"` or `\`; the whole text within preview_max_chars. Anything else returns
// held_none before anything is committed, and the agent takes the two-call path (mapHeld,
// the writer, commitString), which writes what it wrote before. Layouts (no pointer
// compression), the same in V8 11.3, 12.4 and 13.6 (a probe addon, BENCHMARKS.md "One
// crossing a send"): a Map's instance_size_in_words at byte 8, in-object properties' start
// (words) at byte 9, instance type (u16) at 12, instance_descriptors at 40; a
// DescriptorArray's entries from byte 24, three words each (key, details as a Smi, value);
// PropertyDetails kind bit 0 (data 0), attributes bits 2-4 (DONT_ENUM bit 3), location bit
// 5 (field 0), field index bits 19-28; a Smi's value in a word's upper 32 bits; a
// HeapNumber's f64 at byte 8; a string's instance type below 0x80, sequential one-byte when
// its low four bits are 0x8, its length (i32) at byte 12 and characters from byte 16.

/// preview.ts MAX_SHAPE_KEYS.
const plan_keys_max = 12;
/// preview.ts PREVIEW_MAX_CHARS: a writer's whole text (printable ASCII: a byte a character).
const preview_max_chars = 96;
/// commitHeld's answer when it wrote nothing (no held map with a plan, or a value it does not write).
const held_none: u32 = 3;
const map_instance_size_offset = 8;
const map_inobject_start_offset = 9;
const map_instance_type_offset = 12;
const map_descriptors_offset = 40;
const descriptors_first_offset = 24;
const descriptor_entry_bytes = 24;
const heap_number_value_offset = 8;
const string_length_offset = 12;
const string_chars_offset = 16;
const first_nonstring_type = 0x80;

/// Bytes a plan's writes may store past the text's end (16-byte copies): the scratch has them
/// (scratch_bytes), and so have a plan's prefixes and plan_build's buffer.
const copy_slack = 16;
/// A plan's text buffer: the whole text and the copies' slack.
const PlanText = [preview_max_chars + 1 + copy_slack]u8;

const HeldPlan = struct {
    /// Keys written (0: no plan).
    count: u8 = 0,
    /// Each key's value: its byte offset in the object.
    offsets: [plan_keys_max]u16 = undefined,
    /// Each key's text before its value (`{"key":` first, `,"key":` after), ending at prefix_ends[i].
    prefix: PlanText = undefined,
    prefix_ends: [plan_keys_max]u8 = undefined,
};

/// Copies `length` bytes (at most preview_max_chars) 16 at a time: up to 15 more are read and
/// stored, 16 when `length` is 0. The first 16 without a test: a key's prefix (`{"k":` at
/// least) is one copy unless its key is longer than 12 bytes.
inline fn copy_short(out: [*]u8, from: [*]const u8, length: usize) void {
    out[0..16].* = from[0..16].*;
    var k: usize = 16;
    while (k < length) : (k += 16) out[k..][0..16].* = from[k..][0..16].*;
}

/// A sequential one-byte string's characters, or null for any other value.
fn one_byte_chars(value: usize) ?[]const u8 {
    if (value & 1 == 0) return null;
    const map = heap_word(value, 0);
    const instance_type = @as(*const u16, @ptrFromInt(map - 1 + map_instance_type_offset)).*;
    if (instance_type >= first_nonstring_type or instance_type & 0x0f != 0x08) return null;
    const length = @as(*const i32, @ptrFromInt(value - 1 + string_length_offset)).*;
    if (length < 0 or length > preview_max_chars) return null;
    return @as([*]const u8, @ptrFromInt(value - 1 + string_chars_offset))[0..@intCast(length)];
}

/// Printable ASCII that JSON writes as it is (no `"`, no `\`).
fn plain_text(bytes: []const u8) bool {
    for (bytes) |byte| {
        if (byte < 0x20 or byte > 0x7e or byte == '"' or byte == '\\') return false;
    }
    return true;
}

/// Writes `value`'s text at out[at..] as the shape writer does (preview.ts shapeValue); the
/// new end, or null for a value it does not write or a text past preview_max_chars.
inline fn plan_value(proofs: *const MapProofs, out: *PlanText, at: usize, value: usize) ?usize {
    var digits_of: u64 = 0;
    var negative = false;
    if (value & 1 == 0) {
        const small: i64 = @as(i64, @bitCast(value)) >> 32;
        negative = small < 0;
        digits_of = @abs(small);
    } else if (heap_word(value, 0) == proofs.heap_number_map) {
        const float = @as(*const f64, @ptrFromInt(value - 1 + heap_number_value_offset)).*;
        if (!(float > -1e15 and float < 1e15) or @trunc(float) != float) return null;
        negative = float < 0;
        // Below 1e15: one signed conversion (an unsigned one is several instructions).
        digits_of = @intCast(@as(i64, @intFromFloat(@abs(float))));
    } else {
        // Out of line (the numbers inline in commitHeld's body); its end in a register, 0 for none.
        const end = plan_word(proofs, out, at, value);
        return if (end == 0) null else end;
    }
    // The count first, then the sign and digits in place (digits.zig): no temporary, no copy.
    return digits.integer(out, at, negative, digits_of, preview_max_chars);
}

/// plan_value's words and strings: true, false, null, undefined and plain one-byte strings
/// (`"text"`); the new end, or 0 for any other value or a text past preview_max_chars.
noinline fn plan_word(proofs: *const MapProofs, out: *PlanText, at: usize, value: usize) usize {
    const word: []const u8 = if (value == proofs.true_value)
        "true"
    else if (value == proofs.false_value)
        "false"
    else if (value == proofs.null_value)
        "null"
    else if (value == proofs.undefined_value)
        "undefined"
    else {
        const chars = one_byte_chars(value) orelse return 0;
        if (at + chars.len + 2 > preview_max_chars or !plain_text(chars)) return 0;
        out[at] = '"';
        @memcpy(out[at + 1 ..][0..chars.len], chars);
        out[at + 1 + chars.len] = '"';
        return at + chars.len + 2;
    };
    if (at + word.len > preview_max_chars) return 0;
    @memcpy(out[at..][0..word.len], word);
    return at + word.len;
}

/// The plan's text of `object` (its map is the plan's) into `out`: its length, or null.
inline fn plan_write(proofs: *const MapProofs, plan: *const HeldPlan, object: usize, out: *PlanText) ?usize {
    var at: usize = 0;
    var from: usize = 0;
    for (plan.offsets[0..plan.count], plan.prefix_ends[0..plan.count]) |offset, prefix_end| {
        const length = prefix_end - from;
        if (at + length > preview_max_chars) return null;
        copy_short(out[at..].ptr, plan.prefix[from..].ptr, length);
        from = prefix_end;
        at = plan_value(proofs, out, at + length, heap_word(object, offset)) orelse return null;
    }
    if (at + 1 > preview_max_chars) return null;
    out[at] = '}';
    return at + 1;
}

/// A map's own properties, when there are 1 to plan_keys_max of them (and it is no dictionary
/// map), each an enumerable data property in an in-object field whose key is a sequential
/// one-byte string of printable ASCII without `"` or `\`: each key (in the heap: read before
/// anything can allocate) and its field's byte offset, in descriptor order; else null.
const PlainFields = struct {
    count: u32,
    keys: [plan_keys_max][]const u8 = undefined,
    offsets: [plan_keys_max]u16 = undefined,
};

fn plain_fields(map: usize) ?PlainFields {
    const bit_field3: u32 = @truncate(heap_word(map, map_bit_field3_offset));
    if (bit_field3 & (@as(u32, 1) << map_dictionary_bit) != 0) return null;
    const own = (bit_field3 >> 10) & 0x3ff;
    if (own == 0 or own > plan_keys_max) return null;
    const map_bytes: [*]const u8 = @ptrFromInt(map - 1);
    const size_words = map_bytes[map_instance_size_offset];
    const start_words = map_bytes[map_inobject_start_offset];
    if (start_words > size_words) return null;
    const inobject = size_words - start_words;
    const descriptors = heap_word(map, map_descriptors_offset);
    var fields: PlainFields = .{ .count = own };
    for (0..own) |i| {
        const entry = descriptors_first_offset + i * descriptor_entry_bytes;
        const details_word = heap_word(descriptors, entry + 8);
        if (details_word & 1 != 0) return null;
        const details: u64 = @as(u64, @bitCast(@as(i64, @bitCast(details_word)) >> 32));
        // Data (bit 0 clear), enumerable (DONT_ENUM, bit 3, clear), in a field (bit 5 clear).
        if (details & 1 != 0 or details & (1 << 3) != 0 or details & (1 << 5) != 0) return null;
        const field = (details >> 19) & 0x3ff;
        if (field >= inobject) return null;
        const key = one_byte_chars(heap_word(descriptors, entry)) orelse return null;
        if (!plain_text(key)) return null;
        fields.keys[i] = key;
        fields.offsets[i] = @intCast((start_words + field) * 8);
    }
    return fields;
}

/// `"key":` at buffer[at..] (the caller has checked it fits): the offset after it.
fn quoted_key(buffer: []u8, at: usize, key: []const u8) usize {
    buffer[at] = '"';
    @memcpy(buffer[at + 1 ..][0..key.len], key);
    buffer[at + 1 + key.len] = '"';
    buffer[at + 2 + key.len] = ':';
    return at + key.len + 3;
}

/// The plan for `map` (just held, `object` of it) from its descriptors, kept only when it
/// writes `object` as the writer wrote it into the scratch (`written` bytes); else no plan.
fn plan_build(state: *const EnvState, proofs: *const MapProofs, object: usize, map: usize, written: u32) HeldPlan {
    const scratch = state.scratch orelse return .{};
    if (written == 0 or written > preview_max_chars) return .{};
    const fields = plain_fields(map) orelse return .{};
    var plan: HeldPlan = .{};
    var prefix_at: usize = 0;
    for (fields.keys[0..fields.count], fields.offsets[0..fields.count], 0..) |key, offset, i| {
        if (key.len == 0) return .{};
        if (prefix_at + key.len + 4 > preview_max_chars) return .{};
        plan.prefix[prefix_at] = if (i == 0) '{' else ',';
        prefix_at = quoted_key(&plan.prefix, prefix_at + 1, key);
        plan.prefix_ends[i] = @intCast(prefix_at);
        plan.offsets[i] = offset;
    }
    plan.count = @intCast(fields.count);
    var out: PlanText = undefined;
    const length = plan_write(proofs, &plan, object, &out) orelse return .{};
    if (length != written or !std.mem.eql(u8, out[0..length], scratch[scratch_fields_bytes..][0..length])) return .{};
    return plan;
}

/// commitHeld(object, kind, flags, a, b, c, id): `object`'s map is a held one with a plan and
/// its elements are empty: its preview written into the scratch (zeros after it) and committed with the event `kind, flags, a, b, c`
/// (d the size, e the string id `id`), the string's fragments built straight into their ring
/// slots; the answer its count (0..2) plus 4 times the writer's slot (the agent counts the
/// writer's hits), else held_none and nothing written. The event's fields come as the call's
/// arguments, not through the scratch: no stores before the call, no f64 read back here.
inline fn commit_held(state: *EnvState, object_local: *const usize, fields: *const HeldFields) u32 {
    const proofs = state.map_proofs orelse return held_none;
    const object = local_object(object_local) orelse return held_none;
    const map = heap_word(object, 0);
    for (proofs.held, &proofs.plans, 0..) |held, *plan, slot| {
        const handle = held orelse continue;
        if (handle.* != map or plan.count == 0) continue;
        if (heap_word(object, object_elements_offset) != proofs.empty_elements) return held_none;
        const scratch = state.scratch orelse return held_none;
        const bytes = scratch[scratch_fields_bytes..];
        const out: *PlanText = bytes[0 .. preview_max_chars + 1 + copy_slack];
        const length = plan_write(proofs, plan, object, out) orelse return held_none;
        // Zeros after the text up to a fragment's end: the fragments' last bytes (ring.zig
        // write_string_whole); the text has none (printable ASCII), so its length is where they
        // start (spec/map-proof reads it so: the scratch's fields are not written).
        bytes[length..][0..layout.string_fragment_bytes].* = @splat(0);
        if (!state.attached) return 4 * @as(u32, @intCast(slot));
        // d, the size, is the length plus one (no round trip through an f64); e, the string's id.
        var record = producer_module.record_from_values(fields.kind, fields.flags, fields.a, fields.b, fields.c, 0, fields.id);
        record.d = length + 1;
        return producer_module.write_padded_string_record(&state.producer, @truncate(record.e), bytes[0..length], &record) + 4 * @as(u32, @intCast(slot));
    }
    return held_none;
}

/// commitHeld's event fields (its arguments after the object).
const HeldFields = struct {
    kind: u32,
    flags: u32,
    a: f64,
    b: f64,
    c: f64,
    id: f64,
};

fn commit_held_fast(receiver: ?*anyopaque, object_local: *const usize, kind: u32, flags: u32, a: f64, b: f64, c: f64, id: f64) callconv(.c) u32 {
    _ = receiver;
    const state = fast_state_get() orelse return held_none;
    state.fast_calls +%= 1;
    return commit_held(state, object_local, &.{ .kind = kind, .flags = flags, .a = a, .b = b, .c = c, .id = id });
}

fn commit_held_slow(info: *const V8FunctionCallbackInfo) callconv(.c) void {
    const state = fast_state_get() orelse return;
    const env = state.env orelse return;
    var result = held_none;
    if (info.length >= commit_held_args.len - 1) {
        var fields: HeldFields = .{ .kind = 0, .flags = 0, .a = 0, .b = 0, .c = 0, .id = 0 };
        // The interpreter's and Maglev's calls come here (on Node 24 a good share of a pool's
        // sends: BENCHMARKS.md "A send's pieces cut"): Smis and HeapNumbers read from their words
        // as plan_value reads them, anything else through Node-API.
        const words = slow_number_words(state, env);
        const ok = slow_uint32(env, &info.values[1], &fields.kind) and
            slow_uint32(env, &info.values[2], &fields.flags) and
            slow_number(state, words, env, &info.values[3], &fields.a) and
            slow_number(state, words, env, &info.values[4], &fields.b) and
            slow_number(state, words, env, &info.values[5], &fields.c) and
            slow_number(state, words, env, &info.values[6], &fields.id);
        if (ok) result = commit_held(state, &info.values[0], &fields);
    }
    // A Smi (its value in the word's upper half: no pointer compression, as mapApi requires).
    info.implicit_args[v8_return_value_index] = @as(usize, result) << 32;
}

/// An argument's uint32 (a non-negative Smi read from its word; else Node-API's reading).
fn slow_uint32(env: napi_env, slot: *const usize, out: *u32) bool {
    const word = slot.*;
    const small: i64 = @as(i64, @bitCast(word)) >> 32;
    if (word & 1 == 0 and small >= 0) {
        out.* = @intCast(small);
        return true;
    }
    return napi_get_value_uint32(env, @ptrCast(@constCast(slot)), out) == napi_ok;
}

/// The receiver, the object, kind and flags (uint32), a, b, c and the string id (float64).
const commit_held_args = [_]CTypeInfo{
    .{ .type = CTypeInfo.v8_value_type },  .{ .type = CTypeInfo.v8_value_type },
    .{ .type = CTypeInfo.uint32_type },    .{ .type = CTypeInfo.uint32_type },
    .{ .type = CTypeInfo.float64_type },   .{ .type = CTypeInfo.float64_type },
    .{ .type = CTypeInfo.float64_type },   .{ .type = CTypeInfo.float64_type },
};

const fast_commit_held_function: FastFunction = .{
    .slow = commit_held_slow,
    .c_function = .{ .address = &commit_held_fast, .type_info = &.{ .return_info = .{ .type = CTypeInfo.uint32_type }, .arg_count = commit_held_args.len, .arg_info = &commit_held_args } },
};

// ---------------------------------------------------------------------------------------
// Function previews written natively (previewNative): function tracing's full level writes
// each call's arguments and result preview with preview.ts fast(); previewNative(first,
// second, meta) writes the same bytes here, into the function-event buffer's text `meta & 1`,
// for what it can prove it may read without running program code, and answers 0 ("not
// mine": nothing counted as written, fast() runs as before) for anything else. Its values:
// Smis, HeapNumbers (an integer within ±1e15 as digits, any other number as
// Number.prototype.toString writes it: js_number.zig), true, false, null, undefined (read-only
// roots, by address), sequential one-byte strings of printable ASCII without `"` or `\` (up to
// the unit past the cut), JSArrays of packed elements (PACKED_SMI, PACKED, PACKED_DOUBLE: no
// hole below the length, no accessor element; the JSArray's length a Smi at byte 24 and its
// elements a FixedArray or FixedDoubleArray, length Smi at byte 8 and the values from byte
// 16), and records whose map fast() has learnt (mapLearn) with a plan: every own descriptor of
// the map an enumerable data property in an in-object field, its key a sequential one-byte
// string of printable ASCII without `"` or `\`, as many as the for-in keys fast() read by
// descriptor when it learnt the map (so for-in lists exactly these own keys, in descriptor
// order), none of them secret (mapLearn's third argument), and no elements. Anything else
// (a Proxy, a class instance, an unknown map, a two-byte, cons, sliced or thin string, a
// BigInt, a symbol, a function, holes, frozen arrays) is not this writer's. It writes what
// fast() writes: the depth limit's "{…}" / "[…]", the node budget's "…]" / "…}", the cut
// at maxChars with "…" (a function preview's walk stops one unit past it), as fast()'s
// fastMark, fastText, fastLast and fastEnd do. meta: bit 0 the text slot, bits 1-2 what
// to write (0 the value `first`; 1, 2, 3 an arguments list of 0, 1, 2 values: `first`,
// `second`), bits 3-7 the depth limit, bits 8-20 the character limit. Its answer: the
// text's length in bytes (0: not mine).

const fraction_slots = 256;

/// A known map's plan: `"key":` of each own key in descriptor order, and its field's byte offset.
const KnownPlan = struct {
    count: u8 = 0,
    offsets: [plan_keys_max]u16 = undefined,
    key_ends: [plan_keys_max]u8 = undefined,
    keys: [160]u8 = undefined,
};

/// The plan for a map fast() has just learnt from a record with `count` own data properties by for-in.
fn known_plan_build(map: usize, count: u32) KnownPlan {
    const fields = plain_fields(map) orelse return .{};
    if (fields.count != count) return .{};
    var plan: KnownPlan = .{};
    var at: usize = 0;
    for (fields.keys[0..fields.count], fields.offsets[0..fields.count], 0..) |key, offset, i| {
        if (at + key.len + 3 > plan.keys.len) return .{};
        at = quoted_key(&plan.keys, at, key);
        plan.key_ends[i] = @intCast(at);
        plan.offsets[i] = offset;
    }
    plan.count = @intCast(fields.count);
    return plan;
}

/// preview.ts PREVIEW_MAX_CHARS and PREVIEW_MAX_NODES: the node budget at a character limit.
fn preview_max_nodes(chars: u32) u32 {
    if (chars <= 96) return 48;
    return @intCast((@as(u64, 48) * chars + 95) / 96);
}

/// fast()'s state (preview.ts beginFast; `sizing` false).
const NativePreview = struct {
    proofs: *MapProofs,
    out: [*]u8,
    at: usize = 0,
    limit: usize,
    extra: usize = 0,
    extra_before: usize = 0,
    nodes: u32 = 0,
    max_chars: usize,
    max_depth: u32,
    max_nodes: u32,

    /// fastText.
    fn text(p: *NativePreview, bytes: []const u8) void {
        var stop = p.at + bytes.len;
        if (stop > p.limit) stop = p.limit + 1;
        if (stop <= p.at) return;
        @memcpy(p.out[p.at..stop], bytes[0 .. stop - p.at]);
        p.at = stop;
    }

    /// fastMark (`open` 0: none; `close` 0 never).
    fn mark(p: *NativePreview, open: u8, close: u8) void {
        const units: usize = if (open == 0) 2 else 3;
        if (p.at + units > p.limit) {
            if (open != 0) {
                p.out[p.at] = open;
                p.at += 1;
                if (p.at > p.limit) return;
            }
        } else if (open != 0) {
            p.out[p.at] = open;
            p.at += 1;
        }
        if (p.at - p.extra + 1 < p.max_chars) p.extra_before += 2;
        p.out[p.at..][0..3].* = "\xe2\x80\xa6".*;
        p.at += 3;
        p.extra += 2;
        p.limit += 2;
        if (p.at <= p.limit) {
            p.out[p.at] = close;
            p.at += 1;
        }
    }

    /// fastLast.
    fn last(p: *NativePreview, code: u8) void {
        if (p.at == p.limit) {
            p.out[p.at] = code;
            p.at += 1;
        }
    }

    /// A container's start, as fast() begins a record or array: its `{…}` / `[…]` past the
    /// depth or the node budget (false: nothing more of it), else its `open`.
    fn begin(p: *NativePreview, depth: u32, open_code: u8, close_code: u8) bool {
        if (depth >= p.max_depth or p.nodes > p.max_nodes) {
            p.mark(open_code, close_code);
            return false;
        }
        p.out[p.at] = open_code;
        p.at += 1;
        return true;
    }

    /// Before a container's item `i`, as fast()'s loops: false where its text ends there (the
    /// cut, a ',' at the limit, the node budget's "…" and `close_code`), else its ',' written.
    fn next_item(p: *NativePreview, i: usize, close_code: u8) bool {
        if (p.at > p.limit) return false;
        if (i > 0) {
            if (p.at >= p.limit) {
                p.last(',');
                return false;
            }
            p.out[p.at] = ',';
            p.at += 1;
        }
        if (p.nodes > p.max_nodes) {
            p.mark(0, close_code);
            return false;
        }
        return true;
    }

    /// A container's end: `code`, or fastLast's at the limit.
    fn finish(p: *NativePreview, code: u8) void {
        if (p.at >= p.limit) return p.last(code);
        p.out[p.at] = code;
        p.at += 1;
    }

    /// fastEnd.
    fn end(p: *NativePreview) usize {
        if (p.at <= p.limit) return p.at;
        const length = p.max_chars - 1 + p.extra_before;
        p.out[length..][0..3].* = "\xe2\x80\xa6".*;
        return length + 3;
    }

    fn number(p: *NativePreview, float: f64) void {
        var bytes: [js_number.max_bytes]u8 = undefined;
        if (float > -1e15 and float < 1e15 and @trunc(float) == float) {
            // -0 too: String(-0) is "0".
            return p.text(integer_text(&bytes, @intFromFloat(float)));
        }
        // The text written last time for these bits (the hash: preview.ts numberText's).
        const bits: u64 = @bitCast(float);
        const halves: u32 = @truncate(bits ^ (bits >> 32));
        const slot = (halves *% 0x9e3779b1) >> 24;
        const proofs = p.proofs;
        if (proofs.fraction_keys[slot] == bits) return p.text(proofs.fraction_texts[slot][0..proofs.fraction_lengths[slot]]);
        const length = js_number.write(&proofs.fraction_texts[slot], float);
        proofs.fraction_keys[slot] = bits;
        proofs.fraction_lengths[slot] = @intCast(length);
        p.text(proofs.fraction_texts[slot][0..length]);
    }

    /// fast(value, depth): false when it is not this writer's.
    fn value(p: *NativePreview, word: usize, depth: u32) bool {
        p.nodes += 1;
        const proofs = p.proofs;
        if (word & 1 == 0) {
            var bytes: [js_number.max_bytes]u8 = undefined;
            p.text(integer_text(&bytes, @as(i64, @bitCast(word)) >> 32));
            return true;
        }
        const map = heap_word(word, 0);
        if (map == proofs.heap_number_map) {
            p.number(@as(*const f64, @ptrFromInt(word - 1 + heap_number_value_offset)).*);
            return true;
        }
        if (word == proofs.true_value) p.text("true") else if (word == proofs.false_value) p.text("false") else if (word == proofs.null_value) p.text("null") else if (word == proofs.undefined_value) p.text("undefined") else {
            const instance_type = @as(*const u16, @ptrFromInt(map - 1 + map_instance_type_offset)).*;
            if (instance_type < first_nonstring_type) return p.string(word, instance_type);
            if (instance_type == proofs.js_array_type) return p.array(word, map, depth);
            for (proofs.known, &proofs.known_plans) |known, *plan| {
                const held = known orelse break;
                if (held.* != map) continue;
                if (plan.count == 0 or heap_word(word, object_elements_offset) != proofs.empty_elements) return false;
                return p.record(word, plan, depth);
            }
            return false;
        }
        return true;
    }

    fn string(p: *NativePreview, word: usize, instance_type: u16) bool {
        if (instance_type & 0x0f != 0x08) return false;
        const length_signed = @as(*const i32, @ptrFromInt(word - 1 + string_length_offset)).*;
        if (length_signed < 0) return false;
        const length: usize = @intCast(length_signed);
        const chars: [*]const u8 = @ptrFromInt(word - 1 + string_chars_offset);
        // Cut (fastCutString): the quote and the units up to the one past the limit.
        const stop = if (p.at + length + 2 > p.limit) p.limit + 1 else p.at + length + 2;
        var position = p.at;
        p.out[position] = '"';
        position += 1;
        var i: usize = 0;
        while (i < length and position < stop) : (i += 1) {
            const byte = chars[i];
            if (byte < 0x20 or byte > 0x7e or byte == '"' or byte == '\\') return false;
            p.out[position] = byte;
            position += 1;
        }
        if (position < stop) {
            p.out[position] = '"';
            position += 1;
        }
        p.at = position;
        return true;
    }

    fn array(p: *NativePreview, word: usize, map: usize, depth: u32) bool {
        const bit_field2 = @as(*const u8, @ptrFromInt(map - 1 + map_bit_field2_offset)).*;
        const kind = bit_field2 >> map_elements_kind_shift;
        if (kind != 0 and kind != 2 and kind != 4) return false;
        const length_word = heap_word(word, 24);
        if (length_word & 1 != 0) return false;
        const length_signed: i64 = @as(i64, @bitCast(length_word)) >> 32;
        const elements = heap_word(word, object_elements_offset);
        const capacity_word = heap_word(elements, 8);
        if (capacity_word & 1 != 0) return false;
        if (length_signed < 0 or length_signed > @as(i64, @bitCast(capacity_word)) >> 32) return false;
        if (!p.begin(depth, '[', ']')) return true;
        const length: usize = @intCast(length_signed);
        for (0..length) |i| {
            if (!p.next_item(i, ']')) return true;
            if (kind == 4) {
                p.nodes += 1;
                p.number(@as(*const f64, @ptrFromInt(elements - 1 + 16 + 8 * i)).*);
            } else if (!p.value(heap_word(elements, 16 + 8 * i), depth + 1)) return false;
        }
        p.finish(']');
        return true;
    }

    fn record(p: *NativePreview, word: usize, plan: *const KnownPlan, depth: u32) bool {
        if (!p.begin(depth, '{', '}')) return true;
        var from: usize = 0;
        for (plan.offsets[0..plan.count], plan.key_ends[0..plan.count], 0..) |offset, key_end, i| {
            if (!p.next_item(i, '}')) return true;
            const key = plan.keys[from..key_end];
            from = key_end;
            if (p.at + key.len > p.limit) {
                const keep = p.limit + 1 - p.at;
                @memcpy(p.out[p.at..][0..keep], key[0..keep]);
                p.at = p.limit + 1;
                return true;
            }
            @memcpy(p.out[p.at..][0..key.len], key);
            p.at += key.len;
            if (!p.value(heap_word(word, offset), depth + 1)) return false;
        }
        p.finish('}');
        return true;
    }
};

/// An integer's digits (|value| < 1e15) at the end of `bytes`.
fn integer_text(bytes: *[js_number.max_bytes]u8, value: i64) []const u8 {
    var rest: u64 = @abs(value);
    var first: usize = bytes.len;
    while (true) {
        first -= 1;
        bytes[first] = '0' + @as(u8, @intCast(rest % 10));
        rest /= 10;
        if (rest == 0) break;
    }
    if (value < 0) {
        first -= 1;
        bytes[first] = '-';
    }
    return bytes[first..];
}

fn preview_native(state: *EnvState, first: *const usize, second: *const usize, meta: u32) u32 {
    const proofs = state.map_proofs orelse return 0;
    const events = state.events orelse return 0;
    const slot: usize = meta & 1;
    const mode = (meta >> 1) & 3;
    const depth = (meta >> 3) & 0x1f;
    const chars = (meta >> 8) & 0x1fff;
    if (chars < 2 or chars > 4096) return 0;
    const texts_at = events_header_bytes + events_batch_records * layout.record_size_bytes;
    var p: NativePreview = .{
        .proofs = proofs,
        .out = events + texts_at + slot * events_text_bytes,
        .limit = chars,
        .max_chars = chars,
        .max_depth = depth,
        .max_nodes = preview_max_nodes(chars),
    };
    if (mode == 0) {
        if (!p.value(first.*, 0)) return 0;
        return @intCast(p.end());
    }
    // fastArguments.
    const count: usize = mode - 1;
    p.nodes += 1;
    // The list is at depth 0 (its values at 1): `[…]` when the depth limit is 0.
    if (!p.begin(0, '[', ']')) return @intCast(p.end());
    const values = [2]*const usize{ first, second };
    for (0..count) |i| {
        if (!p.next_item(i, ']')) return @intCast(p.end());
        if (!p.value(values[i].*, 1)) return 0;
    }
    p.finish(']');
    return @intCast(p.end());
}

const preview_native_args = [_]CTypeInfo{ .{ .type = CTypeInfo.v8_value_type }, .{ .type = CTypeInfo.v8_value_type }, .{ .type = CTypeInfo.v8_value_type }, .{ .type = CTypeInfo.uint32_type } };

fn preview_native_fast(receiver: ?*anyopaque, first: *const usize, second: *const usize, meta: u32) callconv(.c) u32 {
    _ = receiver;
    const state = fast_state_get() orelse return 0;
    state.fast_calls +%= 1;
    return preview_native(state, first, second, meta);
}

fn preview_native_slow(info: *const V8FunctionCallbackInfo) callconv(.c) void {
    const state = fast_state_get() orelse return;
    const env = state.env orelse return;
    var result: u32 = 0;
    if (info.length >= 3) {
        var meta: u32 = 0;
        if (napi_get_value_uint32(env, @ptrCast(&info.values[2]), &meta) == napi_ok) result = preview_native(state, &info.values[0], &info.values[1], meta);
    }
    slow_return(info, number(env, @floatFromInt(result)));
}

const fast_preview_native_function: FastFunction = .{
    .slow = preview_native_slow,
    .c_function = .{ .address = &preview_native_fast, .type_info = &.{ .return_info = .{ .type = CTypeInfo.uint32_type }, .arg_count = preview_native_args.len, .arg_info = &preview_native_args } },
};

/// numberTexts(Float64Array): String() of each value by js_number.zig, joined by spaces (spec/js-number.test.ts).
fn js_number_texts(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    if (call.argc < 1) return null;
    var length: usize = 0;
    var data: ?[*]u8 = null;
    if (napi_get_typedarray_info(env, call.argv[0], null, &length, &data, null, null) != napi_ok) return null;
    const values: [*]align(1) const f64 = @ptrCast(data orelse return null);
    const text = std.heap.c_allocator.alloc(u8, length * (js_number.max_bytes + 1)) catch return null;
    defer std.heap.c_allocator.free(text);
    var at: usize = 0;
    for (0..length) |i| {
        if (i > 0) {
            text[at] = ' ';
            at += 1;
        }
        var bytes: [js_number.max_bytes]u8 = undefined;
        const written = js_number.write(&bytes, values[i]);
        @memcpy(text[at..][0..written], bytes[0..written]);
        at += written;
    }
    var result: ?napi_value = null;
    if (napi_create_string_latin1(env, text.ptr, at, &result) != napi_ok) return null;
    return result;
}

/// The map of `local`'s object when it may be held: not a dictionary map, no elements; else null.
fn provable_map(proofs: *const MapProofs, local: *const usize) ?usize {
    const object = local_object(local) orelse return null;
    if (heap_word(object, object_elements_offset) != proofs.empty_elements) return null;
    const map = heap_word(object, 0);
    const bit_field3: u32 = @truncate(heap_word(map, map_bit_field3_offset));
    if (bit_field3 & (@as(u32, 1) << map_dictionary_bit) != 0) return null;
    return map;
}

/// mapLearn(object, count[, plainKeys]): boolean. Learns `object`'s map for fast() (with plainKeys 1,
/// no key secret: and a plan for previewNative, known_plan_build), whose walk has just
/// read `count` for-in keys of it by descriptor, every one an own data property: another
/// object of that map lists the same `count` own data properties first. False, nothing
/// learnt, for a dictionary map or an object with elements; an older map makes room.
fn js_map_learn(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    const proofs = call.state.map_proofs orelse return boolean(env, false);
    if (call.argc < 2) return boolean(env, false);
    var count: u32 = 0;
    if (napi_get_value_uint32(env, call.argv[1], &count) != napi_ok or count == 0 or count > 1 << 20) return boolean(env, false);
    const napi_object_type = 6;
    var kind: c_int = 0;
    if (napi_typeof(env, call.argv[0], &kind) != napi_ok or kind != napi_object_type) return boolean(env, false);
    const local: *const usize = @ptrCast(@alignCast(call.argv[0] orelse return boolean(env, false)));
    const map = provable_map(proofs, local) orelse return boolean(env, false);
    for (proofs.known) |known| {
        const held = known orelse break;
        if (held.* == map) return boolean(env, true);
    }
    const index = proofs.known_next % known_maps_max;
    proofs.known_next +%= 1;
    if (proofs.known[index]) |held| proofs.api.dispose(held);
    proofs.known[index] = null;
    proofs.known_counts[index] = count;
    proofs.known_plans[index] = .{};
    proofs.known[index] = proofs.api.globalize(proofs.isolate, map);
    // mapLearn's third argument 1: no key of the record looked secret (previewNative may write it).
    var plain: u32 = 0;
    if (call.argc >= 3 and napi_get_value_uint32(env, call.argv[2], &plain) != napi_ok) plain = 0;
    if (proofs.known[index] != null and plain == 1) proofs.known_plans[index] = known_plan_build(map, count);
    return boolean(env, proofs.known[index] != null);
}

/// mapProve(object, slot[, written]): boolean (with `written`: 2 held with a plan, 1 held; false not held). Holds `object`'s map in `slot` (the writer has just read
/// every key of `object` by descriptor: own data properties, exactly its keys); false, and
/// the slot's map kept, for a dictionary map or an object with elements. mapProve(undefined,
/// slot) lets the slot's map go (the writers were forgotten: a new writer takes the slot).
fn js_map_prove(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    const proofs = call.state.map_proofs orelse return boolean(env, false);
    if (call.argc < 2) return boolean(env, false);
    var slot: u32 = held_maps_max;
    if (napi_get_value_uint32(env, call.argv[1], &slot) != napi_ok or slot >= held_maps_max) return boolean(env, false);
    const napi_object_type = 6;
    var kind: c_int = 0;
    if (napi_typeof(env, call.argv[0], &kind) != napi_ok or kind != napi_object_type) {
        if (proofs.held[slot]) |held| proofs.api.dispose(held);
        proofs.held[slot] = null;
        proofs.plans[slot] = .{};
        return boolean(env, false);
    }
    const local: *const usize = @ptrCast(@alignCast(call.argv[0] orelse return boolean(env, false)));
    const map = provable_map(proofs, local) orelse return boolean(env, false);
    // The preview the writer has just written of this object, in the scratch (commitHeld's plan is checked against it).
    var written: u32 = 0;
    if (call.argc >= 3 and napi_get_value_uint32(env, call.argv[2], &written) != napi_ok) written = 0;
    if (proofs.held[slot]) |held| {
        if (held.* == map) {
            if (proofs.plans[slot].count == 0) proofs.plans[slot] = plan_build(call.state, proofs, local.*, map, written);
            return proved(env, call.argc, proofs.plans[slot].count > 0);
        }
        proofs.api.dispose(held);
        proofs.held[slot] = null;
        proofs.plans[slot] = .{};
    }
    proofs.held[slot] = proofs.api.globalize(proofs.isolate, map);
    if (proofs.held[slot] == null) return boolean(env, false);
    proofs.plans[slot] = plan_build(call.state, proofs, local.*, map, written);
    return proved(env, call.argc, proofs.plans[slot].count > 0);
}

/// mapProve's answer for a map held: true; with its third argument (the writer's length), 2 when
/// commitHeld has a plan for it, else 1 (the agent calls commitHeld only once a plan exists).
fn proved(env: napi_env, argc: usize, planned: bool) ?napi_value {
    if (argc < 3) return boolean(env, true);
    return number(env, if (planned) 2 else 1);
}

/// Disposes this env's held maps (its teardown).
fn map_proofs_release(state: *EnvState) void {
    const proofs = state.map_proofs orelse return;
    for (proofs.held ++ proofs.known ++ proofs.code_maps ++ proofs.code_shared) |held| {
        if (held) |handle| proofs.api.dispose(handle);
    }
    state.map_proofs = null;
    std.heap.c_allocator.destroy(proofs);
}

/// mapApi(): {mapHeld, mapProve, mapKnown, mapLearn, mapPacked, commitHeld, codeHeld, codeOffset, codeProve, numberTexts, previewNative} or undefined. Made once a thread
/// compiles its first shape writer or its fast() has walked 64 records; undefined where the fast functions are not this env's or the V8 is not one whose
/// layouts were checked (the writers then read by descriptor, as before).
fn js_map_api(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const state = state_of(env, info) orelse return null;
    if (state.map_proofs == null) {
        // Only where the fast functions' layouts were checked (the same V8 versions).
        _ = FastApi.get() orelse return null;
        const api = resolvedOnce(MapProofApi) orelse return null;
        const isolate = api.get_current() orelse return null;
        var probe: ?napi_value = null;
        if (napi_create_object(env, &probe) != napi_ok) return null;
        const probe_local: *const usize = @ptrCast(@alignCast(probe orelse return null));
        const empty_elements = heap_word(local_object(probe_local) orelse return null, object_elements_offset);
        var roots: [5]?napi_value = @splat(null);
        if (napi_get_boolean(env, true, &roots[0]) != napi_ok or napi_get_boolean(env, false, &roots[1]) != napi_ok or
            napi_get_null(env, &roots[2]) != napi_ok or napi_get_undefined(env, &roots[3]) != napi_ok or
            napi_create_double(env, 0.5, &roots[4]) != napi_ok) return null;
        var words: [5]usize = undefined;
        for (roots, &words) |root, *word| word.* = @as(*const usize, @ptrCast(@alignCast(root orelse return null))).*;
        const heap_number = local_object(&words[4]) orelse return null;
        const proofs = std.heap.c_allocator.create(MapProofs) catch return null;
        proofs.* = .{
            .api = api,
            .isolate = isolate,
            .empty_elements = empty_elements,
            .true_value = words[0],
            .false_value = words[1],
            .null_value = words[2],
            .undefined_value = words[3],
            .heap_number_map = heap_word(heap_number, 0),
        };
        var array: ?napi_value = null;
        if (napi_create_array(env, &array) == napi_ok) {
            const array_object = local_object(@ptrCast(@alignCast(array orelse return null))) orelse return null;
            proofs.js_array_type = @as(*const u16, @ptrFromInt(heap_word(array_object, 0) - 1 + map_instance_type_offset)).*;
        }
        state.map_proofs = proofs;
    }
    var object: ?napi_value = null;
    if (napi_create_object(env, &object) != napi_ok) return null;
    const held = fast_define(env, "mapHeld", state, &fast_map_held_function) orelse return null;
    _ = napi_set_named_property(env, object, "mapHeld", held);
    var prove: ?napi_value = null;
    if (napi_create_function(env, "mapProve", std.math.maxInt(usize), js_map_prove, state, &prove) != napi_ok) return null;
    _ = napi_set_named_property(env, object, "mapProve", prove);
    const known = fast_define(env, "mapKnown", state, &fast_map_known_function) orelse return object;
    _ = napi_set_named_property(env, object, "mapKnown", known);
    var learn: ?napi_value = null;
    if (napi_create_function(env, "mapLearn", std.math.maxInt(usize), js_map_learn, state, &learn) != napi_ok) return object;
    _ = napi_set_named_property(env, object, "mapLearn", learn);
    const packed_function = fast_define(env, "mapPacked", state, &fast_map_packed_function) orelse return object;
    _ = napi_set_named_property(env, object, "mapPacked", packed_function);
    const commit_held_function = fast_define(env, "commitHeld", state, &fast_commit_held_function) orelse return object;
    _ = napi_set_named_property(env, object, "commitHeld", commit_held_function);
    var texts: ?napi_value = null;
    if (napi_create_function(env, "numberTexts", std.math.maxInt(usize), js_number_texts, state, &texts) == napi_ok) _ = napi_set_named_property(env, object, "numberTexts", texts);
    if (state.map_proofs.?.js_array_type != 0) {
        const native_function = fast_define(env, "previewNative", state, &fast_preview_native_function) orelse return object;
        _ = napi_set_named_property(env, object, "previewNative", native_function);
    }
    const code_held_function = fast_define(env, "codeHeld", state, &fast_code_held_function) orelse return object;
    _ = napi_set_named_property(env, object, "codeHeld", code_held_function);
    var code_offset: ?napi_value = null;
    if (napi_create_function(env, "codeOffset", std.math.maxInt(usize), js_code_offset, state, &code_offset) != napi_ok) return object;
    _ = napi_set_named_property(env, object, "codeOffset", code_offset);
    var code_prove: ?napi_value = null;
    if (napi_create_function(env, "codeProve", std.math.maxInt(usize), js_code_prove, state, &code_prove) != napi_ok) return object;
    _ = napi_set_named_property(env, object, "codeProve", code_prove);
    return object;
}

// ---------------------------------------------------------------------------------------
// Event loop turns (the loop group, Node): a libuv prepare handle on this env's loop runs
// just before each poll, so the time between two prepares minus libuv's idle time in the
// poll is one turn's busy stretch (loop_turns.zig). Unref'd, it never keeps the loop alive
// or shortens a poll (prepare handles do not enter the poll's timeout), so the program's
// timers keep their order; nothing wakes an idle thread (the JavaScript sentinel timer it
// replaces woke it 40 times a second, ~110-130 µs of CPU each on this VM: BENCHMARKS.md
// "Event loop and memory"). Per turn: one read of the producer's clock and of libuv's idle
// counter (read in place, without libuv's mutex, once checked: IdleCounter), a histogram
// bucket; JavaScript runs only for a long turn (onLongTurn), to name it. The
// libuv functions are the node binary's, found with dlsym: where one is missing,
// `loopWatch` answers false and the agent keeps its sentinel timer. Closed at the thread's
// end (loopUnwatch, or this env's cleanup hook, which runs before a worker's loop is
// closed: a handle left open there would abort the worker).

const uv_loop = *anyopaque;
const UvHandle = extern struct {
    /// uv_handle_t's first field, `void* data`: the LoopWatch.
    data: ?*anyopaque,
};
const uv_prepare_type: c_int = 9; // UV_PREPARE in uv_handle_type
const uv_timer_type: c_int = 13; // UV_TIMER in uv_handle_type
const uv_metrics_idle_time_option: c_int = 1; // UV_METRICS_IDLE_TIME in uv_loop_option
/// uv_loop_t's public `void* internal_fields`, after data, active_handles (padded),
/// handle_queue (two pointers) and active_reqs (include/uv.h, 64-bit).
const uv_loop_internal_fields_offset = 40;
/// provider_idle_time in uv__loop_internal_fields_t (src/uv-common.h, libuv 1.45+, 64-bit):
/// flags (padded to 8), then uv__loop_metrics_t { uv_metrics_t (3 u64 + 13 pointers: 128),
/// provider_entry_time, provider_idle_time, lock }.
const uv_provider_idle_time_offset = 8 + 128 + 8;
/// The libuv versions whose layout that is (uv_version(): major << 16 | minor << 8 | patch).
const uv_version_idle_layout_min = 0x01_2d_00; // 1.45.0
const uv_version_idle_layout_end = 0x02_00_00;
/// Room for a uv_prepare_t (120 bytes in libuv 1.46 on x86_64; checked with uv_handle_size).
const uv_handle_bytes_max = 256;

const Uv = struct {
    handle_size: *const fn (c_int) callconv(.c) usize,
    prepare_init: *const fn (uv_loop, *UvHandle) callconv(.c) c_int,
    prepare_start: *const fn (*UvHandle, *const fn (*UvHandle) callconv(.c) void) callconv(.c) c_int,
    unref: *const fn (*UvHandle) callconv(.c) void,
    close: *const fn (*UvHandle, *const fn (*UvHandle) callconv(.c) void) callconv(.c) void,
    metrics_idle_time: *const fn (uv_loop) callconv(.c) u64,
    loop_configure: *const fn (uv_loop, c_int, ...) callconv(.c) c_int,
    /// null where missing: the idle counter is then always read with uv_metrics_idle_time.
    version: ?*const fn () callconv(.c) c_uint,
    /// The sample timer's (`tickStart`); null where missing (the agent keeps its JavaScript timer).
    timer_init: ?*const fn (uv_loop, *UvHandle) callconv(.c) c_int,
    timer_start: ?*const fn (*UvHandle, *const fn (*UvHandle) callconv(.c) void, u64, u64) callconv(.c) c_int,
    /// The loop's cached time (ms, set at each iteration's start) and the clock it is read
    /// from: when the loop's first iteration began. null where missing (that stretch is then
    /// not a turn).
    now: ?*const fn (uv_loop) callconv(.c) u64,
    hrtime: ?*const fn () callconv(.c) u64,

    /// Resolved once per process (resolvedOnce).
    fn get() ?Uv {
        return resolvedOnce(Uv);
    }

    fn resolve() ?Uv {
        return .{
            .handle_size = V8.symbol(*const fn (c_int) callconv(.c) usize, "uv_handle_size") orelse return null,
            .prepare_init = V8.symbol(*const fn (uv_loop, *UvHandle) callconv(.c) c_int, "uv_prepare_init") orelse return null,
            .prepare_start = V8.symbol(*const fn (*UvHandle, *const fn (*UvHandle) callconv(.c) void) callconv(.c) c_int, "uv_prepare_start") orelse return null,
            .unref = V8.symbol(*const fn (*UvHandle) callconv(.c) void, "uv_unref") orelse return null,
            .close = V8.symbol(*const fn (*UvHandle, *const fn (*UvHandle) callconv(.c) void) callconv(.c) void, "uv_close") orelse return null,
            .metrics_idle_time = V8.symbol(*const fn (uv_loop) callconv(.c) u64, "uv_metrics_idle_time") orelse return null,
            .loop_configure = V8.symbol(*const fn (uv_loop, c_int, ...) callconv(.c) c_int, "uv_loop_configure") orelse return null,
            .version = V8.symbol(*const fn () callconv(.c) c_uint, "uv_version"),
            .timer_init = V8.symbol(*const fn (uv_loop, *UvHandle) callconv(.c) c_int, "uv_timer_init"),
            .timer_start = V8.symbol(*const fn (*UvHandle, *const fn (*UvHandle) callconv(.c) void, u64, u64) callconv(.c) c_int, "uv_timer_start"),
            .now = V8.symbol(*const fn (uv_loop) callconv(.c) u64, "uv_now"),
            .hrtime = V8.symbol(*const fn () callconv(.c) u64, "uv_hrtime"),
        };
    }
};

/// f64 words of the buffer loopWatch hands to JavaScript: 0 = the turn running now.
const loop_words_count = 2;

const LoopWatch = struct {
    env: napi_env,
    state: *EnvState,
    uv: Uv,
    loop: uv_loop,
    prepare: [uv_handle_bytes_max]u8 align(16) = undefined,
    turns: loop_turns.Turns,
    /// When loopWatch started it (the producer's clock).
    started_ns: u64,
    /// The producer's clock, copied: the turns' readings (CLOCK_MONOTONIC ns like libuv's
    /// idle counter, and cheaper than uv_hrtime with the TSC), so a long turn's end is on
    /// the records' clock.
    clock: clock_module.Clock,
    idle: IdleCounter = .{},
    callback_reference: ?*anyopaque = null,
    words_reference: ?*anyopaque = null,
    words: [*]f64,
    /// Set when uv_close was called: nothing of the env is touched after it.
    closing: bool = false,
    cleanup_hook: bool = false,

    const references = .{ "callback_reference", "words_reference" };

    fn handle(watch: *LoopWatch) *UvHandle {
        return @ptrCast(&watch.prepare);
    }

    fn idle_ns(watch: *const LoopWatch) u64 {
        return watch.uv.metrics_idle_time(watch.loop);
    }
};

/// libuv's idle total read in place, without the mutex uv_metrics_idle_time takes on every
/// read (96 of a turn's 208 instructions: BENCHMARKS.md "Eighth look"). The loop's thread
/// is the counter's only writer (uv__metrics_update_idle_time, right after each poll) and
/// the prepare runs on that thread, before the poll, when provider_entry_time is 0, so
/// there uv_metrics_idle_time returns exactly the counter. Its offset is libuv's private
/// layout: taken only for the versions of that layout, and checked against the locked call
/// at the start and at the first `checks` turns whose value is not 0 (the locked value is
/// used meanwhile); one difference and this loop keeps the locked call.
const IdleCounter = struct {
    const checks = 8;

    /// null: uv_metrics_idle_time.
    counter: ?*const volatile u64 = null,
    checks_left: u8 = checks,

    /// At the watch's start, on the loop's thread outside the poll.
    fn init(uv: Uv, loop: uv_loop) IdleCounter {
        if (@sizeOf(usize) != 8) return .{}; // the offsets are the 64-bit layout's
        const version = (uv.version orelse return .{})();
        if (version < uv_version_idle_layout_min or version >= uv_version_idle_layout_end) return .{};
        const loop_bytes: [*]const u8 = @ptrCast(loop);
        const fields: *const ?[*]const u8 = @ptrCast(@alignCast(loop_bytes + uv_loop_internal_fields_offset));
        const internal = fields.* orelse return .{};
        const counter: *const volatile u64 = @ptrCast(@alignCast(internal + uv_provider_idle_time_offset));
        if (counter.* != uv.metrics_idle_time(loop)) return .{};
        return .{ .counter = counter };
    }

    inline fn read(idle: *IdleCounter, watch: *const LoopWatch) u64 {
        const counter = idle.counter orelse return watch.idle_ns();
        if (idle.checks_left == 0) return counter.*;
        const locked = watch.idle_ns();
        if (counter.* != locked) {
            idle.counter = null;
        } else if (locked != 0) {
            idle.checks_left -= 1;
        }
        return locked;
    }
};

fn loop_prepare(handle: *UvHandle) callconv(.c) void {
    const watch: *LoopWatch = @ptrCast(@alignCast(handle.data orelse return));
    assert(!watch.closing);
    const idle_ns = watch.idle.read(watch);
    const now_ns = watch.clock.now_ns();
    // The loop's first prepare: its iteration began before the timers, pending and idle
    // callbacks that ran ahead of it (a timer due by the time the program's module was done
    // runs there), at libuv's cached loop time. That clock is libuv's coarse one (ms, up to
    // a kernel tick behind): the first turn can read a few ms long. Node updates it when
    // JavaScript reads its timer clock (a setTimeout made there): the turn then begins at
    // that read (ARCHITECTURE.md "The native loop watch"). Only an
    // iteration that began after the watch did: a worker's agent and module load inside a
    // turn (its script's message), which stays out as module loading does in the main thread.
    if (watch.turns.last_ns == null) {
        if (watch.uv.now) |loop_now| if (watch.uv.hrtime) |hrtime| {
            const began_ns = now_ns -| (hrtime() -| loop_now(watch.loop) * std.time.ns_per_ms);
            if (began_ns > watch.started_ns) watch.turns.began(began_ns, idle_ns);
        };
    }
    const long_turn = watch.turns.prepare(now_ns, idle_ns);
    watch.words[0] = @floatFromInt(watch.turns.turn);
    if (long_turn) |turn| loop_report(watch, turn);
}

/// onLongTurn(turn, busyNs, endNs): JavaScript names what ran (the marks of that turn).
/// Rare (a turn of the threshold or more); an exception it throws is dropped here.
fn loop_report(watch: *LoopWatch, turn: loop_turns.LongTurn) void {
    const env = watch.env;
    const reference = watch.callback_reference orelse return;
    // The turn ended at the prepare just read, on the producer's clock.
    const end_ns = turn.end_ns;
    var scope: ?*anyopaque = null;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    defer _ = napi_close_handle_scope(env, scope);
    const arguments = [_]?napi_value{ number(env, @floatFromInt(turn.turn)), number(env, @floatFromInt(turn.busy_ns)), number(env, @floatFromInt(end_ns)) };
    call_reference(env, reference, &arguments);
}

/// Calls the JavaScript function held by `reference` with `arguments` (inside the caller's
/// handle scope), from a libuv callback; an exception it throws is dropped here.
fn call_reference(env: napi_env, reference: *anyopaque, arguments: []const ?napi_value) void {
    var function: ?napi_value = null;
    var receiver: ?napi_value = null;
    if (napi_get_reference_value(env, reference, &function) != napi_ok or function == null) return;
    if (napi_get_undefined(env, &receiver) != napi_ok) return;
    var result: ?napi_value = null;
    if (napi_call_function(env, receiver, function, arguments.len, arguments.ptr, &result) != napi_ok) {
        var exception: ?napi_value = null;
        _ = napi_get_and_clear_last_exception(env, &exception);
    }
}

/// The close path of a libuv handle an env owns (the loop watch's prepare, the samples'
/// timer). `T` has env, state, uv, handle(), closing, cleanup_hook and `references`, the
/// names of its Node-API reference fields; `slot` is the EnvState field that points to it.
fn EnvHandle(comptime T: type, comptime slot: []const u8) type {
    return struct {
        /// libuv's close callback: the handle's memory is ours again.
        fn closed(handle: *UvHandle) callconv(.c) void {
            const owner: *T = @ptrCast(@alignCast(handle.data orelse return));
            assert(owner.closing);
            std.heap.c_allocator.destroy(owner);
        }

        fn cleanup_hook(arg: ?*anyopaque) callconv(.c) void {
            const owner: *T = @ptrCast(@alignCast(arg orelse return));
            // Node runs its cleanup hooks once and forgets them: nothing to remove.
            owner.cleanup_hook = false;
            close(owner);
        }

        /// Closes the handle (its memory is freed in libuv's close callback) and lets go of
        /// the JavaScript values; the env is alive here (a call from JavaScript, the env's
        /// cleanup hook or its finalizer).
        fn close(owner: *T) void {
            if (owner.closing) return;
            owner.closing = true;
            assert(@field(owner.state, slot) == owner);
            @field(owner.state, slot) = null;
            if (owner.cleanup_hook) _ = napi_remove_env_cleanup_hook(owner.env, cleanup_hook, owner);
            inline for (T.references) |field| {
                if (@field(owner, field)) |reference| _ = napi_delete_reference(owner.env, reference);
                @field(owner, field) = null;
            }
            owner.uv.close(owner.handle(), closed);
        }
    };
}

const LoopHandle = EnvHandle(LoopWatch, "loop_watch");
const TickHandle = EnvHandle(Ticker, "ticker");

/// loopWatch(thresholdNs, onLongTurn): the buffer of shared words, or false where libuv's
/// functions are not found (or the env is not attached, or watches already).
fn js_loop_watch(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    const state = call.state;
    if (state.loop_watch != null or !state.attached or call.argc < 2) return boolean(env, false);
    const threshold_ns = producer_module.u64_from_f64(arg_double(&call, 0));
    if (threshold_ns == 0) return boolean(env, false);
    const uv = Uv.get() orelse return boolean(env, false);
    if (uv.handle_size(uv_prepare_type) > uv_handle_bytes_max) return boolean(env, false);
    var loop: ?*anyopaque = null;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) return boolean(env, false);
    const watch = std.heap.c_allocator.create(LoopWatch) catch return boolean(env, false);
    var words: ?[*]u8 = null;
    var buffer: ?napi_value = null;
    if (napi_create_arraybuffer(env, loop_words_count * @sizeOf(f64), &words, &buffer) != napi_ok or words == null) {
        std.heap.c_allocator.destroy(watch);
        return boolean(env, false);
    }
    watch.* = .{
        .env = env,
        .state = state,
        .uv = uv,
        .loop = loop orelse unreachable,
        .turns = loop_turns.Turns.init(threshold_ns),
        .started_ns = state.producer.clock.now_ns(),
        .clock = state.producer.clock,
        .words = @ptrCast(@alignCast(words.?)),
    };
    @memset(watch.words[0..loop_words_count], 0);
    // Node turns libuv's idle time on for every loop (eventLoopUtilization reads it); asked
    // again so the busy figures never count a wait as work.
    _ = uv.loop_configure(watch.loop, uv_metrics_idle_time_option);
    watch.idle = IdleCounter.init(uv, watch.loop);
    if (uv.prepare_init(watch.loop, watch.handle()) != 0) {
        std.heap.c_allocator.destroy(watch);
        return boolean(env, false);
    }
    watch.handle().data = watch;
    state.loop_watch = watch;
    _ = napi_create_reference(env, call.argv[1], 1, &watch.callback_reference);
    _ = napi_create_reference(env, buffer, 1, &watch.words_reference);
    if (napi_add_env_cleanup_hook(env, LoopHandle.cleanup_hook, watch) == napi_ok) watch.cleanup_hook = true;
    if (uv.prepare_start(watch.handle(), loop_prepare) != 0) {
        LoopHandle.close(watch);
        return boolean(env, false);
    }
    uv.unref(watch.handle());
    return buffer;
}

/// loopTake(into: Float64Array): min, p50, p99, max turn time (ns), utilisation (ppm) and
/// the number of turns since the last take; 1, or 0 when not watching.
fn js_loop_take(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    const watch = call.state.loop_watch orelse return number(env, 0);
    if (call.argc < 1) return number(env, 0);
    return number(env, if (loop_take_into(env, watch, call.argv[0])) 1 else 0);
}

fn loop_take_into(env: napi_env, watch: *LoopWatch, value: ?napi_value) bool {
    var kind: c_int = 0;
    var length: usize = 0;
    var data: ?[*]u8 = null;
    if (napi_get_typedarray_info(env, value, &kind, &length, &data, null, null) != napi_ok) return false;
    const napi_float64_array = 8;
    if (kind != napi_float64_array or length < 6) return false;
    const into: [*]f64 = @ptrCast(@alignCast(data orelse return false));
    const summary = watch.turns.take(watch.clock.now_ns(), watch.idle_ns());
    into[0..6].* = .{
        @floatFromInt(summary.min_ns),
        @floatFromInt(summary.p50_ns),
        @floatFromInt(summary.p99_ns),
        @floatFromInt(summary.max_ns),
        @floatFromInt(summary.utilisation_ppm),
        @floatFromInt(summary.turn_count),
    };
    return true;
}

/// loopUnwatch(into?: Float64Array): the turn running now ends (the thread's end: reported
/// when long, from inside this call), the last summary is taken into `into` as loopTake
/// does, then the handle is closed. Returns 1 when a summary was written.
fn js_loop_unwatch(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    const state = call.state;
    const watch = state.loop_watch orelse return number(env, 0);
    if (watch.turns.end(watch.clock.now_ns(), watch.idle_ns())) |turn| loop_report(watch, turn);
    // The report's JavaScript may have closed it (a nested unwatch).
    if (state.loop_watch != watch) return number(env, 0);
    const taken = if (call.argc >= 1) loop_take_into(env, watch, call.argv[0]) else false;
    LoopHandle.close(watch);
    return number(env, if (taken) 1 else 0);
}

// ---------------------------------------------------------------------------------------
// The samples' timer (the loop and memory groups, Node): a libuv timer on this env's loop,
// unref'd, that calls the agent's onTick every interval. In place of a JavaScript
// setInterval, which in a worker that uses no timers of its own compiled Node's timer
// machinery at its start (Timeout, TimersList, the priority queue: ~1 M instructions a
// worker, BENCHMARKS.md "Event loop and memory", seventh look). Like the interval it
// replaces it never keeps the loop alive, and it wakes an idle one (an unref'd timer still
// bounds the poll's wait); libuv repeats it from the loop's time when it runs, as Node does
// its intervals. Closed at the thread's end (tickStop, or this env's cleanup hook).

const Ticker = struct {
    env: napi_env,
    state: *EnvState,
    uv: Uv,
    timer: [uv_handle_bytes_max]u8 align(16) = undefined,
    callback_reference: ?*anyopaque = null,
    /// Set when uv_close was called: nothing of the env is touched after it.
    closing: bool = false,
    cleanup_hook: bool = false,

    const references = .{"callback_reference"};

    fn handle(ticker: *Ticker) *UvHandle {
        return @ptrCast(&ticker.timer);
    }
};

fn tick_fired(handle: *UvHandle) callconv(.c) void {
    const ticker: *Ticker = @ptrCast(@alignCast(handle.data orelse return));
    assert(!ticker.closing);
    const reference = ticker.callback_reference orelse return;
    var scope: ?*anyopaque = null;
    if (napi_open_handle_scope(ticker.env, &scope) != napi_ok) return;
    defer _ = napi_close_handle_scope(ticker.env, scope);
    call_reference(ticker.env, reference, &.{});
}

/// tickStart(intervalMs, onTick): boolean. false where libuv's timer functions are not
/// found, the env is not attached, or it ticks already.
fn js_tick_start(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    const state = call.state;
    if (state.ticker != null or !state.attached or call.argc < 2) return boolean(env, false);
    const interval_ms = producer_module.u64_from_f64(arg_double(&call, 0));
    if (interval_ms == 0) return boolean(env, false);
    const uv = Uv.get() orelse return boolean(env, false);
    const timer_init = uv.timer_init orelse return boolean(env, false);
    const timer_start = uv.timer_start orelse return boolean(env, false);
    if (uv.handle_size(uv_timer_type) > uv_handle_bytes_max) return boolean(env, false);
    var loop: ?*anyopaque = null;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok or loop == null) return boolean(env, false);
    const ticker = std.heap.c_allocator.create(Ticker) catch return boolean(env, false);
    ticker.* = .{ .env = env, .state = state, .uv = uv };
    if (timer_init(loop.?, ticker.handle()) != 0) {
        std.heap.c_allocator.destroy(ticker);
        return boolean(env, false);
    }
    ticker.handle().data = ticker;
    state.ticker = ticker;
    if (napi_create_reference(env, call.argv[1], 1, &ticker.callback_reference) != napi_ok) {
        TickHandle.close(ticker);
        return boolean(env, false);
    }
    if (napi_add_env_cleanup_hook(env, TickHandle.cleanup_hook, ticker) == napi_ok) ticker.cleanup_hook = true;
    if (timer_start(ticker.handle(), tick_fired, interval_ms, interval_ms) != 0) {
        TickHandle.close(ticker);
        return boolean(env, false);
    }
    uv.unref(ticker.handle());
    return boolean(env, true);
}

/// tickStop(): void. The timer closed (the thread's last sample is written by the caller).
fn js_tick_stop(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const state = state_of(env, info) orelse return null;
    if (state.ticker) |ticker| TickHandle.close(ticker);
    return null;
}

// ---------------------------------------------------------------------------------------
// Files shared by the process's threads (zig/shared_files.zig): the agent's bundle and code
// cache, read once per process instead of by every worker's loader.

/// node_api_create_external_string_latin1 (Node 20.4+, still marked experimental there):
/// found with dlsym once per process; where missing, the string is a copy.
const ExternalLatin1 = *const fn (napi_env, [*]const u8, usize, ?napi_finalize, ?*anyopaque, *?napi_value, ?*bool) callconv(.c) napi_status;
const ExternalLatin1Api = struct {
    create: ExternalLatin1,

    fn resolve() ?ExternalLatin1Api {
        return .{ .create = V8.symbol(ExternalLatin1, "node_api_create_external_string_latin1") orelse return null };
    }
};

fn external_latin1_get() ?ExternalLatin1 {
    const api = resolvedOnce(ExternalLatin1Api) orelse return null;
    return api.create;
}

/// The UTF-8 of argument `index` (a path) in `buffer`, or null when it is not a string or too long.
fn arg_path(call: *const Call, index: usize, buffer: *[shared_files.path_bytes_max + 1]u8) ?[]const u8 {
    var len: usize = 0;
    if (index >= call.argc) return null;
    if (napi_get_value_string_utf8(call.env, call.argv[index], buffer, buffer.len, &len) != napi_ok) return null;
    if (len == 0 or len >= shared_files.path_bytes_max) return null;
    return buffer[0..len];
}

/// sharedFile(path: string, latin1?: boolean): ArrayBuffer | string | undefined. The
/// process's copy of the file (read by the first thread that asks), as an ArrayBuffer over
/// it, or with `latin1` true as a one-byte string over it (external where the runtime can
/// make one); undefined when it cannot be read. The buffer is the process's: not to be written.
fn js_shared_file(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    var path: [shared_files.path_bytes_max + 1]u8 = undefined;
    const data = shared_files.get(arg_path(&call, 0, &path) orelse return null) orelse return null;
    var latin1 = false;
    if (call.argc > 1) _ = napi_get_value_bool(env, call.argv[1], &latin1);
    var result: ?napi_value = null;
    if (latin1) {
        if (external_latin1_get()) |create| {
            if (create(env, data.ptr, data.len, null, null, &result, null) == napi_ok) return result;
        }
        if (napi_create_string_latin1(env, data.ptr, data.len, &result) != napi_ok) return null;
        return result;
    }
    if (napi_create_external_arraybuffer(env, @constCast(@ptrCast(data.ptr)), data.len, null, null, &result) == napi_ok) return result;
    // A runtime that refuses external buffers: a copy.
    var copy: ?[*]u8 = null;
    if (napi_create_arraybuffer(env, data.len, &copy, &result) != napi_ok) return null;
    if (data.len > 0) @memcpy(copy.?[0..data.len], data);
    return result;
}

/// shareFile(path: string, data: ArrayBuffer | TypedArray | DataView): boolean. Makes a copy
/// of `data` the process's copy of `path` (a file this thread has just written), so later
/// `sharedFile(path)` calls in any thread return it without reading.
fn js_share_file(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const call = call_begin(env, info) orelse return null;
    var path: [shared_files.path_bytes_max + 1]u8 = undefined;
    const name = arg_path(&call, 0, &path) orelse return boolean(env, false);
    if (call.argc < 2) return boolean(env, false);
    return boolean(env, shared_files.replace(name, buffer_bytes(env, call.argv[1])));
}

const Export = struct {
    name: [*:0]const u8,
    callback: napi_callback,
    /// Made as a V8 Fast API function where that is possible (fast_define).
    fast: ?*const FastFunction = null,
    /// Only as a Fast API function: left out where none can be made (commitEvent).
    fast_only: bool = false,
};

/// Made by every environment's module init. A lean init (the Node agent's loader: an
/// `exports` object that carries `lean`) makes only `lean_exports_table` and `fullApi`;
/// any other load (require, `scope attach`, the benches and specs) makes both tables, as
/// before.
///
/// What the Node agent's core uses in every thread: the ring, the Recorder's writes (events
/// through the scratch and commitEvent, strings by `string`), the loader's shared files.
const lean_exports_table = [_]Export{
    .{ .name = "attach", .callback = js_attach },
    .{ .name = "string", .callback = js_string },
    .{ .name = "scratch", .callback = js_scratch },
    .{ .name = "commit", .callback = js_commit, .fast = &fast_commit_function },
    .{ .name = "commitString", .callback = js_commit_string, .fast = &fast_commit_string_function },
    .{ .name = "commitEvent", .callback = js_commit, .fast = &fast_commit_event_function, .fast_only = true },
    .{ .name = "sharedFile", .callback = js_shared_file },
};

/// What the Node agent's core calls only now and then: `stopped` when a write was refused,
/// `shareFile` when a thread writes a code cache, `loopApi` when the loop monitor starts,
/// `mapApi` when the preview walk compiles its first shape writer, `record` when an agent
/// error is recorded (or a thread has no scratch), `recordString` when a preview is recorded
/// with a redaction pattern (the Recorder's eventWithString).
/// In a lean init they are made by `fullApi(true)` (this table alone) or `fullApi()` (with
/// full_exports_table), which the agent calls before it first needs one of them
/// (src/agent/shared/sink.ts lateNative): ~19 K instructions each, ~57 K a worker that never
/// calls one (BENCHMARKS.md "Fourteenth look"; `record` and `recordString` since "Worker
/// start: the core's top level made at first use").
const rare_exports_table = [_]Export{
    .{ .name = "stopped", .callback = js_stopped },
    .{ .name = "record", .callback = js_record },
    .{ .name = "recordString", .callback = js_record_string },
    .{ .name = "shareFile", .callback = js_share_file },
    .{ .name = "loopApi", .callback = js_loop_api },
    .{ .name = "mapApi", .callback = js_map_api },
};

/// The rest: function tracing's batches and clock (recordBatch, events, commitEvents, now,
/// prefault), `scope attach`'s stats, detach and release. In a lean init they are made by
/// `fullApi()` on the exports object (with rare_exports_table), when the agent first needs them (--functions): a
/// napi_create_function and its napi_set_named_property are ~19 K instructions, and these
/// eight were ~0.15 M of every worker's start (BENCHMARKS.md "Thirteenth look").
const full_exports_table = [_]Export{
    .{ .name = "recordBatch", .callback = js_record_batch },
    .{ .name = "now", .callback = js_now, .fast = &fast_now_function },
    .{ .name = "stats", .callback = js_stats },
    .{ .name = "detach", .callback = js_detach },
    .{ .name = "release", .callback = js_release },
    .{ .name = "events", .callback = js_events },
    .{ .name = "commitEvents", .callback = js_commit_events, .fast = &fast_commit_events_function },
    .{ .name = "prefault", .callback = js_prefault },
};

/// The loop and memory groups' functions (opt-in), made by `loopApi()` when a thread starts
/// its loop monitor rather than by every environment's init: a napi_create_function is
/// ~12 K instructions (V8 instantiates a new FunctionTemplate), and these nine were ~0.1 M
/// of every worker's start (BENCHMARKS.md "Ninth look").
const loop_exports_table = [_]Export{
    .{ .name = "now", .callback = js_now, .fast = &fast_now_function },
    .{ .name = "gcWatch", .callback = js_gc_watch },
    .{ .name = "gcDropped", .callback = js_gc_dropped },
    .{ .name = "gcUnwatch", .callback = js_gc_unwatch },
    .{ .name = "loopWatch", .callback = js_loop_watch },
    .{ .name = "loopTake", .callback = js_loop_take },
    .{ .name = "loopUnwatch", .callback = js_loop_unwatch },
    .{ .name = "tickStart", .callback = js_tick_start },
    .{ .name = "tickStop", .callback = js_tick_stop },
};

comptime {
    assert(lean_exports_table.len + rare_exports_table.len + full_exports_table.len + loop_exports_table.len == 30);
}

/// Sets `table`'s functions on `object`, each bound to the env's state; one that cannot be
/// made is left out (the agent checks for each function it uses).
fn define_exports(env: napi_env, object: ?napi_value, table: []const Export, state: *EnvState) void {
    assert(table.len > 0);
    for (table) |entry| {
        var function: ?napi_value = null;
        if (entry.fast) |fast| {
            if (fast_define(env, entry.name, state, fast)) |made| {
                _ = napi_set_named_property(env, object, entry.name, made);
                continue;
            }
        }
        if (entry.fast_only) continue;
        if (napi_create_function(env, entry.name, std.math.maxInt(usize), entry.callback, state, &function) != napi_ok) continue;
        _ = napi_set_named_property(env, object, entry.name, function);
    }
}

/// loopApi(): object. A new object with the loop and memory functions (loop_exports_table);
/// the agent asks once, when the thread's loop monitor starts.
fn js_loop_api(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    const state = state_of(env, info) orelse return null;
    var object: ?napi_value = null;
    if (napi_create_object(env, &object) != napi_ok) return null;
    define_exports(env, object, &loop_exports_table, state);
    return object;
}

/// Called once per environment (main thread, each worker) that loads the addon.
export fn napi_register_module_v1(env: napi_env, exports: ?napi_value) ?napi_value {
    const state = std.heap.c_allocator.create(EnvState) catch return exports;
    state.* = .{ .env = env };
    if (napi_set_instance_data(env, state, env_finalize, null) != napi_ok) {
        std.heap.c_allocator.destroy(state);
        return exports;
    }
    const live_count = thread_env.live_count + 1;
    thread_env = if (live_count == 1) .{ .env = env, .state = state, .live_count = 1 } else .{ .live_count = live_count };
    var lean = false;
    if (napi_has_named_property(env, exports, "lean", &lean) != napi_ok) lean = false;
    define_exports(env, exports, &lean_exports_table, state);
    if (!lean) {
        define_exports(env, exports, &rare_exports_table, state);
        define_exports(env, exports, &full_exports_table, state);
        return exports;
    }
    var function: ?napi_value = null;
    if (napi_create_function(env, "fullApi", std.math.maxInt(usize), js_full_api, state, &function) == napi_ok) {
        _ = napi_set_named_property(env, exports, "fullApi", function);
    }
    return exports;
}

/// fullApi(rareOnly?): the exports object (its receiver) with rare_exports_table's functions
/// set on it, and full_exports_table's unless `rareOnly` is true, each table made at its
/// first call (a lean init's exports: see lean_exports_table).
fn js_full_api(env: napi_env, info: napi_callback_info) callconv(.c) ?napi_value {
    var argc: usize = 1;
    var argv: [1]?napi_value = .{null};
    var this: ?napi_value = null;
    var data: ?*anyopaque = null;
    if (napi_get_cb_info(env, info, &argc, &argv, &this, &data) != napi_ok) return null;
    const state: *EnvState = @ptrCast(@alignCast(data orelse return null));
    var rare_only = false;
    if (argc < 1 or napi_get_value_bool(env, argv[0], &rare_only) != napi_ok) rare_only = false;
    var has = false;
    if (napi_has_named_property(env, this, rare_exports_table[0].name, &has) != napi_ok) return null;
    if (!has) define_exports(env, this, &rare_exports_table, state);
    if (rare_only) return this;
    if (napi_has_named_property(env, this, full_exports_table[0].name, &has) != napi_ok) return null;
    if (!has) define_exports(env, this, &full_exports_table, state);
    return this;
}

/// Node-API version 8 (Node 12.22+): instance data and everything above.
export fn node_api_module_get_api_version_v1() i32 {
    return 8;
}
