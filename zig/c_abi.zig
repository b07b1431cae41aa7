//! The C ABI of libscope, called from TypeScript through bun:ffi.
//! Every function is `export fn scope_*`; failures return a `Status`, never an error cast.
//! Arguments are u32, f64 and pointers: a 64-bit integer costs a BigInt in bun:ffi.
//! Handles come from JavaScript, so a null handle is refused quietly (a tracer never
//! crashes the program it traces); a stale one is the caller's bug.
const std = @import("std");
const assert = std.debug.assert;
const layout = @import("layout.zig");
const ring = @import("ring.zig");
const batches = @import("batches.zig");
const shm = @import("shm.zig");
const clock = @import("clock.zig");
const producer_module = @import("producer.zig");
const trace_abi = @import("trace_abi.zig");
const collector_module = @import("collector.zig");
const flight_module = @import("flight.zig");

comptime {
    _ = trace_abi;
}

/// Append values, never renumber: the TypeScript side maps them to messages.
pub const Status = enum(u32) {
    ok = 0,
    invalid_argument = 1,
    already_exists = 2,
    not_found = 3,
    access_denied = 4,
    not_a_ring = 5,
    wrong_layout_version = 6,
    size_mismatch = 7,
    system_resources = 8,
    unexpected = 9,
    _,
};

fn status_from_error(err: shm.Error) Status {
    return switch (err) {
        error.InvalidArgument => .invalid_argument,
        error.AlreadyExists => .already_exists,
        error.NotFound => .not_found,
        error.AccessDenied => .access_denied,
        error.NotARing => .not_a_ring,
        error.WrongLayoutVersion => .wrong_layout_version,
        error.SizeMismatch => .size_mismatch,
        error.SystemResources => .system_resources,
        error.Unexpected => .unexpected,
    };
}

export fn scope_layout_version() u32 {
    return layout.record_layout_version;
}

// ---------------------------------------------------------------------------------------
// Ring (the collector's side).

const allocator = std.heap.c_allocator;

const RingHandle = struct {
    mapping: shm.Mapping,
};

fn ring_handle(ring_pointer: ?*anyopaque) ?*RingHandle {
    return @ptrCast(@alignCast(ring_pointer orelse return null));
}

fn ring_adopt(mapping_result: shm.Error!shm.Mapping, out_ring: ?*?*anyopaque) Status {
    const out = out_ring orelse return .invalid_argument;
    out.* = null;
    var mapping = mapping_result catch |err| return status_from_error(err);
    const handle = allocator.create(RingHandle) catch {
        shm.close(&mapping);
        return .system_resources;
    };
    handle.* = .{ .mapping = mapping };
    out.* = handle;
    return .ok;
}

/// Creates the ring file at `path` (fails if it exists) and maps it. `mode`: 0 discard,
/// 1 overwrite. Producers stamp with the TSC when it is usable (calibrating takes
/// ~10 ms), with CLOCK_MONOTONIC otherwise or when SCOPE_RING_CLOCK=monotonic.
export fn scope_ring_create(path: ?[*:0]const u8, lane_count: u32, lane_capacity_slots: u32, mode: u32, out_ring: ?*?*anyopaque) Status {
    return scope_ring_create_batches(path, lane_count, lane_capacity_slots, mode, 0, out_ring);
}

/// scope_ring_create, with the threads' function-event batches after the slots when `batches`
/// is nonzero (zig/batches.zig: what a process killed by a signal had buffered; function
/// tracing's rings).
export fn scope_ring_create_batches(path: ?[*:0]const u8, lane_count: u32, lane_capacity_slots: u32, mode: u32, with_batches: u32, out_ring: ?*?*anyopaque) Status {
    const path_z = path orelse return .invalid_argument;
    if (mode > @intFromEnum(ring.Mode.overwrite)) return .invalid_argument;
    return ring_adopt(shm.create(path_z, .{
        .lane_count = lane_count,
        .lane_capacity_slots = lane_capacity_slots,
        .mode = @enumFromInt(mode),
        .collector_pid = @intCast(std.c.getpid()),
        .clock = clock_choice_from_environment(),
        .batch_slot_count = if (with_batches != 0) batches.slot_count else 0,
    }), out_ring);
}

