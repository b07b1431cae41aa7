//! The C ABI of the trace file (writer and reader) and of the record codec, exported
//! from libscope for bun:ffi (src/core/trace-file.ts, spec/layout.test.ts).
//!
//! Conventions: arguments are u32 and pointers (a 64-bit integer argument costs a BigInt
//! in bun:ffi; 64-bit values travel through `[N]u64` arrays instead). Every fallible
//! call returns a `TraceStatus`. A null handle or pointer is refused with
//! `invalid_argument`, never dereferenced. When an open fails,
//! `scope_trace_last_error` gives a sentence that says why (per thread).
const std = @import("std");
const assert = std.debug.assert;
const layout = @import("layout.zig");
const codec = @import("codec.zig");
const trace_file = @import("trace_file.zig");

const allocator = std.heap.c_allocator;
const record_size_bytes = layout.record_size_bytes;

/// Append values, never renumber: src/core/trace-file.ts maps them to messages.
pub const TraceStatus = enum(u32) {
    ok = 0,
    invalid_argument = 1,
    out_of_memory = 2,
    not_found = 3,
    access_denied = 4,
    is_directory = 5,
    no_space = 6,
    io_error = 7,
    writer_failed = 8,
    empty_file = 9,
    not_a_trace = 10,
    header_truncated = 11,
    unsupported_format_version = 12,
    unsupported_record_layout = 13,
    header_checksum_mismatch = 14,
    header_invalid = 15,
    read_only = 16,
    quota_exceeded = 17,
    file_too_big = 18,
    _,
};

pub fn status_from_error(err: (trace_file.OpenError || trace_file.WriteError)) TraceStatus {
    return switch (err) {
        error.OutOfMemory => .out_of_memory,
        error.FileNotFound => .not_found,
        error.AccessDenied => .access_denied,
        error.ReadOnlyFileSystem => .read_only,
        error.IsDirectory => .is_directory,
        error.NoSpaceLeft => .no_space,
        error.QuotaExceeded => .quota_exceeded,
        error.FileTooBig => .file_too_big,
        error.InputOutput => .io_error,
        error.WriterFailed => .writer_failed,
        error.EmptyFile => .empty_file,
        error.NotATrace => .not_a_trace,
        error.HeaderTruncated => .header_truncated,
        error.UnsupportedFormatVersion => .unsupported_format_version,
        error.UnsupportedRecordLayout => .unsupported_record_layout,
        error.HeaderChecksumMismatch => .header_checksum_mismatch,
        error.HeaderInvalid => .header_invalid,
    };
}

// ---------------------------------------------------------------------------------------
// The last open error, per thread: open has no handle to hang a message on.

const message_max_bytes = 256;
threadlocal var last_error_bytes: [message_max_bytes]u8 = undefined;
threadlocal var last_error_len: u32 = 0;

fn set_last_error(comptime format: []const u8, args: anytype) void {
    const text = std.fmt.bufPrint(&last_error_bytes, format, args) catch &last_error_bytes;
    last_error_len = @intCast(text.len);
}

fn copy_out(text: []const u8, out: ?[*]u8, capacity: u32) u32 {
    if (out) |bytes| @memcpy(bytes[0..@min(text.len, capacity)], text[0..@min(text.len, capacity)]);
    return @intCast(text.len);
}

/// Copies the message of this thread's last failed open into `out` (up to `capacity`
/// bytes) and returns its full length.
export fn scope_trace_last_error(out: ?[*]u8, capacity: u32) u32 {
    return copy_out(last_error_bytes[0..last_error_len], out, capacity);
}

