//! The event loop's turns, counted natively (scope.node's loopWatch, Node only; the glue
//! to libuv and Node-API is in napi.zig). A libuv prepare handle runs just before each
//! poll, i.e. each time the thread is about to wait: the time between two prepares minus
//! what libuv counted as idle inside the poll (uv_metrics_idle_time) is the busy stretch
//! of one turn, from the wake to the next wait (all of a poll's waiting comes before its
//! callbacks). This file is the arithmetic on those readings: which turn is long, the
//! per-interval summary of turn times (the delay samples) and the utilisation. Pure: the
//! readings come in as arguments.
const std = @import("std");
const assert = std.debug.assert;

/// Turn times (ns) in log-linear buckets: a power of two split in sub_buckets, so a
/// percentile is within 1/sub_buckets of its value; min and max exact.
pub const Histogram = struct {
    const sub_bucket_bits = 4;
    const sub_buckets = 1 << sub_bucket_bits;
    /// Values up to 2^octaves ns (~18 minutes at 40); longer ones land in the last bucket.
    const octaves = 40;
    pub const bucket_count = octaves * sub_buckets;

    counts: [bucket_count]u32 = @splat(0),
    count: u32 = 0,
    min_ns: u64 = std.math.maxInt(u64),
    max_ns: u64 = 0,

    comptime {
        assert(bucket_count == 640);
        assert(sub_buckets >= 8);
    }

    fn bucket_of(value_ns: u64) u32 {
        if (value_ns < sub_buckets) return @intCast(value_ns);
        const octave: u32 = 63 - @as(u32, @clz(value_ns));
        assert(octave >= sub_bucket_bits);
        const sub: u32 = @intCast((value_ns >> @intCast(octave - sub_bucket_bits)) & (sub_buckets - 1));
        const index = (octave - sub_bucket_bits + 1) * sub_buckets + sub;
        return @min(index, bucket_count - 1);
    }

    /// The smallest value of a bucket (the inverse of bucket_of on its first value).
    fn bucket_low_ns(index: u32) u64 {
        assert(index < bucket_count);
        if (index < sub_buckets) return index;
        const octave = index / sub_buckets - 1 + sub_bucket_bits;
        const sub: u64 = index % sub_buckets;
        return (@as(u64, sub_buckets) + sub) << @intCast(octave - sub_bucket_bits);
    }

    pub fn add(histogram: *Histogram, value_ns: u64) void {
        const index = bucket_of(value_ns);
        histogram.counts[index] +|= 1;
        histogram.count +|= 1;
        histogram.min_ns = @min(histogram.min_ns, value_ns);
        histogram.max_ns = @max(histogram.max_ns, value_ns);
    }

    /// The value below which `percent` of the turns fall (0 when there were none), within
    /// [min, max].
    pub fn percentile_ns(histogram: *const Histogram, percent: u32) u64 {
        assert(percent <= 100);
        if (histogram.count == 0) return 0;
        // The rank of the value asked for, 1-based: at least the first turn.
        const rank: u64 = @max(1, (@as(u64, histogram.count) * percent + 99) / 100);
        if (rank >= histogram.count) return histogram.max_ns;
        var seen: u64 = 0;
        for (histogram.counts, 0..) |count, index| {
            seen += count;
            if (seen >= rank) return std.math.clamp(bucket_low_ns(@intCast(index)), histogram.min_ns, histogram.max_ns);
        }
        return histogram.max_ns;
    }
};

/// A turn whose busy time reached the threshold.
pub const LongTurn = struct {
    /// Which turn (1 for the first after the loop started): JavaScript's marks carry the
    /// number of the turn they were made in.
    turn: u64,
    busy_ns: u64,
    /// When it ended (the clock of the readings): it began busy_ns before.
    end_ns: u64,
};

/// One interval's summary, for a loop_sample.
pub const Summary = struct {
    min_ns: u64,
    p50_ns: u64,
    p99_ns: u64,
    max_ns: u64,
    /// Busy share of the interval's time since the loop started, in ppm.
    utilisation_ppm: u32,
    turn_count: u32,
};

