//! Endings the processes could not record: the collector's watch over the traced
//! processes (ARCHITECTURE.md "Exits: every ending in the trace", "The collector's endings").
//!
//! A process records its own end (`process_exit`) from its runtime's exit paths. A process
//! killed by a signal it does not handle (SIGKILL, the OOM killer), ended by native code
//! (abort, a crash) or by a runtime that does not tell (Bun's `bun test`), or that exec()ed
//! another program, records none. Its traced parent's `child_exit` would say how it ended,
//! but its parent may not be traced (npm's `sh`, a shell, a supervisor). So the drain
//! thread watches every process it saw start (a main thread's `trace_start`): a pidfd each
//! (Linux 5.3: readable once the process has ended, its child or not), polled with one
//! `poll` of timeout 0 at most every `check_interval_ns`, never on the producers' path.
//! When one is readable, the process's status is read from /proc/<pid>/stat's exit_code
//! while it is a zombie its parent has not reaped (pidfd_send_signal 0 still reaching it
//! proves the file was that process's); otherwise the status is unknown. The check comes
//! before a drain and the verdict after it: a process that ended has nothing left to
//! write, so a `process_exit` it wrote is drained by then and nothing more is recorded.
//! Without one, the collector writes a `process_exit` on the process's behalf (its pid,
//! tid 0, stamped when it noticed; flags `exit_flag_collector`, `exit_flag_unknown`
//! without a status); with one whose status the zombie contradicts (Bun: an unanswered
//! Bun.serve handler's throw exits 1 after 'exit' saw 0), one more with
//! `exit_flag_corrects`. The top process is `scope run`'s own child, whose real status
//! its reaper knows: the thread leaves it alone (`root_pid`) and src/run/collector.ts
//! writes its ending.
const std = @import("std");
const assert = std.debug.assert;
const linux = std.os.linux;
const layout = @import("layout.zig");
const clock = @import("clock.zig");
const proc_stat = @import("proc_stat.zig");

const Record = layout.Record;

/// The processes watched at once; more are not watched (their ends are settled at the
/// run's end by src/run/collector.ts, "noticed" then).
pub const processes_max: u32 = 4096;
/// How often the pidfds are polled: a process's ending is noticed at most this late.
pub const check_interval_ns: u64 = 20 * std.time.ns_per_ms;
/// How long a verdict waits after the check that found the process gone: a lane shared with
/// another producer stops the drain at a slot that producer is writing, and the gone
/// process's last records behind it come on the next turn.
pub const verdict_delay_ns: u64 = check_interval_ns;
/// How long a process found gone without a status waits for its traced parent's child_exit.
pub const parent_grace_ns: u64 = 200 * std.time.ns_per_ms;

pub const State = enum(u8) {
    /// Running, as far as the collector knows.
    open = 0,
    /// Running; its own `process_exit` is in the trace.
    ended = 1,
    /// Found gone by a check, no `process_exit` of its own drained: the verdict waits
    /// for the drain after the check.
    gone = 2,
    /// Found gone, its own `process_exit` drained.
    gone_ended = 3,
    /// Its ending is in the trace (its own, the collector's, or both).
    settled = 4,
};

pub const Status = struct {
    known: bool = false,
    /// Exit code when `signal` is 0.
    code: u32 = 0,
    signal: u32 = 0,

    /// From a wait status (/proc/<pid>/stat exit_code).
    pub fn from_wait(status: u32) Status {
        const signal = status & 0x7f;
        if (signal != 0) return .{ .known = true, .signal = signal };
        return .{ .known = true, .code = (status >> 8) & 0xff };
    }
};

const Reaped = struct {
    pid: u32 = 0,
    timestamp_ns: u64 = 0,
    status: Status = .{},
};

pub const Entry = struct {
    pid: u32,
    /// pidfd, or -1 where none could be had (then a kill 0 tells whether it lives).
    fd: i32,
    state: State = .open,
    /// Its own process_exit: code (field a, two's complement), signal (field b), time.
    own_code: u64 = 0,
    own_signal: u64 = 0,
    own_ns: u64 = 0,
    /// Set by a check that found it gone.
    status: Status = .{},
    /// Its traced parent's `child_exit` for it, when one was drained.
    parent_status: Status = .{},
    /// Its trace_start's time: a child_exit naming its pid from before is another process's.
    start_ns: u64 = 0,
    /// What the collector wrote for it: 0 nothing, 1 its ending with the status, 2 its
    /// ending, status unknown, 3 a correction of its own.
    wrote: u8 = 0,
    noticed_ns: u64 = 0,
};

