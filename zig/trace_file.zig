//! The trace file (`trace.bin`): written by the collector while a program runs, read
//! by `scope dump`. Everything is little-endian; every size is fixed or bounded.
//!
//! File = file header, then chunks, then (when the collector closed it) an end chunk.
//!
//! File header (`FileHeader`, 128 bytes, then the variable part):
//!
//!   offset size field
//!        0    8 magic "SCOPETRC"
//!        8    4 format_version (this file: `format_version`; any change bumps it)
//!       12    4 checksum: CRC-32C of bytes [16, header_size_bytes)
//!       16    4 header_size_bytes: 128 + host + argv, rounded up to 64 (≤ header_max_size_bytes)
//!       20    4 record_layout_version (`layout.record_layout_version`)
//!       24    4 record_size_bytes (64)
//!       28    4 chunk_records_max the writer used (≤ `chunk_records_max`)
//!       32    8 monotonic_anchor_ns: CLOCK_MONOTONIC, read together with ...
//!       40    8 realtime_anchor_ns: ... CLOCK_REALTIME (ns since the Unix epoch) at open.
//!                The trace's start time is the realtime anchor; a record's wall time is
//!                realtime_anchor_ns + (timestamp_ns - monotonic_anchor_ns).
//!       48    4 collector_pid
//!       52    4 host_size_bytes (≤ host_max_bytes)
//!       56    4 argv_size_bytes (≤ argv_max_bytes): every argument NUL-terminated
//!       60    4 argv_count: the number of arguments (= the number of NULs)
//!       64    4 flags: bit 0 = argv was cut to fit argv_max_bytes (whole arguments dropped)
//!       68   60 reserved, zero
//!      128    - host bytes, then argv bytes, then zeros up to header_size_bytes
//!
//! Chunk (`ChunkHeader`, 64 bytes, then the payload), appended one `write` at a time:
//!
//!        0    4 magic "SCCK"
//!        4    4 kind: 1 = records, 2 = end
//!        8    4 sequence: 0, 1, 2, ... in file order (the end chunk continues it)
//!       12    4 record_count: 1..chunk_records_max for records, 0 for end
//!       16    4 payload_size_bytes: record_count × 64 for records, 64 for end
//!       20    4 reserved, zero
//!       24    8 timestamp_min_ns over the chunk's records (0 for end)
//!       32    8 timestamp_max_ns over the chunk's records (0 for end)
//!       40   20 reserved, zero
//!       60    4 checksum: CRC-32C of header bytes [0, 60) followed by the payload
//!
//! Record payload: record_count × 64-byte `layout.Record`s, `seq` zeroed (it belongs to
//! the ring). End payload (`EndTotals`, 64 bytes): the ring's written / dropped /
//! overwritten counts, one u64 free for the collector, and the writer's own count of
//! records and record chunks, which the reader checks against what it read.
//!
//! The header size is a multiple of 64 and so is every chunk, so records are 64-byte
//! aligned in the file. CRC-32C (Castagnoli, `std.hash.crc.@"CRC-32/ISCSI"`) rather than the
//! zlib CRC-32: same strength, and std computes it with the SSE4.2 instruction on
//! x86-64, several times faster than the table-driven zlib variant.
//!
//! Reading: the reader validates the header (a bad header is an error: the file is not
//! a trace, or not one this version reads), then yields the records of each chunk only
//! after its checksum matched. It stops at the first chunk that is truncated or corrupt
//! and reports the chunk's byte offset and a `Reason`; records before it are intact.
//! A file that simply ends after a whole chunk was not closed (the collector died): all
//! its records are valid and the state says `not_closed`.
const std = @import("std");
const builtin = @import("builtin");
const assert = std.debug.assert;
const layout = @import("layout.zig");
const codec = @import("codec.zig");

const Crc = std.hash.crc.@"CRC-32/ISCSI";
const record_size_bytes = layout.record_size_bytes;

pub const format_version: u32 = 1;
pub const file_magic: [8]u8 = "SCOPETRC".*;
pub const chunk_magic: u32 = std.mem.readInt(u32, "SCCK", .little);

/// 4096 records = 256 KiB a chunk: large enough that the header and the syscall are
/// noise, small enough that a torn write loses little and the reader's buffer is small.
pub const chunk_records_max: u32 = 4096;
pub const host_max_bytes: u32 = 256;
pub const argv_max_bytes: u32 = 32 * 1024;
pub const header_fixed_size_bytes: u32 = 128;
pub const header_max_size_bytes: u32 = align_up(header_fixed_size_bytes + host_max_bytes + argv_max_bytes, 64);
pub const chunk_header_size_bytes: u32 = 64;
pub const end_payload_size_bytes: u32 = 64;
pub const chunk_max_size_bytes: u32 = chunk_header_size_bytes + chunk_records_max * record_size_bytes;
pub const header_flag_argv_truncated: u32 = 1 << 0;
const header_flags_known: u32 = header_flag_argv_truncated;

pub const FileHeader = extern struct {
    magic: [8]u8,
    format_version: u32,
    checksum: u32,
    header_size_bytes: u32,
    record_layout_version: u32,
    record_size_bytes: u32,
    chunk_records_max: u32,
    monotonic_anchor_ns: u64,
    realtime_anchor_ns: u64,
    collector_pid: u32,
    host_size_bytes: u32,
    argv_size_bytes: u32,
    argv_count: u32,
    flags: u32,
    reserved: [60]u8,
};

pub const ChunkKind = enum(u32) { records = 1, end = 2, _ };

pub const ChunkHeader = extern struct {
    magic: u32,
    kind: ChunkKind,
    sequence: u32,
    record_count: u32,
    payload_size_bytes: u32,
    reserved_a: u32,
    timestamp_min_ns: u64,
    timestamp_max_ns: u64,
    reserved_b: [20]u8,
    checksum: u32,
};

/// The end chunk's payload.
pub const EndTotals = extern struct {
    /// The ring's counts at close (from the collector).
    written_count: u64,
    dropped_count: u64,
    overwritten_count: u64,
    /// Free for the collector (it stores the number of records it drained).
    collector_count: u64,
    /// The writer's own counts, checked by the reader against what it read.
    records_in_file_count: u64,
    record_chunk_count: u64,
    closed_monotonic_ns: u64,
    reserved: u64,
};

comptime {
    assert(builtin.cpu.arch.endian() == .little); // extern structs are the wire format
    assert(@sizeOf(FileHeader) == header_fixed_size_bytes);
    assert(@offsetOf(FileHeader, "checksum") == 12);
    assert(@offsetOf(FileHeader, "header_size_bytes") == 16);
    assert(@offsetOf(FileHeader, "monotonic_anchor_ns") == 32);
    assert(@offsetOf(FileHeader, "flags") == 64);
    assert(@sizeOf(ChunkHeader) == chunk_header_size_bytes);
    assert(@offsetOf(ChunkHeader, "timestamp_min_ns") == 24);
    assert(@offsetOf(ChunkHeader, "checksum") == chunk_header_size_bytes - 4);
    assert(@sizeOf(EndTotals) == end_payload_size_bytes);
    assert(header_max_size_bytes % 64 == 0);
    assert(chunk_max_size_bytes % 64 == 0);
    assert(end_payload_size_bytes == record_size_bytes);
    assert(std.mem.eql(u8, std.mem.asBytes(&chunk_magic), "SCCK"));
}

fn align_up(value: u32, comptime alignment: u32) u32 {
    comptime assert(std.math.isPowerOfTwo(alignment));
    return (value + alignment - 1) & ~(alignment - 1);
}

// ---------------------------------------------------------------------------------------
// Pure encoding and validation (no I/O): shared by the writer, the reader and the tests.

pub const HeaderOptions = struct {
    host: []const u8,
    /// Every argument NUL-terminated.
    argv: []const u8,
    monotonic_anchor_ns: u64,
    realtime_anchor_ns: u64,
    collector_pid: u32,
};

