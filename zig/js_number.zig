//! JavaScript's Number.prototype.toString() (radix 10) of an f64, as ECMA-262 Number::toString
//! writes it: the shortest digits that read back as the value (of several, the closest; Ryu,
//! Zig's std float formatting, gives them), then placed by the spec's rules: plain digits with
//! zeros for an exponent position n in (k, 21], a decimal point inside for 0 < n ≤ 21,
//! "0.000ddd" for -6 < n ≤ 0, else exponent form ("1e+21", "1.5e-7"); "-0" is "0", and
//! "NaN", "Infinity", "-Infinity". spec/js-number.test.ts checks it against String(x) over
//! millions of random and edge doubles in Node 20, 22 and 24.
const std = @import("std");
const float = std.fmt.float;

/// The longest text: a sign, "0.", 6 zeros, 17 digits (26), or a sign, 17 digits, ".", "e-308" (24).
pub const max_bytes = 32;

/// Writes String(value) at out[0..] and returns its length.
pub fn write(out: *[max_bytes]u8, value: f64) usize {
    if (std.math.isNan(value)) return copy(out, 0, "NaN");
    var at: usize = 0;
    if (std.math.isInf(value)) {
        if (value < 0) {
            out[0] = '-';
            at = 1;
        }
        return copy(out, at, "Infinity");
    }
    if (value == 0) return copy(out, 0, "0");
    if (short(out, value)) |length| return length;
    const bits: u64 = @bitCast(value);
    const decimal = float.binaryToDecimal(u64, bits, 52, 11, false, &float.Backend64_TablesFull);
    var mantissa = decimal.mantissa;
    var exponent = decimal.exponent;
    while (mantissa % 10 == 0) {
        mantissa /= 10;
        exponent += 1;
    }
    // The digits, most significant first.
    var digits: [20]u8 = undefined;
    var k: usize = 0;
    {
        var rest = mantissa;
        var reversed: [20]u8 = undefined;
        while (rest > 0) : (rest /= 10) {
            reversed[k] = '0' + @as(u8, @intCast(rest % 10));
            k += 1;
        }
        for (0..k) |i| digits[i] = reversed[k - 1 - i];
    }
    const ki: i32 = @intCast(k);
    // value = 0.d1d2...dk × 10^n
    const n: i32 = ki + exponent;
    if (value < 0) {
        out[0] = '-';
        at = 1;
    }
    if (ki <= n and n <= 21) {
        at = copy(out, at, digits[0..k]);
        for (0..@intCast(n - ki)) |_| {
            out[at] = '0';
            at += 1;
        }
        return at;
    }
    if (0 < n and n <= 21) {
        const whole: usize = @intCast(n);
        at = copy(out, at, digits[0..whole]);
        out[at] = '.';
        return copy(out, at + 1, digits[whole..k]);
    }
    if (-6 < n and n <= 0) {
        at = copy(out, at, "0.");
        for (0..@intCast(-n)) |_| {
            out[at] = '0';
            at += 1;
        }
        return copy(out, at, digits[0..k]);
    }
    out[at] = digits[0];
    at += 1;
    if (k > 1) {
        out[at] = '.';
        at = copy(out, at + 1, digits[1..k]);
    }
    out[at] = 'e';
    out[at + 1] = if (n - 1 < 0) '-' else '+';
    at += 2;
    var power: u32 = @abs(n - 1);
    var text: [4]u8 = undefined;
    var length: usize = 0;
    while (true) {
        text[length] = '0' + @as(u8, @intCast(power % 10));
        length += 1;
        power /= 10;
        if (power == 0) break;
    }
    for (0..length) |i| out[at + i] = text[length - 1 - i];
    return at + length;
}

/// The commonest fractions without Ryu (preview.ts emitFraction's rule, ~4x cheaper): a value
/// below 1e9 in magnitude with at most six decimals has as String() the fewest decimals k such
/// that round(|value| * 10^k) / 10^k is the value again (the quotient is correctly rounded, so
/// that k-decimal reads back exactly, and two k-decimals 10^-k >= 1e-6 apart cannot both be
/// within half a unit of the last place of a value below 1e9). @round rounds half away from
/// zero, which for |value| is Math.round's half up. Null for anything else (an integer too).
fn short(out: *[max_bytes]u8, value: f64) ?usize {
    const magnitude = @abs(value);
    if (!(magnitude < 1e9)) return null;
    if (@round(magnitude * 1e6) / 1e6 != magnitude) return null;
    const scales = [_]f64{ 10, 100, 1e3, 1e4, 1e5, 1e6 };
    for (scales, 1..) |scale, decimals| {
        const scaled = @round(magnitude * scale);
        if (scaled / scale != magnitude) continue;
        const whole = @floor(scaled / scale);
        if (whole == magnitude) return null;
        var fraction: u64 = @intFromFloat(scaled - whole * scale);
        var at: usize = 0;
        if (value < 0) {
            out[0] = '-';
            at = 1;
        }
        var digits: [16]u8 = undefined;
        var count: usize = 0;
        var rest: u64 = @intFromFloat(whole);
        while (true) {
            digits[count] = '0' + @as(u8, @intCast(rest % 10));
            count += 1;
            rest /= 10;
            if (rest == 0) break;
        }
        for (0..count) |i| out[at + i] = digits[count - 1 - i];
        at += count;
        out[at] = '.';
        var i = at + decimals;
        while (i > at) : (i -= 1) {
            out[i] = '0' + @as(u8, @intCast(fraction % 10));
            fraction /= 10;
        }
        return at + 1 + decimals;
    }
    return null;
}

fn copy(out: *[max_bytes]u8, at: usize, text: []const u8) usize {
    @memcpy(out[at..][0..text.len], text);
    return at + text.len;
}

fn expectText(value: f64, expected: []const u8) !void {
    var out: [max_bytes]u8 = undefined;
    const length = write(&out, value);
    try std.testing.expectEqualStrings(expected, out[0..length]);
}

test "String(x) of a few doubles" {
    try expectText(0.5, "0.5");
    try expectText(-0.0, "0");
    try expectText(1e21, "1e+21");
    try expectText(1e20, "100000000000000000000");
    try expectText(123456789012345680000.0, "123456789012345680000");
    try expectText(1e-7, "1e-7");
    try expectText(1.5e-7, "1.5e-7");
    try expectText(0.000001, "0.000001");
    try expectText(0.30000000000000004, "0.30000000000000004");
    try expectText(5e-324, "5e-324");
    try expectText(1.7976931348623157e308, "1.7976931348623157e+308");
    try expectText(-2.5, "-2.5");
    try expectText(std.math.inf(f64), "Infinity");
    try expectText(-std.math.inf(f64), "-Infinity");
    try expectText(std.math.nan(f64), "NaN");
    try expectText(100, "100");
    try expectText(1.25, "1.25");
    try expectText(-0.000001, "-0.000001");
    try expectText(999999999.999999, "999999999.999999");
    try expectText(0.3, "0.3");
}
