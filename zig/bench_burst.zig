//! `zig build bench -- burst [records-per-producer] [producers] [rounds]`: the collector's
//! sustained drain rate under a burst, and what the burst's threads wait.
//!
//! A ring as `scope run` makes it (16 MiB: 16 lanes of 16,384 slots, discard, the default
//! overflow budget) in /dev/shm, the native drain thread (collector.zig) writing a trace
//! to /tmp, and producer threads each writing its records one `write` at a time, timestamp
//! given, as fast as they can (a native producer writes 10–60 M records/s, well past any
//! drain): so the lanes and overflows fill and the producers end up waiting for the drain
//! (ring.zig `spill` → `wait_for_drain`), and the time until the trace holds every record
//! is the drain's. Per round: the drain rate (records / time from the start until the
//! drain thread stopped with the ring empty), the producers' CPU per record, the time they
//! spent waiting for the drain, the records that went through an overflow, what was
//! dropped (must be 0), and for several producers the spread of their finishing times (is
//! the drain fair between lanes?). The producers are threads of one process, so they share
//! one overflow budget (processes have one each). The drain thread's CPU is the process's
//! minus the producers'.
const std = @import("std");
const assert = std.debug.assert;
const layout = @import("layout.zig");
const ring_module = @import("ring.zig");
const shm = @import("shm.zig");
const trace_file = @import("trace_file.zig");
const collector_module = @import("collector.zig");

const print = std.debug.print;

const lane_count: u32 = 16;
/// 16 MiB / 16 lanes / 64 bytes: `scope run`'s default ring.
const lane_capacity_slots: u32 = 1 << 14;
const producers_max = 64;

const Shared = struct {
    ring: *ring_module.Ring,
    records_per_producer: u64,
    ready: std.atomic.Value(u32) = .init(0),
    go: std.atomic.Value(u32) = .init(0),
    start_ns: u64 = 0,
    /// Per producer: its CPU time, its wait for the drain, when it finished writing.
    cpu_ns: [producers_max]u64 = @splat(0),
    waited_ns: [producers_max]u64 = @splat(0),
    end_ns: [producers_max]u64 = @splat(0),
    dropped: [producers_max]u64 = @splat(0),
};

fn producer_main(shared: *Shared, index: u32) void {
    var producer = shared.ring.attach(1, index + 1);
    var record = std.mem.zeroes(layout.Record);
    record.kind = @intFromEnum(layout.EventKind.function_call);
    record.tid = index + 1;
    // Monotonic: a start gate; the ring's own orderings carry the data.
    _ = shared.ready.fetchAdd(1, .monotonic);
    while (shared.go.load(.monotonic) == 0) std.atomic.spinLoopHint();
    const cpu_start_ns = thread_cpu_ns();
    var sequence: u64 = 0;
    while (sequence < shared.records_per_producer) : (sequence += 1) {
        record.a = sequence;
        record.timestamp_ns = sequence + 1;
        _ = producer.write(&record);
    }
    shared.end_ns[index] = monotonic_ns();
    shared.cpu_ns[index] = thread_cpu_ns() - cpu_start_ns;
    shared.dropped[index] = producer.dropped_count;
    producer.detach();
    // (A tree before the counter: the bench still runs there, for comparisons.)
    if (@hasField(ring_module.Producer, "drain_waited_ns")) shared.waited_ns[index] = producer.drain_waited_ns;
}