fn describe_open_error(err: trace_file.OpenError, diagnostic: trace_file.Diagnostic) void {
    switch (err) {
        error.EmptyFile => set_last_error("the file is empty", .{}),
        error.NotATrace => set_last_error("not a scope trace file (no SCOPETRC magic)", .{}),
        error.HeaderTruncated => set_last_error("trace header truncated: {d} of {d} bytes", .{ diagnostic.found, diagnostic.expected }),
        error.UnsupportedFormatVersion => set_last_error(
            "trace format version {d} is not supported (this scope reads version {d})",
            .{ diagnostic.found, diagnostic.expected },
        ),
        error.UnsupportedRecordLayout => set_last_error(
            "record layout version {d} is not supported (this scope reads versions {d} to {d})",
            .{ diagnostic.found, layout.record_layout_version_oldest, diagnostic.expected },
        ),
        error.HeaderChecksumMismatch => set_last_error(
            "trace header is corrupt (checksum 0x{x:0>8} stored, 0x{x:0>8} computed)",
            .{ diagnostic.found, diagnostic.expected },
        ),
        error.HeaderInvalid => set_last_error("trace header is invalid (inconsistent sizes or unknown flags)", .{}),
        error.FileNotFound => set_last_error("no such file", .{}),
        error.AccessDenied => set_last_error("permission denied", .{}),
        error.ReadOnlyFileSystem => set_last_error("read-only file system", .{}),
        error.IsDirectory => set_last_error("is a directory", .{}),
        error.NoSpaceLeft => set_last_error("no space left on the device", .{}),
        error.QuotaExceeded => set_last_error("disk quota exceeded", .{}),
        error.FileTooBig => set_last_error("file size limit reached", .{}),
        error.InputOutput => set_last_error("input/output error", .{}),
        error.OutOfMemory => set_last_error("out of memory", .{}),
    }
}

// ---------------------------------------------------------------------------------------
// Writer

/// Public for the collector's drain thread (c_abi.zig), which appends through it.
pub const WriterHandle = struct { writer: trace_file.Writer };

pub fn writer_handle(pointer: ?*anyopaque) ?*WriterHandle {
    return @ptrCast(@alignCast(pointer orelse return null));
}

/// Creates (truncates) the trace file at `path` and writes its header, with the clock
/// anchors read now and this process as the collector. `argv`: every argument
/// NUL-terminated (so it ends with a NUL unless empty).
export fn scope_trace_writer_open(
    path: ?[*:0]const u8,
    host: ?[*]const u8,
    host_len: u32,
    argv: ?[*]const u8,
    argv_len: u32,
    out_writer: ?*?*anyopaque,
) TraceStatus {
    last_error_len = 0;
    const out = out_writer orelse return .invalid_argument;
    out.* = null;
    const path_z = path orelse return .invalid_argument;
    if (host == null and host_len > 0) return .invalid_argument;
    if (argv == null and argv_len > 0) return .invalid_argument;
    const argv_bytes: []const u8 = if (argv) |bytes| bytes[0..argv_len] else &.{};
    if (argv_bytes.len > 0 and argv_bytes[argv_bytes.len - 1] != 0) return .invalid_argument;
    const anchors = trace_file.read_clock_anchors();
    const handle = allocator.create(WriterHandle) catch return .out_of_memory;
    handle.writer = trace_file.Writer.open(allocator, path_z, .{
        .host = if (host) |bytes| bytes[0..host_len] else &.{},
        .argv = argv_bytes,
        .monotonic_anchor_ns = anchors.monotonic_ns,
        .realtime_anchor_ns = anchors.realtime_ns,
        .collector_pid = @intCast(std.c.getpid()),
    }) catch |err| {
        allocator.destroy(handle);
        describe_open_error(err_as_open(err), .{});
        return status_from_error(err);
    };
    out.* = handle;
    return .ok;
}