/// SCOPE_RING_CLOCK=monotonic: the escape hatch if a machine's TSC misbehaves in a way
/// the checks at creation miss, and how tests reach the fallback from JavaScript.
fn clock_choice_from_environment() clock.Choice {
    const value = std.c.getenv("SCOPE_RING_CLOCK") orelse return .auto;
    if (std.mem.eql(u8, std.mem.span(value), "monotonic")) return .monotonic;
    return .auto;
}

export fn scope_ring_open(path: ?[*:0]const u8, out_ring: ?*?*anyopaque) Status {
    const path_z = path orelse return .invalid_argument;
    return ring_adopt(shm.open(path_z), out_ring);
}

/// Unmaps. Every producer attached through this handle must be detached first.
export fn scope_ring_close(ring_pointer: ?*anyopaque) void {
    const handle = ring_handle(ring_pointer) orelse return;
    shm.close(&handle.mapping);
    allocator.destroy(handle);
}

export fn scope_ring_unlink(path: ?[*:0]const u8) Status {
    const path_z = path orelse return .invalid_argument;
    shm.unlink(path_z) catch |err| return status_from_error(err);
    return .ok;
}

/// Bytes of a ring file of this geometry (0 when the geometry is invalid).
export fn scope_ring_size_bytes(lane_count: u32, lane_capacity_slots: u32) f64 {
    ring.validate_geometry(lane_count, lane_capacity_slots) catch return 0;
    return @floatFromInt(ring.size_bytes(lane_count, lane_capacity_slots));
}

/// Copies up to `max_records` complete records (64 bytes each, seq set to 0) into
/// `out_records`; returns how many. In overwrite mode with the `drop` records of the
/// threads whose lanes lost records put where the losses were (Ring.drain_marked). Only
/// one consumer per ring.
export fn scope_ring_drain(ring_pointer: ?*anyopaque, out_records: ?[*]u8, max_records: u32) u32 {
    const handle = ring_handle(ring_pointer) orelse return 0;
    const out: [*]align(1) layout.Record = @ptrCast(out_records orelse return 0);
    return handle.mapping.ring.drain_marked(out[0..max_records], false);
}

/// As scope_ring_drain, and passes (and counts) positions that were claimed but never
/// completed. Only after every producer has detached or exited.
export fn scope_ring_drain_final(ring_pointer: ?*anyopaque, out_records: ?[*]u8, max_records: u32) u32 {
    const handle = ring_handle(ring_pointer) orelse return 0;
    const out: [*]align(1) layout.Record = @ptrCast(out_records orelse return 0);
    return handle.mapping.ring.drain_marked(out[0..max_records], true);
}

/// The order of scope_ring_stats' output.
pub const RingStat = enum(u32) {
    written = 0,
    dropped = 1,
    overwritten = 2,
    abandoned = 3,
    received = 4,
    pending = 5,
    producers_attached = 6,
    lane_count = 7,
    lane_capacity_slots = 8,
    mode = 9,
    created_monotonic_ns = 10,
    created_realtime_ns = 11,
    overflow_pending = 12,
    overflowed = 13,
    /// layout.StopReason: 0 while recording.
    stop_reason = 14,
    /// Records the drain made beyond the slots it took (function_calls packs).
    unpacked = 15,
};
pub const ring_stat_count = 16;

comptime {
    assert(@typeInfo(RingStat).@"enum".field_names.len == ring_stat_count);
}