pub const Endings = struct {
    entries: []Entry,
    count: u32 = 0,
    pollfds: []linux.pollfd,
    /// Which entry each pollfd is.
    poll_entries: []u32,
    last_check_ns: u64 = 0,
    /// Entries found gone by the last check, waiting for the drain after it.
    gone_pending: u32 = 0,
    /// The top process (scope run reaps it and writes its ending); 0 until told.
    root_pid: std.atomic.Value(u32) = .init(0),
    /// Off when the program's process events are not recorded (scope run --events without
    /// `process`): their ends are then left out on purpose.
    enabled: std.atomic.Value(bool) = .init(true),
    /// Off when the workers' own ends are not recorded (--events without `thread`): then
    /// none is written for them either (the collector's end_threads asks).
    workers_enabled: std.atomic.Value(bool) = .init(true),
    /// The latest traced parents' child_exit records (a ring): a child's start drained after
    /// its parent's child_exit still finds its status here.
    reaped: [64]Reaped = @splat(.{}),
    reaped_next: u64 = 0,
    /// Processes not watched for want of room (4096 alive at once).
    unwatched: u64 = 0,
    /// Processes seen start (watched).
    started: u64 = 0,
    /// Endings the collector wrote during the run: with a status, unknown, corrections.
    wrote_status: u64 = 0,
    wrote_unknown: u64 = 0,
    wrote_corrections: u64 = 0,
    /// Workers' endings the collector wrote: with their process (collector.zig end_threads),
    /// from their parent's thread_exited (settle_exited).
    wrote_threads: u64 = 0,
    wrote_terminated: u64 = 0,

    pub fn init(allocator: std.mem.Allocator) error{OutOfMemory}!Endings {
        const entries = try allocator.alloc(Entry, processes_max);
        errdefer allocator.free(entries);
        const pollfds = try allocator.alloc(linux.pollfd, processes_max);
        errdefer allocator.free(pollfds);
        const poll_entries = try allocator.alloc(u32, processes_max);
        return .{ .entries = entries, .pollfds = pollfds, .poll_entries = poll_entries };
    }

    pub fn deinit(endings: *Endings, allocator: std.mem.Allocator) void {
        for (endings.entries[0..endings.count]) |*entry| close_fd(entry);
        allocator.free(endings.entries);
        allocator.free(endings.pollfds);
        allocator.free(endings.poll_entries);
    }

    /// Takes note of the starts and ends in drained records (a drain's accounting).
    pub fn note(endings: *Endings, record: *const Record) void {
        if (record.kind == @intFromEnum(layout.EventKind.child_exit)) {
            // A traced parent reaped it: the status, for a child found gone without one. Kept
            // aside too: the parent's lane may be drained before the child's start is.
            const status: Status = if (record.c != 0) .{ .known = true, .signal = @truncate(record.c) } else if (record.b == std.math.maxInt(u64)) .{} else .{ .known = true, .code = @truncate(record.b & 0xff) };
            endings.reaped[endings.reaped_next % endings.reaped.len] = .{ .pid = @truncate(record.a), .timestamp_ns = record.timestamp_ns, .status = status };
            endings.reaped_next += 1;
            const entry = endings.find(@truncate(record.a)) orelse return;
            entry.parent_status = status;
            return;
        }
        if (record.tid != 0) return;
        if (record.kind == @intFromEnum(layout.EventKind.trace_start)) {
            if (!endings.enabled.load(.monotonic)) return;
            if (record.e != 1) return;
            // A second start of a live pid (a bun --watch restart, an exec()ed node) is the same process.
            const slot = if (endings.find(record.pid)) |entry| (if (entry.state == .settled) entry else return) else endings.free_slot() orelse {
                endings.unwatched += 1;
                return;
            };
            // A new process, or a pid used again after its last one's ending was settled.
            slot.* = .{ .pid = record.pid, .fd = open_pidfd(record.pid), .start_ns = record.timestamp_ns };
            endings.started += 1;
        } else if (record.kind == @intFromEnum(layout.EventKind.process_exit)) {
            // The collector's own (a flight window replaying them) are not the process's.
            if (record.flags & layout.exit_flag_collector != 0) return;
            const entry = endings.find(record.pid) orelse return;
            entry.state = switch (entry.state) {
                .open, .ended => .ended,
                // Found gone before this drain: the verdict after it sees its own ending.
                .gone, .gone_ended => .gone_ended,
                .settled => return,
            };
            entry.own_code = record.a;
            entry.own_signal = record.b;
            entry.own_ns = record.timestamp_ns;
        }
    }

    /// The newest child_exit kept aside naming this process (after its start), if any.
    fn reaped_status(endings: *Endings, entry: *const Entry) Status {
        const kept = @min(endings.reaped_next, endings.reaped.len);
        var i: u64 = 0;
        while (i < kept) : (i += 1) {
            const reaped = endings.reaped[(endings.reaped_next - 1 - i) % endings.reaped.len];
            if (reaped.pid == entry.pid and reaped.timestamp_ns >= entry.start_ns) return reaped.status;
        }
        return .{};
    }

    /// A slot for a new process: the next unused one, else one whose process is settled
    /// (a long run's thousands of processes reuse them); null when all watch a live process.
    fn free_slot(endings: *Endings) ?*Entry {
        if (endings.count < endings.entries.len) {
            endings.count += 1;
            return &endings.entries[endings.count - 1];
        }
        for (endings.entries) |*entry| {
            if (entry.state == .settled) return entry;
        }
        return null;
    }

    pub fn find(endings: *Endings, pid: u32) ?*Entry {
        // Newest first: a process's records follow its start.
        var i = endings.count;
        while (i > 0) {
            i -= 1;
            if (endings.entries[i].pid == pid) return &endings.entries[i];
        }
        return null;
    }

    /// Before a drain: which watched processes are gone (at most every check_interval_ns,
    /// unless `now`: the drain thread's last turn).
    pub fn check(endings: *Endings, now_ns: u64, now: bool) void {
        if (!now and now_ns -| endings.last_check_ns < check_interval_ns) return;
        endings.last_check_ns = now_ns;
        const root = endings.root_pid.load(.acquire);
        var polled: u32 = 0;
        for (endings.entries[0..endings.count], 0..) |*entry, index| {
            if (entry.state != .open and entry.state != .ended) continue;
            if (entry.pid == root) continue;
            if (entry.fd < 0) {
                // No pidfd (pidfd_open refused, or ESRCH: gone before it was seen).
                if (!alive(entry.pid)) endings.mark_gone(entry, .{}, now_ns);
                continue;
            }
            endings.pollfds[polled] = .{ .fd = entry.fd, .events = linux.POLL.IN };
            endings.poll_entries[polled] = @intCast(index);
            polled += 1;
        }
        if (polled == 0) return;
        const rc = linux.poll(endings.pollfds.ptr, polled, 0);
        if (linux.errno(rc) != .SUCCESS or rc == 0) return;
        for (endings.pollfds[0..polled], endings.poll_entries[0..polled]) |pollfd, index| {
            if (pollfd.revents == 0) continue;
            const entry = &endings.entries[index];
            endings.mark_gone(entry, zombie_status(entry.pid, entry.fd), now_ns);
        }
    }

    fn mark_gone(endings: *Endings, entry: *Entry, status: Status, now_ns: u64) void {
        close_fd(entry);
        entry.status = status;
        entry.noticed_ns = now_ns;
        entry.state = if (entry.state == .ended) .gone_ended else .gone;
        endings.gone_pending += 1;
    }

    /// After the drain that followed a check: the endings the gone processes did not
    /// record, as records for `emit` (an ending, or a correction of their own). One gone
    /// with no status of its own waits up to `parent_grace_ns` for a traced parent's
    /// `child_exit` naming it (the parent reaps, then records), unless `now` (the thread's
    /// last turn). A process that recorded its own ending is passed to `end_workers` (when
    /// given) with its status, stamped at its own ending: its workers that recorded none (a
    /// worker still running at `process.exit()`, one being started, one traced by scope
    /// attach) ended with it; the emitted endings end theirs as the caller does it.
    pub fn settle(
        endings: *Endings,
        now_ns: u64,
        now: bool,
        context: anytype,
        comptime emit: fn (@TypeOf(context), *const Record) void,
        comptime end_workers: ?fn (@TypeOf(context), *const Record) void,
    ) void {
        if (endings.gone_pending == 0) return;
        var waiting: u32 = 0;
        for (endings.entries[0..endings.count]) |*entry| {
            switch (entry.state) {
                .gone => {
                    const status = if (entry.status.known) entry.status else if (entry.parent_status.known) entry.parent_status else endings.reaped_status(entry);
                    // Every verdict waits a turn: a lane it shared with a producer caught
                    // mid-write holds its last records back until that write completes.
                    const wait_ns = if (status.known) verdict_delay_ns else parent_grace_ns;
                    if (!now and now_ns -| entry.noticed_ns < wait_ns) {
                        waiting += 1;
                        continue;
                    }
                    // No process_exit of its own was drained: the collector's, on its behalf.
                    var record = ending_record(entry.pid, entry.noticed_ns, status);
                    emit(context, &record);
                    if (status.known) endings.wrote_status += 1 else endings.wrote_unknown += 1;
                    entry.wrote = if (status.known) 1 else 2;
                    entry.state = .settled;
                },
                .gone_ended => {
                    // A worker's own thread_exit behind a shared lane's write in progress
                    // comes a turn later, as a process's last records do (above).
                    if (end_workers != null and !now and now_ns -| entry.noticed_ns < verdict_delay_ns) {
                        waiting += 1;
                        continue;
                    }
                    if (entry.status.known and !agrees(entry.*)) {
                        var record = ending_record(entry.pid, entry.noticed_ns, entry.status);
                        record.flags |= layout.exit_flag_corrects;
                        emit(context, &record);
                        endings.wrote_corrections += 1;
                        entry.wrote = 3;
                    }
                    if (end_workers) |end| {
                        const status: Status = if (entry.status.known) entry.status else own_status(entry.*);
                        var record = ending_record(entry.pid, @max(entry.own_ns, entry.start_ns), status);
                        end(context, &record);
                    }
                    entry.state = .settled;
                },
                else => {},
            }
        }
        endings.gone_pending = waiting;
    }
};