/// `scope_trace_writer_open` with the header's clock anchors chosen by the caller.
/// `anchors`: [0] flags, [1] monotonic_anchor_ns, [2] realtime_anchor_ns, [3] collector_pid.
/// flags bit 0: write [1], [2] and [3] as given (`scope merge`: its timeline is wall-clock
/// ns, so both anchors are the same instant). Without it the clocks are read now and [2]
/// is added to the realtime anchor as an i64: the test-only clock shift of `scope run`
/// (SCOPE_TEST_CLOCK_SHIFT_NS), which makes a recording's wall clock look wrong by a
/// known amount so that `scope merge` can be shown to recover it.
export fn scope_trace_writer_open_anchored(
    path: ?[*:0]const u8,
    host: ?[*]const u8,
    host_len: u32,
    argv: ?[*]const u8,
    argv_len: u32,
    anchors: ?*const [4]u64,
    out_writer: ?*?*anyopaque,
) TraceStatus {
    last_error_len = 0;
    const out = out_writer orelse return .invalid_argument;
    out.* = null;
    const path_z = path orelse return .invalid_argument;
    const given = anchors orelse return .invalid_argument;
    if (host == null and host_len > 0) return .invalid_argument;
    if (argv == null and argv_len > 0) return .invalid_argument;
    if (given[0] > 1) return .invalid_argument;
    const argv_bytes: []const u8 = if (argv) |bytes| bytes[0..argv_len] else &.{};
    if (argv_bytes.len > 0 and argv_bytes[argv_bytes.len - 1] != 0) return .invalid_argument;
    var monotonic_ns: u64 = given[1];
    var realtime_ns: u64 = given[2];
    var collector_pid: u32 = std.math.cast(u32, given[3]) orelse return .invalid_argument;
    if (given[0] & 1 == 0) {
        const now = trace_file.read_clock_anchors();
        const shift_ns: i64 = @bitCast(given[2]);
        monotonic_ns = now.monotonic_ns;
        realtime_ns = @bitCast(@as(i64, @bitCast(now.realtime_ns)) +% shift_ns);
        collector_pid = @intCast(std.c.getpid());
    }
    const handle = allocator.create(WriterHandle) catch return .out_of_memory;
    handle.writer = trace_file.Writer.open(allocator, path_z, .{
        .host = if (host) |bytes| bytes[0..host_len] else &.{},
        .argv = argv_bytes,
        .monotonic_anchor_ns = monotonic_ns,
        .realtime_anchor_ns = realtime_ns,
        .collector_pid = collector_pid,
    }) catch |err| {
        allocator.destroy(handle);
        describe_open_error(err_as_open(err), .{});
        return status_from_error(err);
    };
    out.* = handle;
    return .ok;
}

fn err_as_open(err: trace_file.WriteError) trace_file.OpenError {
    return switch (err) {
        error.WriterFailed => error.InputOutput,
        else => |other| other,
    };
}

/// Appends `count` 64-byte records (any number: split into chunks here), as far as the
/// writer's limits allow (trace_file.Writer.append).
export fn scope_trace_writer_append(writer_pointer: ?*anyopaque, records: ?[*]const u8, count: u32) TraceStatus {
    return append_records(writer_pointer, records, count, .limited);
}

/// Appends past the limits and the stop: for the collector's own records (the top
/// process's end, loss markers), which the size limit keeps room for.
export fn scope_trace_writer_append_unlimited(writer_pointer: ?*anyopaque, records: ?[*]const u8, count: u32) TraceStatus {
    return append_records(writer_pointer, records, count, .unlimited);
}

fn append_records(writer_pointer: ?*anyopaque, records: ?[*]const u8, count: u32, comptime limits: enum { limited, unlimited }) TraceStatus {
    const handle = writer_handle(writer_pointer) orelse return .invalid_argument;
    if (count == 0) return .ok;
    const bytes = (records orelse return .invalid_argument)[0 .. @as(usize, count) * record_size_bytes];
    const result = switch (limits) {
        .limited => handle.writer.append(bytes),
        .unlimited => handle.writer.append_unlimited(bytes),
    };
    result catch |err| return status_from_error(err);
    return .ok;
}

/// Recording limits (0: none): --max-events and --max-size (trace.Writer.append).
export fn scope_trace_writer_limits(writer_pointer: ?*anyopaque, max_records: f64, max_bytes: f64) void {
    const handle = writer_handle(writer_pointer) orelse return;
    if (max_records >= 1) handle.writer.limit_records = std.math.lossyCast(u64, max_records);
    if (max_bytes >= 1) handle.writer.limit_bytes = std.math.lossyCast(u64, max_bytes);
}