/// Writes `ring_stat_count` u64 values in `RingStat` order.
export fn scope_ring_stats(ring_pointer: ?*anyopaque, out: ?*[ring_stat_count]u64) void {
    const handle = ring_handle(ring_pointer) orelse return;
    const values = out orelse return;
    const stats = handle.mapping.ring.stats();
    const header = handle.mapping.ring.header;
    values.* = .{
        stats.written,
        stats.dropped,
        stats.overwritten,
        stats.abandoned,
        stats.received,
        stats.pending,
        stats.producers_attached,
        header.lane_count,
        header.lane_capacity_slots,
        header.mode,
        header.created_monotonic_ns,
        header.created_realtime_ns,
        stats.overflow_pending,
        stats.overflowed,
        @intFromEnum(handle.mapping.ring.stop_reason()),
        stats.unpacked,
    };
}

/// The order of scope_ring_clock's output: the header's clock calibration.
pub const RingClock = enum(u32) {
    /// clock.Source: 0 CLOCK_MONOTONIC, 1 TSC.
    source = 0,
    shift = 1,
    tsc0 = 2,
    monotonic0_ns = 3,
    multiplier = 4,
};
pub const ring_clock_count = 5;

comptime {
    assert(@typeInfo(RingClock).@"enum".field_names.len == ring_clock_count);
}

/// Writes `ring_clock_count` u64 values in `RingClock` order.
export fn scope_ring_clock(ring_pointer: ?*anyopaque, out: ?*[ring_clock_count]u64) void {
    const handle = ring_handle(ring_pointer) orelse return;
    const values = out orelse return;
    const calibration = handle.mapping.ring.header.clock_calibration;
    values.* = .{ calibration.source, calibration.shift, calibration.tsc0, calibration.monotonic0_ns, calibration.multiplier };
}

// ---------------------------------------------------------------------------------------
// Producers.

fn producer_handle(producer_pointer: ?*anyopaque) ?*ring.Producer {
    return @ptrCast(@alignCast(producer_pointer orelse return null));
}

/// A producer on the ring's next lane; records it writes carry this pid and tid.
export fn scope_producer_attach(ring_pointer: ?*anyopaque, pid: u32, tid: u32, out_producer: ?*?*anyopaque) Status {
    const out = out_producer orelse return .invalid_argument;
    out.* = null;
    const handle = ring_handle(ring_pointer) orelse return .invalid_argument;
    const producer = allocator.create(ring.Producer) catch return .system_resources;
    producer.* = handle.mapping.ring.attach(pid, tid);
    out.* = producer;
    if (tid == 0) {
        main_producer = producer;
        if (!exit_handler_registered) {
            exit_handler_registered = true;
            _ = atexit(exit_handler);
            _ = at_quick_exit(exit_handler);
        }
    }
    return .ok;
}

/// The main thread's producer (tid 0), for the exit handler: a program that exits
/// without detaching (the Bun agent never detaches) still hands what its overflow holds
/// to the collector. exit() runs atexit handlers on the thread that calls it.
var main_producer: ?*ring.Producer = null;
var exit_handler_registered = false;

extern "c" fn atexit(function: *const fn () callconv(.c) void) c_int;
/// Bun ends the process with quick_exit(), which runs these instead of atexit's.
extern "c" fn at_quick_exit(function: *const fn () callconv(.c) void) c_int;

fn exit_handler() callconv(.c) void {
    const producer = main_producer orelse return;
    producer.flush(true);
}

/// Detaches; waits (bounded) while the collector drains what the producer's overflow holds.
export fn scope_producer_detach(producer_pointer: ?*anyopaque) void {
    const producer = producer_handle(producer_pointer) orelse return;
    if (main_producer == producer) main_producer = null;
    producer.detach();
    allocator.destroy(producer);
}

/// 1 once recording stopped (ring.zig "Stopping"): every write is refused from then on.
export fn scope_producer_stopped(producer_pointer: ?*anyopaque) u32 {
    const producer = producer_handle(producer_pointer) orelse return 0;
    return @intFromBool(producer.stopped());
}

