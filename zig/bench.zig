//! `zig build bench`: native ring throughput in a /dev/shm mapping.
//!
//! For 1, 2 and 4 producer threads (each on its own lane, as after round-robin attach):
//!   - no consumer: overwrite mode (a flight recorder never refuses), so every write is a
//!     full write, not the cheap drop path;
//!   - with a consumer draining in batches of up to 4096 (discard mode) that, like the
//!     collector, pauses (50 µs here, 10 ms in `scope run`) when a drain found less than
//!     a full batch, so it reads behind the producers instead of polling the slots and
//!     the head they are writing: the rate of records written and received, and the
//!     share dropped;
//! each with the timestamp given by the caller and stamped natively (CLOCK_MONOTONIC).
//!
//!   zig build bench [-- <events-per-producer>]
const std = @import("std");
const assert = std.debug.assert;
const layout = @import("layout.zig");
const ring_module = @import("ring.zig");
const shm = @import("shm.zig");
const clock = @import("clock.zig");

const lane_capacity_slots: u32 = 1 << 16;
const drain_batch_records = 4096;
const producers_max = 4;
const batch_max = 64;

const Shared = struct {
    ring: *ring_module.Ring,
    events_per_producer: u64,
    stamp: bool,
    batch: u32,
    ready: std.atomic.Value(u32) = .init(0),
    go: std.atomic.Value(u32) = .init(0),
    done: std.atomic.Value(u32) = .init(0),
};

fn producer_main(shared: *Shared, lane_index: u32) void {
    var producer = shared.ring.attach_lane(lane_index, 1, lane_index);
    var records: [batch_max]layout.Record = @splat(std.mem.zeroes(layout.Record));
    for (&records) |*record| record.kind = @intFromEnum(layout.EventKind.agent_error);
    // Monotonic: a start gate; the ring's own orderings carry the data.
    _ = shared.ready.fetchAdd(1, .monotonic);
    while (shared.go.load(.monotonic) == 0) std.atomic.spinLoopHint();
    var index: u64 = 0;
    if (shared.batch == 1) {
        while (index < shared.events_per_producer) : (index += 1) {
            records[0].a = index;
            records[0].timestamp_ns = if (shared.stamp) 0 else index + 1;
            _ = producer.write(&records[0]);
        }
    } else {
        // The records are written as they are: timestamps 0 (stamped once per batch).
        while (index < shared.events_per_producer) : (index += shared.batch) {
            records[0].a = index;
            _ = producer.write_batch(records[0..shared.batch], 0);
        }
    }
    producer.detach();
    // Release: pairs with the consumer's acquire; it then drains what remains.
    _ = shared.done.fetchAdd(1, .release);
}

const Result = struct {
    elapsed_ns: u64,
    received: u64,
    stats: ring_module.Stats,
};

const Config = struct {
    producer_count: u32,
    stamp: bool,
    consume: bool,
    batch: u32 = 1,
};

const configs = [_]Config{
    .{ .producer_count = 1, .stamp = false, .consume = false },
    .{ .producer_count = 2, .stamp = false, .consume = false },
    .{ .producer_count = 4, .stamp = false, .consume = false },
    .{ .producer_count = 1, .stamp = true, .consume = false },
    .{ .producer_count = 2, .stamp = true, .consume = false },
    .{ .producer_count = 4, .stamp = true, .consume = false },
    .{ .producer_count = 1, .stamp = false, .consume = true },
    .{ .producer_count = 2, .stamp = false, .consume = true },
    .{ .producer_count = 4, .stamp = false, .consume = true },
    .{ .producer_count = 1, .stamp = true, .consume = true },
    .{ .producer_count = 2, .stamp = true, .consume = true },
    .{ .producer_count = 4, .stamp = true, .consume = true },
    .{ .producer_count = 1, .stamp = true, .consume = true, .batch = 64 },
    .{ .producer_count = 2, .stamp = true, .consume = true, .batch = 64 },
    .{ .producer_count = 4, .stamp = true, .consume = true, .batch = 64 },
};

