//! `zig build bench`: native ring throughput in a /dev/shm mapping.
//!
//! Rings of 16 lanes, as `scope run` makes. For 1, 2 and 4 producer threads, each
//! attached as the agents do (Ring.attach: an empty lane, held exclusively), or, in the
//! "shared" rows, attached to lane 0 as a lane shared with others (the atomic claim a
//! lane needs when producers outnumber lanes):
//!   - no consumer: overwrite mode (a flight recorder never refuses), so every write is a
//!     full write, not the cheap drop path;
//!   - with a consumer draining in batches of up to 4096 (discard mode) that, like the
//!     collector, pauses (50 µs here, 10 ms in `scope run`) when a drain found less than
//!     a full batch, so it reads behind the producers instead of polling the slots and
//!     the head they are writing: the rate of records written and received, and the
//!     share dropped;
//! each with the timestamp given by the caller, stamped natively from the TSC (the ring's
//! calibration, clock.zig), and stamped natively by CLOCK_MONOTONIC through the vDSO (the
//! fallback). ns/event is wall time per producer; CPU ns/ev is the producers' own CPU
//! time per event (steadier on a shared machine, where wall time includes waiting).
//!
//! Then the floor, in the same process: one thread in a ring-sized buffer (a lane of the
//! same /dev/shm mapping, sequential slots) doing only what any stamped record must cost,
//! a TSC read and conversion plus one 64-byte store, and a plain TSC read alone; rounds
//! alternate floor and producer (one producer, overwrite, no consumer) and the medians of
//! the thread's CPU time per event give the producer's ratio to its floor.
//!
//! `drift` calibrates the TSC several times, as ring creators do, and prints how far each
//! line is from CLOCK_MONOTONIC as time passes, and what a calibration costs.
//!
//!   zig build bench [-- <events-per-producer>]
//!   zig build bench -- floor [<events>]     (the floor comparison alone)
//!   zig build bench -- drift [<seconds>]
//!   zig build bench -- burst [<records-per-producer> [<producers> [<rounds>]]]   (bench_burst.zig)
const std = @import("std");
const assert = std.debug.assert;
const layout = @import("layout.zig");
const ring_module = @import("ring.zig");
const shm = @import("shm.zig");
const clock = @import("clock.zig");
const bench_burst = @import("bench_burst.zig");

const lane_capacity_slots: u32 = 1 << 16;
/// As `scope run` (src/run/collector.ts).
const lane_count: u32 = 16;
const drain_batch_records = 4096;
const producers_max = 4;
const batch_max = 64;

const Shared = struct {
    ring: *ring_module.Ring,
    events_per_producer: u64,
    stamp: Stamp,
    batch: u32,
    sharing: ring_module.Sharing,
    ready: std.atomic.Value(u32) = .init(0),
    go: std.atomic.Value(u32) = .init(0),
    done: std.atomic.Value(u32) = .init(0),
    /// The producers' CPU time in their write loops, summed.
    cpu_ns: std.atomic.Value(u64) = .init(0),
};

/// A producer sharing lane 0, marking its claims with its pid as attach's shared producers do.
fn shared_producer(ring: anytype, tid: u32) ring_module.Producer {
    var producer = ring.attach_lane(0, .shared, 1, tid).?;
    producer.claim_pid = @intCast(std.c.getpid());
    return producer;
}

fn producer_main(shared: *Shared, producer_index: u32) void {
    var producer = switch (shared.sharing) {
        .exclusive => shared.ring.attach(1, producer_index),
        // Marking its claims as attach's shared producers do (Producer.claim_pid).
        .shared => shared_producer(shared.ring, producer_index),
    };
    assert(producer.sharing == shared.sharing);
    var records: [batch_max]layout.Record = @splat(std.mem.zeroes(layout.Record));
    for (&records) |*record| record.kind = @intFromEnum(layout.EventKind.agent_error);
    // Monotonic: a start gate; the ring's own orderings carry the data.
    _ = shared.ready.fetchAdd(1, .monotonic);
    while (shared.go.load(.monotonic) == 0) std.atomic.spinLoopHint();
    var index: u64 = 0;
    const cpu_start_ns = thread_cpu_ns();
    if (shared.batch == 1) {
        while (index < shared.events_per_producer) : (index += 1) {
            records[0].a = index;
            records[0].timestamp_ns = if (shared.stamp != .given) 0 else index + 1;
            _ = producer.write(&records[0]);
        }
    } else {
        // The records are written as they are: timestamps 0 (stamped once per batch).
        while (index < shared.events_per_producer) : (index += shared.batch) {
            records[0].a = index;
            _ = producer.write_batch(records[0..shared.batch], 0);
        }
    }
    // Monotonic: read after the join.
    _ = shared.cpu_ns.fetchAdd(thread_cpu_ns() - cpu_start_ns, .monotonic);
    producer.detach();
    // Release: pairs with the consumer's acquire; it then drains what remains.
    _ = shared.done.fetchAdd(1, .release);
}