/// Moves what the producer's overflow holds into its lane, as far as it has room now.
export fn scope_producer_flush(producer_pointer: ?*anyopaque) void {
    const producer = producer_handle(producer_pointer) orelse return;
    producer.flush(false);
}

/// Writes one record stamped now. Returns 1 when written, 0 when dropped.
export fn scope_producer_record(producer_pointer: ?*anyopaque, kind: u32, flags: u32, a: f64, b: f64, c: f64, d: f64, e: f64) u32 {
    const producer = producer_handle(producer_pointer) orelse return 0;
    const record = producer_module.record_from_values(kind, flags, a, b, c, d, e);
    return @intFromBool(producer.write(&record));
}

/// Writes a string (truncated to string_max_bytes on a UTF-8 boundary) as fragment
/// records, all or nothing. Returns the number of fragments written (0: dropped).
export fn scope_producer_string(producer_pointer: ?*anyopaque, id: u32, utf8: ?[*]const u8, len: u32) u32 {
    const producer = producer_handle(producer_pointer) orelse return 0;
    const bytes: []const u8 = if (utf8) |pointer| pointer[0..len] else if (len == 0) "" else return 0;
    return producer_module.write_string(producer, id, bytes);
}

/// Writes `count` 64-byte records from `records` as one claim; records with timestamp 0
/// are stamped now; pid and tid are the producer's. Returns the number written.
export fn scope_producer_write_batch(producer_pointer: ?*anyopaque, records: ?[*]const u8, count: u32) u32 {
    const producer = producer_handle(producer_pointer) orelse return 0;
    const input: [*]align(1) const layout.Record = @ptrCast(records orelse return 0);
    return producer.write_batch(input[0..count], 0);
}

/// The time a record written now would carry (CLOCK_MONOTONIC ns, the producer's clock),
/// as a double for bun:ffi (exact up to 2^53 ns, 104 days of uptime); 0 for no producer.
export fn scope_producer_now_ns(producer_pointer: ?*anyopaque) f64 {
    const producer = producer_handle(producer_pointer) orelse return 0;
    return @floatFromInt(producer.clock.now_ns());
}

/// This producer's totals: [written, dropped].
export fn scope_producer_stats(producer_pointer: ?*anyopaque, out: ?*[2]u64) void {
    const producer = producer_handle(producer_pointer) orelse return;
    const values = out orelse return;
    values.* = .{ producer.written_count, producer.dropped_count };
}

export fn scope_producer_lane(producer_pointer: ?*anyopaque) u32 {
    const producer = producer_handle(producer_pointer) orelse return 0;
    return producer.lane_index;
}

// ---------------------------------------------------------------------------------------
// The collector's drain thread (collector.zig). Between start and stop it owns the ring's
// consumer side and the trace writer: the caller neither drains nor appends meanwhile.

fn collector_handle(pointer: ?*anyopaque) ?*collector_module.Collector {
    return @ptrCast(@alignCast(pointer orelse return null));
}

/// Starts a thread that drains `ring` into `writer` (a trace_abi writer) until stopped.
export fn scope_collector_start(ring_pointer: ?*anyopaque, writer_pointer: ?*anyopaque, out_collector: ?*?*anyopaque) Status {
    const out = out_collector orelse return .invalid_argument;
    out.* = null;
    const handle = ring_handle(ring_pointer) orelse return .invalid_argument;
    const writer = trace_abi.writer_handle(writer_pointer) orelse return .invalid_argument;
    const collector = collector_module.Collector.create(allocator, &handle.mapping.ring, &writer.writer, @intCast(std.c.getpid())) catch return .system_resources;
    collector.start() catch {
        collector.destroy(allocator);
        return .system_resources;
    };
    out.* = collector;
    return .ok;
}