pub fn main(args: anytype) !void {
    var iterator = args;
    const records_per_producer: u64 = if (iterator.next()) |text| try std.fmt.parseInt(u64, text, 10) else 4_000_000;
    const producer_count: u32 = if (iterator.next()) |text| try std.fmt.parseInt(u32, text, 10) else 1;
    const rounds: u32 = if (iterator.next()) |text| try std.fmt.parseInt(u32, text, 10) else 5;
    if (producer_count == 0 or producer_count > producers_max) return error.InvalidArgument;
    print("burst: {d} producer(s) x {d} records, ring 16 MiB (16 lanes x {d} slots), native drain thread into /tmp\n", .{ producer_count, records_per_producer, lane_capacity_slots });
    print("{s:>5} {s:>13} {s:>9} {s:>13} {s:>13} {s:>11} {s:>9} {s:>13} {s:>9}\n", .{ "round", "drain M rec/s", "wall ms", "prod CPU ns/r", "drain CPU ns/r", "waited ms", "overflow%", "end spread ms", "dropped" });
    var rates: [64]f64 = undefined;
    var drain_cpu: [64]f64 = undefined;
    var producer_cpu: [64]f64 = undefined;
    var overflow: [64]f64 = undefined;
    const kept = @min(rounds, rates.len);
    for (0..kept) |round| {
        const result = try run_round(records_per_producer, producer_count);
        rates[round] = result.rate;
        drain_cpu[round] = result.drain_cpu_per_record;
        producer_cpu[round] = result.producer_cpu_per_record;
        overflow[round] = result.overflow_percent;
        print("{d:>5} {d:>13.2} {d:>9.1} {d:>13.1} {d:>13.1} {d:>11.1} {d:>9.1} {d:>13.1} {d:>9}\n", .{ round, result.rate / 1e6, result.wall_ms, result.producer_cpu_per_record, result.drain_cpu_per_record, result.waited_ms, result.overflow_percent, result.end_spread_ms, result.dropped });
    }
    std.mem.sort(f64, rates[0..kept], {}, std.sort.asc(f64));
    for ([_][]f64{ drain_cpu[0..kept], producer_cpu[0..kept], overflow[0..kept] }) |values| std.mem.sort(f64, values, {}, std.sort.asc(f64));
    print("median drain rate {d:.2} M records/s (min {d:.2}, max {d:.2}); medians: drain CPU {d:.1} ns/record, producers' CPU {d:.1} ns/record, {d:.1}% through an overflow\n", .{ rates[kept / 2] / 1e6, rates[0] / 1e6, rates[kept - 1] / 1e6, drain_cpu[kept / 2], producer_cpu[kept / 2], overflow[kept / 2] });
}

const RoundResult = struct {
    rate: f64,
    wall_ms: f64,
    producer_cpu_per_record: f64,
    drain_cpu_per_record: f64,
    waited_ms: f64,
    overflow_percent: f64,
    end_spread_ms: f64,
    dropped: u64,
};