/// The status a process's own process_exit gave.
fn own_status(entry: Entry) Status {
    if (entry.own_signal != 0) return .{ .known = true, .signal = @truncate(entry.own_signal) };
    return .{ .known = true, .code = @as(u8, @truncate(entry.own_code)) };
}

/// Whether a process's own process_exit says what the system says.
fn agrees(entry: Entry) bool {
    if (entry.status.signal != 0) return entry.own_signal == entry.status.signal;
    return entry.own_signal == 0 and @as(u8, @truncate(entry.own_code)) == entry.status.code;
}

/// The collector's process_exit for `pid`: its pid, tid 0, stamped when noticed; a = exit
/// code, b = signal, e = ExitReason (signal when killed); no strings. Without a status:
/// exit_flag_unknown, a = b = 0, e = normal.
pub fn ending_record(pid: u32, noticed_ns: u64, status: Status) Record {
    var record = std.mem.zeroes(Record);
    record.kind = @intFromEnum(layout.EventKind.process_exit);
    record.flags = layout.exit_flag_collector;
    record.timestamp_ns = noticed_ns;
    record.pid = pid;
    if (!status.known) {
        record.flags |= layout.exit_flag_unknown;
    } else if (status.signal != 0) {
        record.b = status.signal;
        record.e = @intFromEnum(layout.ExitReason.signal);
    } else {
        record.a = status.code;
    }
    return record;
}