/// Writes the whole header into `out` and returns it. Host names longer than
/// `host_max_bytes` are cut; arguments that do not fit `argv_max_bytes` are dropped
/// whole (flag `argv_truncated`): a long command line must not stop a trace.
pub fn encode_header(out: *align(8) [header_max_size_bytes]u8, options: HeaderOptions) []u8 {
    assert(options.argv.len == 0 or options.argv[options.argv.len - 1] == 0);
    const host = options.host[0..@min(options.host.len, host_max_bytes)];
    var argv_size: u32 = 0;
    var argv_count: u32 = 0;
    var flags: u32 = 0;
    for (options.argv, 0..) |byte, index| {
        if (byte != 0) continue;
        const end: u32 = @intCast(index + 1);
        if (end > argv_max_bytes) {
            flags |= header_flag_argv_truncated;
            break;
        }
        argv_size = end;
        argv_count += 1;
    }
    const size: u32 = align_up(header_fixed_size_bytes + @as(u32, @intCast(host.len)) + argv_size, 64);
    assert(size <= header_max_size_bytes);
    @memset(out[0..size], 0);
    const header: *FileHeader = @ptrCast(out);
    header.* = .{
        .magic = file_magic,
        .format_version = format_version,
        .checksum = 0,
        .header_size_bytes = size,
        .record_layout_version = layout.record_layout_version,
        .record_size_bytes = record_size_bytes,
        .chunk_records_max = chunk_records_max,
        .monotonic_anchor_ns = options.monotonic_anchor_ns,
        .realtime_anchor_ns = options.realtime_anchor_ns,
        .collector_pid = options.collector_pid,
        .host_size_bytes = @intCast(host.len),
        .argv_size_bytes = argv_size,
        .argv_count = argv_count,
        .flags = flags,
        .reserved = @splat(0),
    };
    @memcpy(out[header_fixed_size_bytes..][0..host.len], host);
    @memcpy(out[header_fixed_size_bytes + host.len ..][0..argv_size], options.argv[0..argv_size]);
    header.checksum = Crc.hash(out[16..size]);
    return out[0..size];
}

pub const HeaderError = error{
    EmptyFile,
    NotATrace,
    HeaderTruncated,
    UnsupportedFormatVersion,
    UnsupportedRecordLayout,
    HeaderChecksumMismatch,
    HeaderInvalid,
};

pub const Header = struct {
    fixed: FileHeader,
    host: []const u8,
    argv: []const u8,
};

/// Checks the fixed part that tells how long the whole header is. `prefix` is what
/// the file holds of its first `header_fixed_size_bytes` (it may be shorter).
pub fn check_header_prefix(prefix: []const u8) HeaderError!FileHeader {
    assert(prefix.len <= header_fixed_size_bytes);
    if (prefix.len == 0) return error.EmptyFile;
    if (prefix.len < file_magic.len or !std.mem.eql(u8, prefix[0..file_magic.len], &file_magic)) {
        return error.NotATrace;
    }
    if (prefix.len < 12) return error.HeaderTruncated;
    if (std.mem.readInt(u32, prefix[8..12], .little) != format_version) return error.UnsupportedFormatVersion;
    if (prefix.len < header_fixed_size_bytes) return error.HeaderTruncated;
    const fixed = std.mem.bytesToValue(FileHeader, prefix[0..header_fixed_size_bytes]);
    if (fixed.header_size_bytes < header_fixed_size_bytes) return error.HeaderInvalid;
    if (fixed.header_size_bytes > header_max_size_bytes) return error.HeaderInvalid;
    if (fixed.header_size_bytes % 64 != 0) return error.HeaderInvalid;
    return fixed;
}

/// Checks the whole header (`bytes.len == header_size_bytes`) and returns its parts,
/// which point into `bytes`.
pub fn check_header(bytes: []const u8) HeaderError!Header {
    const fixed = try check_header_prefix(bytes[0..@min(bytes.len, header_fixed_size_bytes)]);
    if (bytes.len < fixed.header_size_bytes) return error.HeaderTruncated;
    assert(bytes.len == fixed.header_size_bytes);
    if (Crc.hash(bytes[16..]) != fixed.checksum) return error.HeaderChecksumMismatch;
    // The checksum matched: what follows are writer bugs or versions we do not read.
    if (fixed.record_layout_version < layout.record_layout_version_oldest or fixed.record_layout_version > layout.record_layout_version) return error.UnsupportedRecordLayout;
    if (fixed.record_size_bytes != record_size_bytes) return error.HeaderInvalid;
    if (fixed.chunk_records_max == 0 or fixed.chunk_records_max > chunk_records_max) return error.HeaderInvalid;
    if (fixed.host_size_bytes > host_max_bytes or fixed.argv_size_bytes > argv_max_bytes) return error.HeaderInvalid;
    if (fixed.flags & ~header_flags_known != 0) return error.HeaderInvalid;
    if (!std.mem.allEqual(u8, &fixed.reserved, 0)) return error.HeaderInvalid;
    const strings_end = header_fixed_size_bytes + fixed.host_size_bytes + fixed.argv_size_bytes;
    if (align_up(strings_end, 64) != fixed.header_size_bytes) return error.HeaderInvalid;
    if (!std.mem.allEqual(u8, bytes[strings_end..], 0)) return error.HeaderInvalid;
    const host = bytes[header_fixed_size_bytes..][0..fixed.host_size_bytes];
    const argv = bytes[header_fixed_size_bytes + fixed.host_size_bytes ..][0..fixed.argv_size_bytes];
    if (argv.len > 0 and argv[argv.len - 1] != 0) return error.HeaderInvalid;
    if (std.mem.countScalar(u8, argv, 0) != fixed.argv_count) return error.HeaderInvalid;
    return .{ .fixed = fixed, .host = host, .argv = argv };
}

/// Why reading stopped before the end of the file. Values cross the C ABI.
pub const Reason = enum(u32) {
    none = 0,
    truncated_chunk_header = 1,
    bad_chunk_magic = 2,
    bad_chunk_kind = 3,
    bad_chunk_sequence = 4,
    bad_chunk_header = 5,
    truncated_chunk_payload = 6,
    checksum_mismatch = 7,
    bad_record = 8,
    bad_end_totals = 9,
    data_after_end = 10,
    read_failed = 11,

    pub fn text(reason: Reason) []const u8 {
        return switch (reason) {
            .none => "no error",
            .truncated_chunk_header => "truncated chunk header",
            .bad_chunk_magic => "bad chunk magic",
            .bad_chunk_kind => "unknown chunk kind",
            .bad_chunk_sequence => "chunk out of sequence",
            .bad_chunk_header => "invalid chunk header",
            .truncated_chunk_payload => "truncated chunk",
            .checksum_mismatch => "chunk checksum mismatch",
            .bad_record => "invalid record in a chunk whose checksum matched",
            .bad_end_totals => "end chunk totals disagree with the file",
            .data_after_end => "data after the end chunk",
            .read_failed => "read failed",
        };
    }
};

/// Fills `chunk[0..64]` (the header) for the payload already at `chunk[64..]`. For
/// records, zeroes each record's `seq` first: the ring's sequence means nothing in a file.
pub fn seal_chunk(chunk: []align(8) u8, kind: ChunkKind, sequence: u32) void {
    assert(chunk.len >= chunk_header_size_bytes + record_size_bytes);
    assert(chunk.len <= chunk_max_size_bytes);
    const payload = chunk[chunk_header_size_bytes..];
    assert(payload.len % record_size_bytes == 0);
    var timestamp_min_ns: u64 = 0;
    var timestamp_max_ns: u64 = 0;
    var record_count: u32 = 0;
    if (kind == .records) {
        record_count = @intCast(payload.len / record_size_bytes);
        const records = std.mem.bytesAsSlice(layout.Record, payload);
        timestamp_min_ns = std.math.maxInt(u64);
        for (records) |*record| {
            record.seq = 0;
            timestamp_min_ns = @min(timestamp_min_ns, record.timestamp_ns);
            timestamp_max_ns = @max(timestamp_max_ns, record.timestamp_ns);
        }
    } else {
        assert(kind == .end);
        assert(payload.len == end_payload_size_bytes);
    }
    const header: *ChunkHeader = @ptrCast(chunk[0..chunk_header_size_bytes]);
    header.* = .{
        .magic = chunk_magic,
        .kind = kind,
        .sequence = sequence,
        .record_count = record_count,
        .payload_size_bytes = @intCast(payload.len),
        .reserved_a = 0,
        .timestamp_min_ns = timestamp_min_ns,
        .timestamp_max_ns = timestamp_max_ns,
        .reserved_b = @splat(0),
        .checksum = 0,
    };
    header.checksum = chunk_checksum(chunk[0..chunk_header_size_bytes], payload);
}