const Result = struct {
    elapsed_ns: u64,
    /// What the ring's producers stamped with (the TSC may be unusable here).
    clock_source: clock.Source,
    received: u64,
    stats: ring_module.Stats,
    /// The producers' CPU time, summed.
    cpu_ns: u64,
};

/// Who stamps: the caller, or the ring's producer with the TSC (when usable) or the vDSO.
const Stamp = enum { given, tsc, vdso };

const Config = struct {
    producer_count: u32,
    stamp: Stamp,
    consume: bool,
    batch: u32 = 1,
    sharing: ring_module.Sharing = .exclusive,
};

const configs = [_]Config{
    .{ .producer_count = 1, .stamp = .given, .consume = false },
    .{ .producer_count = 2, .stamp = .given, .consume = false },
    .{ .producer_count = 4, .stamp = .given, .consume = false },
    .{ .producer_count = 1, .stamp = .tsc, .consume = false },
    .{ .producer_count = 2, .stamp = .tsc, .consume = false },
    .{ .producer_count = 4, .stamp = .tsc, .consume = false },
    .{ .producer_count = 1, .stamp = .tsc, .consume = false, .sharing = .shared },
    .{ .producer_count = 1, .stamp = .vdso, .consume = false },
    .{ .producer_count = 2, .stamp = .vdso, .consume = false },
    .{ .producer_count = 4, .stamp = .vdso, .consume = false },
    .{ .producer_count = 1, .stamp = .given, .consume = true },
    .{ .producer_count = 2, .stamp = .given, .consume = true },
    .{ .producer_count = 4, .stamp = .given, .consume = true },
    .{ .producer_count = 1, .stamp = .tsc, .consume = true },
    .{ .producer_count = 2, .stamp = .tsc, .consume = true },
    .{ .producer_count = 4, .stamp = .tsc, .consume = true },
    .{ .producer_count = 1, .stamp = .tsc, .consume = true, .sharing = .shared },
    .{ .producer_count = 1, .stamp = .vdso, .consume = true },
    .{ .producer_count = 2, .stamp = .vdso, .consume = true },
    .{ .producer_count = 4, .stamp = .vdso, .consume = true },
    .{ .producer_count = 1, .stamp = .tsc, .consume = true, .batch = 64 },
    .{ .producer_count = 2, .stamp = .tsc, .consume = true, .batch = 64 },
    .{ .producer_count = 4, .stamp = .tsc, .consume = true, .batch = 64 },
};

