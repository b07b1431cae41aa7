//! An unsigned integer's decimal digits written in place: the count first (a leading-zero
//! count and one comparison with a power of ten), then the digits at their final offsets, no
//! temporary and no copy. Below 2^32 the digits come from one multiplication by a fixed-point
//! reciprocal of the leading power of ten, then 100 a pair: the fraction's top 32 bits times
//! 100 give the next two digits (James Anhalt's method, jeaiii/itoa; checked for every u32
//! value once, and by the tests below at every length's edges). Above 2^32 pairs are cut from
//! the end by division by 100 until the rest fits. The held send's digits (napi.zig
//! plan_value): BENCHMARKS.md "The held send's digits written in place".

const std = @import("std");

/// 10^i, i in 0..19 (every power of ten a u64 holds).
const powers_of_ten: [20]u64 = blk: {
    var table: [20]u64 = undefined;
    var power: u64 = 1;
    for (0..20) |i| {
        table[i] = power;
        if (i < 19) power *= 10;
    }
    break :blk table;
};

/// "00" "01" ... "99".
pub const pairs: [200]u8 = blk: {
    var table: [200]u8 = undefined;
    for (0..100) |i| {
        table[2 * i] = '0' + @as(u8, @intCast(i / 10));
        table[2 * i + 1] = '0' + @as(u8, @intCast(i % 10));
    }
    break :blk table;
};

/// How many decimal digits `n` has (1 for 0).
pub inline fn count(n: u64) usize {
    // n | 1 has as many digits as n (no power of ten above 1 is odd) and is never 0.
    const m = n | 1;
    const bits: u32 = 64 - @as(u32, @clz(m));
    // floor(bits * log10(2)), one below the count or the count itself.
    const guess = (bits * 1233) >> 12;
    return guess + @intFromBool(m >= powers_of_ten[guess]);
}

inline fn pair_at(out: [*]u8, at: usize, pair: u64) void {
    out[at..][0..2].* = pairs[@as(usize, @intCast(pair)) * 2 ..][0..2].*;
}

/// `n`'s `digits` digits (count(n), 1..10) at out[0..digits].
inline fn write32(out: [*]u8, n: u32, digits: usize) void {
    switch (digits) {
        1 => out[0] = '0' + @as(u8, @intCast(n)),
        2 => pair_at(out, 0, n),
        inline 3...10 => |d| {
            // The leading one (odd counts) or two digits are n / 10^lead_power.
            const lead_power = if (d % 2 == 1) d - 1 else d - 2;
            const shift = lead_power / 5 * lead_power * 53 / 16;
            const multiplier: u64 = (1 << (32 + shift)) / std.math.pow(u64, 10, lead_power) + 1 + lead_power / 6 - lead_power / 8;
            var t: u64 = (multiplier * n) >> shift;
            t += lead_power / 6 * 4;
            comptime var at: usize = 0;
            if (d % 2 == 1) {
                out[0] = '0' + @as(u8, @intCast(t >> 32));
                at = 1;
            } else {
                pair_at(out, 0, t >> 32);
                at = 2;
            }
            inline while (at < d) : (at += 2) {
                t = (t & 0xffff_ffff) * 100;
                pair_at(out, at, t >> 32);
            }
        },
        else => unreachable,
    }
}

/// `n`'s digits at out[0..digits], `digits` being count(n).
pub inline fn write(out: [*]u8, n: u64, digits: usize) void {
    if (n <= std.math.maxInt(u32)) return write32(out, @intCast(n), digits);
    write_long(out, n, digits);
}

/// Above 2^32 (no preview of the pool's reaches it): pairs from the end until the rest fits.
noinline fn write_long(out: [*]u8, n: u64, digits: usize) void {
    var rest = n;
    var end = digits;
    while (rest > std.math.maxInt(u32)) {
        const next = rest / 100;
        end -= 2;
        pair_at(out, end, rest - next * 100);
        rest = next;
    }
    // rest has exactly `end` digits: n's leading ones.
    write32(out, @intCast(rest), end);
}