fn chunk_checksum(header: []const u8, payload: []const u8) u32 {
    assert(header.len == chunk_header_size_bytes);
    var crc = Crc.init();
    crc.update(header[0 .. chunk_header_size_bytes - 4]);
    crc.update(payload);
    return crc.final();
}

/// Checks a chunk header on its own, before its payload is read.
pub fn check_chunk_header(header: *const ChunkHeader, sequence: u32, records_max: u32) Reason {
    assert(records_max > 0 and records_max <= chunk_records_max);
    if (header.magic != chunk_magic) return .bad_chunk_magic;
    if (header.kind != .records and header.kind != .end) return .bad_chunk_kind;
    if (header.sequence != sequence) return .bad_chunk_sequence;
    if (header.reserved_a != 0 or !std.mem.allEqual(u8, &header.reserved_b, 0)) return .bad_chunk_header;
    switch (header.kind) {
        .records => {
            if (header.record_count == 0 or header.record_count > records_max) return .bad_chunk_header;
            if (header.payload_size_bytes != header.record_count * record_size_bytes) return .bad_chunk_header;
            if (header.timestamp_min_ns > header.timestamp_max_ns) return .bad_chunk_header;
        },
        .end => {
            if (header.record_count != 0) return .bad_chunk_header;
            if (header.payload_size_bytes != end_payload_size_bytes) return .bad_chunk_header;
            if (header.timestamp_min_ns != 0 or header.timestamp_max_ns != 0) return .bad_chunk_header;
        },
        _ => unreachable,
    }
    return .none;
}

/// Checks a payload against its (already checked) header: the checksum first, then
/// what a matching checksum cannot catch, a writer that broke its own rules.
pub fn check_chunk_payload(header_bytes: []const u8, payload: []align(8) const u8) Reason {
    assert(header_bytes.len == chunk_header_size_bytes);
    const header = std.mem.bytesToValue(ChunkHeader, header_bytes);
    assert(payload.len == header.payload_size_bytes);
    if (chunk_checksum(header_bytes, payload) != header.checksum) return .checksum_mismatch;
    if (header.kind == .end) {
        const totals = std.mem.bytesToValue(EndTotals, payload);
        if (totals.reserved != 0) return .bad_end_totals;
        return .none;
    }
    var timestamp_min_ns: u64 = std.math.maxInt(u64);
    var timestamp_max_ns: u64 = 0;
    for (std.mem.bytesAsSlice(layout.Record, payload)) |*record| {
        if (record.seq != 0) return .bad_record;
        timestamp_min_ns = @min(timestamp_min_ns, record.timestamp_ns);
        timestamp_max_ns = @max(timestamp_max_ns, record.timestamp_ns);
    }
    if (timestamp_min_ns != header.timestamp_min_ns) return .bad_record;
    if (timestamp_max_ns != header.timestamp_max_ns) return .bad_record;
    return .none;
}

// ---------------------------------------------------------------------------------------
// Clocks and files (libc: the library links it anyway, and its calls are stable).

pub const ClockAnchors = struct { monotonic_ns: u64, realtime_ns: u64 };

fn clock_ns(clock_id: std.c.clockid_t) u64 {
    var time: std.c.timespec = undefined;
    // Cannot fail for these clocks on Linux; 0 reads as "unknown" rather than failing a trace.
    if (std.c.clock_gettime(clock_id, &time) != 0) return 0;
    assert(time.sec >= 0 and time.nsec >= 0);
    return @as(u64, @intCast(time.sec)) * std.time.ns_per_s + @as(u64, @intCast(time.nsec));
}

/// Reads CLOCK_REALTIME between two CLOCK_MONOTONIC reads and keeps the tightest of a
/// few tries, so the pair maps monotonic to wall time within a fraction of a microsecond
/// even when the thread is preempted during one try.
pub fn read_clock_anchors() ClockAnchors {
    var best: ClockAnchors = undefined;
    var best_window_ns: u64 = std.math.maxInt(u64);
    for (0..4) |_| {
        const before_ns = clock_ns(.MONOTONIC);
        const realtime_ns = clock_ns(.REALTIME);
        const after_ns = clock_ns(.MONOTONIC);
        const window_ns = after_ns -| before_ns;
        if (window_ns < best_window_ns) {
            best_window_ns = window_ns;
            best = .{ .monotonic_ns = before_ns + window_ns / 2, .realtime_ns = realtime_ns };
        }
    }
    assert(best_window_ns != std.math.maxInt(u64));
    return best;
}

pub fn monotonic_now_ns() u64 {
    return clock_ns(.MONOTONIC);
}

pub const FileError = error{ FileNotFound, AccessDenied, ReadOnlyFileSystem, IsDirectory, NoSpaceLeft, QuotaExceeded, FileTooBig, InputOutput };

fn file_error(errno: std.c.E) FileError {
    return switch (errno) {
        .NOENT, .NOTDIR => error.FileNotFound,
        .ACCES, .PERM => error.AccessDenied,
        .ROFS => error.ReadOnlyFileSystem,
        .ISDIR => error.IsDirectory,
        .NOSPC => error.NoSpaceLeft,
        .DQUOT => error.QuotaExceeded,
        .FBIG => error.FileTooBig,
        else => error.InputOutput,
    };
}

fn open_file(path: [*:0]const u8, flags: std.c.O) FileError!std.c.fd_t {
    while (true) {
        const fd = std.c.open(path, flags, @as(std.c.mode_t, 0o600));
        if (fd >= 0) return fd;
        const errno = std.c.errno(fd);
        if (errno == .INTR) continue;
        return file_error(errno);
    }
}

/// A file that existed keeps its mode through O_TRUNC (0644, 0666): a regular one is made
/// 0600 as a new one is. Anything else (/dev/null, a pipe) is left as it is.
fn make_private(fd: std.c.fd_t) void {
    const linux = std.os.linux;
    var info: linux.Statx = undefined;
    const rc = linux.statx(fd, "", linux.AT.EMPTY_PATH, .{ .TYPE = true, .MODE = true }, &info);
    if (linux.errno(rc) != .SUCCESS) return;
    if (info.mode & linux.S.IFMT != linux.S.IFREG or info.mode & 0o077 == 0) return;
    // A failure leaves the mode it had (another user's file as root): nothing else changes.
    _ = std.c.fchmod(fd, 0o600);
}

fn write_all(fd: std.c.fd_t, bytes: []const u8) FileError!void {
    var done: usize = 0;
    while (done < bytes.len) {
        const rc = std.c.write(fd, bytes[done..].ptr, bytes.len - done);
        if (rc < 0) {
            const errno = std.c.errno(rc);
            if (errno == .INTR) continue;
            return file_error(errno);
        }
        // write(2) returns 0 only for a zero-length request.
        assert(rc > 0);
        done += @intCast(rc);
    }
}

/// The file size limit (RLIMIT_FSIZE) in bytes; null when there is none.
fn file_size_limit() ?u64 {
    var limit: std.c.rlimit = undefined;
    if (std.c.getrlimit(.FSIZE, &limit) != 0) return null;
    if (limit.cur == std.c.RLIM.INFINITY) return null;
    return limit.cur;
}

/// Reads up to `buffer.len` bytes at `offset`; fewer only at the end of the file.
fn pread_all(fd: std.c.fd_t, buffer: []u8, offset: u64) FileError!usize {
    var done: usize = 0;
    while (done < buffer.len) {
        const position = std.math.cast(std.c.off_t, offset + done) orelse return error.InputOutput;
        const rc = std.c.pread(fd, buffer[done..].ptr, buffer.len - done, position);
        if (rc < 0) {
            const errno = std.c.errno(rc);
            if (errno == .INTR) continue;
            return file_error(errno);
        }
        if (rc == 0) break;
        done += @intCast(rc);
    }
    assert(done <= buffer.len);
    return done;
}

// ---------------------------------------------------------------------------------------
// Writer

pub const WriteError = FileError || error{ OutOfMemory, WriterFailed };

