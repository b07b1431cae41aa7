//! /proc/<pid>/stat, read without allocating: a producer's look at its collector's state
//! (ring.zig `collector_draining`) and the collector's read of a zombie's wait status
//! (endings.zig). Cold paths both.
const std = @import("std");
const linux = std.os.linux;

/// The text of /proc/<pid>/stat, as much as fits in `buffer`; null when it cannot be read.
pub fn read(pid: u32, buffer: []u8) ?[]const u8 {
    var path_buffer: [32]u8 = undefined;
    const path = std.fmt.bufPrintSentinel(&path_buffer, "/proc/{d}/stat", .{pid}, 0) catch return null;
    const rc = linux.open(path, .{ .ACCMODE = .RDONLY, .CLOEXEC = true }, 0);
    if (linux.errno(rc) != .SUCCESS) return null;
    const fd: i32 = @intCast(rc);
    defer _ = linux.close(fd);
    const count = linux.read(fd, buffer.ptr, buffer.len);
    if (linux.errno(count) != .SUCCESS) return null;
    return buffer[0..count];
}

/// The fields from the state on (field 3): "pid (comm) S ppid ...", where comm may hold
/// spaces and parentheses, so the fields follow the last ')'. Null for a text cut short.
pub fn fields(text: []const u8) ?[]const u8 {
    const close = std.mem.lastIndexOfScalar(u8, text, ')') orelse return null;
    if (close + 2 >= text.len) return null;
    return text[close + 2 ..];
}

test "fields: from the state on, whatever comm holds" {
    try std.testing.expectEqualStrings("Z 1 2", fields("7 (a) b) c) Z 1 2").?);
    try std.testing.expectEqual(@as(?[]const u8, null), fields("7 (cut"));
}