/// As scope_collector_start, with a flight recorder (flight.zig): what the thread drains
/// is held for about `window_ms` in at most `memory_bytes` and written only by a dump.
export fn scope_collector_start_flight(ring_pointer: ?*anyopaque, writer_pointer: ?*anyopaque, window_ms: u32, memory_bytes: f64, out_collector: ?*?*anyopaque) Status {
    const out = out_collector orelse return .invalid_argument;
    out.* = null;
    if (window_ms == 0 or !(memory_bytes >= 0) or memory_bytes > flight_module.memory_bytes_max) return .invalid_argument;
    const handle = ring_handle(ring_pointer) orelse return .invalid_argument;
    const writer = trace_abi.writer_handle(writer_pointer) orelse return .invalid_argument;
    const options: flight_module.Options = .{ .window_ns = @as(u64, window_ms) * std.time.ns_per_ms, .memory_bytes = @intFromFloat(memory_bytes) };
    const collector = collector_module.Collector.create_flight(allocator, &handle.mapping.ring, &writer.writer, @intCast(std.c.getpid()), options) catch return .system_resources;
    collector.start() catch {
        collector.destroy(allocator);
        return .system_resources;
    };
    out.* = collector;
    return .ok;
}

/// Asks the flight recorder for a dump (SIGUSR1 to `scope run`); the drain thread writes
/// it after its next drain. A collector without a flight recorder ignores it.
export fn scope_collector_flight_request(collector_pointer: ?*anyopaque) void {
    const collector = collector_handle(collector_pointer) orelse return;
    if (collector.flight == null) return;
    collector.request_flight_dump(.signal);
}

/// Ends a flight recorder's run once every producer has ended: stops the thread, drains
/// finally, and dumps when the program's exit status is not 0 (`exit_status`: the status,
/// 128 + signal when killed; 0: no dump for the exit). Returns as scope_collector_stop.
export fn scope_collector_flight_finish(collector_pointer: ?*anyopaque, exit_status: u32) u32 {
    const collector = collector_handle(collector_pointer) orelse return 0;
    collector.finish_flight(if (exit_status != 0) .nonzero_exit else .none, exit_status);
    const err = collector.write_error orelse return 0;
    return @intFromEnum(trace_abi.status_from_error(err));
}

/// Flight recorder counts as f64: [received, dumped, dump_count, aged_out, evicted_by_cap,
/// names_evicted, no_memory, held_records, blocks_peak, window bytes (block size),
/// then dumps and records dumped by FlightTrigger 1..4 (8 values), cut_by_limit].
pub const flight_total_count = 19;
export fn scope_collector_flight_totals(collector_pointer: ?*anyopaque, out: ?*[flight_total_count]f64) void {
    const collector = collector_handle(collector_pointer) orelse return;
    const values = out orelse return;
    values.* = @splat(0);
    const window = collector.flight orelse return;
    values[0] = @floatFromInt(window.received);
    // What the trace holds of the writes (the collector's counts: a limit may cut one short).
    var dumped: u64 = 0;
    for (collector.flight_dumped) |count| dumped += count;
    values[1] = @floatFromInt(dumped);
    values[2] = @floatFromInt(window.dump_count);
    values[3] = @floatFromInt(window.aged_out);
    values[4] = @floatFromInt(window.evicted_by_cap);
    values[5] = @floatFromInt(window.names_evicted);
    values[6] = @floatFromInt(window.no_memory);
    values[7] = @floatFromInt(window.held_records());
    values[8] = @floatFromInt(window.blocks_peak);
    values[9] = @floatFromInt(flight_module.block_size_bytes);
    for (1..5) |trigger| {
        values[10 + (trigger - 1) * 2] = @floatFromInt(collector.flight_dumps[trigger]);
        values[11 + (trigger - 1) * 2] = @floatFromInt(collector.flight_dumped[trigger]);
    }
    values[18] = @floatFromInt(window.cut_by_limit);
}

/// The trace status of the drain thread's first failed write so far (0: none), while it runs.
export fn scope_collector_write_status(collector_pointer: ?*anyopaque) u32 {
    const collector = collector_handle(collector_pointer) orelse return 0;
    // Acquire: pairs with set_write_error's release.
    return collector.write_status.load(.acquire);
}