fn open_pidfd(pid: u32) i32 {
    const rc = linux.pidfd_open(@intCast(pid), 0);
    if (linux.errno(rc) != .SUCCESS) return -1;
    const fd: i32 = @intCast(rc);
    // Close-on-exec: pidfd_open sets it (Linux makes every pidfd O_CLOEXEC).
    return fd;
}

fn close_fd(entry: *Entry) void {
    if (entry.fd >= 0) _ = linux.close(entry.fd);
    entry.fd = -1;
}

fn alive(pid: u32) bool {
    const rc = linux.syscall2(.kill, pid, 0);
    return linux.errno(rc) != .SRCH;
}

/// The wait status of an ended process its parent has not reaped yet: /proc/<pid>/stat's
/// exit_code (field 52) while its state is Z, and only if the pidfd still reaches it
/// after the read (so the file was that process's, not a later one's with its pid).
fn zombie_status(pid: u32, pidfd: i32) Status {
    var buffer: [1024]u8 = undefined;
    const text = proc_stat.read(pid, &buffer) orelse return .{};
    const status = parse_stat_exit(text) orelse return .{};
    const signal_rc = linux.syscall4(.pidfd_send_signal, @as(u32, @bitCast(pidfd)), 0, 0, 0);
    if (linux.errno(signal_rc) != .SUCCESS) return .{};
    return Status.from_wait(status);
}

