//! What the bun:ffi (c_abi.zig) and Node-API (napi.zig) producers share: building a
//! record from JavaScript numbers and writing a string as fragment records.
//! JavaScript passes payloads as f64 because a 64-bit integer costs a BigInt at the
//! boundary: values up to 2^53 are exact, negative ones are stored as two's complement.
const std = @import("std");
const builtin = @import("builtin");
const assert = std.debug.assert;
const layout = @import("layout.zig");
const ring = @import("ring.zig");

const Record = layout.Record;

/// A JS number as a u64 payload: integers 0..2^64 as is (fractions truncated), negative
/// ones as two's complement i64; NaN, infinities and out-of-range values as 0 (a tracer
/// never traps on what a program hands it).
pub fn u64_from_f64(value: f64) u64 {
    // Every field a JS number usually holds first, through the signed conversion: one
    // instruction (cvttsd2si), where converting to u64 without AVX-512 is a compare, a
    // subtract and two conversions; for [0, 2^63) both give the same bits.
    if (builtin.cpu.arch == .x86_64) {
        // x86-64's cvttsd2si itself: it gives 0x8000000000000000 for NaN and anything out of
        // the i64 range (and for -2^63 itself), so one compare takes every other value, where
        // the two range tests below cost ~5 instructions a field more (a record has 7 fields:
        // BENCHMARKS.md "Pool message events by function").
        const truncated = asm ("cvttsd2si %[value], %[result]"
            : [result] "=r" (-> i64),
            : [value] "x" (value),
        );
        if (truncated != std.math.minInt(i64)) return @bitCast(truncated);
        // The rest out of line: inlined, each field's range tests sat between the fields'
        // conversions in commitEvent's body (BENCHMARKS.md "The native write laid out
        // straight, one path").
        return u64_from_f64_wide(value);
    }
    return u64_from_f64_range(value);
}

noinline fn u64_from_f64_wide(value: f64) u64 {
    @branchHint(.cold);
    return u64_from_f64_range(value);
}

inline fn u64_from_f64_range(value: f64) u64 {
    const two_to_64: f64 = 18446744073709551616.0;
    const two_to_63: f64 = 9223372036854775808.0;
    if (value >= -two_to_63 and value < two_to_63) return @bitCast(@as(i64, @intFromFloat(value)));
    if (value >= two_to_63 and value < two_to_64) return @intFromFloat(value);
    return 0;
}

pub inline fn record_from_values(kind: u32, flags: u32, a: f64, b: f64, c: f64, d: f64, e: f64) Record {
    return .{
        .seq = 0,
        .kind = @truncate(kind),
        .flags = @truncate(flags),
        .timestamp_ns = 0,
        .pid = 0,
        .tid = 0,
        .a = u64_from_f64(a),
        .b = u64_from_f64(b),
        .c = u64_from_f64(c),
        .d = u64_from_f64(d),
        .e = u64_from_f64(e),
    };
}

/// Writes a string's fragments as one all-or-nothing claim (so they stay together and in
/// order in the lane). Returns the number of fragments written: 0 when dropped.
pub fn write_string(producer: *ring.Producer, id: u32, utf8: []const u8) u32 {
    return write_string_at(producer, id, utf8, 0);
}

/// write_string with the fragments stamped `timestamp_ns` (0: stamped as written), so a
/// caller that read the clock already does not read it again.
fn write_string_at(producer: *ring.Producer, id: u32, utf8: []const u8, timestamp_ns: u64) u32 {
    var fragments: [ring.string_fragment_count_max]Record = undefined;
    const count = ring.string_fragments(id, utf8, &fragments);
    assert(count >= 1 and count <= fragments.len);
    for (fragments[0..count]) |*fragment| fragment.timestamp_ns = timestamp_ns;
    // A string longer than a lane can never fit whole; refuse it (counted as dropped)
    // rather than split it.
    if (count > producer.capacity_slots) {
        producer.drop(count);
        return 0;
    }
    return producer.write_batch(fragments[0..count], count);
}

/// A string and then the event that names it (`record`, unstamped), as one claim with one
/// clock reading when the lane has room for both now (Producer.write_whole); otherwise as
/// write_string and then Producer.write, each spilling, dropping and counting on its own.
/// Returns how many of the two were written (0..2).
pub fn write_string_record(producer: *ring.Producer, id: u32, utf8: []const u8, record: *const Record) u32 {
    var records: [ring.string_fragment_count_max + 1]Record = undefined;
    const count = ring.string_fragments(id, utf8, records[0..ring.string_fragment_count_max]);
    assert(count >= 1 and count <= ring.string_fragment_count_max);
    if (count < producer.capacity_slots) {
        records[count] = record.*;
        if (producer.write_whole(records[0 .. count + 1])) return 2;
    }
    return write_string_then_record(producer, id, utf8, record);
}