/// Drains what the ring holds now and ends the thread. Returns the trace status of the
/// first failed write (0: none). The counts stay readable until scope_collector_free.
export fn scope_collector_stop(collector_pointer: ?*anyopaque) u32 {
    const collector = collector_handle(collector_pointer) orelse return 0;
    collector.stop();
    const err = collector.write_error orelse return 0;
    return @intFromEnum(trace_abi.status_from_error(err));
}

/// The read end of a pipe that gets one byte once recording has stopped while the thread runs
/// (Collector.stop_notices); -1 when none can be had. Once per collector; the caller closes it
/// after reading its end (scope_collector_free closes the write end).
export fn scope_collector_stop_notices(collector_pointer: ?*anyopaque) i32 {
    const collector = collector_handle(collector_pointer) orelse return -1;
    return collector.stop_notices() orelse -1;
}

export fn scope_collector_free(collector_pointer: ?*anyopaque) void {
    const collector = collector_handle(collector_pointer) orelse return;
    collector.stop();
    collector.destroy(allocator);
}

/// [recorded, reported_lost, marked_lost, peak_records_per_second, thread_count] as f64.
export fn scope_collector_totals(collector_pointer: ?*anyopaque, out: ?*[5]f64) void {
    const collector = collector_handle(collector_pointer) orelse return;
    const values = out orelse return;
    values.* = .{
        @floatFromInt(collector.recorded),
        @floatFromInt(collector.reported_lost),
        @floatFromInt(collector.marked_lost),
        collector.peak_records_per_second,
        @floatFromInt(collector.thread_count),
    };
}

/// Stops recording (a layout.StopReason, nonzero): producers refuse from now on, and the
/// collector keeps nothing it drains afterwards. The first reason stays.
export fn scope_ring_stop(ring_pointer: ?*anyopaque, reason: u32) void {
    const handle = ring_handle(ring_pointer) orelse return;
    if (reason == 0) return;
    handle.mapping.ring.stop(@enumFromInt(reason));
}

/// For the event loop's drain (the thread does it itself): collector.zig settle_stop.
/// Returns the stop reason, 0 while recording.
export fn scope_collector_settle_stop(ring_pointer: ?*anyopaque, writer_pointer: ?*anyopaque) u32 {
    const handle = ring_handle(ring_pointer) orelse return 0;
    const writer = trace_abi.writer_handle(writer_pointer) orelse return 0;
    return @intFromEnum(collector_module.settle_stop(&handle.mapping.ring, &writer.writer, @intCast(std.c.getpid())));
}

/// Records by kind: `kind_count` f64 values, indexed by kind.
export fn scope_collector_kinds(collector_pointer: ?*anyopaque, out: ?[*]f64) void {
    const collector = collector_handle(collector_pointer) orelse return;
    const values = out orelse return;
    for (collector.kind_counts, 0..) |count, kind| values[kind] = @floatFromInt(count);
}

/// The top process (scope run's child, whose ending it writes from its real status): the
/// drain thread does not watch it for an ending (endings.zig).
export fn scope_collector_set_root(collector_pointer: ?*anyopaque, pid: u32) void {
    const collector = collector_handle(collector_pointer) orelse return;
    collector.endings.root_pid.store(pid, .release);
}

/// The program's process events are not recorded (--events without `process`): the drain
/// thread watches no process for an ending (endings.zig). Before the program starts.
export fn scope_collector_endings_off(collector_pointer: ?*anyopaque) void {
    const collector = collector_handle(collector_pointer) orelse return;
    collector.endings.enabled.store(false, .monotonic);
}

/// The workers' own ends are not recorded (--events without `thread`): the collector writes
/// none for a worker that recorded none (collector.zig end_threads). Before the program starts.
export fn scope_collector_thread_endings_off(collector_pointer: ?*anyopaque) void {
    const collector = collector_handle(collector_pointer) orelse return;
    collector.endings.workers_enabled.store(false, .monotonic);
}