/// [records in the file, stop reason (0: recording), records refused since the stop].
export fn scope_trace_writer_state(writer_pointer: ?*anyopaque, out: ?*[3]f64) void {
    const handle = writer_handle(writer_pointer) orelse return;
    const values = out orelse return;
    values.* = .{
        @floatFromInt(handle.writer.records_count),
        @floatFromInt(@intFromEnum(handle.writer.stop_reason)),
        @floatFromInt(handle.writer.refused_count),
    };
}

/// The file's size so far (header and whole chunks), as f64 (exact below 2^53 bytes).
export fn scope_trace_writer_size_bytes(writer_pointer: ?*anyopaque) f64 {
    const handle = writer_handle(writer_pointer) orelse return 0;
    return @floatFromInt(handle.writer.size_bytes);
}

/// Writes the end chunk: totals = [written, dropped, overwritten, collector_count]
/// (the ring's counts and one value free for the collector); syncs and closes the file.
/// Frees the writer whatever the outcome.
export fn scope_trace_writer_close(writer_pointer: ?*anyopaque, totals: ?*const [4]u64) TraceStatus {
    const handle = writer_handle(writer_pointer) orelse return .invalid_argument;
    defer {
        handle.writer.deinit(allocator);
        allocator.destroy(handle);
    }
    const values = totals orelse return .invalid_argument;
    handle.writer.close(.{
        .written_count = values[0],
        .dropped_count = values[1],
        .overwritten_count = values[2],
        .collector_count = values[3],
        .records_in_file_count = 0,
        .record_chunk_count = 0,
        .closed_monotonic_ns = trace_file.monotonic_now_ns(),
        .reserved = 0,
    }) catch |err| return status_from_error(err);
    return .ok;
}

/// Frees the writer and closes the file without an end chunk: the trace reads as
/// "not closed" (what a crash leaves behind; for tests and for abandoning a run).
export fn scope_trace_writer_abandon(writer_pointer: ?*anyopaque) void {
    const handle = writer_handle(writer_pointer) orelse return;
    handle.writer.deinit(allocator);
    allocator.destroy(handle);
}

// ---------------------------------------------------------------------------------------
// Reader

const ReaderHandle = struct {
    reader: trace_file.Reader,
    /// The input of `open_memory`, owned by the handle.
    memory: ?[]u8,
};

fn reader_handle(pointer: ?*anyopaque) ?*ReaderHandle {
    return @ptrCast(@alignCast(pointer orelse return null));
}

fn reader_adopt(source: trace_file.Source, memory: ?[]u8, out: *?*anyopaque) TraceStatus {
    const handle = allocator.create(ReaderHandle) catch {
        if (source == .file) _ = std.c.close(source.file);
        if (memory) |bytes| allocator.free(bytes);
        return .out_of_memory;
    };
    var diagnostic: trace_file.Diagnostic = .{};
    const reader = trace_file.Reader.open(allocator, source, &diagnostic) catch |err| {
        allocator.destroy(handle);
        if (memory) |bytes| allocator.free(bytes);
        describe_open_error(err, diagnostic);
        return status_from_error(err);
    };
    handle.* = .{ .reader = reader, .memory = memory };
    out.* = handle;
    return .ok;
}

/// Opens a trace file and checks its header.
export fn scope_trace_reader_open(path: ?[*:0]const u8, out_reader: ?*?*anyopaque) TraceStatus {
    last_error_len = 0;
    const out = out_reader orelse return .invalid_argument;
    out.* = null;
    const path_z = path orelse return .invalid_argument;
    var diagnostic: trace_file.Diagnostic = .{};
    const reader = trace_file.Reader.open_path(allocator, path_z, &diagnostic) catch |err| {
        describe_open_error(err, diagnostic);
        return status_from_error(err);
    };
    const handle = allocator.create(ReaderHandle) catch {
        var doomed = reader;
        doomed.deinit(allocator);
        return .out_of_memory;
    };
    handle.* = .{ .reader = reader, .memory = null };
    out.* = handle;
    return .ok;
}