/// write_string_record for a string of at most string_max_bytes that is followed in memory
/// by zeros up to the next multiple of string_fragment_bytes (`text.ptr[text.len..]`: the
/// caller's padding, napi.zig commit_held): its fragments are built straight into their ring
/// slots (Producer.write_string_whole), not into an array of records first. The same records,
/// bytes and answer as write_string_record.
pub fn write_padded_string_record(producer: *ring.Producer, id: u32, text: []const u8, record: *const Record) u32 {
    assert(text.len <= layout.string_max_bytes);
    if (producer.write_string_whole(id, text, record)) return 2;
    return write_string_then_record(producer, id, text, record);
}

/// The two writes when string and event cannot be one claim (a short lane, a backlog, recording
/// stopped), out of line: write_string's fragment array (string_fragment_count_max records on
/// the stack) stays out of the ordinary path's frame.
noinline fn write_string_then_record(producer: *ring.Producer, id: u32, text: []const u8, record: *const Record) u32 {
    @branchHint(.cold);
    var written: u32 = 0;
    if (write_string(producer, id, text) > 0) written += 1;
    if (producer.write(record)) written += 1;
    return written;
}

/// A string to write ahead of an event (see write_events).
pub const Text = struct {
    id: u32,
    utf8: []const u8,
};

/// The records a string takes once cut to string_max_bytes (an empty one takes one).
pub fn string_fragment_count(utf8: []const u8) u32 {
    const text = ring.utf8_truncate(utf8, layout.string_max_bytes);
    return @intCast(@max(1, std.math.divCeil(usize, text.len, layout.string_fragment_bytes) catch unreachable));
}

/// Function tracing's commit (napi.zig commitEvents): `records` buffered by JavaScript in
/// write order, and, when `texts` is not empty, the last record is an event whose fields
/// refer to those strings by id. Writes records[0..n-1], then each string (all or nothing,
/// as write_string), then the last record, so a string is in the lane before the event
/// that names it. Records with a zero timestamp get one clock reading, now: the event's
/// time, and for the buffered ones an upper bound of theirs (the next event's time).
/// Returns how many records (string fragments included) were not written.
pub fn write_events(producer: *ring.Producer, records: []align(1) Record, texts: []const Text) u32 {
    assert(texts.len <= 2);
    var count_wanted: u32 = @intCast(records.len);
    for (texts) |text| count_wanted += string_fragment_count(text.utf8);
    if (records.len == 0) {
        // Strings without their event are never written: nothing would name them.
        return count_wanted;
    }
    var written: u32 = 0;
    if (texts.len == 0) return count_wanted - producer.write_batch(records, 0);
    const now_ns = producer.clock.now_ns();
    for (records) |*record| {
        if (record.timestamp_ns == 0) record.timestamp_ns = now_ns;
    }
    const before = records.len - 1;
    if (before > 0) written += producer.write_batch(records[0..before], 0);
    // The strings carry the event's time: one clock reading for the whole commit.
    for (texts) |text| written += write_string_at(producer, text.id, text.utf8, now_ns);
    const event = records[before];
    if (producer.write(&event)) written += 1;
    assert(written <= count_wanted);
    return count_wanted - written;
}

/// write_events of one event (`records`, a single record) and one text of at most
/// string_max_bytes that is followed in memory by zeros up to the next multiple of
/// string_fragment_bytes, at least one fragment's worth (the caller's padding: napi.zig
/// commit_events): the text's fragments and the event as one claim, each fragment built in
/// its slot (Producer.write_string_whole), one clock reading. The same records, bytes and
/// answer as write_events; when the lane has no room for all of them now (or the producer
/// is backlogged, or recording stopped), write_events itself. A full-level call's entry and
/// its return each commit so (BENCHMARKS.md "Full level: one claim an event").
pub fn write_event_padded(producer: *ring.Producer, records: []align(1) Record, text: Text) u32 {
    assert(records.len == 1 and text.utf8.len <= layout.string_max_bytes);
    const event = records[0];
    if (producer.write_string_whole(text.id, text.utf8, &event)) return 0;
    return write_events(producer, records, &.{text});
}

const testing = std.testing;