/// The endings watch's counts (endings.zig) as f64: [started, wrote_status, wrote_unknown,
/// wrote_corrections, unwatched, wrote_threads, wrote_terminated]. After stop.
export fn scope_collector_endings_totals(collector_pointer: ?*anyopaque, out: ?*[7]f64) void {
    const collector = collector_handle(collector_pointer) orelse return;
    const values = out orelse return;
    const endings = &collector.endings;
    values.* = .{
        @floatFromInt(endings.started),
        @floatFromInt(endings.wrote_status),
        @floatFromInt(endings.wrote_unknown),
        @floatFromInt(endings.wrote_corrections),
        @floatFromInt(endings.unwatched),
        @floatFromInt(endings.wrote_threads),
        @floatFromInt(endings.wrote_terminated),
    };
}

/// The processes watched now (endings.zig; a settled one's slot may have gone to a later
/// process), as (pid, state, own exit code, own signal, wrote, own ending's time) f64 sextuples, at most `max`; returns how many. state: endings.State (0 running, no
/// ending of its own yet; 1 its own process_exit; 4 its ending is in the trace); wrote:
/// Entry.wrote. After stop.
export fn scope_collector_processes(collector_pointer: ?*anyopaque, out: ?[*]f64, max: u32) u32 {
    const collector = collector_handle(collector_pointer) orelse return 0;
    const values = out orelse return 0;
    var count: u32 = 0;
    for (collector.endings.entries[0..collector.endings.count]) |entry| {
        if (count >= max) break;
        const at = count * 6;
        values[at] = @floatFromInt(entry.pid);
        values[at + 1] = @floatFromInt(@intFromEnum(entry.state));
        values[at + 2] = @floatFromInt(@as(i32, @truncate(@as(i64, @bitCast(entry.own_code)))));
        values[at + 3] = @floatFromInt(entry.own_signal);
        values[at + 4] = @floatFromInt(entry.wrote);
        values[at + 5] = @floatFromInt(entry.own_ns);
        count += 1;
    }
    return count;
}

/// The threads seen, as (pid, tid, reported_lost, agent_errors) f64 quadruples, at most `max`; returns how many.
export fn scope_collector_threads(collector_pointer: ?*anyopaque, out: ?[*]f64, max: u32) u32 {
    const collector = collector_handle(collector_pointer) orelse return 0;
    const values = out orelse return 0;
    var count: u32 = 0;
    for (collector.threads) |entry| {
        if (entry.key == 0) continue;
        if (count >= max) break;
        const key = entry.key - 1;
        values[count * 4] = @floatFromInt(key >> 32);
        values[count * 4 + 1] = @floatFromInt(key & 0xffff_ffff);
        values[count * 4 + 2] = @floatFromInt(entry.reported_lost);
        values[count * 4 + 3] = @floatFromInt(entry.agent_errors);
        count += 1;
    }
    return count;
}

/// The worker threads seen start with no end in the trace yet (their own `thread_exit`, or
/// the collector's with their process's ending), as (pid, tid, start ns) f64 triples, at most
/// `max`; returns how many. After stop: src/run/endings.ts ends them with their process.
export fn scope_collector_open_threads(collector_pointer: ?*anyopaque, out: ?[*]f64, max: u32) u32 {
    const collector = collector_handle(collector_pointer) orelse return 0;
    const values = out orelse return 0;
    var count: u32 = 0;
    for (collector.threads) |entry| {
        if (entry.key == 0 or entry.open_start_ns == 0) continue;
        if (count >= max) break;
        const key = entry.key - 1;
        values[count * 3] = @floatFromInt(key >> 32);
        values[count * 3 + 1] = @floatFromInt(key & 0xffff_ffff);
        values[count * 3 + 2] = @floatFromInt(entry.open_start_ns);
        count += 1;
    }
    return count;
}

// ---------------------------------------------------------------------------------------
// Clocks. u64 results (a BigInt in bun:ffi): f64 would lose nanoseconds after 104 days
// of uptime; these are called rarely.