/// A zombie's wait status from the text of /proc/<pid>/stat; null for another state.
pub fn parse_stat_exit(text: []const u8) ?u32 {
    var fields = std.mem.tokenizeAny(u8, proc_stat.fields(text) orelse return null, " \n");
    const state = fields.next() orelse return null;
    if (state.len != 1 or state[0] != 'Z') return null;
    // Field 3 is the state; exit_code is field 52.
    var index: u32 = 3;
    while (fields.next()) |field| {
        index += 1;
        if (index == 52) return std.fmt.parseInt(u32, field, 10) catch null;
    }
    return null;
}

const testing = std.testing;

test "parse_stat_exit: a zombie's wait status, nothing for a live process" {
    var fields: [49][]const u8 = @splat("0");
    fields[48] = "9";
    var text: std.ArrayList(u8) = .empty;
    defer text.deinit(testing.allocator);
    try text.appendSlice(testing.allocator, "123 (a (b) c) Z");
    for (fields) |field| {
        try text.append(testing.allocator, ' ');
        try text.appendSlice(testing.allocator, field);
    }
    try text.append(testing.allocator, '\n');
    try testing.expectEqual(@as(?u32, 9), parse_stat_exit(text.items));
    try testing.expectEqual(Status{ .known = true, .signal = 9 }, Status.from_wait(9));
    try testing.expectEqual(Status{ .known = true, .code = 1 }, Status.from_wait(256));
    text.items[14] = 'S';
    try testing.expectEqual(@as(?u32, null), parse_stat_exit(text.items));
}

test "a process gone without its process_exit gets the collector's; one with its own gets none" {
    var endings = try Endings.init(testing.allocator);
    defer endings.deinit(testing.allocator);
    var start = std.mem.zeroes(Record);
    start.kind = @intFromEnum(layout.EventKind.trace_start);
    start.e = 1;
    // pid 0x7fff_fff0: no such process (above pid_max), so gone at the first check.
    start.pid = 0x7fff_fff0;
    endings.note(&start);
    start.pid = 0x7fff_fff1;
    endings.note(&start);
    var exit = std.mem.zeroes(Record);
    exit.kind = @intFromEnum(layout.EventKind.process_exit);
    exit.pid = 0x7fff_fff1;
    endings.check(check_interval_ns, false);
    // Its own ending comes in the drain after the check.
    endings.note(&exit);
    const Sink = struct {
        records: [4]Record = undefined,
        count: usize = 0,
        fn emit(sink: *@This(), record: *const Record) void {
            sink.records[sink.count] = record.*;
            sink.count += 1;
        }
    };
    var sink: Sink = .{};
    // No status: it waits for a parent's child_exit first.
    endings.settle(check_interval_ns, false, &sink, Sink.emit, null);
    try testing.expectEqual(@as(usize, 0), sink.count);
    endings.settle(check_interval_ns + parent_grace_ns, false, &sink, Sink.emit, null);
    try testing.expectEqual(@as(usize, 1), sink.count);
    try testing.expectEqual(@as(u32, 0x7fff_fff0), sink.records[0].pid);
    try testing.expectEqual(layout.exit_flag_collector | layout.exit_flag_unknown, sink.records[0].flags);
    try testing.expectEqual(check_interval_ns, sink.records[0].timestamp_ns);
    // Settled: never twice.
    endings.check(check_interval_ns * 20, false);
    endings.settle(check_interval_ns * 20, true, &sink, Sink.emit, null);
    try testing.expectEqual(@as(usize, 1), sink.count);
}