pub const Writer = struct {
    fd: std.c.fd_t,
    /// One chunk (header + up to chunk_records_max records), allocated once at open:
    /// appending never allocates, and each chunk goes to the file in one write.
    chunk: []align(64) u8,
    size_bytes: u64,
    sequence: u32,
    records_count: u64,
    record_chunk_count: u64,
    /// Set when a write failed (or would have: the file size limit): the writer takes no more
    /// of the program's records. Its own last records and the end chunk still go in, into
    /// the room kept for them (`end_room_until`), so the file ends properly; without that
    /// room (a file system that cannot preallocate) it ends at its last whole chunk and reads
    /// as a trace that was not closed.
    failed: bool,
    /// Blocks allocated past `size_bytes` (fallocate KEEP_SIZE) up to this offset: a full
    /// disk is seen when the next reservation fails, while what it needs to end is held.
    /// 0: none (not supported there).
    reserved_until: u64 = 0,
    /// After a failure: the offset the collector's last records and the end chunk may
    /// still reach (0: none).
    end_room_until: u64 = 0,
    /// The file is longer than `size_bytes` (a write that failed midway): cut at the end.
    torn: bool = false,
    /// Recording limits (scope run --max-events, --max-size): the writer keeps what fits,
    /// then takes no more records and says why in `stop_reason`. The size limit keeps
    /// `limit_reserve_bytes` free for the collector's own last records and the end chunk.
    limit_records: u64 = std.math.maxInt(u64),
    limit_bytes: u64 = std.math.maxInt(u64),
    /// Nonzero once the writer takes no more records (a limit, or `stop`).
    stop_reason: layout.StopReason = .none,
    /// Records refused after the stop (not in the file).
    refused_count: u64 = 0,
    /// The collector wrote its `recording_stop` record (collector.zig settle_stop).
    stop_recorded: bool = false,

    /// Creates (or truncates) `path`, mode 0600 (a trace may hold secrets), and writes
    /// the header.
    pub fn open(allocator: std.mem.Allocator, path: [*:0]const u8, options: HeaderOptions) WriteError!Writer {
        const chunk = try allocator.alignedAlloc(u8, .@"64", chunk_max_size_bytes);
        errdefer allocator.free(chunk);
        const fd = try open_file(path, .{ .ACCMODE = .WRONLY, .CREAT = true, .TRUNC = true, .CLOEXEC = true });
        errdefer _ = std.c.close(fd);
        make_private(fd);
        comptime assert(header_max_size_bytes <= chunk_max_size_bytes);
        const header = encode_header(chunk[0..header_max_size_bytes], options);
        try write_all(fd, header);
        var writer: Writer = .{
            .fd = fd,
            .chunk = chunk,
            .size_bytes = header.len,
            .sequence = 0,
            .records_count = 0,
            .record_chunk_count = 0,
            .failed = false,
        };
        // A disk too full for the reservation: found by the first chunk's.
        writer.reserve() catch {};
        return writer;
    }

    /// Keeps at least `reserve_bytes` allocated past the end (the file's size unchanged). A
    /// file system that cannot (tmpfs and ext4 can; a pipe, /dev/null cannot) gets none, not
    /// an error. While what is held covers that, no call; when it runs short, a step of
    /// `reserve_step_bytes` at once, and where that cannot be had (a disk nearly full, a size
    /// limit) only `reserve_bytes`, which fails as it always did: a full disk is seen at the
    /// same chunk. (One fallocate a chunk cost ~9% of the drain thread's CPU on ext4:
    /// BENCHMARKS.md "scope run's own CPU while the program runs".)
    fn reserve(writer: *Writer) FileError!void {
        if (writer.reserved_until >= writer.size_bytes + reserve_bytes) return;
        const offset = std.math.cast(std.c.off_t, writer.size_bytes) orelse return;
        const keep_size = 0x01; // FALLOC_FL_KEEP_SIZE
        if (std.os.linux.errno(std.os.linux.fallocate(writer.fd, keep_size, offset, reserve_step_bytes)) == .SUCCESS) {
            writer.reserved_until = writer.size_bytes + reserve_step_bytes;
            return;
        }
        const rc = std.os.linux.fallocate(writer.fd, keep_size, offset, reserve_bytes);
        switch (std.os.linux.errno(rc)) {
            .SUCCESS => writer.reserved_until = writer.size_bytes + reserve_bytes,
            .NOSPC => return error.NoSpaceLeft,
            .DQUOT => return error.QuotaExceeded,
            // EFBIG: an offset past what the file system takes; the writes will say.
            else => writer.reserved_until = 0,
        }
    }

    /// Room kept under `limit_bytes` for the collector's last records (the stop marker,
    /// the top process's end, a loss marker: one chunk each) and the end chunk.
    pub const limit_reserve_bytes: u64 = 3 * (chunk_header_size_bytes + record_size_bytes) + chunk_header_size_bytes + end_payload_size_bytes;

    /// The end chunk's size.
    const end_chunk_bytes: u64 = chunk_header_size_bytes + end_payload_size_bytes;
    /// Room kept for the end of a file whose writes fail: the collector's own last records
    /// (the stop record, the top process's end, loss markers: 64 KiB of them) and the end chunk.
    pub const end_room_bytes: u64 = 64 * 1024 + end_chunk_bytes;
    /// Reserved past the end of the file as it grows: a whole chunk of records and the end room,
    /// so a chunk written into it leaves the end room whole.
    const reserve_bytes: u64 = chunk_max_size_bytes + end_room_bytes;
    /// Reserved at once when what is held runs short of `reserve_bytes` (reserve).
    const reserve_step_bytes: u64 = 4 * 1024 * 1024;
    comptime {
        assert(reserve_step_bytes >= reserve_bytes);
    }

    /// Appends `records` (a whole number of 64-byte records) as one or more chunks, as
    /// far as the limits allow; past them the writer stops (`stop_reason`) and counts
    /// the rest as refused.
    pub fn append(writer: *Writer, records: []const u8) WriteError!void {
        assert(records.len % record_size_bytes == 0);
        const take = try writer.admit(records.len / record_size_bytes);
        try writer.append_unlimited(records[0 .. take * record_size_bytes]);
    }

    /// The next chunk's payload, for a caller that puts records there itself (the
    /// collector's drain copies from the ring straight into it), then calls
    /// append_in_place: one copy of each record fewer than append. Valid until the next
    /// call of any other append or close, which write their own chunks over it.
    pub fn payload(writer: *Writer) []layout.Record {
        const bytes = writer.chunk[chunk_header_size_bytes..][0 .. chunk_records_max * record_size_bytes];
        return @alignCast(std.mem.bytesAsSlice(layout.Record, bytes));
    }

    /// As append, for the first `count` records of payload(): sealed and written where
    /// they are, as far as the limits allow.
    pub fn append_in_place(writer: *Writer, count: u32) WriteError!void {
        assert(count <= chunk_records_max);
        const take = try writer.admit(count);
        if (take == 0) return;
        const chunk = writer.chunk[0 .. chunk_header_size_bytes + take * record_size_bytes];
        seal_chunk(chunk, .records, writer.sequence);
        try writer.write_chunk(chunk, false);
    }

    /// How many of `count` records the limits let in: past them the writer stops
    /// (`stop_reason`) and counts the rest as refused.
    fn admit(writer: *Writer, count: u64) WriteError!u64 {
        assert(writer.fd >= 0);
        if (writer.failed) return error.WriterFailed;
        if (writer.stop_reason != .none) {
            writer.refused_count += count;
            return 0;
        }
        const by_records = writer.limit_records -| writer.records_count;
        const by_bytes = writer.records_fitting();
        const take = @min(count, by_records, by_bytes);
        if (take < count) {
            writer.stop_reason = if (by_records <= by_bytes) .max_events else .max_size;
            writer.refused_count += count - take;
        }
        return take;
    }

    /// The records `append` still takes before a limit stops it, and the limit that would
    /// (`.none`: no limit, maxInt records). For a writer of whole batches that fill chunks
    /// (the flight recorder's dump: collector.zig) the byte count is exact.
    pub fn room(writer: *const Writer) struct { records: u64, limit: layout.StopReason } {
        if (writer.stop_reason != .none) return .{ .records = 0, .limit = writer.stop_reason };
        const by_records = writer.limit_records -| writer.records_count;
        const by_bytes = writer.records_fitting();
        if (by_records == std.math.maxInt(u64) and by_bytes == std.math.maxInt(u64)) return .{ .records = by_records, .limit = .none };
        return if (by_records <= by_bytes) .{ .records = by_records, .limit = .max_events } else .{ .records = by_bytes, .limit = .max_size };
    }

    /// Records that still fit under `limit_bytes`, chunk headers included.
    fn records_fitting(writer: *const Writer) u64 {
        if (writer.limit_bytes == std.math.maxInt(u64)) return std.math.maxInt(u64);
        const room_slots = (writer.limit_bytes -| writer.size_bytes -| limit_reserve_bytes) / record_size_bytes;
        // n records take ceil(n / C) chunk headers of one slot each: take k = ceil(room / (C + 1)).
        const headers = std.math.divCeil(u64, room_slots, chunk_records_max + 1) catch unreachable;
        return room_slots - headers;
    }

    /// Stops taking records (the first reason stays); the collector's own still go in.
    pub fn stop(writer: *Writer, reason: layout.StopReason) void {
        assert(reason != .none);
        if (writer.stop_reason == .none) writer.stop_reason = reason;
    }

    /// Appends whatever the limits say: for the collector's own records (the reserve
    /// above keeps room for them).
    pub fn append_unlimited(writer: *Writer, records: []const u8) WriteError!void {
        assert(writer.fd >= 0);
        assert(records.len % record_size_bytes == 0);
        if (writer.failed and writer.end_room_until == 0) return error.WriterFailed;
        var rest = records;
        while (rest.len > 0) {
            const take = @min(rest.len, chunk_records_max * record_size_bytes);
            const chunk = writer.chunk[0 .. chunk_header_size_bytes + take];
            @memcpy(chunk[chunk_header_size_bytes..], rest[0..take]);
            seal_chunk(chunk, .records, writer.sequence);
            // Counted by write_chunk once in the file (a failure after it, the next
            // reservation's, leaves it there).
            try writer.write_chunk(chunk, false);
            rest = rest[take..];
        }
    }

    /// Writes the end chunk with the final totals, syncs and closes the file.
    pub fn close(writer: *Writer, totals: EndTotals) WriteError!void {
        assert(writer.fd >= 0);
        assert(totals.reserved == 0);
        defer {
            // An end that failed: the file still ends at its last whole chunk.
            if (writer.torn or writer.reserved_until > writer.size_bytes) writer.cut();
            _ = std.c.close(writer.fd);
            writer.fd = -1;
        }
        if (writer.failed and writer.end_room_until == 0) return error.WriterFailed;
        var end = totals;
        end.records_in_file_count = writer.records_count;
        end.record_chunk_count = writer.record_chunk_count;
        const chunk = writer.chunk[0 .. chunk_header_size_bytes + end_payload_size_bytes];
        @memcpy(chunk[chunk_header_size_bytes..], std.mem.asBytes(&end));
        seal_chunk(chunk, .end, writer.sequence);
        try writer.write_chunk(chunk, true);
        // What a failed write left past the end, and the reservation: the file ends here.
        if (writer.torn or writer.reserved_until > writer.size_bytes) writer.cut();
        if (std.c.fsync(writer.fd) != 0) {
            const errno = std.c.errno(@as(c_int, -1));
            // Files on file systems that cannot sync (pipes, some FUSE) are still complete.
            if (errno != .INVAL and errno != .ROFS) return file_error(errno);
        }
    }

    /// Frees the writer; closes the file if `close` was not called (no end chunk).
    pub fn deinit(writer: *Writer, allocator: std.mem.Allocator) void {
        if (writer.fd >= 0) {
            writer.cut();
            _ = std.c.close(writer.fd);
        }
        allocator.free(writer.chunk);
        writer.* = undefined;
    }

    /// Cuts the file at `size_bytes` (best effort): a torn chunk and the reservation go.
    fn cut(writer: *Writer) void {
        if (std.math.cast(std.c.off_t, writer.size_bytes)) |size| _ = std.c.ftruncate(writer.fd, size);
        writer.torn = false;
        writer.reserved_until = 0;
    }

    /// Writes one sealed chunk at the end. A records chunk first keeps the end room under the
    /// file size limit, then reserves what follows; a failure of either (or of the write)
    /// stops the writer with the end room it still has (failed, end_room_until). After a
    /// failure only the collector's own records and the end chunk go in, inside that room.
    fn write_chunk(writer: *Writer, chunk: []const u8, is_end: bool) WriteError!void {
        assert(chunk.len % 64 == 0);
        if (writer.failed) {
            // The end chunk always has its room; the collector's records only ahead of it.
            const needed = if (is_end) chunk.len else chunk.len + end_chunk_bytes;
            if (writer.size_bytes + needed > writer.end_room_until) return error.WriterFailed;
        } else if (!is_end) {
            if (file_size_limit()) |limit| {
                if (writer.size_bytes + chunk.len + end_room_bytes > limit) {
                    return writer.fail(error.FileTooBig, if (writer.size_bytes + end_room_bytes <= limit) limit else 0);
                }
            }
        }
        // After a torn write the next chunk goes over it (a file: only after a failure with
        // room kept, which a pipe never has); otherwise sequential writes, pipes included.
        if (writer.torn) {
            const offset = std.math.cast(std.c.off_t, writer.size_bytes) orelse return error.FileTooBig;
            if (std.c.lseek(writer.fd, offset, std.c.SEEK.SET) < 0) return error.InputOutput;
        }
        write_all(writer.fd, chunk) catch |err| {
            // A torn chunk is written over by the next, cut at the end.
            writer.torn = true;
            if (writer.failed) return err;
            return writer.fail(err, writer.reserved_until);
        };
        writer.size_bytes += chunk.len;
        writer.sequence += 1;
        if (!is_end) {
            writer.records_count += (chunk.len - chunk_header_size_bytes) / record_size_bytes;
            writer.record_chunk_count += 1;
        }
        if (writer.failed or writer.reserved_until == 0) return;
        // The chunk went into the reservation: the next one is reserved now. A disk that
        // cannot give it is full: stop, with the end room still held.
        writer.reserve() catch |err| return writer.fail(err, writer.reserved_until);
    }

    /// Stops the writer for `err` with the end room up to `room_until` (0: none: the file is
    /// cut at its last whole chunk now, and ends there without an end chunk).
    fn fail(writer: *Writer, err: FileError, room_until: u64) FileError {
        writer.failed = true;
        writer.end_room_until = if (room_until >= writer.size_bytes + end_chunk_bytes) room_until else 0;
        if (writer.end_room_until == 0) writer.cut();
        return err;
    }
};