fn run(path: [*:0]const u8, config: Config, events_per_producer: u64) !Result {
    const producer_count = config.producer_count;
    const consume = config.consume;
    assert(producer_count >= 1 and producer_count <= producers_max);
    assert(config.batch >= 1 and config.batch <= batch_max);
    assert(events_per_producer % config.batch == 0);
    var mapping = try shm.create(path, .{
        .lane_count = lane_count,
        .lane_capacity_slots = lane_capacity_slots,
        .mode = if (consume) .discard else .overwrite,
        .collector_pid = @intCast(std.c.getpid()),
        .clock = if (config.stamp == .vdso) .monotonic else .auto,
    });
    defer shm.unlink(path) catch {};
    defer shm.close(&mapping);
    var shared: Shared = .{ .ring = &mapping.ring, .events_per_producer = events_per_producer, .stamp = config.stamp, .batch = config.batch, .sharing = config.sharing };
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
    return .{
        .elapsed_ns = elapsed_ns,
        .clock_source = @enumFromInt(mapping.ring.header.clock_calibration.source),
        .received = received,
        .stats = mapping.ring.stats(),
        .cpu_ns = shared.cpu_ns.load(.monotonic),
    };
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
    const first = args.next();
    if (first != null and std.mem.eql(u8, first.?, "drift")) {
        const seconds: u32 = if (args.next()) |text| try std.fmt.parseInt(u32, text, 10) else 60;
        return drift(seconds);
    }
    if (first != null and std.mem.eql(u8, first.?, "burst")) return bench_burst.main(args);
    var path_buffer: [64]u8 = undefined;
    const path = try std.fmt.bufPrintSentinel(&path_buffer, "/dev/shm/scope-bench-{d}", .{std.c.getpid()}, 0);
    if (first != null and std.mem.eql(u8, first.?, "floor")) {
        const events: u64 = if (args.next()) |text| try std.fmt.parseInt(u64, text, 10) else 20_000_000;
        return floor_report(path, events);
    }
    const events_per_producer: u64 = if (first) |text| try std.fmt.parseInt(u64, text, 10) else 20_000_000;
    print("native ring, {d} events per producer, lanes of {d} slots, /dev/shm\n", .{ events_per_producer, lane_capacity_slots });
    print("{s:>9} {s:>9} {s:>9} {s:>10} {s:>5} {s:>12} {s:>9} {s:>9} {s:>12} {s:>9}\n", .{ "mode", "producers", "lane", "timestamp", "batch", "M written/s", "ns/event", "CPU ns/ev", "M received/s", "dropped %" });
    for (configs) |config| {
        const result = try run(path, config, events_per_producer);
        const seconds = @as(f64, @floatFromInt(result.elapsed_ns)) / 1e9;
        const attempted: f64 = @floatFromInt(config.producer_count * events_per_producer);
        const written: f64 = @floatFromInt(result.stats.written);
        const dropped: f64 = @floatFromInt(result.stats.dropped);
        // Per producer thread: what one writer pays per event.
        const ns_per_event = @as(f64, @floatFromInt(result.elapsed_ns)) * @as(f64, @floatFromInt(config.producer_count)) / attempted;
        print("{s:>9} {d:>9} {s:>9} {s:>10} {d:>5} {d:>12.1} {d:>9.1} {d:>9.1} {d:>12.1} {d:>9.1}\n", .{
            if (config.consume) "discard" else "overwrite",
            config.producer_count,
            @tagName(config.sharing),
            if (config.stamp == .given) "given" else @tagName(result.clock_source),
            config.batch,
            written / seconds / 1e6,
            ns_per_event,
            @as(f64, @floatFromInt(result.cpu_ns)) / attempted,
            @as(f64, @floatFromInt(result.received)) / seconds / 1e6,
            100 * dropped / attempted,
        });
    }
    try floor_report(path, events_per_producer);
}

const floor_rounds = 7;

/// What one round of the floor comparison times, per event, on the calling thread.
const FloorKind = enum {
    /// rdtsc alone (the vDSO read when the TSC is not usable).
    clock_read,
    /// One 64-byte store into the next slot, timestamp given.
    store,
    /// The floor of a stamped record: the clock read and conversion plus the store.
    stamped_store,
    /// Producer.write, timestamp given, on a lane held exclusively (as agents attach).
    producer_given,
    /// Producer.write stamping with the ring's clock, on a lane held exclusively.
    producer_stamped,
    /// Producer.write stamping, on a shared lane (an atomic claim per record).
    producer_shared_stamped,
};