pub const Turns = struct {
    threshold_ns: u64,
    /// The last prepare's readings; null before the loop's first prepare (what ran before
    /// it, the program's module loading, is not a turn).
    last_ns: ?u64 = null,
    last_idle_ns: u64 = 0,
    /// The turn that is running now (its marks carry this number).
    turn: u64 = 0,
    histogram: Histogram = .{},
    /// The readings when the last summary was taken (or the loop started).
    interval_start_ns: ?u64 = null,
    interval_idle_ns: u64 = 0,

    pub fn init(threshold_ns: u64) Turns {
        assert(threshold_ns > 0);
        return .{ .threshold_ns = threshold_ns };
    }

    /// A prepare ran at now_ns with libuv's idle total idle_ns: the turn since the last
    /// prepare ended. Returns it when it was long.
    pub fn prepare(turns: *Turns, now_ns: u64, idle_ns: u64) ?LongTurn {
        const ended = turns.stretch(now_ns, idle_ns);
        if (turns.interval_start_ns == null) {
            turns.interval_start_ns = now_ns;
            turns.interval_idle_ns = idle_ns;
        }
        turns.last_ns = now_ns;
        turns.last_idle_ns = idle_ns;
        turns.turn += 1;
        return ended;
    }

    /// The loop's first iteration began at began_ns (before its timers, pending and idle
    /// callbacks, which run before its first prepare): that stretch is the first turn. Only
    /// before the first prepare; what ran before the iteration (module loading) stays out.
    pub fn began(turns: *Turns, began_ns: u64, idle_ns: u64) void {
        if (turns.last_ns != null) return;
        turns.last_ns = began_ns;
        turns.last_idle_ns = idle_ns;
        turns.interval_start_ns = began_ns;
        turns.interval_idle_ns = idle_ns;
    }

    /// The thread's end (the loop will not prepare again): the last turn, when long.
    pub fn end(turns: *Turns, now_ns: u64, idle_ns: u64) ?LongTurn {
        const ended = turns.stretch(now_ns, idle_ns);
        turns.last_ns = null;
        return ended;
    }

    fn stretch(turns: *Turns, now_ns: u64, idle_ns: u64) ?LongTurn {
        const last_ns = turns.last_ns orelse return null;
        const elapsed_ns = now_ns -| last_ns;
        const busy_ns = elapsed_ns -| (idle_ns -| turns.last_idle_ns);
        assert(busy_ns <= elapsed_ns);
        turns.histogram.add(busy_ns);
        if (busy_ns < turns.threshold_ns) return null;
        return .{ .turn = turns.turn, .busy_ns = busy_ns, .end_ns = now_ns };
    }

    /// The summary since the last one (turn times, utilisation), and a new interval.
    pub fn take(turns: *Turns, now_ns: u64, idle_ns: u64) Summary {
        const histogram = &turns.histogram;
        var utilisation_ppm: u32 = 0;
        if (turns.interval_start_ns) |start_ns| {
            const elapsed_ns = now_ns -| start_ns;
            const idle_delta_ns = @min(elapsed_ns, idle_ns -| turns.interval_idle_ns);
            if (elapsed_ns > 0) utilisation_ppm = @intCast(((elapsed_ns - idle_delta_ns) * 1_000_000) / elapsed_ns);
            turns.interval_start_ns = now_ns;
            turns.interval_idle_ns = idle_ns;
        }
        assert(utilisation_ppm <= 1_000_000);
        const summary: Summary = .{
            .min_ns = if (histogram.count == 0) 0 else histogram.min_ns,
            .p50_ns = histogram.percentile_ns(50),
            .p99_ns = histogram.percentile_ns(99),
            .max_ns = histogram.max_ns,
            .utilisation_ppm = utilisation_ppm,
            .turn_count = histogram.count,
        };
        turns.histogram = .{};
        return summary;
    }
};