// ---------------------------------------------------------------------------------------
// Reader

pub const Source = union(enum) {
    file: std.c.fd_t,
    memory: []const u8,

    fn read_at(source: Source, offset: u64, buffer: []u8) FileError!usize {
        switch (source) {
            .file => |fd| return pread_all(fd, buffer, offset),
            .memory => |bytes| {
                if (offset >= bytes.len) return 0;
                const available = bytes[@intCast(offset)..];
                const count = @min(available.len, buffer.len);
                @memcpy(buffer[0..count], available[0..count]);
                return count;
            },
        }
    }
};

pub const ReadState = enum(u32) {
    reading = 0,
    /// The end chunk was read: the trace is complete.
    closed = 1,
    /// The file ends after a whole chunk without an end chunk (the collector stopped).
    not_closed = 2,
    /// Reading stopped at a truncated or corrupt chunk (see `failure`).
    failed = 3,
};

pub const Failure = struct {
    offset_bytes: u64,
    reason: Reason,
    /// What was found and what was expected, where the reason has numbers to show.
    found: u64 = 0,
    expected: u64 = 0,
};

pub const OpenError = FileError || HeaderError || error{OutOfMemory};

/// What `Reader.open` saw when the header was bad, for a message that says why.
pub const Diagnostic = struct { found: u64 = 0, expected: u64 = 0 };

