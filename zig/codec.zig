//! The record codec: a `layout.Record` to and from its 64 little-endian bytes.
//!
//! Encoding is explicit (`std.mem.writeInt(..., .little)` per field) rather than a
//! `@bitCast` of the extern struct, so the bytes are the same on any host and the
//! offsets come from `layout.zig` alone. `decode(encode(r)) == r` for every record:
//! the codec is lossless by construction (every field is stored in full) and the
//! property test below checks it over random records.
//!
//! Fields are also exposed as a flat `[field_count]u64` ("fields"), the form the C ABI
//! and the TypeScript tests use: index order is `Field`'s declaration order.
const std = @import("std");
const assert = std.debug.assert;
const layout = @import("layout.zig");

const Record = layout.Record;
const record_size_bytes = layout.record_size_bytes;

/// Every field of a record, in offset order. The C ABI reports offsets and sizes by
/// this index; `src/core/layout.ts` lists its `Offset` keys in the same order.
pub const Field = enum(u32) { seq, kind, flags, timestamp_ns, pid, tid, a, b, c, d, e };
pub const field_count: u32 = @typeInfo(Field).@"enum".field_names.len;

const record_field_names = @typeInfo(Record).@"struct".field_names;
const record_field_types = @typeInfo(Record).@"struct".field_types;

comptime {
    assert(field_count == record_field_names.len);
    // Field order must match the struct's declaration order (which is offset order).
    for (@typeInfo(Field).@"enum".field_names, record_field_names) |tag_name, member_name| {
        assert(std.mem.eql(u8, tag_name, member_name));
    }
    for (record_field_names[1..], 1..) |name, index| {
        assert(@offsetOf(Record, name) > @offsetOf(Record, record_field_names[index - 1]));
    }
}

pub fn field_offset_bytes(field: Field) u32 {
    return switch (field) {
        inline else => |tag| @offsetOf(Record, @tagName(tag)),
    };
}

pub fn field_size_bytes(field: Field) u32 {
    return switch (field) {
        inline else => |tag| @sizeOf(@FieldType(Record, @tagName(tag))),
    };
}

pub fn encode(record: *const Record, out: *[record_size_bytes]u8) void {
    inline for (record_field_names, record_field_types) |name, T| {
        const offset = @offsetOf(Record, name);
        std.mem.writeInt(T, out[offset..][0..@sizeOf(T)], @field(record, name), .little);
    }
}

pub fn decode(bytes: *const [record_size_bytes]u8) Record {
    var record: Record = undefined;
    inline for (record_field_names, record_field_types) |name, T| {
        const offset = @offsetOf(Record, name);
        @field(record, name) = std.mem.readInt(T, bytes[offset..][0..@sizeOf(T)], .little);
    }
    return record;
}

pub fn to_fields(record: *const Record) [field_count]u64 {
    var fields: [field_count]u64 = undefined;
    inline for (record_field_names, 0..) |name, index| {
        fields[index] = @field(record, name);
    }
    return fields;
}

/// Returns null when a field does not fit its width (e.g. a kind above 0xffff):
/// the ABI must reject such input rather than truncate it silently.
pub fn from_fields(fields: *const [field_count]u64) ?Record {
    var record: Record = undefined;
    inline for (record_field_names, record_field_types, 0..) |name, T, index| {
        if (fields[index] > std.math.maxInt(T)) return null;
        @field(record, name) = @intCast(fields[index]);
    }
    return record;
}

pub fn random_record(random: std.Random) Record {
    var record: Record = undefined;
    inline for (record_field_names, record_field_types) |name, T| {
        // Bias towards the edges (0, max, small values), where codecs usually break.
        @field(record, name) = switch (random.uintLessThan(u8, 4)) {
            0 => 0,
            1 => std.math.maxInt(T),
            2 => random.uintLessThan(T, 256),
            else => random.int(T),
        };
    }
    return record;
}

test "codec: encode matches the in-memory extern struct on this little-endian host" {
    comptime assert(@import("builtin").cpu.arch.endian() == .little);
    var prng = std.Random.DefaultPrng.init(0x5c09e);
    for (0..1000) |_| {
        const record = random_record(prng.random());
        var bytes: [record_size_bytes]u8 = undefined;
        encode(&record, &bytes);
        try std.testing.expectEqualSlices(u8, std.mem.asBytes(&record), &bytes);
    }
}

test "codec: decode(encode(r)) == r and encode(decode(b)) == b over random input" {
    var prng = std.Random.DefaultPrng.init(42);
    const random = prng.random();
    for (0..10_000) |_| {
        const record = random_record(random);
        var bytes: [record_size_bytes]u8 = undefined;
        encode(&record, &bytes);
        try std.testing.expectEqual(record, decode(&bytes));

        var noise: [record_size_bytes]u8 = undefined;
        random.bytes(&noise);
        var again: [record_size_bytes]u8 = undefined;
        encode(&decode(&noise), &again);
        try std.testing.expectEqualSlices(u8, &noise, &again);

        const fields = to_fields(&record);
        try std.testing.expectEqual(record, from_fields(&fields).?);
    }
}

test "codec: fields report the layout's offsets and reject values wider than a field" {
    try std.testing.expectEqual(@as(u32, 11), field_count);
    try std.testing.expectEqual(@as(u32, 8), field_offset_bytes(.timestamp_ns));
    try std.testing.expectEqual(@as(u32, 8), field_size_bytes(.timestamp_ns));
    try std.testing.expectEqual(@as(u32, 2), field_size_bytes(.kind));
    try std.testing.expectEqual(@as(u32, 56), field_offset_bytes(.e));
    var fields: [field_count]u64 = @splat(0);
    fields[@backingInt(Field.kind)] = 0x1_0000;
    try std.testing.expect(from_fields(&fields) == null);
}