fn run(path: [*:0]const u8, config: Config, events_per_producer: u64) !Result {
    const producer_count = config.producer_count;
    const consume = config.consume;
    assert(producer_count >= 1 and producer_count <= producers_max);
    assert(config.batch >= 1 and config.batch <= batch_max);
    assert(events_per_producer % config.batch == 0);
    var mapping = try shm.create(path, .{
        .lane_count = producer_count,
        .lane_capacity_slots = lane_capacity_slots,
        .mode = if (consume) .discard else .overwrite,
        .collector_pid = @intCast(std.c.getpid()),
    });
    defer shm.unlink(path) catch {};
    defer shm.close(&mapping);
    var shared: Shared = .{ .ring = &mapping.ring, .events_per_producer = events_per_producer, .stamp = config.stamp, .batch = config.batch };
    var threads: [producers_max]std.Thread = undefined;
    for (threads[0..producer_count], 0..) |*thread, index| {
        thread.* = try std.Thread.spawn(.{}, producer_main, .{ &shared, @as(u32, @intCast(index)) });
    }
    while (shared.ready.load(.monotonic) < producer_count) std.atomic.spinLoopHint();
    const start_ns = clock.monotonic_ns();
    shared.go.store(1, .monotonic);
    var received: u64 = 0;
    if (consume) {
        var out: [drain_batch_records]layout.Record = undefined;
        // Acquire: pairs with each producer's release of `done`.
        while (shared.done.load(.acquire) < producer_count) {
            const count = mapping.ring.drain(&out);
            received += count;
            if (count < out.len) pause();
        }
        while (true) {
            const count = mapping.ring.drain(&out);
            if (count == 0) break;
            received += count;
        }
    }
    for (threads[0..producer_count]) |thread| thread.join();
    const elapsed_ns = clock.monotonic_ns() - start_ns;
    return .{ .elapsed_ns = elapsed_ns, .received = received, .stats = mapping.ring.stats() };
}

/// Lets the producers get ahead: a consumer polling the slot being written makes its
/// cache line bounce between cores and triples the producers' cost.
fn pause() void {
    const duration: std.c.timespec = .{ .sec = 0, .nsec = 50_000 };
    _ = std.c.nanosleep(&duration, null);
}

fn print(comptime format: []const u8, args: anytype) void {
    var buffer: [512]u8 = undefined;
    const text = std.fmt.bufPrint(&buffer, format, args) catch return;
    _ = std.c.write(1, text.ptr, text.len);
}

pub fn main(init: std.process.Init.Minimal) !void {
    var args = init.args.iterate();
    _ = args.next();
    const events_per_producer: u64 = if (args.next()) |text| try std.fmt.parseInt(u64, text, 10) else 20_000_000;
    var path_buffer: [64]u8 = undefined;
    const path = try std.fmt.bufPrintSentinel(&path_buffer, "/dev/shm/scope-bench-{d}", .{std.c.getpid()}, 0);
    print("native ring, {d} events per producer, lanes of {d} slots, /dev/shm\n", .{ events_per_producer, lane_capacity_slots });
    print("{s:>9} {s:>9} {s:>10} {s:>5} {s:>12} {s:>9} {s:>12} {s:>9}\n", .{ "mode", "producers", "timestamp", "batch", "M written/s", "ns/event", "M received/s", "dropped %" });
    for (configs) |config| {
        const result = try run(path, config, events_per_producer);
        const seconds = @as(f64, @floatFromInt(result.elapsed_ns)) / 1e9;
        const attempted: f64 = @floatFromInt(config.producer_count * events_per_producer);
        const written: f64 = @floatFromInt(result.stats.written);
        const dropped: f64 = @floatFromInt(result.stats.dropped);
        // Per producer thread: what one writer pays per event.
        const ns_per_event = @as(f64, @floatFromInt(result.elapsed_ns)) * @as(f64, @floatFromInt(config.producer_count)) / attempted;
        print("{s:>9} {d:>9} {s:>10} {d:>5} {d:>12.1} {d:>9.1} {d:>12.1} {d:>9.1}\n", .{
            if (config.consume) "discard" else "overwrite",
            config.producer_count,
            if (config.stamp) "clock" else "given",
            config.batch,
            written / seconds / 1e6,
            ns_per_event,
            @as(f64, @floatFromInt(result.received)) / seconds / 1e6,
            100 * dropped / attempted,
        });
    }
}