pub const Reader = struct {
    source: Source,
    header_bytes: []align(8) u8,
    header: Header,
    chunk: []align(64) u8,
    /// Offset of the next chunk to load.
    offset_bytes: u64,
    sequence: u32,
    records_count: u64,
    record_chunk_count: u64,
    /// Records of the loaded chunk not yet returned: indexes [pending_begin, pending_end).
    pending_begin: u32,
    pending_end: u32,
    state: ReadState,
    end: ?EndTotals,
    failure: ?Failure,

    /// Takes ownership of `source` (closes a file in `deinit`, even when open fails).
    pub fn open(allocator: std.mem.Allocator, source: Source, diagnostic: *Diagnostic) OpenError!Reader {
        errdefer if (source == .file) {
            _ = std.c.close(source.file);
        };
        const header_bytes = try allocator.alignedAlloc(u8, .@"8", header_max_size_bytes);
        errdefer allocator.free(header_bytes);
        const header = try read_header(source, header_bytes, diagnostic);
        const chunk = try allocator.alignedAlloc(u8, .@"64", chunk_max_size_bytes);
        return .{
            .source = source,
            .header_bytes = header_bytes,
            .header = header,
            .chunk = chunk,
            .offset_bytes = header.fixed.header_size_bytes,
            .sequence = 0,
            .records_count = 0,
            .record_chunk_count = 0,
            .pending_begin = 0,
            .pending_end = 0,
            .state = .reading,
            .end = null,
            .failure = null,
        };
    }

    pub fn open_path(allocator: std.mem.Allocator, path: [*:0]const u8, diagnostic: *Diagnostic) OpenError!Reader {
        const fd = try open_file(path, .{ .ACCMODE = .RDONLY, .CLOEXEC = true });
        return open(allocator, .{ .file = fd }, diagnostic);
    }

    pub fn deinit(reader: *Reader, allocator: std.mem.Allocator) void {
        if (reader.source == .file) _ = std.c.close(reader.source.file);
        allocator.free(reader.header_bytes);
        allocator.free(reader.chunk);
        reader.* = undefined;
    }

    /// Copies the next records (whole 64-byte records, in file order) into `out` and
    /// returns how many; 0 once the file is done (see `state`, `end`, `failure`).
    pub fn next(reader: *Reader, out: []u8) u32 {
        const capacity: u32 = @intCast(@min(out.len / record_size_bytes, std.math.maxInt(u32)));
        var count: u32 = 0;
        while (count < capacity) {
            if (reader.pending_begin == reader.pending_end) {
                if (reader.state != .reading) break;
                reader.load_chunk();
                continue;
            }
            const take = @min(capacity - count, reader.pending_end - reader.pending_begin);
            const from = chunk_header_size_bytes + reader.pending_begin * record_size_bytes;
            const size = take * record_size_bytes;
            @memcpy(out[count * record_size_bytes ..][0..size], reader.chunk[from..][0..size]);
            reader.pending_begin += take;
            count += take;
        }
        assert(count <= capacity);
        assert(reader.pending_begin <= reader.pending_end);
        return count;
    }

    fn fail(reader: *Reader, failure: Failure) void {
        assert(reader.state == .reading);
        assert(failure.reason != .none);
        reader.state = .failed;
        reader.failure = failure;
    }

    fn load_chunk(reader: *Reader) void {
        assert(reader.state == .reading);
        assert(reader.pending_begin == reader.pending_end);
        const offset = reader.offset_bytes;
        const header_bytes = reader.chunk[0..chunk_header_size_bytes];
        const header_read = reader.source.read_at(offset, header_bytes) catch {
            return reader.fail(.{ .offset_bytes = offset, .reason = .read_failed });
        };
        if (header_read == 0) {
            reader.state = .not_closed;
            return;
        }
        if (header_read < chunk_header_size_bytes) {
            return reader.fail(.{ .offset_bytes = offset, .reason = .truncated_chunk_header });
        }
        const header = std.mem.bytesToValue(ChunkHeader, header_bytes);
        const header_reason = check_chunk_header(&header, reader.sequence, reader.header.fixed.chunk_records_max);
        if (header_reason != .none) {
            return reader.fail(.{
                .offset_bytes = offset,
                .reason = header_reason,
                .found = if (header_reason == .bad_chunk_sequence) header.sequence else 0,
                .expected = if (header_reason == .bad_chunk_sequence) reader.sequence else 0,
            });
        }
        const payload = reader.chunk[chunk_header_size_bytes..][0..header.payload_size_bytes];
        const payload_read = reader.source.read_at(offset + chunk_header_size_bytes, payload) catch {
            return reader.fail(.{ .offset_bytes = offset, .reason = .read_failed });
        };
        if (payload_read < payload.len) {
            return reader.fail(.{
                .offset_bytes = offset,
                .reason = .truncated_chunk_payload,
                .found = payload_read,
                .expected = payload.len,
            });
        }
        const payload_reason = check_chunk_payload(header_bytes, payload);
        if (payload_reason != .none) {
            return reader.fail(.{ .offset_bytes = offset, .reason = payload_reason });
        }
        reader.offset_bytes = offset + chunk_header_size_bytes + payload.len;
        reader.sequence += 1;
        switch (header.kind) {
            .records => {
                reader.pending_begin = 0;
                reader.pending_end = header.record_count;
                reader.records_count += header.record_count;
                reader.record_chunk_count += 1;
            },
            .end => reader.load_end(std.mem.bytesToValue(EndTotals, payload), offset),
            _ => unreachable,
        }
    }

    fn load_end(reader: *Reader, totals: EndTotals, offset: u64) void {
        if (totals.records_in_file_count != reader.records_count) {
            return reader.fail(.{
                .offset_bytes = offset,
                .reason = .bad_end_totals,
                .found = totals.records_in_file_count,
                .expected = reader.records_count,
            });
        }
        if (totals.record_chunk_count != reader.record_chunk_count) {
            return reader.fail(.{
                .offset_bytes = offset,
                .reason = .bad_end_totals,
                .found = totals.record_chunk_count,
                .expected = reader.record_chunk_count,
            });
        }
        reader.end = totals;
        var probe: [1]u8 = undefined;
        const after = reader.source.read_at(reader.offset_bytes, &probe) catch {
            return reader.fail(.{ .offset_bytes = reader.offset_bytes, .reason = .read_failed });
        };
        if (after != 0) return reader.fail(.{ .offset_bytes = reader.offset_bytes, .reason = .data_after_end });
        reader.state = .closed;
    }
};

fn read_header(source: Source, buffer: []align(8) u8, diagnostic: *Diagnostic) (FileError || HeaderError)!Header {
    assert(buffer.len == header_max_size_bytes);
    const prefix_read = try source.read_at(0, buffer[0..header_fixed_size_bytes]);
    const fixed = check_header_prefix(buffer[0..prefix_read]) catch |err| {
        if (err == error.UnsupportedFormatVersion) {
            diagnostic.* = .{ .found = std.mem.readInt(u32, buffer[8..12], .little), .expected = format_version };
        }
        if (err == error.HeaderTruncated) diagnostic.* = .{ .found = prefix_read, .expected = header_fixed_size_bytes };
        return err;
    };
    const size = fixed.header_size_bytes;
    const rest_read = try source.read_at(prefix_read, buffer[prefix_read..size]);
    if (prefix_read + rest_read < size) {
        diagnostic.* = .{ .found = prefix_read + rest_read, .expected = size };
        return error.HeaderTruncated;
    }
    return check_header(buffer[0..size]) catch |err| {
        if (err == error.HeaderChecksumMismatch) diagnostic.* = .{ .found = fixed.checksum, .expected = Crc.hash(buffer[16..size]) };
        if (err == error.UnsupportedRecordLayout) {
            diagnostic.* = .{ .found = fixed.record_layout_version, .expected = layout.record_layout_version };
        }
        return err;
    };
}

// ---------------------------------------------------------------------------------------
// Tests

const testing = std.testing;

test {
    _ = codec;
}

var test_file_counter: u32 = 0;

/// A unique path under /tmp for one test; the caller unlinks it.
fn test_path(buffer: *[96]u8) [*:0]const u8 {
    test_file_counter += 1;
    const path = std.mem.printSentinel(buffer, "/tmp/scope-trace-test-{d}-{d}.bin", .{
        std.c.getpid(),
        test_file_counter,
    }, 0) catch unreachable;
    return path.ptr;
}

