//! The ring's shared-memory file: create it (O_EXCL, mode 0600, space allocated up front,
//! mapped MAP_SHARED), open and validate an existing one, unmap, unlink. Paths are plain
//! files, normally under /dev/shm (tmpfs), so every process of a traced tree can map the
//! same bytes by name.
const std = @import("std");
const assert = std.debug.assert;
const ring_module = @import("ring.zig");
const clock = @import("clock.zig");
const batches_module = @import("batches.zig");

const Ring = ring_module.Ring;
const page_size_bytes = ring_module.page_size_bytes;

pub const Error = ring_module.Error || error{
    AlreadyExists,
    NotFound,
    AccessDenied,
    /// Out of memory, of space on the tmpfs, or of file descriptors.
    SystemResources,
    Unexpected,
};

pub const Mapping = struct {
    memory: []align(page_size_bytes) u8,
    ring: Ring,
};

fn error_from_errno(errno: std.c.E) Error {
    return switch (errno) {
        .EXIST => error.AlreadyExists,
        .NOENT, .NOTDIR => error.NotFound,
        .ACCES, .PERM, .ROFS => error.AccessDenied,
        .NOMEM, .NOSPC, .MFILE, .NFILE, .FBIG, .DQUOT => error.SystemResources,
        .INVAL, .NAMETOOLONG, .ISDIR => error.InvalidArgument,
        else => error.Unexpected,
    };
}

fn last_error() Error {
    return error_from_errno(@fromBackingInt(@as(u16, @intCast(std.c._errno().*))));
}

fn map(fd: std.c.fd_t, size_bytes: u64) Error![]align(page_size_bytes) u8 {
    assert(size_bytes > 0);
    assert(size_bytes % page_size_bytes == 0);
    const address = std.c.mmap(null, size_bytes, .{ .READ = true, .WRITE = true }, .{ .TYPE = .SHARED }, fd, 0);
    if (address == std.c.MAP_FAILED) return last_error();
    assert(@intFromPtr(address) % page_size_bytes == 0);
    const bytes: [*]align(page_size_bytes) u8 = @ptrCast(@alignCast(address));
    return bytes[0..size_bytes];
}

/// Creates and formats a new ring file; fails if `path` exists.
pub fn create(path: [*:0]const u8, options: ring_module.Options) Error!Mapping {
    try ring_module.validate_geometry(options.lane_count, options.lane_capacity_slots);
    if (options.batch_slot_count > batches_module.slot_count_max) return error.InvalidArgument;
    const size_bytes = ring_module.size_bytes_batches(options.lane_count, options.lane_capacity_slots, options.batch_slot_count);
    const fd = std.c.open(path, .{ .ACCMODE = .RDWR, .CREAT = true, .EXCL = true, .CLOEXEC = true }, @as(std.c.mode_t, 0o600));
    if (fd < 0) return last_error();
    defer _ = std.c.close(fd);
    errdefer _ = std.c.unlink(path);
    // The clock's calibration window (10 ms of sleep) is open while the file is allocated
    // (~8 ms for 64 MiB of tmpfs): a traced program starts that much sooner.
    var formatting = options;
    if (formatting.calibration == null) formatting.calibration = clock.calibration_begin(options.clock);
    // Allocated now, not on first touch: a full tmpfs must fail here with an error, not
    // later with SIGBUS inside a traced program's write.
    const rc = std.c.fallocate(fd, 0, 0, @intCast(size_bytes));
    if (rc != 0) return last_error();
    const memory = try map(fd, size_bytes);
    errdefer unmap_memory(memory);
    const ring = try Ring.format(memory, formatting);
    return .{ .memory = memory, .ring = ring };
}

/// Maps an existing ring file and validates its header against its size.
pub fn open(path: [*:0]const u8) Error!Mapping {
    const fd = std.c.open(path, .{ .ACCMODE = .RDWR, .CLOEXEC = true }, @as(std.c.mode_t, 0));
    if (fd < 0) return last_error();
    defer _ = std.c.close(fd);
    const end = std.c.lseek(fd, 0, std.c.SEEK.END);
    if (end < 0) return last_error();
    const size_bytes: u64 = @intCast(end);
    if (size_bytes < ring_module.header_size_bytes) return error.NotARing;
    if (size_bytes % page_size_bytes != 0) return error.SizeMismatch;
    if (size_bytes > ring_module.total_size_bytes_max) return error.SizeMismatch;
    const memory = try map(fd, size_bytes);
    errdefer unmap_memory(memory);
    const ring = try Ring.open(memory);
    return .{ .memory = memory, .ring = ring };
}

fn unmap_memory(memory: []align(page_size_bytes) u8) void {
    // Cannot fail for a whole mapping we made.
    const rc = std.c.munmap(memory.ptr, memory.len);
    assert(rc == 0);
}

/// Unmaps; the file stays until unlinked. No producer of this mapping may write after.
pub fn close(mapping: *Mapping) void {
    unmap_memory(mapping.memory);
    mapping.* = undefined;
}

pub fn unlink(path: [*:0]const u8) Error!void {
    if (std.c.unlink(path) != 0) return last_error();
}

const testing = std.testing;

fn test_path(buffer: *[64]u8, name: []const u8) [:0]const u8 {
    return std.fmt.bufPrintSentinel(buffer, "/dev/shm/scope-test-{d}-{s}", .{ std.c.getpid(), name }, 0) catch unreachable;
}

test "shm: create, open a second mapping of the same bytes, unlink" {
    var buffer: [64]u8 = undefined;
    const path = test_path(&buffer, "roundtrip");
    var created = try create(path, .{ .lane_count = 2, .lane_capacity_slots = 16, .mode = .discard, .collector_pid = 7 });
    defer unlink(path) catch {};
    defer close(&created);
    try testing.expectError(error.AlreadyExists, create(path, .{ .lane_count = 2, .lane_capacity_slots = 16, .mode = .discard, .collector_pid = 7 }));
    var opened = try open(path);
    defer close(&opened);
    try testing.expectEqual(@as(u32, 7), opened.ring.header.collector_pid);
    var producer = opened.ring.attach(11, 3);
    var record = std.mem.zeroes(@import("layout.zig").Record);
    record.a = 77;
    try testing.expect(producer.write(&record));
    var out: [4]@import("layout.zig").Record = undefined;
    try testing.expectEqual(@as(u32, 1), created.ring.drain(&out));
    try testing.expectEqual(@as(u64, 77), out[0].a);
    try testing.expectEqual(@as(u32, 11), out[0].pid);
}

test "shm: errors name the problem" {
    var buffer: [64]u8 = undefined;
    try testing.expectError(error.NotFound, open("/dev/shm/scope-test-does-not-exist"));
    try testing.expectError(error.NotFound, unlink("/dev/shm/scope-test-does-not-exist"));
    const path = test_path(&buffer, "errors");
    try testing.expectError(error.InvalidArgument, create(path, .{ .lane_count = 1, .lane_capacity_slots = 100, .mode = .discard, .collector_pid = 1 }));
    try testing.expectError(error.NotFound, open(path));
    // A file of a page of zeros is not a ring.
    const fd = std.c.open(path, .{ .ACCMODE = .RDWR, .CREAT = true, .EXCL = true }, @as(std.c.mode_t, 0o600));
    try testing.expect(fd >= 0);
    defer unlink(path) catch {};
    try testing.expectEqual(@as(c_int, 0), std.c.ftruncate(fd, 4096));
    _ = std.c.close(fd);
    try testing.expectError(error.NotARing, open(path));
}