test "producer: JS numbers become u64 payloads without trapping" {
    try testing.expectEqual(@as(u64, 0), u64_from_f64(0));
    try testing.expectEqual(@as(u64, 1 << 53), u64_from_f64(9007199254740992.0));
    try testing.expectEqual(@as(u64, 3), u64_from_f64(3.9));
    try testing.expectEqual(std.math.maxInt(u64), u64_from_f64(-1));
    try testing.expectEqual(@as(u64, @bitCast(@as(i64, -5))), u64_from_f64(-5));
    try testing.expectEqual(@as(u64, 0), u64_from_f64(std.math.nan(f64)));
    try testing.expectEqual(@as(u64, 0), u64_from_f64(std.math.inf(f64)));
    try testing.expectEqual(@as(u64, 0), u64_from_f64(-std.math.inf(f64)));
    try testing.expectEqual(@as(u64, 0), u64_from_f64(1e30));
    try testing.expectEqual(@as(u64, 0), u64_from_f64(-0.5));
    try testing.expectEqual(@as(u64, 7), u64_from_f64(7.9));
    try testing.expectEqual(@as(u64, 1 << 63), u64_from_f64(9223372036854775808.0));
    try testing.expectEqual(@as(u64, 18446744073709549568), u64_from_f64(18446744073709549568.0));
    try testing.expectEqual(@as(u64, 0), u64_from_f64(18446744073709551616.0));
    try testing.expectEqual(@as(u64, @bitCast(@as(i64, std.math.minInt(i64)))), u64_from_f64(-9223372036854775808.0));
    try testing.expectEqual(@as(u64, 0), u64_from_f64(-9223372036854777856.0));
    const record = record_from_values(0x1_0005, 3, 1, 2, 3, 4, -1);
    try testing.expectEqual(@as(u16, 5), record.kind);
    try testing.expectEqual(std.math.maxInt(u64), record.e);
}


/// A one-lane ring of `slots` slots (discard mode) in test memory, for the producer tests.
const TestLane = struct {
    memory: []align(ring.page_size_bytes) u8,
    ring: ring.Ring,

    fn init(slots: u32) !TestLane {
        const memory = try testing.allocator.alignedAlloc(u8, .fromByteUnits(ring.page_size_bytes), ring.size_bytes(1, slots));
        @memset(memory, 0);
        const formatted = ring.Ring.format(memory, .{ .lane_count = 1, .lane_capacity_slots = slots, .mode = .discard, .collector_pid = 1, .clock = .auto }) catch |err| {
            testing.allocator.free(memory);
            return err;
        };
        return .{ .memory = memory, .ring = formatted };
    }

    fn deinit(lane: *TestLane) void {
        testing.allocator.free(lane.memory);
    }
};

test "producer: write_events puts the strings between the buffered records and their event" {
    var lane = try TestLane.init(64);
    defer lane.deinit();
    const test_ring = &lane.ring;
    var producer = test_ring.attach(5, 0);
    var records: [3]Record = @splat(std.mem.zeroes(Record));
    records[0].kind = @intFromEnum(layout.EventKind.function_call);
    records[0].a = 1;
    records[1].kind = @intFromEnum(layout.EventKind.function_call);
    records[1].a = 2;
    records[2].kind = @intFromEnum(layout.EventKind.function_return);
    records[2].c = 7;
    records[2].timestamp_ns = 0;
    const long: [40]u8 = @splat('x');
    const texts = [_]Text{ .{ .id = 7, .utf8 = "[1,2]" }, .{ .id = 8, .utf8 = &long } };
    try testing.expectEqual(@as(u32, 0), write_events(&producer, &records, &texts));
    var out: [16]Record = undefined;
    const count = test_ring.drain(&out);
    try testing.expectEqual(@as(u32, 6), count);
    const kinds = [_]layout.EventKind{ .function_call, .function_call, .string, .string, .string, .function_return };
    for (kinds, out[0..count]) |kind, record| {
        try testing.expectEqual(@as(u16, @intFromEnum(kind)), record.kind);
        try testing.expect(record.timestamp_ns != 0);
    }
    try testing.expectEqual(@as(u64, 7 | (5 << 32)), out[2].a);
    try testing.expectEqual(@as(u64, 8 | (40 << 32)), out[3].a);
    try testing.expectEqual(@as(u16, 1), out[4].flags);
    try testing.expectEqual(out[0].timestamp_ns, out[5].timestamp_ns);
    // One clock reading for the commit: the strings carry the event's time.
    for (out[2..5]) |record| try testing.expectEqual(out[5].timestamp_ns, record.timestamp_ns);
    // No texts: the records alone, as one batch; no records: nothing, all counted unwritten.
    try testing.expectEqual(@as(u32, 0), write_events(&producer, records[0..2], &.{}));
    try testing.expectEqual(@as(u32, 2), test_ring.drain(&out));
    try testing.expectEqual(@as(u32, 1), write_events(&producer, records[0..0], texts[0..1]));
    try testing.expectEqual(@as(u32, 0), test_ring.drain(&out));
}