/// Reads a trace held in memory (copied first: the caller's buffer may move).
export fn scope_trace_reader_open_memory(bytes: ?[*]const u8, len: u32, out_reader: ?*?*anyopaque) TraceStatus {
    last_error_len = 0;
    const out = out_reader orelse return .invalid_argument;
    out.* = null;
    if (bytes == null and len > 0) return .invalid_argument;
    const copy = allocator.alloc(u8, len) catch return .out_of_memory;
    if (len > 0) @memcpy(copy, bytes.?[0..len]);
    return reader_adopt(.{ .memory = copy }, copy, out);
}

export fn scope_trace_reader_close(reader_pointer: ?*anyopaque) void {
    const handle = reader_handle(reader_pointer) orelse return;
    handle.reader.deinit(allocator);
    if (handle.memory) |bytes| allocator.free(bytes);
    allocator.destroy(handle);
}

/// The header's numbers, in this order (src/core/trace-file.ts reads them by index).
pub const HeaderField = enum(u32) {
    format_version,
    record_layout_version,
    header_size_bytes,
    chunk_records_max,
    monotonic_anchor_ns,
    realtime_anchor_ns,
    collector_pid,
    argv_count,
    flags,
    host_size_bytes,
    argv_size_bytes,
};
pub const header_field_count: u32 = @typeInfo(HeaderField).@"enum".field_names.len;

export fn scope_trace_header_field_count() u32 {
    return header_field_count;
}

export fn scope_trace_reader_header(reader_pointer: ?*anyopaque, out: ?*[header_field_count]u64) TraceStatus {
    const handle = reader_handle(reader_pointer) orelse return .invalid_argument;
    const values = out orelse return .invalid_argument;
    const fixed = &handle.reader.header.fixed;
    values.* = .{
        fixed.format_version,
        fixed.record_layout_version,
        fixed.header_size_bytes,
        fixed.chunk_records_max,
        fixed.monotonic_anchor_ns,
        fixed.realtime_anchor_ns,
        fixed.collector_pid,
        fixed.argv_count,
        fixed.flags,
        fixed.host_size_bytes,
        fixed.argv_size_bytes,
    };
    return .ok;
}

/// Copies the host name (up to `capacity` bytes); returns its full size.
export fn scope_trace_reader_host(reader_pointer: ?*anyopaque, out: ?[*]u8, capacity: u32) u32 {
    const handle = reader_handle(reader_pointer) orelse return 0;
    return copy_out(handle.reader.header.host, out, capacity);
}

/// Copies the command line (every argument NUL-terminated); returns its full size.
export fn scope_trace_reader_argv(reader_pointer: ?*anyopaque, out: ?[*]u8, capacity: u32) u32 {
    const handle = reader_handle(reader_pointer) orelse return 0;
    return copy_out(handle.reader.header.argv, out, capacity);
}

/// Copies up to `max_records` records into `out_records`; 0 when there are no more
/// (then `scope_trace_reader_state` says why).
export fn scope_trace_reader_next(reader_pointer: ?*anyopaque, out_records: ?[*]u8, max_records: u32) u32 {
    const handle = reader_handle(reader_pointer) orelse return 0;
    const out = out_records orelse return 0;
    return handle.reader.next(out[0 .. @as(usize, max_records) * record_size_bytes]);
}

/// `trace_file.ReadState`: 0 reading, 1 closed, 2 not closed, 3 failed.
export fn scope_trace_reader_state(reader_pointer: ?*anyopaque) u32 {
    const handle = reader_handle(reader_pointer) orelse return @backingInt(trace_file.ReadState.failed);
    return @backingInt(handle.reader.state);
}

