//! What the bun:ffi (c_abi.zig) and Node-API (napi.zig) producers share: building a
//! record from JavaScript numbers and writing a string as fragment records.
//! JavaScript passes payloads as f64 because a 64-bit integer costs a BigInt at the
//! boundary: values up to 2^53 are exact, negative ones are stored as two's complement.
const std = @import("std");
const assert = std.debug.assert;
const layout = @import("layout.zig");
const ring = @import("ring.zig");

const Record = layout.Record;

/// A JS number as a u64 payload: integers 0..2^64 as is (fractions truncated), negative
/// ones as two's complement i64; NaN, infinities and out-of-range values as 0 (a tracer
/// never traps on what a program hands it).
pub fn u64_from_f64(value: f64) u64 {
    const two_to_64: f64 = 18446744073709551616.0;
    const minus_two_to_63: f64 = -9223372036854775808.0;
    if (value >= 0 and value < two_to_64) return @intFromFloat(value);
    if (value < 0 and value >= minus_two_to_63) return @bitCast(@as(i64, @intFromFloat(value)));
    return 0;
}

pub fn record_from_values(kind: u32, flags: u32, a: f64, b: f64, c: f64, d: f64, e: f64) Record {
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
    var fragments: [ring.string_fragment_count_max]Record = undefined;
    const count = ring.string_fragments(id, utf8, &fragments);
    assert(count >= 1 and count <= fragments.len);
    // A string longer than a lane can never fit whole; refuse it (counted as dropped)
    // rather than split it.
    if (count > producer.capacity_slots) {
        producer.drop(count);
        return 0;
    }
    return producer.write_batch(fragments[0..count], count);
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
    const record = record_from_values(0x1_0005, 3, 1, 2, 3, 4, -1);
    try testing.expectEqual(@as(u16, 5), record.kind);
    try testing.expectEqual(std.math.maxInt(u64), record.e);
}