test "producer: write_event_padded writes what write_events writes, as one claim or (a short lane) the two ways" {
    // Texts of 0, 5, 32, 33 and 4096 bytes, each followed by zero padding as commit_events leaves it.
    const lengths = [_]usize{ 0, 5, 32, 33, 4096 };
    for (lengths) |length| {
        var padded: [4096 + 64]u8 = @splat(0);
        for (padded[0..length], 0..) |*byte, index| byte.* = @intCast('a' + index % 26);
        const text = Text{ .id = 11, .utf8 = padded[0..length] };
        var expected: [160]Record = undefined;
        var got: [160]Record = undefined;
        var counts: [2]u32 = undefined;
        for (0..2) |way| {
            var lane = try TestLane.init(256);
            defer lane.deinit();
            var producer = lane.ring.attach(5, 0);
            var records: [1]Record = @splat(std.mem.zeroes(Record));
            records[0].kind = @intFromEnum(layout.EventKind.function_return);
            records[0].a = 3;
            records[0].c = 11;
            const unwritten = if (way == 0) write_events(&producer, &records, &.{text}) else write_event_padded(&producer, &records, text);
            try testing.expectEqual(@as(u32, 0), unwritten);
            const out = if (way == 0) &expected else &got;
            counts[way] = lane.ring.drain(out);
        }
        try testing.expectEqual(counts[0], counts[1]);
        try testing.expectEqual(@as(u32, string_fragment_count(padded[0..length]) + 1), counts[1]);
        for (expected[0..counts[0]], got[0..counts[1]]) |want, have| {
            var a = want;
            var b = have;
            try testing.expect(a.timestamp_ns != 0 and b.timestamp_ns != 0);
            // One clock reading a commit either way: every record carries the event's time.
            try testing.expectEqual(got[counts[1] - 1].timestamp_ns, b.timestamp_ns);
            a.timestamp_ns = 0;
            b.timestamp_ns = 0;
            try testing.expectEqualSlices(u8, std.mem.asBytes(&a), std.mem.asBytes(&b));
        }
    }
    // A lane without room for the text and its event as one claim (one slot taken of 8; a
    // 200-byte text is 7 fragments): written the two ways, the event dropped, counted as before.
    var outs: [2][8]Record = undefined;
    var drained: [2]u32 = undefined;
    var unwritten: [2]u32 = undefined;
    var padded: [256]u8 = @splat(0);
    @memset(padded[0..200], 'z');
    for (0..2) |way| {
        var lane = try TestLane.init(8);
        defer lane.deinit();
        var producer = lane.ring.attach(5, 0);
        producer.overflow_capacity_records = 0;
        const filler = record_from_values(@intFromEnum(layout.EventKind.function_call), 0, 1, 0, 0, 0, 0);
        try testing.expect(producer.write(&filler));
        var records: [1]Record = @splat(std.mem.zeroes(Record));
        records[0].kind = @intFromEnum(layout.EventKind.function_return);
        const text = Text{ .id = 4, .utf8 = padded[0..200] };
        unwritten[way] = if (way == 0) write_events(&producer, &records, &.{text}) else write_event_padded(&producer, &records, text);
        drained[way] = lane.ring.drain(&outs[way]);
    }
    try testing.expectEqual(@as(u32, 1), unwritten[0]);
    try testing.expectEqual(unwritten[0], unwritten[1]);
    try testing.expectEqual(@as(u32, 8), drained[1]);
    try testing.expectEqual(drained[0], drained[1]);
    for (outs[0][0..drained[0]], outs[1][0..drained[1]]) |want, have| {
        var a = want;
        var b = have;
        a.timestamp_ns = 0;
        b.timestamp_ns = 0;
        try testing.expectEqualSlices(u8, std.mem.asBytes(&a), std.mem.asBytes(&b));
    }
}