/// The end chunk's totals: [written, dropped, overwritten, collector_count,
/// records_in_file, record_chunks, closed_monotonic_ns, reserved]; `not_found` until the
/// end chunk was read (or when the trace was not closed).
export fn scope_trace_reader_end(reader_pointer: ?*anyopaque, out: ?*[8]u64) TraceStatus {
    const handle = reader_handle(reader_pointer) orelse return .invalid_argument;
    const values = out orelse return .invalid_argument;
    const end = handle.reader.end orelse return .not_found;
    values.* = .{
        end.written_count,         end.dropped_count,      end.overwritten_count,   end.collector_count,
        end.records_in_file_count, end.record_chunk_count, end.closed_monotonic_ns, end.reserved,
    };
    return .ok;
}

/// Returns the `trace_file.Reason` reading stopped for (0 none) and fills
/// out = [byte offset of the bad chunk, found, expected].
export fn scope_trace_reader_error(reader_pointer: ?*anyopaque, out: ?*[3]u64) u32 {
    const handle = reader_handle(reader_pointer) orelse return 0;
    const failure = handle.reader.failure orelse return 0;
    if (out) |values| values.* = .{ failure.offset_bytes, failure.found, failure.expected };
    return @backingInt(failure.reason);
}

/// The failure as a sentence ("chunk checksum mismatch at byte 4160"); returns its length.
export fn scope_trace_reader_error_message(reader_pointer: ?*anyopaque, out: ?[*]u8, capacity: u32) u32 {
    const handle = reader_handle(reader_pointer) orelse return 0;
    const failure = handle.reader.failure orelse return 0;
    var buffer: [message_max_bytes]u8 = undefined;
    const text = switch (failure.reason) {
        .bad_chunk_sequence, .bad_end_totals, .truncated_chunk_payload => std.fmt.bufPrint(
            &buffer,
            "{s} at byte {d} (found {d}, expected {d})",
            .{ failure.reason.text(), failure.offset_bytes, failure.found, failure.expected },
        ),
        else => std.fmt.bufPrint(&buffer, "{s} at byte {d}", .{ failure.reason.text(), failure.offset_bytes }),
    } catch unreachable;
    return copy_out(text, out, capacity);
}

// ---------------------------------------------------------------------------------------
// Codec and layout, for tests and tools that check the TypeScript mirror.

export fn scope_record_size_bytes() u32 {
    return record_size_bytes;
}

export fn scope_record_field_count() u32 {
    return codec.field_count;
}

/// out = [offset, size] in bytes of field `index` (`codec.Field` order).
export fn scope_record_field(index: u32, out: ?*[2]u32) TraceStatus {
    const values = out orelse return .invalid_argument;
    if (index >= codec.field_count) return .invalid_argument;
    const field: codec.Field = @fromBackingInt(@intCast(index));
    values.* = .{ codec.field_offset_bytes(field), codec.field_size_bytes(field) };
    return .ok;
}

/// Copies the name of field `index` into `out`; returns its length (0 past the end).
export fn scope_record_field_name(index: u32, out: ?[*]u8, capacity: u32) u32 {
    if (index >= codec.field_count) return 0;
    return copy_out(@tagName(@as(codec.Field, @fromBackingInt(@intCast(index)))), out, capacity);
}

/// Copies the name of EventKind `value` into `out`; returns its length (0 if unnamed).
export fn scope_event_kind_name(value: u32, out: ?[*]u8, capacity: u32) u32 {
    const names = @typeInfo(layout.EventKind).@"enum".field_names;
    const values = @typeInfo(layout.EventKind).@"enum".field_values;
    inline for (names, values) |name, kind_value| {
        if (kind_value == value) return copy_out(name, out, capacity);
    }
    return 0;
}

export fn scope_event_kind_count() u32 {
    return @typeInfo(layout.EventKind).@"enum".field_names.len;
}

export fn scope_record_encode(fields: ?*const [codec.field_count]u64, out: ?*[record_size_bytes]u8) TraceStatus {
    const values = fields orelse return .invalid_argument;
    const bytes = out orelse return .invalid_argument;
    const record = codec.from_fields(values) orelse return .invalid_argument;
    codec.encode(&record, bytes);
    return .ok;
}