fn run_round(records_per_producer: u64, producer_count: u32) !RoundResult {
    const allocator = std.heap.c_allocator;
    var ring_path_buffer: [64]u8 = undefined;
    const ring_path = try std.fmt.bufPrintSentinel(&ring_path_buffer, "/dev/shm/scope-bench-burst-{d}", .{std.c.getpid()}, 0);
    var trace_path_buffer: [64]u8 = undefined;
    const trace_path = try std.fmt.bufPrintSentinel(&trace_path_buffer, "/tmp/scope-bench-burst-{d}.bin", .{std.c.getpid()}, 0);
    var mapping = try shm.create(ring_path, .{
        .lane_count = lane_count,
        .lane_capacity_slots = lane_capacity_slots,
        .mode = .discard,
        .collector_pid = @intCast(std.c.getpid()),
    });
    defer shm.unlink(ring_path) catch {};
    defer shm.close(&mapping);
    var writer = try trace_file.Writer.open(allocator, trace_path, .{ .host = "bench", .argv = "", .monotonic_anchor_ns = 1, .realtime_anchor_ns = 1, .collector_pid = @intCast(std.c.getpid()) });
    defer _ = std.c.unlink(trace_path);
    defer writer.deinit(allocator);
    const collector = try collector_module.Collector.create(allocator, &mapping.ring, &writer, @intCast(std.c.getpid()));
    defer collector.destroy(allocator);

    var shared: Shared = .{ .ring = &mapping.ring, .records_per_producer = records_per_producer };
    var threads: [producers_max]std.Thread = undefined;
    for (0..producer_count) |index| threads[index] = try std.Thread.spawn(.{}, producer_main, .{ &shared, @as(u32, @intCast(index)) });
    while (shared.ready.load(.monotonic) < producer_count) std.atomic.spinLoopHint();
    const process_cpu_start_ns = process_cpu_ns();
    const start_ns = monotonic_ns();
    try collector.start();
    shared.go.store(1, .monotonic);
    for (threads[0..producer_count]) |thread| thread.join();
    // Drains what the ring holds, then ends: the trace then holds every record.
    collector.stop();
    const end_ns = monotonic_ns();
    const process_cpu = process_cpu_ns() - process_cpu_start_ns;
    const total: u64 = records_per_producer * producer_count;
    const stats = mapping.ring.stats();
    var producers_cpu: u64 = 0;
    var waited: u64 = 0;
    var dropped: u64 = 0;
    var first_end: u64 = std.math.maxInt(u64);
    var last_end: u64 = 0;
    for (0..producer_count) |index| {
        producers_cpu += shared.cpu_ns[index];
        waited += shared.waited_ns[index];
        dropped += shared.dropped[index];
        first_end = @min(first_end, shared.end_ns[index]);
        last_end = @max(last_end, shared.end_ns[index]);
    }
    // The trace holds every record kept and one `drop` record per loss reported.
    const drop_records = collector.kind_counts[@intFromEnum(layout.EventKind.drop)];
    if (collector.recorded - drop_records + dropped != total or collector.reported_lost != dropped) {
        print("recorded {d} (drop records {d}) + dropped {d} != {d}, reported {d}\n", .{ collector.recorded, drop_records, dropped, total, collector.reported_lost });
        return error.RecordsMissing;
    }
    if (dropped > 0) print("dropped {d} (drop records {d}); collector marked stalled: {}\n", .{ dropped, drop_records, mapping.ring.header.collector_stalled_at.load(.acquire) != 0 });
    const seconds = @as(f64, @floatFromInt(end_ns - start_ns)) / 1e9;
    const total_f: f64 = @floatFromInt(total);
    return .{
        .rate = @as(f64, @floatFromInt(collector.recorded)) / seconds,
        .wall_ms = seconds * 1e3,
        .producer_cpu_per_record = @as(f64, @floatFromInt(producers_cpu)) / total_f,
        .drain_cpu_per_record = @as(f64, @floatFromInt(process_cpu -| producers_cpu)) / total_f,
        .waited_ms = @as(f64, @floatFromInt(waited)) / 1e6,
        .overflow_percent = 100 * @as(f64, @floatFromInt(stats.overflowed)) / total_f,
        .end_spread_ms = @as(f64, @floatFromInt(last_end - first_end)) / 1e6,
        .dropped = dropped,
    };
}

fn monotonic_ns() u64 {
    var time: std.c.timespec = undefined;
    _ = std.c.clock_gettime(.MONOTONIC, &time);
    return @as(u64, @intCast(time.sec)) * std.time.ns_per_s + @as(u64, @intCast(time.nsec));
}

fn thread_cpu_ns() u64 {
    var time: std.c.timespec = undefined;
    if (std.c.clock_gettime(.THREAD_CPUTIME_ID, &time) != 0) return 0;
    return @as(u64, @intCast(time.sec)) * std.time.ns_per_s + @as(u64, @intCast(time.nsec));
}

fn process_cpu_ns() u64 {
    var time: std.c.timespec = undefined;
    if (std.c.clock_gettime(.PROCESS_CPUTIME_ID, &time) != 0) return 0;
    return @as(u64, @intCast(time.sec)) * std.time.ns_per_s + @as(u64, @intCast(time.nsec));
}