export fn scope_clock_monotonic_ns() u64 {
    return clock.monotonic_ns();
}

export fn scope_clock_realtime_ns() u64 {
    return clock.realtime_ns();
}

test "c_abi: layout version" {
    try std.testing.expectEqual(@as(u32, 7), scope_layout_version());
}

test "c_abi: create, attach, record, string, batch, drain, stats, errors" {
    const path = "/dev/shm/scope-test-c-abi";
    _ = scope_ring_unlink(path);
    var ring_pointer: ?*anyopaque = null;
    try std.testing.expectEqual(Status.invalid_argument, scope_ring_create(path, 1, 100, 0, &ring_pointer));
    try std.testing.expectEqual(Status.ok, scope_ring_create(path, 2, 64, 0, &ring_pointer));
    var producer_pointer_unused: ?*anyopaque = null;
    defer _ = scope_ring_unlink(path);
    defer scope_ring_close(ring_pointer);
    try std.testing.expectEqual(Status.already_exists, scope_ring_create(path, 2, 64, 0, &producer_pointer_unused));
    var producer_pointer: ?*anyopaque = null;
    try std.testing.expectEqual(Status.ok, scope_producer_attach(ring_pointer, 5, 1, &producer_pointer));
    try std.testing.expectEqual(@as(u32, 1), scope_producer_record(producer_pointer, 10, 0, 1, 2, 3, 4, -1));
    try std.testing.expectEqual(@as(u32, 2), scope_producer_string(producer_pointer, 7, "0123456789012345678901234567890123456789", 40));
    var batch: [3]layout.Record = @splat(std.mem.zeroes(layout.Record));
    batch[2].timestamp_ns = 99;
    try std.testing.expectEqual(@as(u32, 3), scope_producer_write_batch(producer_pointer, @ptrCast(&batch), 3));
    var out: [16]layout.Record = undefined;
    try std.testing.expectEqual(@as(u32, 6), scope_ring_drain(ring_pointer, @ptrCast(&out), 16));
    try std.testing.expectEqual(std.math.maxInt(u64), out[0].e);
    try std.testing.expectEqual(@as(u64, 7 | (40 << 32)), out[1].a);
    try std.testing.expectEqual(@as(u32, 5), out[4].pid);
    try std.testing.expect(out[3].timestamp_ns > 0);
    try std.testing.expectEqual(@as(u64, 99), out[5].timestamp_ns);
    // The producer's clock, as JavaScript stamps buffered records with it: never before
    // what the producer stamped, and a record stamped with it keeps that time.
    const now_ns = scope_producer_now_ns(producer_pointer);
    try std.testing.expect(now_ns >= @as(f64, @floatFromInt(out[3].timestamp_ns)));
    try std.testing.expectEqual(@as(f64, 0), scope_producer_now_ns(null));
    var stats: [ring_stat_count]u64 = undefined;
    scope_ring_stats(ring_pointer, &stats);
    var clock_values: [ring_clock_count]u64 = undefined;
    scope_ring_clock(ring_pointer, &clock_values);
    try std.testing.expectEqual(@as(u64, @intFromEnum(if (clock.tsc_usable()) clock.Source.tsc else clock.Source.monotonic)), clock_values[@intFromEnum(RingClock.source)]);
    try std.testing.expectEqual(@as(u64, 6), stats[@intFromEnum(RingStat.written)]);
    try std.testing.expectEqual(@as(u64, 6), stats[@intFromEnum(RingStat.received)]);
    try std.testing.expectEqual(@as(u64, 1), stats[@intFromEnum(RingStat.producers_attached)]);
    scope_producer_detach(producer_pointer);
    try std.testing.expectEqual(Status.not_found, scope_ring_open("/dev/shm/scope-test-c-abi-missing", &producer_pointer));
    try std.testing.expectEqual(@as(?*anyopaque, null), producer_pointer);
}