export fn scope_record_decode(bytes: ?*const [record_size_bytes]u8, out: ?*[codec.field_count]u64) TraceStatus {
    const input = bytes orelse return .invalid_argument;
    const values = out orelse return .invalid_argument;
    values.* = codec.to_fields(&codec.decode(input));
    return .ok;
}

/// Benchmark: encodes then decodes `count` records (≤ 1 Mi) `rounds` times;
/// out = [encode ns, decode ns] in total. For scripts/bench-trace.ts.
export fn scope_codec_benchmark(count: u32, rounds: u32, out: ?*[2]u64) TraceStatus {
    const values = out orelse return .invalid_argument;
    if (count == 0 or count > 1 << 20 or rounds == 0) return .invalid_argument;
    const bytes = allocator.alignedAlloc(u8, .@"64", @as(usize, count) * record_size_bytes) catch return .out_of_memory;
    defer allocator.free(bytes);
    const records = allocator.alloc(layout.Record, count) catch return .out_of_memory;
    defer allocator.free(records);
    var prng = std.Random.DefaultPrng.init(count);
    for (records) |*record| record.* = codec.random_record(prng.random());
    var encode_ns: u64 = 0;
    var decode_ns: u64 = 0;
    for (0..rounds) |_| {
        const start_ns = trace_file.monotonic_now_ns();
        for (records, 0..) |*record, index| codec.encode(record, bytes[index * record_size_bytes ..][0..record_size_bytes]);
        std.mem.doNotOptimizeAway(bytes.ptr);
        const middle_ns = trace_file.monotonic_now_ns();
        for (records, 0..) |*record, index| record.* = codec.decode(bytes[index * record_size_bytes ..][0..record_size_bytes]);
        std.mem.doNotOptimizeAway(records.ptr);
        encode_ns += middle_ns - start_ns;
        decode_ns += trace_file.monotonic_now_ns() - middle_ns;
    }
    values.* = .{ encode_ns, decode_ns };
    return .ok;
}

test "trace_abi: write through the ABI, read back through the ABI" {
    const path = "/tmp/scope-trace-abi-test.bin";
    var writer: ?*anyopaque = null;
    const argv = "node\x00app.js\x00";
    try std.testing.expectEqual(TraceStatus.ok, scope_trace_writer_open(path, "host", 4, argv, argv.len, &writer));
    defer _ = std.c.unlink(path);
    var fields: [codec.field_count]u64 = .{ 9, 10, 0, 1234, 7, 1, 1, 2, 3, 4, 5 };
    var record: [record_size_bytes]u8 = undefined;
    try std.testing.expectEqual(TraceStatus.ok, scope_record_encode(&fields, &record));
    try std.testing.expectEqual(TraceStatus.ok, scope_trace_writer_append(writer, &record, 1));
    try std.testing.expectEqual(TraceStatus.ok, scope_trace_writer_close(writer, &.{ 1, 0, 0, 1 }));

    var reader: ?*anyopaque = null;
    try std.testing.expectEqual(TraceStatus.ok, scope_trace_reader_open(path, &reader));
    defer scope_trace_reader_close(reader);
    var out: [2 * record_size_bytes]u8 = undefined;
    try std.testing.expectEqual(@as(u32, 1), scope_trace_reader_next(reader, &out, 2));
    try std.testing.expectEqual(@as(u32, 0), scope_trace_reader_next(reader, &out, 2));
    try std.testing.expectEqual(@as(u32, 1), scope_trace_reader_state(reader));
    var decoded: [codec.field_count]u64 = undefined;
    try std.testing.expectEqual(TraceStatus.ok, scope_record_decode(out[0..record_size_bytes], &decoded));
    fields[0] = 0; // seq is zeroed in files
    try std.testing.expectEqualSlices(u64, &fields, &decoded);
    var end: [8]u64 = undefined;
    try std.testing.expectEqual(TraceStatus.ok, scope_trace_reader_end(reader, &end));
    try std.testing.expectEqualSlices(u64, &.{ 1, 0, 0, 1, 1, 1 }, end[0..6]);

    var missing: ?*anyopaque = null;
    try std.testing.expectEqual(TraceStatus.not_found, scope_trace_reader_open("/nonexistent/t.bin", &missing));
    try std.testing.expect(missing == null);
    try std.testing.expectEqual(TraceStatus.not_a_trace, scope_trace_reader_open_memory("nope", 4, &missing));
    var message: [message_max_bytes]u8 = undefined;
    const len = scope_trace_last_error(&message, message.len);
    try std.testing.expectEqualStrings("not a scope trace file (no SCOPETRC magic)", message[0..len]);
}