fn test_read_file(allocator: std.mem.Allocator, path: [*:0]const u8) ![]u8 {
    const fd = try open_file(path, .{ .ACCMODE = .RDONLY, .CLOEXEC = true });
    defer _ = std.c.close(fd);
    const size = std.c.lseek(fd, 0, std.c.SEEK.END);
    try testing.expect(size >= 0);
    const bytes = try allocator.alloc(u8, @intCast(size));
    errdefer allocator.free(bytes);
    try testing.expectEqual(bytes.len, try pread_all(fd, bytes, 0));
    return bytes;
}

fn test_random_records(allocator: std.mem.Allocator, random: std.Random, count: usize) ![]align(8) u8 {
    const bytes = try allocator.alignedAlloc(u8, .@"8", count * record_size_bytes);
    for (0..count) |index| {
        const record = codec.random_record(random);
        codec.encode(&record, bytes[index * record_size_bytes ..][0..record_size_bytes]);
    }
    return bytes;
}

const test_options: HeaderOptions = .{
    .host = "testhost",
    .argv = "node\x00app.js\x00\x00--flag=1\x00",
    .monotonic_anchor_ns = 123_456_789,
    .realtime_anchor_ns = 1_700_000_000_000_000_000,
    .collector_pid = 4242,
};

const test_totals: EndTotals = .{
    .written_count = 7,
    .dropped_count = 2,
    .overwritten_count = 1,
    .collector_count = 5,
    .records_in_file_count = 0,
    .record_chunk_count = 0,
    .closed_monotonic_ns = 99,
    .reserved = 0,
};

/// Writes `records` in appends of the given sizes (in records); closes unless `close` is false.
fn test_write(path: [*:0]const u8, records: []const u8, append_counts: []const usize, close: bool) !void {
    var writer = try Writer.open(testing.allocator, path, test_options);
    defer writer.deinit(testing.allocator);
    var offset: usize = 0;
    for (append_counts) |count| {
        try writer.append(records[offset..][0 .. count * record_size_bytes]);
        offset += count * record_size_bytes;
    }
    try testing.expectEqual(records.len, offset);
    if (close) try writer.close(test_totals);
}

/// Reads everything a reader yields, in odd batch sizes to exercise partial chunks.
fn test_read_all(reader: *Reader, out: []u8) usize {
    var batch: [7 * record_size_bytes]u8 = undefined;
    var size: usize = 0;
    while (true) {
        const count = reader.next(&batch);
        if (count == 0) break;
        const bytes = count * record_size_bytes;
        @memcpy(out[size..][0..bytes], batch[0..bytes]);
        size += bytes;
    }
    assert(reader.state != .reading);
    return size;
}

fn zero_sequences(records: []u8) void {
    for (std.mem.bytesAsSlice(layout.Record, @as([]align(1) u8, records))) |*record| record.seq = 0;
}

test "trace_file: the reservation past the end runs ahead in steps: one fallocate for many chunks, never less than a chunk and the end room held" {
    const allocator = testing.allocator;
    var path_buffer: [96]u8 = undefined;
    const path = test_path(&path_buffer);
    defer _ = std.c.unlink(path);
    var writer = try Writer.open(allocator, path, test_options);
    defer writer.deinit(allocator);
    // /tmp takes fallocate (ext4, tmpfs): a reservation from the start.
    try testing.expect(writer.reserved_until >= writer.size_bytes + Writer.reserve_bytes);
    var record = std.mem.zeroes(layout.Record);
    var moves: u32 = 0;
    // Small chunks (a trickle: one drain, one record) and whole ones, past two steps.
    const whole = try allocator.alloc(layout.Record, chunk_records_max);
    defer allocator.free(whole);
    @memset(whole, std.mem.zeroes(layout.Record));
    var chunks: u32 = 0;
    while (writer.size_bytes < 2 * Writer.reserve_step_bytes + Writer.reserve_bytes) : (chunks += 1) {
        const reserved_before = writer.reserved_until;
        record.timestamp_ns = chunks + 1;
        if (chunks % 2 == 0) try writer.append(std.mem.asBytes(&record)) else try writer.append(std.mem.sliceAsBytes(whole));
        if (writer.reserved_until != reserved_before) moves += 1;
        // What the next chunk and the end need is always held.
        try testing.expect(writer.reserved_until >= writer.size_bytes + Writer.reserve_bytes);
    }
    // One fallocate a chunk would move it every chunk.
    try testing.expect(chunks > 20);
    try testing.expect(moves <= 3);
    const size = writer.size_bytes;
    try writer.close(test_totals);
    // The reservation is cut at the end: the file is exactly what was written.
    const bytes = try test_read_file(allocator, path);
    defer allocator.free(bytes);
    try testing.expectEqual(size + chunk_header_size_bytes + end_payload_size_bytes, bytes.len);
}

test "trace_file: records, header and totals read back exactly as written" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(1);
    const records = try test_random_records(allocator, prng.random(), 10_000);
    defer allocator.free(records);
    var path_buffer: [96]u8 = undefined;
    const path = test_path(&path_buffer);
    defer _ = std.c.unlink(path);
    try test_write(path, records, &.{ 1, 4095, 4096, 1808, 0 }, true);

    var diagnostic: Diagnostic = .{};
    var reader = try Reader.open_path(allocator, path, &diagnostic);
    defer reader.deinit(allocator);
    try testing.expectEqualStrings("testhost", reader.header.host);
    try testing.expectEqualStrings(test_options.argv, reader.header.argv);
    try testing.expectEqual(@as(u32, 4), reader.header.fixed.argv_count);
    try testing.expectEqual(test_options.monotonic_anchor_ns, reader.header.fixed.monotonic_anchor_ns);
    try testing.expectEqual(test_options.realtime_anchor_ns, reader.header.fixed.realtime_anchor_ns);
    try testing.expectEqual(@as(u32, 4242), reader.header.fixed.collector_pid);

    const read = try allocator.alloc(u8, records.len);
    defer allocator.free(read);
    try testing.expectEqual(records.len, test_read_all(&reader, read));
    zero_sequences(records);
    try testing.expectEqualSlices(u8, records, read);
    try testing.expectEqual(ReadState.closed, reader.state);
    try testing.expect(reader.failure == null);
    var expected_totals = test_totals;
    expected_totals.records_in_file_count = 10_000;
    // Each append of at most chunk_records_max records is one chunk.
    expected_totals.record_chunk_count = 4;
    try testing.expectEqual(expected_totals, reader.end.?);
}

test "trace_file: an append larger than a chunk is split; no end chunk reads as not closed" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(2);
    const records = try test_random_records(allocator, prng.random(), chunk_records_max * 2 + 3);
    defer allocator.free(records);
    var path_buffer: [96]u8 = undefined;
    const path = test_path(&path_buffer);
    defer _ = std.c.unlink(path);
    try test_write(path, records, &.{chunk_records_max * 2 + 3}, false);

    var diagnostic: Diagnostic = .{};
    var reader = try Reader.open_path(allocator, path, &diagnostic);
    defer reader.deinit(allocator);
    const read = try allocator.alloc(u8, records.len);
    defer allocator.free(read);
    try testing.expectEqual(records.len, test_read_all(&reader, read));
    zero_sequences(records);
    try testing.expectEqualSlices(u8, records, read);
    try testing.expectEqual(ReadState.not_closed, reader.state);
    try testing.expect(reader.end == null);
    try testing.expectEqual(@as(u64, 3), reader.record_chunk_count);
}

