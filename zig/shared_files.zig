//! Files read once per process and handed to every thread (scope.node's `sharedFile`): the
//! Node agent's bundle and its V8 code cache, which every worker thread compiles at its
//! start. Read by the first thread that asks; every later thread of the process gets the
//! same bytes (an external ArrayBuffer or string over them: no read, no copy, none of
//! node:fs's functions compiled in a fresh isolate; BENCHMARKS.md "Tenth look").
//!
//! A copy is never freed: threads' ArrayBuffers and strings point into it for the
//! process's life. `replace` (the agent wrote a new code cache) makes a new copy and keeps
//! the old one alive for the isolates that hold it; it happens at most a few times a
//! process (the main thread's cache, one worker's rewrite), so what is kept is bounded by
//! the table's size times those few copies.
const std = @import("std");
const assert = std.debug.assert;

pub const path_bytes_max = 1024;
/// Bundle, code cache and the cache's rewrite marker, for each of the agent's two chunks.
pub const entries_max = 8;
/// A larger file is not shared (read by the caller as before).
pub const file_bytes_max = 64 * 1024 * 1024;

const Entry = struct {
    path: [path_bytes_max]u8 = undefined,
    path_len: usize = 0,
    data: []const u8 = &.{},
};

var entries: [entries_max]Entry = @splat(.{});
var entries_used: usize = 0;
var table_lock: std.atomic.Value(u32) = .init(0);

fn lock() void {
    while (table_lock.cmpxchgWeak(0, 1, .acquire, .monotonic) != null) std.atomic.spinLoopHint();
}

fn unlock() void {
    table_lock.store(0, .release);
}

/// Non-null and never written: a zero-length copy's pointer (an external buffer needs one).
const empty_byte: [1]u8 = .{0};

fn find(path: []const u8) ?*Entry {
    for (entries[0..entries_used]) |*entry| {
        if (std.mem.eql(u8, entry.path[0..entry.path_len], path)) return entry;
    }
    return null;
}

/// The process's copy of the file at `path`, read the first time it is asked for; null when
/// it cannot be read (missing, too large, the table full, out of memory): not remembered,
/// so a file written later is read by a later call.
pub fn get(path: []const u8) ?[]const u8 {
    if (path.len == 0 or path.len >= path_bytes_max) return null;
    lock();
    if (find(path)) |entry| {
        const data = entry.data;
        unlock();
        return data;
    }
    unlock();
    // Read without the lock (threads that start together each read; one copy is kept).
    const data = read_file(path) orelse return null;
    return publish(path, data, false) orelse {
        free_copy(data);
        return null;
    };
}

/// Makes `bytes` the process's copy for `path` (a file the caller has just written), so
/// later `get`s return it without reading. False when it cannot be kept (the caller's file
/// is then read by a later `get`, as before).
pub fn replace(path: []const u8, bytes: []const u8) bool {
    if (path.len == 0 or path.len >= path_bytes_max) return false;
    const data = copy(bytes) orelse return false;
    if (publish(path, data, true) == null) {
        free_copy(data);
        return false;
    }
    return true;
}

/// Puts `data` in the table under `path`: the copy in the table afterwards (another
/// thread's, when it got there first and `overwrite` is false), or null when the table is
/// full. The copy `data` replaced, if any, is kept (threads may still point into it).
fn publish(path: []const u8, data: []const u8, overwrite: bool) ?[]const u8 {
    lock();
    defer unlock();
    if (find(path)) |entry| {
        if (!overwrite) {
            // Another thread's read got there first: ours is dropped, theirs handed out.
            free_copy(data);
            return entry.data;
        }
        entry.data = data;
        return data;
    }
    if (entries_used == entries_max) return null;
    const entry = &entries[entries_used];
    @memcpy(entry.path[0..path.len], path);
    entry.path_len = path.len;
    entry.data = data;
    entries_used += 1;
    return data;
}

fn copy(bytes: []const u8) ?[]const u8 {
    if (bytes.len == 0) return empty_byte[0..0];
    const data = std.heap.c_allocator.alloc(u8, bytes.len) catch return null;
    @memcpy(data, bytes);
    return data;
}

fn free_copy(data: []const u8) void {
    if (data.len == 0) return;
    std.heap.c_allocator.free(data);
}