test "loop_turns: a histogram's buckets hold their values and percentiles stay within a bucket" {
    var index: u32 = 0;
    while (index < Histogram.bucket_count) : (index += 1) {
        assert(Histogram.bucket_of(Histogram.bucket_low_ns(index)) == index);
    }
    var histogram: Histogram = .{};
    try std.testing.expectEqual(@as(u64, 0), histogram.percentile_ns(50));
    var value: u64 = 1;
    while (value <= 1000) : (value += 1) histogram.add(value * 1000);
    try std.testing.expectEqual(@as(u64, 1000), histogram.percentile_ns(0));
    try std.testing.expectEqual(@as(u64, 1_000_000), histogram.max_ns);
    const p50 = histogram.percentile_ns(50);
    const p99 = histogram.percentile_ns(99);
    try std.testing.expect(p50 <= 500_000 and p50 >= 500_000 - 500_000 / 16);
    try std.testing.expect(p99 <= 990_000 and p99 >= 990_000 - 990_000 / 16);
    // Beyond the last octave: counted in the last bucket, max exact.
    histogram.add(std.math.maxInt(u64));
    try std.testing.expectEqual(@as(u64, std.math.maxInt(u64)), histogram.percentile_ns(100));
}

test "loop_turns: a turn is the time between prepares minus the poll's idle time; the first stretch is not a turn" {
    var turns = Turns.init(50_000_000);
    // Module loading, 300 ms before the loop's first prepare: nothing.
    try std.testing.expectEqual(@as(?LongTurn, null), turns.prepare(300_000_000, 0));
    try std.testing.expectEqual(@as(u64, 1), turns.turn);
    // 1 s asleep, then 10 ms of work: short.
    try std.testing.expectEqual(@as(?LongTurn, null), turns.prepare(1_310_000_000, 1_000_000_000));
    // 5 ms asleep, then 200 ms of work: long, turn 2, ended at the prepare.
    const long = turns.prepare(1_515_000_000, 1_005_000_000).?;
    try std.testing.expectEqual(LongTurn{ .turn = 2, .busy_ns = 200_000_000, .end_ns = 1_515_000_000 }, long);
    const summary = turns.take(1_515_000_000, 1_005_000_000);
    try std.testing.expectEqual(@as(u32, 2), summary.turn_count);
    try std.testing.expectEqual(@as(u64, 10_000_000), summary.min_ns);
    try std.testing.expectEqual(@as(u64, 200_000_000), summary.max_ns);
    // Busy 210 of 1215 ms since the loop started.
    try std.testing.expectEqual(@as(u32, 172_839), summary.utilisation_ppm);
    // The thread's end: the last turn, 60 ms busy after 40 ms asleep.
    const last = turns.end(1_615_000_000, 1_045_000_000).?;
    try std.testing.expectEqual(@as(u64, 60_000_000), last.busy_ns);
    try std.testing.expectEqual(@as(u64, 3), last.turn);
    try std.testing.expectEqual(@as(?LongTurn, null), turns.end(1_700_000_000, 1_045_000_000));
}

test "loop_turns: the first iteration's timers before its first prepare are the first turn" {
    var turns = Turns.init(50_000_000);
    // Module loading until 300 ms; the loop's first iteration began there and its timers ran
    // a 200 ms callback before the first prepare: turn 0, long.
    turns.began(300_000_000, 0);
    const long = turns.prepare(510_000_000, 0).?;
    try std.testing.expectEqual(LongTurn{ .turn = 0, .busy_ns = 210_000_000, .end_ns = 510_000_000 }, long);
    // Only once: a later call changes nothing.
    turns.began(600_000_000, 0);
    try std.testing.expectEqual(@as(?LongTurn, null), turns.prepare(520_000_000, 0));
    const summary = turns.take(520_000_000, 0);
    try std.testing.expectEqual(@as(u32, 2), summary.turn_count);
    try std.testing.expectEqual(@as(u64, 210_000_000), summary.max_ns);
    try std.testing.expectEqual(@as(u32, 1_000_000), summary.utilisation_ppm);
}

test "loop_turns: a summary before the loop started has no turns and no utilisation" {
    var turns = Turns.init(1);
    const summary = turns.take(5, 0);
    try std.testing.expectEqual(Summary{ .min_ns = 0, .p50_ns = 0, .p99_ns = 0, .max_ns = 0, .utilisation_ppm = 0, .turn_count = 0 }, summary);
}