test "producer: write_string_record writes string and event as one claim, or the two ways when the lane is short" {
    var lane = try TestLane.init(8);
    defer lane.deinit();
    const test_ring = &lane.ring;
    var producer = test_ring.attach(5, 0);
    producer.overflow_capacity_records = 0;
    // No overflow and nobody drains: give up on the collector at once, not after 2 s.
    producer.stall_ns_max = ring.test_stall_ns;
    const event = record_from_values(@intFromEnum(layout.EventKind.message_send), 0, 1, 2, 3, 4, 9);
    const long: [40]u8 = @splat('y');
    try testing.expectEqual(@as(u32, 2), write_string_record(&producer, 9, &long, &event));
    var out: [16]Record = undefined;
    try testing.expectEqual(@as(u32, 3), test_ring.drain(&out));
    const kinds = [_]layout.EventKind{ .string, .string, .message_send };
    for (kinds, out[0..3]) |kind, record| {
        try testing.expectEqual(@as(u16, @intFromEnum(kind)), record.kind);
        // One clock reading: the string carries the event's time.
        try testing.expectEqual(out[2].timestamp_ns, record.timestamp_ns);
    }
    try testing.expectEqual(@as(u64, 9 | (40 << 32)), out[0].a);
    try testing.expectEqual(@as(u64, 9), out[2].e);
    // Room for the string's two fragments and not the event: the string is written, the event
    // dropped and counted, as write_string and then Producer.write do.
    var filler = std.mem.zeroes(Record);
    filler.kind = @intFromEnum(layout.EventKind.drop);
    for (0..6) |_| try testing.expect(producer.write(&filler));
    try testing.expectEqual(@as(u32, 1), write_string_record(&producer, 10, &long, &event));
    try testing.expectEqual(@as(u64, 1), producer.dropped_count);
    try testing.expectEqual(@as(u32, 8), test_ring.drain(&out));
    try testing.expectEqual(@as(u16, @intFromEnum(layout.EventKind.string)), out[7].kind);
}

test "producer: write_padded_string_record writes the records write_string_record writes, fragments built in their slots" {
    const lengths = [_]usize{ 0, 1, 31, 32, 33, 63, 64, 65, 96 };
    for (lengths) |length| {
        var results: [2][8]Record = undefined;
        for (0..2) |way| {
            var lane = try TestLane.init(16);
            defer lane.deinit();
            const test_ring = &lane.ring;
            var producer = test_ring.attach(5, 3);
            var padded: [96 + 32]u8 = @splat(0);
            for (padded[0..length], 0..) |*byte, i| byte.* = @intCast('a' + i % 26);
            var event = record_from_values(@intFromEnum(layout.EventKind.message_send), 0, 1, 2, 3, @floatFromInt(length + 1), 11);
            event.timestamp_ns = 0;
            const written = if (way == 0) write_string_record(&producer, 11, padded[0..length], &event) else write_padded_string_record(&producer, 11, padded[0..length], &event);
            try testing.expectEqual(@as(u32, 2), written);
            const count = test_ring.drain(&results[way]);
            try testing.expectEqual(@as(u32, @intCast(@max(1, (length + 31) / 32) + 1)), count);
            for (results[way][0..count]) |*record| {
                try testing.expect(record.timestamp_ns != 0);
                try testing.expectEqual(results[way][count - 1].timestamp_ns, record.timestamp_ns);
                record.timestamp_ns = 0;
            }
            for (results[way][count..]) |*record| record.* = std.mem.zeroes(Record);
        }
        try testing.expectEqualSlices(u8, std.mem.asBytes(&results[0]), std.mem.asBytes(&results[1]));
    }
    // A lane too short for string and event: written the two ways, the event dropped and counted.
    var lane = try TestLane.init(8);
    defer lane.deinit();
    const test_ring = &lane.ring;
    var producer = test_ring.attach(5, 0);
    producer.overflow_capacity_records = 0;
    // No overflow and nobody drains: give up on the collector at once, not after 2 s.
    producer.stall_ns_max = ring.test_stall_ns;
    var filler = std.mem.zeroes(Record);
    filler.kind = @intFromEnum(layout.EventKind.drop);
    for (0..6) |_| try testing.expect(producer.write(&filler));
    var padded: [96]u8 = @splat(0);
    @memset(padded[0..40], 'y');
    const event = record_from_values(@intFromEnum(layout.EventKind.message_send), 0, 1, 2, 3, 41, 10);
    try testing.expectEqual(@as(u32, 1), write_padded_string_record(&producer, 10, padded[0..40], &event));
    try testing.expectEqual(@as(u64, 1), producer.dropped_count);
}