/// `-` (when `negative`) and `magnitude`'s digits at out[at..]: the new end, or null (nothing
/// written) when it would pass `limit`. The sign is stored unconditionally; without one the
/// first digit overwrites it.
pub inline fn integer(out: []u8, at: usize, negative: bool, magnitude: u64, limit: usize) ?usize {
    const digits = count(magnitude);
    const end = at + @intFromBool(negative) + digits;
    if (end > limit) return null;
    out[at] = '-';
    write(out[end - digits ..].ptr, magnitude, digits);
    return end;
}

fn check(n: u64) !void {
    var expected: [24]u8 = undefined;
    const text = try std.fmt.bufPrint(&expected, "{d}", .{n});
    try std.testing.expectEqual(text.len, count(n));
    // Written between guards: not a byte before or after.
    var out: [24]u8 = @splat('#');
    write(out[1..].ptr, n, count(n));
    try std.testing.expectEqual(@as(u8, '#'), out[0]);
    try std.testing.expectEqualStrings(text, out[1..][0..text.len]);
    try std.testing.expectEqual(@as(u8, '#'), out[1 + text.len]);
}

test "digits: every length's edges, the pool's values, 2^31, 2^32, 2^53" {
    const edges = [_]u64{ 0, 1, 9, 10, 11, 99, 100, 101, 199, 200, 999, 1000, 12345, 99999, 100000, 2147483647, 2147483648, 4294967291, 4294967295, 4294967296, 4294967297, 9007199254740991, 9007199254740992, 999999999999999, 1000000000000000, std.math.maxInt(u64) };
    for (edges) |n| try check(n);
    // 10^k - 1, 10^k and 10^k + 1 for every k, and the values around each 2^k.
    for (1..20) |k| {
        const power = powers_of_ten[k];
        try check(power - 1);
        try check(power);
        try check(power + 1);
    }
    for (0..64) |k| {
        const power = @as(u64, 1) << @intCast(k);
        try check(power -% 1);
        try check(power);
        try check(power +% 1);
    }
}

test "digits: 50,000 random values of each length from 1 to 20" {
    var prng = std.Random.DefaultPrng.init(0x5eed_d161);
    const random = prng.random();
    for (1..21) |length| {
        const low: u64 = if (length == 1) 0 else powers_of_ten[length - 1];
        const high: u64 = if (length == 20) std.math.maxInt(u64) else powers_of_ten[length] - 1;
        for (0..50_000) |_| try check(random.intRangeAtMost(u64, low, high));
    }
}

test "digits: integer's sign, its limit, and nothing written past the end" {
    const values = [_]i64{ 0, 1, -1, 9, -9, 10, -10, 99, -99, 100, -100, 2147483647, -2147483648, -2147483649, 4294967296, -4294967296, 9007199254740991, -9007199254740991, 999999999999999, -999999999999999 };
    for (values) |value| {
        var expected: [24]u8 = undefined;
        const text = try std.fmt.bufPrint(&expected, "{d}", .{value});
        var out: [40]u8 = @splat('#');
        const end = integer(&out, 3, value < 0, @abs(value), 40) orelse return error.TestUnexpectedResult;
        try std.testing.expectEqual(3 + text.len, end);
        try std.testing.expectEqualStrings("###", out[0..3]);
        try std.testing.expectEqualStrings(text, out[3..end]);
        try std.testing.expectEqual(@as(u8, '#'), out[end]);
        // Exactly at the limit it fits; one byte short it does not, and writes nothing.
        try std.testing.expectEqual(@as(?usize, end), integer(&out, 3, value < 0, @abs(value), end));
        var untouched: [40]u8 = @splat('#');
        try std.testing.expectEqual(@as(?usize, null), integer(&untouched, 3, value < 0, @abs(value), end - 1));
        for (untouched) |byte| try std.testing.expectEqual(@as(u8, '#'), byte);
    }
}