fn read_file(path: []const u8) ?[]const u8 {
    var name: [path_bytes_max + 1]u8 = undefined;
    @memcpy(name[0..path.len], path);
    name[path.len] = 0;
    const fd = std.c.open(name[0..path.len :0], .{ .ACCMODE = .RDONLY, .CLOEXEC = true }, @as(std.c.mode_t, 0));
    if (fd < 0) return null;
    defer _ = std.c.close(fd);
    const end = std.c.lseek(fd, 0, std.c.SEEK.END);
    if (end < 0 or end > file_bytes_max) return null;
    if (std.c.lseek(fd, 0, std.c.SEEK.SET) != 0) return null;
    const size: usize = @intCast(end);
    if (size == 0) return empty_byte[0..0];
    const data = std.heap.c_allocator.alloc(u8, size) catch return null;
    var done: usize = 0;
    while (done < size) {
        const n = std.c.read(fd, data.ptr + done, size - done);
        if (n <= 0) {
            std.heap.c_allocator.free(data);
            return null;
        }
        done += @intCast(n);
    }
    return data;
}

/// Forgets every entry (tests only: copies handed out stay valid, leaked on purpose).
fn reset_for_test() void {
    lock();
    defer unlock();
    entries_used = 0;
}

const testing = std.testing;

fn test_path(buffer: []u8, name: []const u8) []const u8 {
    return std.fmt.bufPrint(buffer, "/tmp/scope-shared-files-test-{d}-{s}", .{ std.c.getpid(), name }) catch unreachable;
}

fn write_test_file(path: []const u8, bytes: []const u8) !void {
    var name: [path_bytes_max + 1]u8 = undefined;
    @memcpy(name[0..path.len], path);
    name[path.len] = 0;
    const fd = std.c.open(name[0..path.len :0], .{ .ACCMODE = .WRONLY, .CREAT = true, .TRUNC = true }, @as(std.c.mode_t, 0o600));
    try testing.expect(fd >= 0);
    defer _ = std.c.close(fd);
    try testing.expectEqual(@as(isize, @intCast(bytes.len)), std.c.write(fd, bytes.ptr, bytes.len));
}

fn unlink_test_file(path: []const u8) void {
    var name: [path_bytes_max + 1]u8 = undefined;
    @memcpy(name[0..path.len], path);
    name[path.len] = 0;
    _ = std.c.unlink(name[0..path.len :0]);
}

test "shared_files: read once, the same copy after the file changed, replace, missing files retried" {
    reset_for_test();
    var buffer_a: [256]u8 = undefined;
    var buffer_b: [256]u8 = undefined;
    const a = test_path(&buffer_a, "a");
    const b = test_path(&buffer_b, "b");
    defer unlink_test_file(a);
    defer unlink_test_file(b);
    try write_test_file(a, "first contents");
    const first = get(a) orelse return error.TestUnexpectedResult;
    try testing.expectEqualStrings("first contents", first);
    // Written again on disk: the process keeps the bytes it handed out.
    try write_test_file(a, "second");
    const again = get(a) orelse return error.TestUnexpectedResult;
    try testing.expectEqual(first.ptr, again.ptr);
    // replace: later gets see the new bytes; the old copy is still readable.
    try testing.expect(replace(a, "replaced"));
    try testing.expectEqualStrings("replaced", get(a).?);
    try testing.expectEqualStrings("first contents", first);
    // A missing file is not remembered: once written, it is read.
    try testing.expect(get(b) == null);
    try write_test_file(b, "");
    const empty = get(b) orelse return error.TestUnexpectedResult;
    try testing.expectEqual(@as(usize, 0), empty.len);
    try testing.expect(get("") == null);
}

test "shared_files: a full table shares nothing more" {
    reset_for_test();
    defer reset_for_test();
    var i: usize = 0;
    var names: [entries_max + 1][256]u8 = undefined;
    var paths: [entries_max + 1][]const u8 = undefined;
    while (i < entries_max + 1) : (i += 1) {
        var suffix: [16]u8 = undefined;
        paths[i] = test_path(&names[i], std.fmt.bufPrint(&suffix, "full{d}", .{i}) catch unreachable);
        try write_test_file(paths[i], "x");
    }
    defer for (paths) |path| unlink_test_file(path);
    i = 0;
    while (i < entries_max) : (i += 1) try testing.expect(get(paths[i]) != null);
    try testing.expect(get(paths[entries_max]) == null);
    try testing.expect(!replace(paths[entries_max], "y"));
    // Entries already in the table are still replaced.
    try testing.expect(replace(paths[0], "y"));
    try testing.expectEqualStrings("y", get(paths[0]).?);
}