test "trace_file: bad headers are errors that say why" {
    const allocator = testing.allocator;
    var diagnostic: Diagnostic = .{};
    try testing.expectError(error.EmptyFile, Reader.open(allocator, .{ .memory = "" }, &diagnostic));
    const text: [260]u8 = @splat('x');
    try testing.expectError(error.NotATrace, Reader.open(allocator, .{ .memory = &text }, &diagnostic));
    try testing.expectError(error.NotATrace, Reader.open(allocator, .{ .memory = "SCOPE" }, &diagnostic));
    try testing.expectError(error.HeaderTruncated, Reader.open(allocator, .{ .memory = "SCOPETRC\x01\x00\x00\x00" }, &diagnostic));
    try testing.expectError(error.UnsupportedFormatVersion, Reader.open(allocator, .{ .memory = "SCOPETRC\x07\x00\x00\x00" }, &diagnostic));
    try testing.expectEqual(Diagnostic{ .found = 7, .expected = format_version }, diagnostic);
    try testing.expectError(error.FileNotFound, Reader.open_path(allocator, "/nonexistent/scope/trace.bin", &diagnostic));
    try testing.expectError(error.IsDirectory, Reader.open_path(allocator, "/tmp", &diagnostic));

    var header_buffer: [header_max_size_bytes]u8 align(8) = undefined;
    const header = encode_header(&header_buffer, test_options);
    try testing.expectEqual(@as(usize, 192), header.len);
    _ = try check_header(header);
    header[50] ^= 1; // inside collector_pid: only the checksum can tell
    try testing.expectError(error.HeaderChecksumMismatch, Reader.open(allocator, .{ .memory = header }, &diagnostic));
    header[50] ^= 1;
    // Record layout versions: the oldest (1) to this one (2) read; others are refused, saying which.
    for ([_]u32{ 0, 1, 2, 3 }) |version| {
        std.mem.writeInt(u32, header[20..24], version, .little);
        std.mem.writeInt(u32, header[12..16], Crc.hash(header[16..]), .little);
        if (version >= layout.record_layout_version_oldest and version <= layout.record_layout_version) {
            _ = try check_header(header);
        } else {
            try testing.expectError(error.UnsupportedRecordLayout, Reader.open(allocator, .{ .memory = header }, &diagnostic));
            try testing.expectEqual(Diagnostic{ .found = version, .expected = layout.record_layout_version }, diagnostic);
        }
    }
    std.mem.writeInt(u32, header[20..24], layout.record_layout_version, .little);
    std.mem.writeInt(u32, header[12..16], Crc.hash(header[16..]), .little);
    try testing.expectError(error.HeaderTruncated, Reader.open(allocator, .{ .memory = header[0..150] }, &diagnostic));
    try testing.expectEqual(Diagnostic{ .found = 150, .expected = 192 }, diagnostic);
    var reader = try Reader.open(allocator, .{ .memory = header }, &diagnostic);
    defer reader.deinit(allocator);
    var out: [record_size_bytes]u8 = undefined;
    try testing.expectEqual(@as(u32, 0), reader.next(&out));
    try testing.expectEqual(ReadState.not_closed, reader.state);
}

test "trace_file: a command line longer than the header allows loses whole arguments" {
    var argv_buffer: [argv_max_bytes + 200]u8 = undefined;
    @memset(&argv_buffer, 'x');
    argv_buffer[99] = 0; // argument 1: 99 bytes
    argv_buffer[argv_max_bytes - 2] = 0; // argument 2 ends inside the limit
    argv_buffer[argv_buffer.len - 1] = 0; // argument 3 crosses it
    var options = test_options;
    options.argv = &argv_buffer;
    const long_host: [300]u8 = @splat('h');
    options.host = &long_host;
    var header_buffer: [header_max_size_bytes]u8 align(8) = undefined;
    const header = try check_header(encode_header(&header_buffer, options));
    try testing.expectEqual(@as(u32, 2), header.fixed.argv_count);
    try testing.expectEqual(argv_max_bytes - 1, header.fixed.argv_size_bytes);
    try testing.expectEqual(header_flag_argv_truncated, header.fixed.flags);
    try testing.expectEqual(@as(usize, host_max_bytes), header.host.len);
}

/// Reads `bytes` to the end and checks the reader's promises: what it yields is a prefix
/// of `expected` (whole records), and it ends closed, not closed or failed with an
/// offset inside the file. Returns the state (or null when the header was refused).
fn test_check_damaged(bytes: []const u8, expected: []const u8, out: []u8) !?ReadState {
    var diagnostic: Diagnostic = .{};
    var reader = Reader.open(testing.allocator, .{ .memory = bytes }, &diagnostic) catch |err| switch (err) {
        error.OutOfMemory, error.FileNotFound, error.AccessDenied, error.IsDirectory => return err,
        error.NoSpaceLeft, error.QuotaExceeded, error.FileTooBig, error.InputOutput, error.ReadOnlyFileSystem => return err,
        else => return null,
    };
    defer reader.deinit(testing.allocator);
    const size = test_read_all(&reader, out);
    try testing.expect(size <= expected.len);
    try testing.expectEqualSlices(u8, expected[0..size], out[0..size]);
    switch (reader.state) {
        .reading => unreachable,
        .closed, .not_closed => try testing.expect(reader.failure == null),
        .failed => {
            try testing.expect(reader.failure.?.offset_bytes <= bytes.len);
            try testing.expect(reader.failure.?.reason != .none);
        },
    }
    return reader.state;
}

test "trace_file: every truncation and every single-byte change is detected" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(3);
    const records = try test_random_records(allocator, prng.random(), 12);
    defer allocator.free(records);
    var path_buffer: [96]u8 = undefined;
    const path = test_path(&path_buffer);
    defer _ = std.c.unlink(path);
    try test_write(path, records, &.{ 5, 1, 6 }, true);
    zero_sequences(records);
    const file = try test_read_file(allocator, path);
    defer allocator.free(file);
    const out = try allocator.alloc(u8, records.len);
    defer allocator.free(out);
    try testing.expectEqual(ReadState.closed, (try test_check_damaged(file, records, out)).?);

    // Whole chunks end at these offsets; a cut there is a trace that was not closed.
    const header_size = 192;
    const boundaries = [_]usize{ header_size, header_size + 64 * 6, header_size + 64 * 8, header_size + 64 * 15 };
    for (0..file.len) |length| {
        const state = try test_check_damaged(file[0..length], records, out);
        if (length < header_size) {
            try testing.expect(state == null);
        } else if (std.mem.indexOfScalar(usize, &boundaries, length) != null) {
            try testing.expectEqual(ReadState.not_closed, state.?);
        } else {
            try testing.expectEqual(ReadState.failed, state.?);
        }
    }
    const damaged = try allocator.dupe(u8, file);
    defer allocator.free(damaged);
    for (0..file.len) |position| {
        for ([_]u8{ 0x01, 0x80, 0xff }) |mask| {
            damaged[position] ^= mask;
            defer damaged[position] ^= mask;
            const state = try test_check_damaged(damaged, records, out);
            try testing.expect(state == null or state.? == .failed);
        }
    }
}

test "trace_file: the reader survives random damage and random input (fuzz)" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(4);
    const random = prng.random();
    const records = try test_random_records(allocator, random, 300);
    defer allocator.free(records);
    var path_buffer: [96]u8 = undefined;
    const path = test_path(&path_buffer);
    defer _ = std.c.unlink(path);
    try test_write(path, records, &.{ 100, 17, 1, 182 }, true);
    zero_sequences(records);
    const file = try test_read_file(allocator, path);
    defer allocator.free(file);
    const damaged = try allocator.alloc(u8, file.len + 4096);
    defer allocator.free(damaged);
    const out = try allocator.alloc(u8, records.len);
    defer allocator.free(out);

    // SCOPE_FUZZ_CASES=1000000 zig build test runs longer.
    const cases = if (std.c.getenv("SCOPE_FUZZ_CASES")) |text|
        std.fmt.parseInt(u32, std.mem.span(text), 10) catch 2_000
    else
        2_000;
    for (0..cases) |_| {
        var length = file.len;
        @memcpy(damaged[0..file.len], file);
        switch (random.uintLessThan(u8, 4)) {
            0 => length = random.uintLessThan(usize, file.len),
            1 => for (0..1 + random.uintLessThan(u8, 8)) |_| {
                damaged[random.uintLessThan(usize, length)] = random.int(u8);
            },
            2 => {
                // A run of garbage, maybe past the end.
                const start = random.uintLessThan(usize, length);
                const size = random.uintLessThan(usize, 200);
                random.bytes(damaged[start..][0..size]);
                length = @max(length, start + size);
            },
            else => {
                // Pure noise after a valid magic and version.
                length = random.uintLessThan(usize, damaged.len);
                random.bytes(damaged[12..@max(12, length)]);
            },
        }
        _ = try test_check_damaged(damaged[0..length], records, out);
    }
}