test "a gone process's status from its traced parent's child_exit" {
    var endings = try Endings.init(testing.allocator);
    defer endings.deinit(testing.allocator);
    var start = std.mem.zeroes(Record);
    start.kind = @intFromEnum(layout.EventKind.trace_start);
    start.e = 1;
    start.pid = 0x7fff_fff2;
    endings.note(&start);
    endings.check(check_interval_ns, false);
    var reaped = std.mem.zeroes(Record);
    reaped.kind = @intFromEnum(layout.EventKind.child_exit);
    reaped.pid = 1;
    reaped.a = 0x7fff_fff2;
    reaped.b = std.math.maxInt(u64);
    reaped.c = 9;
    endings.note(&reaped);
    const Sink = struct {
        record: Record = undefined,
        count: usize = 0,
        fn emit(sink: *@This(), record: *const Record) void {
            sink.record = record.*;
            sink.count += 1;
        }
    };
    var sink: Sink = .{};
    endings.settle(check_interval_ns, false, &sink, Sink.emit, null);
    try testing.expectEqual(@as(usize, 0), sink.count);
    endings.settle(check_interval_ns + verdict_delay_ns, false, &sink, Sink.emit, null);
    try testing.expectEqual(@as(usize, 1), sink.count);
    try testing.expectEqual(layout.exit_flag_collector, sink.record.flags);
    try testing.expectEqual(@as(u64, 9), sink.record.b);
}

test "a pid used again after its process's ending was settled is watched again" {
    var endings = try Endings.init(testing.allocator);
    defer endings.deinit(testing.allocator);
    var start = std.mem.zeroes(Record);
    start.kind = @intFromEnum(layout.EventKind.trace_start);
    start.e = 1;
    start.pid = 0x7fff_fff3;
    endings.note(&start);
    endings.check(check_interval_ns, false);
    const Sink = struct {
        count: usize = 0,
        fn emit(sink: *@This(), _: *const Record) void {
            sink.count += 1;
        }
    };
    var sink: Sink = .{};
    endings.settle(check_interval_ns, true, &sink, Sink.emit, null);
    try testing.expectEqual(@as(usize, 1), sink.count);
    endings.note(&start);
    try testing.expectEqual(State.open, endings.entries[0].state);
    try testing.expectEqual(@as(u32, 1), endings.count);
    try testing.expectEqual(@as(u64, 2), endings.started);
    try testing.expectEqual(@as(u64, 1), endings.wrote_unknown);
}

test "a child_exit drained before its child's start still gives the status" {
    var endings = try Endings.init(testing.allocator);
    defer endings.deinit(testing.allocator);
    var reaped = std.mem.zeroes(Record);
    reaped.kind = @intFromEnum(layout.EventKind.child_exit);
    reaped.timestamp_ns = 20;
    reaped.pid = 1;
    reaped.a = 0x7fff_fff4;
    reaped.b = 3;
    endings.note(&reaped);
    var start = std.mem.zeroes(Record);
    start.kind = @intFromEnum(layout.EventKind.trace_start);
    start.timestamp_ns = 10;
    start.e = 1;
    start.pid = 0x7fff_fff4;
    endings.note(&start);
    endings.check(check_interval_ns, false);
    const Sink = struct {
        record: Record = undefined,
        fn emit(sink: *@This(), record: *const Record) void {
            sink.record = record.*;
        }
    };
    var sink: Sink = .{};
    endings.settle(check_interval_ns, true, &sink, Sink.emit, null);
    try testing.expectEqual(layout.exit_flag_collector, sink.record.flags);
    try testing.expectEqual(@as(u64, 3), sink.record.a);
}