test "trace_abi: field and kind names" {
    var name: [32]u8 = undefined;
    try std.testing.expectEqualStrings("timestamp_ns", name[0..scope_record_field_name(3, &name, name.len)]);
    try std.testing.expectEqualStrings("message_send", name[0..scope_event_kind_name(10, &name, name.len)]);
    try std.testing.expectEqual(@as(u32, 0), scope_event_kind_name(9999, &name, name.len));
}

test "trace_abi: anchors given (scope merge) and the test-only realtime shift" {
    const path = "/tmp/scope-trace-abi-anchored-test.bin";
    defer _ = std.c.unlink(path);
    var header: [header_field_count]u64 = undefined;
    var writer: ?*anyopaque = null;
    var reader: ?*anyopaque = null;

    try std.testing.expectEqual(TraceStatus.ok, scope_trace_writer_open_anchored(path, "h", 1, null, 0, &.{ 1, 111, 222, 7 }, &writer));
    try std.testing.expectEqual(TraceStatus.ok, scope_trace_writer_close(writer, &.{ 0, 0, 0, 0 }));
    try std.testing.expectEqual(TraceStatus.ok, scope_trace_reader_open(path, &reader));
    try std.testing.expectEqual(TraceStatus.ok, scope_trace_reader_header(reader, &header));
    scope_trace_reader_close(reader);
    try std.testing.expectEqual(@as(u64, 111), header[4]);
    try std.testing.expectEqual(@as(u64, 222), header[5]);
    try std.testing.expectEqual(@as(u64, 7), header[6]);

    const shift_ns: i64 = -5 * std.time.ns_per_s;
    const before = trace_file.read_clock_anchors();
    try std.testing.expectEqual(TraceStatus.ok, scope_trace_writer_open_anchored(path, null, 0, null, 0, &.{ 0, 0, @bitCast(shift_ns), 0 }, &writer));
    const after = trace_file.read_clock_anchors();
    try std.testing.expectEqual(TraceStatus.ok, scope_trace_writer_close(writer, &.{ 0, 0, 0, 0 }));
    try std.testing.expectEqual(TraceStatus.ok, scope_trace_reader_open(path, &reader));
    try std.testing.expectEqual(TraceStatus.ok, scope_trace_reader_header(reader, &header));
    scope_trace_reader_close(reader);
    // realtime − monotonic is the clocks' difference, moved by the shift.
    const difference_ns: i64 = @as(i64, @bitCast(header[5])) - @as(i64, @bitCast(header[4]));
    const before_ns: i64 = @as(i64, @bitCast(before.realtime_ns)) - @as(i64, @bitCast(before.monotonic_ns));
    const after_ns: i64 = @as(i64, @bitCast(after.realtime_ns)) - @as(i64, @bitCast(after.monotonic_ns));
    try std.testing.expect(@abs(difference_ns - shift_ns - before_ns) < std.time.ns_per_ms or @abs(difference_ns - shift_ns - after_ns) < std.time.ns_per_ms);

    try std.testing.expectEqual(TraceStatus.invalid_argument, scope_trace_writer_open_anchored(path, null, 0, null, 0, &.{ 2, 0, 0, 0 }, &writer));
    try std.testing.expectEqual(TraceStatus.invalid_argument, scope_trace_writer_open_anchored(path, null, 0, null, 0, null, &writer));
}