/// The producer against the machine's own floor, measured in this process: rounds
/// alternate the kinds, each over the same events count, and the medians are compared.
/// The floor writes lane 2's slots of the mapping whose lane 1 (exclusive, as the first
/// agent attaches) and lane 0 (shared) the producers write.
fn floor_report(path: [*:0]const u8, events: u64) !void {
    var mapping = try shm.create(path, .{
        .lane_count = 3,
        .lane_capacity_slots = lane_capacity_slots,
        .mode = .overwrite,
        .collector_pid = @intCast(std.c.getpid()),
    });
    defer shm.unlink(path) catch {};
    defer shm.close(&mapping);
    const kinds = comptime std.enums.values(FloorKind);
    var samples_ns: [kinds.len][floor_rounds]u64 = undefined;
    for (0..floor_rounds) |round| {
        for (kinds, 0..) |kind, kind_index| {
            samples_ns[kind_index][round] = floor_round(&mapping.ring, kind, events);
        }
    }
    var median_ns: [kinds.len]f64 = undefined;
    for (&median_ns, &samples_ns) |*median, *samples| {
        std.mem.sort(u64, samples, {}, std.sort.asc(u64));
        median.* = @as(f64, @floatFromInt(samples[floor_rounds / 2])) / @as(f64, @floatFromInt(events));
    }
    const source: clock.Source = @enumFromInt(mapping.ring.header.clock_calibration.source);
    print("\nfloor: one thread, {d} events per round, median of {d} alternated rounds, thread CPU ns/event\n", .{ events, floor_rounds });
    const stamped_floor_ns = median_ns[@intFromEnum(FloorKind.stamped_store)];
    const store_floor_ns = median_ns[@intFromEnum(FloorKind.store)];
    print("{s:>44} {d:>9.1}\n", .{ if (source == .tsc) "rdtsc alone" else "clock_gettime(MONOTONIC) alone", median_ns[@intFromEnum(FloorKind.clock_read)] });
    print("{s:>44} {d:>9.1}\n", .{ "64-byte store alone (floor, given)", store_floor_ns });
    print("{s:>44} {d:>9.1}\n", .{ "clock + conversion + 64-byte store (floor)", stamped_floor_ns });
    print("{s:>44} {d:>9.1} {d:>6.2}x its floor\n", .{ "producer, given timestamp", median_ns[@intFromEnum(FloorKind.producer_given)], median_ns[@intFromEnum(FloorKind.producer_given)] / store_floor_ns });
    print("{s:>44} {d:>9.1} {d:>6.2}x its floor ({s})\n", .{ "producer, stamping", median_ns[@intFromEnum(FloorKind.producer_stamped)], median_ns[@intFromEnum(FloorKind.producer_stamped)] / stamped_floor_ns, @tagName(source) });
    print("{s:>44} {d:>9.1} {d:>6.2}x its floor ({s})\n", .{ "producer on a shared lane, stamping", median_ns[@intFromEnum(FloorKind.producer_shared_stamped)], median_ns[@intFromEnum(FloorKind.producer_shared_stamped)] / stamped_floor_ns, @tagName(source) });
}

/// The floor's store: the record as eight words in vector registers, stored at once (one
/// 64-byte store with AVX-512, two 32-byte ones with AVX2), so the floor does not depend
/// on how the compiler happens to copy a struct (through the stack, it can stall on
/// store forwarding and double the floor).
inline fn store_64(slot: *layout.Record, record: *const layout.Record, timestamp_ns: u64, a: u64) void {
    const words: *const [8]u64 = @ptrCast(record);
    const value: @Vector(8, u64) = .{ words[0], timestamp_ns, words[2], a, record.b, record.c, record.d, record.e };
    comptime assert(@sizeOf(@Vector(8, u64)) == @sizeOf(layout.Record));
    const target: *@Vector(8, u64) = @ptrCast(@alignCast(slot));
    target.* = value;
}

/// This thread's CPU time: the rounds share 2 busy vCPUs with other jobs, and time spent
/// descheduled is not the code's cost.
fn thread_cpu_ns() u64 {
    var time: std.c.timespec = undefined;
    if (std.c.clock_gettime(.THREAD_CPUTIME_ID, &time) != 0) return 0;
    return @as(u64, @intCast(time.sec)) * std.time.ns_per_s + @as(u64, @intCast(time.nsec));
}

/// One round of one kind: this thread's CPU ns for `events` events.
fn floor_round(ring: *ring_module.Ring, kind: FloorKind, events: u64) u64 {
    var record = std.mem.zeroes(layout.Record);
    record.kind = @intFromEnum(layout.EventKind.agent_error);
    var line = clock.Clock.init(ring.header.clock_calibration);
    assert(ring.lane_count == 3);
    const slots = ring.slots + 2 * @as(usize, ring.lane_capacity_slots);
    const mask: u64 = ring.lane_capacity_slots - 1;
    var producer = if (kind == .producer_shared_stamped) shared_producer(ring, 0) else ring.attach(1, 0);
    assert(producer.lane_index == @as(u32, if (kind == .producer_shared_stamped) 0 else 1));
    defer producer.detach();
    var sum: u64 = 0;
    const start_ns = thread_cpu_ns();
    var index: u64 = 0;
    switch (kind) {
        .clock_read => while (index < events) : (index += 1) {
            sum +%= line.now_raw();
        },
        .store => while (index < events) : (index += 1) {
            store_64(&slots[index & mask], &record, index + 1, index);
        },
        .stamped_store => while (index < events) : (index += 1) {
            store_64(&slots[index & mask], &record, line.now_ns(), index);
        },
        .producer_given => while (index < events) : (index += 1) {
            record.a = index;
            record.timestamp_ns = index + 1;
            _ = producer.write(&record);
        },
        .producer_stamped, .producer_shared_stamped => while (index < events) : (index += 1) {
            record.a = index;
            record.timestamp_ns = 0;
            _ = producer.write(&record);
        },
    }
    const elapsed_ns = thread_cpu_ns() - start_ns;
    std.mem.doNotOptimizeAway(sum);
    return elapsed_ns;
}

const drift_calibration_count = 8;
const drift_report_interval_s = 10;

/// Calibrates the TSC several times in a row, as ring creators would, then every
/// drift_report_interval_s prints each line's error against CLOCK_MONOTONIC (ns).
fn drift(seconds: u32) !void {
    if (!clock.tsc_usable()) {
        print("TSC not usable here: rings stamp with CLOCK_MONOTONIC; no drift\n", .{});
        return;
    }
    var clocks: [drift_calibration_count]clock.Clock = undefined;
    var cost_ns_max: u64 = 0;
    for (&clocks) |*slot| {
        const before_ns = clock.monotonic_ns();
        const calibration = clock.calibrate(.auto);
        cost_ns_max = @max(cost_ns_max, clock.monotonic_ns() - before_ns);
        assert(calibration.source == @intFromEnum(clock.Source.tsc));
        slot.* = .init(calibration);
        print("calibration: multiplier {d} (>> {d}), {d:.4} ticks per ns\n", .{
            calibration.multiplier, calibration.shift, @as(f64, 1 << clock.tsc_shift) / @as(f64, @floatFromInt(calibration.multiplier)),
        });
    }
    print("calibration cost at most {d:.2} ms each (window {d} ms)\n", .{ @as(f64, @floatFromInt(cost_ns_max)) / 1e6, clock.calibration_window_ns / std.time.ns_per_ms });
    print("{s:>7}  TSC line minus CLOCK_MONOTONIC, ns, per calibration\n", .{"seconds"});
    const start_ns = clock.monotonic_ns();
    var elapsed_s: u32 = 0;
    while (true) : (elapsed_s += drift_report_interval_s) {
        while (clock.monotonic_ns() - start_ns < @as(u64, elapsed_s) * std.time.ns_per_s) {
            const step: std.c.timespec = .{ .sec = 0, .nsec = 20_000_000 };
            _ = std.c.nanosleep(&step, null);
        }
        print("{d:>7} ", .{elapsed_s});
        for (&clocks) |*line| print(" {d:>8}", .{error_ns(line)});
        print("\n", .{});
        if (elapsed_s >= seconds) break;
    }
}

/// One line's error now: the TSC reading between two CLOCK_MONOTONIC reads, against
/// their midpoint; the tightest of 16 tries (a preemption inside one is left out).
fn error_ns(line: *clock.Clock) i64 {
    var best_width_ns: u64 = std.math.maxInt(u64);
    var best_error_ns: i64 = 0;
    for (0..16) |_| {
        const before_ns = clock.monotonic_ns();
        const tsc_ns = line.now_ns();
        const after_ns = clock.monotonic_ns();
        if (after_ns - before_ns >= best_width_ns) continue;
        best_width_ns = after_ns - before_ns;
        best_error_ns = @as(i64, @intCast(tsc_ns)) - @as(i64, @intCast(before_ns + best_width_ns / 2));
    }
    return best_error_ns;
}
