//! The collector's drain thread: a native thread in the `scope` process that sleeps on
//! the ring's wake word (Ring.wait_for_work: a futex producers bump when a lane passes
//! half full or spills), drains every lane into the trace file and keeps the counts the
//! summary needs (records by kind, the threads seen, the losses producers reported, the
//! producers' peak rate). It owns the ring's consumer side and the trace writer while
//! it runs: the caller touches neither between start and stop, then reads the counts.
//! Why native: the drain no longer waits for the JavaScript event loop (a timer, a busy
//! main thread) and costs no FFI crossing per batch (BENCHMARKS.md, "Collector").
const std = @import("std");
const assert = std.debug.assert;
const layout = @import("layout.zig");
const ring_module = @import("ring.zig");
const trace_file = @import("trace_file.zig");
const trace_abi = @import("trace_abi.zig");
const clock = @import("clock.zig");
const flight = @import("flight.zig");
const endings_module = @import("endings.zig");

const Record = layout.Record;

pub const batch_records: u32 = 4096;
/// How long the thread sleeps when no producer wakes it: what a trickle of records waits.
pub const idle_timeout_ns: u64 = 10 * std.time.ns_per_ms;
/// The longest such sleep: each wait that found nothing doubles the next, up to this, so an
/// idle program costs ~12 wake-ups a second instead of ~100 (BENCHMARKS.md "The idle
/// collector"). No record waits on it to be kept: a producer past half a lane wakes the
/// thread at once (Ring.wait_for_work); only a trickle reaches the file later.
pub const idle_timeout_max_ns: u64 = 80 * std.time.ns_per_ms;

/// The sleep after one of `waited_ns` that ended with nothing to drain.
pub fn idle_backoff(waited_ns: u64) u64 {
    return @min(waited_ns * 2, idle_timeout_max_ns);
}
/// What the thread does after a drain that moved `moved` records, having slept up to
/// `timeout_ns` last: a full batch or more (producers are busy) drains again at once and
/// the next idle sleep is the shortest; less (a trickle, or nothing) sleeps `timeout_ns`
/// and the next sleep doubles, as when idle. A trickle used to bring the next sleep back to
/// 10 ms, so a program writing a few records every few ms woke the thread ~100 times a
/// second for a handful of records each, and each wake drained twice (BENCHMARKS.md
/// "scope run's own CPU while the program runs"). A producer past half a lane still wakes
/// it at once (Ring.wait_for_work), so what is kept does not change: a trickle reaches the
/// file up to idle_timeout_max_ns later.
pub fn next_sleep(moved: u64, timeout_ns: u64) struct { wait: bool, next_timeout_ns: u64 } {
    if (moved >= batch_records) return .{ .wait = false, .next_timeout_ns = idle_timeout_ns };
    return .{ .wait = true, .next_timeout_ns = idle_backoff(timeout_ns) };
}

/// The shortest window the producers' peak rate is measured over.
pub const peak_window_ns: u64 = 10 * std.time.ns_per_ms;
/// (pid, tid) pairs remembered; more are still drained, only not told apart.
pub const threads_max: u32 = 1 << 14;
pub const kind_count: u32 = 1 << 16;

const ThreadEntry = struct {
    /// pid << 32 | tid, plus one (0 marks an empty entry).
    key: u64 = 0,
    /// Losses this thread's producer reported (its `drop` records).
    reported_lost: u64 = 0,
    /// Errors of the agent's own in this thread (its `agent_error` records), caught there.
    agent_errors: u64 = 0,
    /// A worker thread's `trace_start` time (0: none drained, or a main thread), kept until
    /// its `thread_exit`: a worker still open when the collector records its process's
    /// ending gets one too (end_threads).
    open_start_ns: u64 = 0,
};

/// A parent's `thread_exited` for one of its workers, kept for a verdict turn
/// (endings.verdict_delay_ns): a worker that recorded no ending of its own by then
/// (terminate() stops its JavaScript) gets the collector's, with this code and time.
const Exited = struct {
    key: u64,
    timestamp_ns: u64,
    code: u64,
    noticed_ns: u64,
};

/// Exited records waiting at once; more wait for their process's ending instead (end_threads).
const exited_max = 256;

const FlightCause = struct {
    trigger: layout.FlightTrigger = .none,
    detail_d: u64 = 0,
    detail_e: u64 = 0,
};

/// Where a flight dump goes: the trace file, counted like drained records.
const DumpSink = struct {
    collector: *Collector,

    pub fn emit(sink: *DumpSink, records: []const Record) void {
        const collector = sink.collector;
        const kept_before = collector.writer.records_count;
        collector.append(records);
        const kept: usize = @intCast(collector.writer.records_count - kept_before);
        // The dump's own marker is the collector's, not the program's: not counted.
        const marker = records.len > 0 and records[0].kind == @intFromEnum(layout.EventKind.flight_dump) and records[0].pid == collector.own_pid;
        const skip: usize = @intFromBool(marker and kept > 0);
        collector.account(records[skip..kept]);
    }
};

pub const Collector = struct {
    ring: *ring_module.Ring,
    writer: *trace_file.Writer,
    own_pid: u32,
    thread: ?std.Thread = null,
    stop_requested: std.atomic.Value(bool) = .init(false),
    buffer: []Record,
    kind_counts: []u64,
    threads: []ThreadEntry,
    thread_count: u32 = 0,
    recorded: u64 = 0,
    reported_lost: u64 = 0,
    /// Overwritten records the collector marked with its own `drop` records.
    marked_lost: u64 = 0,
    /// Overwritten records marked by `drop` records naming the thread that lost them (in
    /// the trace, so also in reported_lost).
    overwritten_reported: u64 = 0,
    peak_records_per_second: f64 = 0,
    peak_sample_ns: u64 = 0,
    peak_sample_produced: u64 = 0,
    /// The first write error; after it the thread still drains (producers never stall)
    /// but writes nothing more.
    write_error: ?trace_file.WriteError = null,
    /// write_error's TraceStatus (0: none), for readers on other threads.
    write_status: std.atomic.Value(u32) = .init(0),
    /// Flight recorder (flight.zig): drained records go to the window, not the file, and
    /// are written only by a dump.
    flight: ?*flight.Window = null,
    /// A dump asked for from outside the thread (SIGUSR1: a FlightTrigger), taken by the thread.
    flight_request: std.atomic.Value(u32) = .init(0),
    /// An exception exit seen in the drain, dumped after it (thread-owned).
    flight_pending: FlightCause = .{},
    /// Dumps by FlightTrigger, and the records they wrote.
    flight_dumps: [5]u64 = @splat(0),
    flight_dumped: [5]u64 = @splat(0),
    /// The processes seen start, watched for an end they did not record (endings.zig).
    endings: endings_module.Endings,
    /// Parents' thread_exited records waiting for their verdict (settle_exited).
    exited: [exited_max]Exited = undefined,
    exited_count: u32 = 0,
    /// The write end of the pipe stop_notices made (-1: none): the thread writes one byte to it
    /// once recording has stopped, so the event loop that says so sleeps until then instead of
    /// looking every 200 ms (BENCHMARKS.md "scope run's own CPU: the GC and the probe before the
    /// program"). Set by another thread while this one runs, hence atomic.
    stop_notice_fd: std.atomic.Value(i32) = .init(-1),
    /// The notice was written (thread-owned).
    stop_noticed: bool = false,

    pub fn create(allocator: std.mem.Allocator, ring: *ring_module.Ring, writer: *trace_file.Writer, own_pid: u32) error{OutOfMemory}!*Collector {
        const collector = try allocator.create(Collector);
        errdefer allocator.destroy(collector);
        const buffer = try allocator.alloc(Record, batch_records);
        errdefer allocator.free(buffer);
        const kind_counts = try allocator.alloc(u64, kind_count);
        errdefer allocator.free(kind_counts);
        const threads = try allocator.alloc(ThreadEntry, threads_max);
        errdefer allocator.free(threads);
        var endings = try endings_module.Endings.init(allocator);
        errdefer endings.deinit(allocator);
        @memset(kind_counts, 0);
        @memset(threads, .{});
        collector.* = .{
            .ring = ring,
            .writer = writer,
            .own_pid = own_pid,
            .buffer = buffer,
            .kind_counts = kind_counts,
            .threads = threads,
            .peak_sample_ns = clock.monotonic_ns(),
            .endings = endings,
        };
        return collector;
    }

    /// As create, with a flight recorder window: nothing is written until a dump.
    pub fn create_flight(allocator: std.mem.Allocator, ring: *ring_module.Ring, writer: *trace_file.Writer, own_pid: u32, options: flight.Options) error{OutOfMemory}!*Collector {
        const collector = try create(allocator, ring, writer, own_pid);
        errdefer collector.destroy(allocator);
        const window = try allocator.create(flight.Window);
        errdefer allocator.destroy(window);
        window.* = try flight.Window.init(allocator, options);
        collector.flight = window;
        return collector;
    }

    pub fn destroy(collector: *Collector, allocator: std.mem.Allocator) void {
        assert(collector.thread == null);
        // The reader sees the end of the pipe (its read end is the caller's to close).
        const notice_fd = collector.stop_notice_fd.load(.acquire);
        if (notice_fd >= 0) _ = std.c.close(notice_fd);
        if (collector.flight) |window| {
            window.deinit();
            allocator.destroy(window);
        }
        allocator.free(collector.buffer);
        allocator.free(collector.kind_counts);
        allocator.free(collector.threads);
        collector.endings.deinit(allocator);
        allocator.destroy(collector);
    }

    pub fn start(collector: *Collector) std.Thread.SpawnError!void {
        assert(collector.thread == null);
        collector.thread = try std.Thread.spawn(.{}, run, .{collector});
    }

    /// Drains what the ring holds now, then ends the thread. The caller's final drain
    /// (drain_final, once every producer ended) comes after.
    pub fn stop(collector: *Collector) void {
        const thread = collector.thread orelse return;
        collector.stop_requested.store(true, .release);
        collector.ring.wake();
        thread.join();
        collector.thread = null;
    }

    fn run(collector: *Collector) void {
        var timeout_ns: u64 = idle_timeout_ns;
        while (true) {
            // Acquire: pairs with stop's release; the drain below then sees all it must.
            const stopping = collector.stop_requested.load(.acquire);
            // Which processes ended before this drain: what they wrote is in it (endings.zig).
            collector.endings.check(clock.monotonic_ns(), stopping);
            const moved = collector.drain_all();
            // The last turn: processes whose start this very drain took are checked too.
            if (stopping) collector.endings.check(clock.monotonic_ns(), true);
            collector.settle_exited(clock.monotonic_ns(), stopping);
            collector.endings.settle(clock.monotonic_ns(), stopping, collector, emit_ending, settle_ended);
            if (settle_stop(collector.ring, collector.writer, collector.own_pid) != .none) collector.notice_stop();
            collector.flight_step();
            collector.sample_peak();
            if (stopping) return;
            const sleep = next_sleep(moved, timeout_ns);
            if (sleep.wait) collector.ring.wait_for_work(timeout_ns);
            timeout_ns = sleep.next_timeout_ns;
        }
    }

    /// A pipe whose read end (returned; the caller's to close once it has read its end) gets one
    /// byte when recording has stopped while the thread runs (a limit, a failed write, a stop
    /// asked of the ring); null when no pipe can be had. Once, before or while the thread runs.
    pub fn stop_notices(collector: *Collector) ?std.c.fd_t {
        assert(collector.stop_notice_fd.load(.monotonic) < 0);
        var fds: [2]std.c.fd_t = undefined;
        if (std.c.pipe2(&fds, .{ .CLOEXEC = true, .NONBLOCK = true }) != 0) return null;
        // Release: the thread's acquire load then sees a whole fd.
        collector.stop_notice_fd.store(fds[1], .release);
        return fds[0];
    }

    /// Recording has stopped: the notice, once (a pipe set later gets it at the next turn).
    fn notice_stop(collector: *Collector) void {
        if (collector.stop_noticed) return;
        // Acquire: pairs with stop_notices' release.
        const fd = collector.stop_notice_fd.load(.acquire);
        if (fd < 0) return;
        collector.stop_noticed = true;
        // One byte into an empty pipe: never blocks, never partial; a reader gone is nothing to us.
        _ = std.c.write(fd, "s", 1);
    }

    /// Drains until the ring has nothing complete left; returns the records moved.
    pub fn drain_all(collector: *Collector) u64 {
        var moved: u64 = 0;
        while (true) {
            // Into the trace writer's next chunk itself when the batch goes to the file: the
            // chunk is sealed and written where the drain put it (no copy from a buffer).
            const in_place = collector.flight == null and collector.write_error == null;
            const out = if (in_place) collector.writer.payload() else collector.buffer;
            // Overwrite mode: with the drop records of the threads that lost records (Ring.mark_losses).
            const count = collector.ring.drain_marked(out, false);
            if (count == 0) break;
            moved += count;
            if (in_place) collector.take_in_place(out[0..count]) else collector.take(out[0..count]);
        }
        collector.mark_overwritten();
        return moved;
    }

    /// A drained batch into the flight recorder's window, or into the trace and counted.
    fn take(collector: *Collector, batch: []const Record) void {
        if (collector.flight) |window| return collector.flight_take(window, batch);
        const kept_before = collector.writer.records_count;
        collector.append(batch);
        // What a limit, a stop or a failed write left out is not in the trace: not
        // counted as recorded.
        const kept = collector.writer.records_count - kept_before;
        collector.account(batch[0..@intCast(kept)]);
    }

    /// As take, for a batch drained into the writer's payload (drain_all): written in place.
    fn take_in_place(collector: *Collector, batch: []const Record) void {
        assert(collector.flight == null);
        assert(batch.ptr == collector.writer.payload().ptr);
        const kept_before = collector.writer.records_count;
        collector.writer.append_in_place(@intCast(batch.len)) catch |err| collector.set_write_error(err);
        // Sealing leaves the records as they were (their seq is 0 already): counted from there.
        const kept = collector.writer.records_count - kept_before;
        collector.account(batch[0..@intCast(kept)]);
    }

    /// Flight recorder: the batch goes to the window (nothing drained after a stop is
    /// kept, as without it), and an exception exit in it asks for a dump.
    fn flight_take(collector: *Collector, window: *flight.Window, batch: []const Record) void {
        if (collector.writer.stop_reason != .none) {
            collector.writer.refused_count += batch.len;
            return;
        }
        window.add(batch);
        for (batch) |*record| if (is_ending_kind(record.kind)) collector.note_ending(record);
        if (collector.flight_pending.trigger != .none) return;
        for (batch) |*record| {
            const exit = record.kind == @intFromEnum(layout.EventKind.process_exit) or
                record.kind == @intFromEnum(layout.EventKind.thread_exit);
            if (!exit) continue;
            const trigger: layout.FlightTrigger = switch (record.e) {
                @intFromEnum(layout.ExitReason.uncaught_exception) => .uncaught_exception,
                @intFromEnum(layout.ExitReason.unhandled_rejection) => .unhandled_rejection,
                else => continue,
            };
            collector.flight_pending = .{ .trigger = trigger, .detail_d = record.pid, .detail_e = record.tid };
            return;
        }
    }

    /// After each drain: ages the window out and dumps when something asked.
    fn flight_step(collector: *Collector) void {
        const window = collector.flight orelse return;
        window.evict_aged(clock.monotonic_ns());
        if (collector.flight_pending.trigger != .none) {
            const cause = collector.flight_pending;
            collector.flight_pending = .{};
            collector.flight_dump(cause);
        }
        // Acquire: pairs with request_flight_dump's release.
        const requested = collector.flight_request.swap(0, .acquire);
        if (requested != 0) collector.flight_dump(.{ .trigger = @enumFromInt(requested) });
    }

    /// Asks the drain thread for a dump (SIGUSR1); it takes it after its next drain.
    pub fn request_flight_dump(collector: *Collector, trigger: layout.FlightTrigger) void {
        assert(trigger != .none);
        collector.flight_request.store(@intFromEnum(trigger), .release);
        collector.ring.wake();
    }

    /// Writes the window to the trace (flight.zig Window.dump), counted as recorded.
    fn flight_dump(collector: *Collector, cause: FlightCause) void {
        const window = collector.flight.?;
        assert(cause.trigger != .none);
        // After a stop (scope stop, a limit, a failed write) the trace takes nothing more:
        // no write happens, none is counted.
        if (collector.writer.stop_reason != .none or collector.writer.failed) return;
        var sink = DumpSink{ .collector = collector };
        const kept_before = collector.writer.records_count;
        // A limit (--max-size, --max-events) the window does not fit: the dump leaves out its
        // oldest events, not the newest the writer would cut, and recording stops there.
        const room = collector.writer.room();
        const result = window.dump(&sink, collector.buffer, clock.monotonic_ns(), collector.own_pid, cause.trigger, cause.detail_d, cause.detail_e, room.records);
        if (result.cut > 0) collector.writer.stop(room.limit);
        // What the trace holds of the write, its marker left out: a limit may cut it short.
        const kept = collector.writer.records_count - kept_before;
        const index = @min(@intFromEnum(cause.trigger), collector.flight_dumps.len - 1);
        collector.flight_dumped[index] += kept -| 1;
        // Release: a test waits on it from another thread; the summary reads it after stop.
        @atomicStore(u64, &collector.flight_dumps[index], collector.flight_dumps[index] + 1, .release);
        // A limit reached inside the write: the recording_stop record now, not after the
        // next drain (there is none after the final write).
        _ = settle_stop(collector.ring, collector.writer, collector.own_pid);
    }

    /// Ends a flight recorder's run, every producer gone: stops the thread (it drains and
    /// takes any dump asked for), drains finally, takes the exception exits the last
    /// drain found, then dumps for `final` (a non-zero exit; `none`: the program ended
    /// well) with `detail` (the exit status).
    pub fn finish_flight(collector: *Collector, final: layout.FlightTrigger, detail: u64) void {
        collector.stop();
        if (collector.flight == null) return;
        while (true) {
            const count = collector.ring.drain_marked(collector.buffer, true);
            if (count == 0) break;
            collector.flight_take(collector.flight.?, collector.buffer[0..count]);
        }
        _ = settle_stop(collector.ring, collector.writer, collector.own_pid);
        collector.flight_step();
        if (final != .none) collector.flight_dump(.{ .trigger = final, .detail_d = detail });
    }

    fn append(collector: *Collector, records: []const Record) void {
        if (collector.write_error != null) return;
        collector.writer.append(std.mem.sliceAsBytes(records)) catch |err| {
            collector.set_write_error(err);
        };
    }

    /// The first failed write: kept for the summary, and its status readable at once from
    /// another thread (write_status: scope run says it as it happens).
    fn set_write_error(collector: *Collector, err: trace_file.WriteError) void {
        if (collector.write_error != null) return;
        collector.write_error = err;
        // Release: a plain status word, read by the event loop's watch.
        collector.write_status.store(@intFromEnum(trace_abi.status_from_error(err)), .release);
    }

    fn account(collector: *Collector, records: []const Record) void {
        var last_key: u64 = 0;
        for (records) |*record| {
            collector.kind_counts[record.kind] += 1;
            if (record.kind == @intFromEnum(layout.EventKind.string)) continue;
            if (is_ending_kind(record.kind)) collector.note_ending(record);
            const key = (@as(u64, record.pid) << 32 | record.tid) + 1;
            const is_drop = record.kind == @intFromEnum(layout.EventKind.drop);
            const is_error = record.kind == @intFromEnum(layout.EventKind.agent_error);
            // Records come in runs from one lane: look the thread up when it changes.
            if (key == last_key and !is_drop and !is_error) continue;
            last_key = key;
            const entry = collector.thread_entry(key) orelse continue;
            if (is_error) entry.agent_errors += 1;
            if (is_drop) {
                entry.reported_lost += record.a;
                collector.reported_lost += record.a;
                if (record.flags == layout.drop_flag_overwritten) collector.overwritten_reported += record.a;
            }
        }
        collector.recorded += records.len;
    }

    /// The kinds note_ending acts on, one bit each (all below 64): the drain's loop calls it
    /// only for them, not for every record (BENCHMARKS.md "scope run's own CPU while the
    /// program runs").
    const ending_kinds: u64 = blk: {
        var mask: u64 = 0;
        for ([_]layout.EventKind{ .trace_start, .process_exit, .child_exit, .thread_exited, .thread_exit }) |kind| {
            assert(@intFromEnum(kind) < 64);
            mask |= @as(u64, 1) << @intFromEnum(kind);
        }
        break :blk mask;
    };

    fn is_ending_kind(kind: u16) bool {
        return kind < 64 and (ending_kinds >> @intCast(kind)) & 1 != 0;
    }

    fn note_ending(collector: *Collector, record: *const Record) void {
        assert(is_ending_kind(record.kind));
        const kind = record.kind;
        if (kind == @intFromEnum(layout.EventKind.trace_start) or kind == @intFromEnum(layout.EventKind.process_exit) or
            kind == @intFromEnum(layout.EventKind.child_exit)) collector.endings.note(record);
        if (kind == @intFromEnum(layout.EventKind.thread_exited)) {
            if (collector.exited_count < exited_max) {
                collector.exited[collector.exited_count] = .{ .key = (@as(u64, record.pid) << 32 | (record.a & 0xffff_ffff)) + 1, .timestamp_ns = record.timestamp_ns, .code = record.b, .noticed_ns = clock.monotonic_ns() };
                collector.exited_count += 1;
            }
            return;
        }
        if (record.tid == 0) return;
        // A worker's start and its own end (its process's lanes may be drained in any order).
        if (kind == @intFromEnum(layout.EventKind.trace_start)) {
            const entry = collector.thread_entry((@as(u64, record.pid) << 32 | record.tid) + 1) orelse return;
            entry.open_start_ns = @max(record.timestamp_ns, 1);
        } else if (kind == @intFromEnum(layout.EventKind.thread_exit)) {
            const entry = collector.thread_entry((@as(u64, record.pid) << 32 | record.tid) + 1) orelse return;
            entry.open_start_ns = 0;
        }
    }

    /// After a drain: each worker its parent saw end (thread_exited) a verdict turn ago, or
    /// every one when `now`, that recorded no ending of its own gets the collector's, with the
    /// parent's code and time (exit_flag_parent). Its own thread_exit, written before the
    /// thread ended and so before its parent's record, was drained by then (a shared lane's
    /// write in progress holds records back at most that turn).
    fn settle_exited(collector: *Collector, now_ns: u64, now: bool) void {
        var kept: u32 = 0;
        for (collector.exited[0..collector.exited_count]) |exited| {
            if (!now and now_ns -| exited.noticed_ns < endings_module.verdict_delay_ns) {
                collector.exited[kept] = exited;
                kept += 1;
                continue;
            }
            if (!collector.endings.workers_enabled.load(.monotonic)) continue;
            const entry = collector.thread_entry(exited.key) orelse continue;
            // Started (since an earlier thread of this id: ids are not reused in a process) and not ended.
            if (entry.open_start_ns == 0 or entry.open_start_ns > exited.timestamp_ns) continue;
            entry.open_start_ns = 0;
            var record = std.mem.zeroes(Record);
            record.kind = @intFromEnum(layout.EventKind.thread_exit);
            record.flags = layout.exit_flag_collector | layout.exit_flag_parent;
            record.timestamp_ns = exited.timestamp_ns;
            record.pid = @truncate((exited.key - 1) >> 32);
            record.tid = @truncate(exited.key - 1);
            record.a = exited.code;
            collector.write_ending(&record);
            collector.endings.wrote_terminated += 1;
        }
        collector.exited_count = kept;
    }

    /// After the collector's ending of a process (not a correction), or a process's own
    /// ending as endings.zig settles it: a `thread_exit` for each of its workers that started
    /// (since the process did) and recorded no end, with the ending's status, time and flags
    /// (layout.zig thread_exit). A worker past the thread table (threads_max) is not known and
    /// gets none; none when the workers' own ends are not recorded (--events without `thread`).
    fn end_threads(collector: *Collector, ending: *const Record) void {
        if (ending.kind != @intFromEnum(layout.EventKind.process_exit)) return;
        if (ending.flags & layout.exit_flag_collector == 0 or ending.flags & layout.exit_flag_corrects != 0) return;
        if (!collector.endings.workers_enabled.load(.monotonic)) return;
        const process_start_ns = if (collector.endings.find(ending.pid)) |entry| entry.start_ns else 0;
        for (collector.threads) |*entry| {
            if (entry.key == 0 or entry.open_start_ns == 0) continue;
            const key = entry.key - 1;
            if (key >> 32 != ending.pid) continue;
            const started_ns = entry.open_start_ns;
            entry.open_start_ns = 0;
            // A worker of an earlier process with this pid.
            if (started_ns < process_start_ns) continue;
            var record = ending.*;
            record.kind = @intFromEnum(layout.EventKind.thread_exit);
            record.tid = @truncate(key);
            collector.write_ending(&record);
            collector.endings.wrote_threads += 1;
        }
    }

    /// An ending the collector records on a process's behalf: into the trace as its own
    /// records are (a flight recorder's window, else the file, past the limits as the
    /// recording_stop record is); not counted as drained (`recorded`, the kinds: the
    /// collector's own records, as its drop markers); nothing once recording stopped.
    fn emit_ending(collector: *Collector, record: *const Record) void {
        // A process that recorded no ending (killed by a signal): what its threads had
        // buffered first, stamped at its ending (batches.zig).
        if (record.flags & layout.exit_flag_corrects == 0) collector.salvage(record.pid, record.timestamp_ns);
        collector.write_ending(record);
        collector.end_threads(record);
    }

    /// A process that recorded its own ending, settled: its threads' batches left behind (a
    /// worker stopped by its process's exit in the middle of a job), then its workers' endings.
    fn settle_ended(collector: *Collector, ending: *const Record) void {
        collector.salvage(ending.pid, ending.timestamp_ns);
        collector.end_threads(ending);
    }

    /// The function-event batches of process `pid`'s threads (it ended), stamped `stamp_ns`,
    /// into the trace as drained records are (the window of a flight recorder), counted as
    /// drained; their slots freed.
    fn salvage(collector: *Collector, pid: u32, stamp_ns: u64) void {
        while (true) {
            const count = collector.ring.salvage(collector.buffer, pid, stamp_ns);
            if (count == 0) return;
            collector.take(collector.buffer[0..count]);
        }
    }

    fn write_ending(collector: *Collector, record: *const Record) void {
        if (collector.writer.stop_reason != .none) return;
        if (collector.flight) |window| {
            window.add(record[0..1]);
            return;
        }
        // After a failed write, into the room the writer kept for the end (if any).
        collector.writer.append_unlimited(std.mem.asBytes(record)) catch |err| {
            collector.set_write_error(err);
        };
    }

    fn thread_entry(collector: *Collector, key: u64) ?*ThreadEntry {
        assert(key != 0);
        const mask = threads_max - 1;
        var index: u32 = @truncate(std.hash.int(key) & mask);
        var probes: u32 = 0;
        while (probes < threads_max) : (probes += 1) {
            const entry = &collector.threads[index];
            if (entry.key == key) return entry;
            if (entry.key == 0) {
                // Keep a quarter free so probes stay short; past that, threads go uncounted.
                if (collector.thread_count >= threads_max / 4 * 3) return null;
                entry.key = key;
                collector.thread_count += 1;
                return entry;
            }
            index = (index + 1) & mask;
        }
        return null;
    }

    /// Overwritten records no `drop` record of their thread reported (Ring.mark_losses):
    /// marked with the collector's own whenever their count grew.
    fn mark_overwritten(collector: *Collector) void {
        if (collector.ring.mode != .overwrite) return;
        const overwritten = collector.ring.stats().overwritten;
        const marked = collector.marked_lost + collector.overwritten_reported;
        if (overwritten <= marked) return;
        var record = std.mem.zeroes(Record);
        record.kind = @intFromEnum(layout.EventKind.drop);
        record.timestamp_ns = clock.monotonic_ns();
        record.pid = collector.own_pid;
        record.a = overwritten - marked;
        collector.append((&record)[0..1]);
        collector.marked_lost += record.a;
    }

    fn sample_peak(collector: *Collector) void {
        const now_ns = clock.monotonic_ns();
        const elapsed_ns = now_ns -| collector.peak_sample_ns;
        if (elapsed_ns < peak_window_ns) return;
        const stats = collector.ring.stats();
        const produced = stats.written + stats.overflow_pending + stats.dropped;
        const delta: f64 = @floatFromInt(produced -| collector.peak_sample_produced);
        const rate = delta * std.time.ns_per_s / @as(f64, @floatFromInt(elapsed_ns));
        collector.peak_records_per_second = @max(collector.peak_records_per_second, rate);
        collector.peak_sample_ns = now_ns;
        collector.peak_sample_produced = produced;
    }
};

/// Makes the ring and the writer agree that recording stopped, whichever stopped first
/// (the ring: `scope stop`, --duration; the writer: --max-events, --max-size, a failed
/// write), and writes the collector's `recording_stop` record once. Both drain paths
/// call it after each drain (this thread, and the event loop's through c_abi). Returns
/// the reason, `none` while recording.
pub fn settle_stop(ring: *ring_module.Ring, writer: *trace_file.Writer, own_pid: u32) layout.StopReason {
    const ring_reason = ring.stop_reason();
    if (ring_reason != .none) writer.stop(ring_reason) else if (writer.failed) writer.stop(.write_error);
    const reason = writer.stop_reason;
    if (reason == .none) return .none;
    // Producers refuse from now on, so agents turn their hooks off.
    if (ring_reason == .none) ring.stop(reason);
    // After a failed write, only into the room the writer kept for the end (none: skipped).
    if (!writer.stop_recorded and !(writer.failed and writer.end_room_until == 0)) {
        writer.stop_recorded = true;
        var record = std.mem.zeroes(Record);
        record.kind = @intFromEnum(layout.EventKind.recording_stop);
        record.timestamp_ns = clock.monotonic_ns();
        record.pid = own_pid;
        record.a = @intFromEnum(reason);
        record.b = writer.records_count;
        record.c = writer.refused_count;
        // A failure here sets writer.failed; the summary reports it.
        writer.append_unlimited(std.mem.asBytes(&record)) catch {};
    }
    return reason;
}

const testing = std.testing;

/// A ring in test memory and a trace writer on a temporary file, for the tests below: both
/// stay where `init` put them (the collector keeps pointers to them).
const TestRig = struct {
    memory: []align(ring_module.page_size_bytes) u8,
    ring: ring_module.Ring,
    path_buffer: [64]u8,
    path: [:0]const u8,
    writer: trace_file.Writer,

    fn init(rig: *TestRig, name: []const u8, options: ring_module.Options) !void {
        rig.memory = try testing.allocator.alignedAlloc(u8, .fromByteUnits(ring_module.page_size_bytes), ring_module.size_bytes(options.lane_count, options.lane_capacity_slots));
        errdefer testing.allocator.free(rig.memory);
        @memset(rig.memory, 0);
        rig.ring = try ring_module.Ring.format(rig.memory, options);
        rig.path = try std.fmt.bufPrintSentinel(&rig.path_buffer, "/tmp/scope-test-{s}-{d}.bin", .{ name, std.c.getpid() }, 0);
        rig.writer = try trace_file.Writer.open(testing.allocator, rig.path, .{ .host = "test", .argv = "", .monotonic_anchor_ns = 1, .realtime_anchor_ns = 1, .collector_pid = 1 });
    }

    /// Closes the trace and reads its records back into `out` (all of them, exactly).
    fn read_back(rig: *TestRig, out: []Record) !void {
        try rig.writer.close(std.mem.zeroes(trace_file.EndTotals));
        var diagnostic: trace_file.Diagnostic = undefined;
        var reader = try trace_file.Reader.open_path(testing.allocator, rig.path, &diagnostic);
        defer reader.deinit(testing.allocator);
        try testing.expectEqual(@as(u32, @intCast(out.len)), reader.next(std.mem.sliceAsBytes(out)));
    }

    fn deinit(rig: *TestRig) void {
        rig.writer.deinit(testing.allocator);
        _ = std.c.unlink(rig.path);
        testing.allocator.free(rig.memory);
    }
};

test "collector: an idle thread sleeps longer each time, up to the longest" {
    var sleep_ns: u64 = idle_timeout_ns;
    for ([_]u64{ 10, 20, 40, 80, 80 }) |expected_ms| {
        try std.testing.expectEqual(expected_ms * std.time.ns_per_ms, sleep_ns);
        sleep_ns = idle_backoff(sleep_ns);
    }
}

test "collector: a trickle of records sleeps as an idle thread does, longer each time; a full batch drains again at once" {
    var sleep_ns: u64 = idle_timeout_ns;
    for ([_]u64{ 10, 20, 40, 80, 80 }) |expected_ms| {
        try std.testing.expectEqual(expected_ms * std.time.ns_per_ms, sleep_ns);
        const after_trickle = next_sleep(3, sleep_ns);
        try std.testing.expect(after_trickle.wait);
        sleep_ns = after_trickle.next_timeout_ns;
    }
    const after_batch = next_sleep(batch_records, sleep_ns);
    try std.testing.expect(!after_batch.wait);
    try std.testing.expectEqual(idle_timeout_ns, after_batch.next_timeout_ns);
    const after_nothing = next_sleep(0, idle_timeout_ns);
    try std.testing.expect(after_nothing.wait);
    try std.testing.expectEqual(2 * idle_timeout_ns, after_nothing.next_timeout_ns);
}

test "collector: the thread drains bursts woken by producers, counts kinds, threads and reported losses" {
    var rig: TestRig = undefined;
    try rig.init("collector", .{ .lane_count = 2, .lane_capacity_slots = 64, .mode = .discard, .collector_pid = @intCast(std.c.getpid()), .overflow_capacity_records = 1 << 17 });
    defer rig.deinit();
    const ring = &rig.ring;
    const writer = &rig.writer;
    const collector = try Collector.create(testing.allocator, ring, writer, 99);
    defer collector.destroy(testing.allocator);
    try collector.start();
    errdefer collector.stop();
    var producers = [_]ring_module.Producer{ ring.attach(10, 0), ring.attach(11, 4) };
    // Far more than the lanes hold: the thread must keep up (woken, not only timed out)
    // or the producers' overflows take the rest; nothing is dropped either way.
    const per_producer: u64 = 50_000;
    var record = std.mem.zeroes(Record);
    record.kind = @intFromEnum(layout.EventKind.function_call);
    var index: u64 = 0;
    while (index < per_producer) : (index += 1) {
        for (&producers) |*producer| try testing.expect(producer.write(&record));
    }
    for (&producers) |*producer| producer.detach();
    collector.stop();
    try testing.expectEqual(@as(?trace_file.WriteError, null), collector.write_error);
    try testing.expectEqual(2 * per_producer, collector.recorded);
    try testing.expectEqual(2 * per_producer, collector.kind_counts[@intFromEnum(layout.EventKind.function_call)]);
    try testing.expectEqual(@as(u32, 2), collector.thread_count);
    try testing.expectEqual(@as(u64, 0), collector.reported_lost);
    try testing.expect(collector.peak_records_per_second >= 0);
    const stats = ring.stats();
    try testing.expectEqual(2 * per_producer, stats.received);
    try testing.expectEqual(@as(u64, 0), stats.dropped + stats.overflow_pending + stats.pending);
    try testing.expectEqual(2 * per_producer, writer.records_count);
}

test "collector: a limit keeps exactly what fits, stops the ring, marks why; producers then refuse" {
    var rig: TestRig = undefined;
    try rig.init("limit", .{ .lane_count = 2, .lane_capacity_slots = 1024, .mode = .discard, .collector_pid = @intCast(std.c.getpid()) });
    defer rig.deinit();
    const ring = &rig.ring;
    const writer = &rig.writer;
    writer.limit_records = 100;
    const collector = try Collector.create(testing.allocator, ring, writer, 99);
    defer collector.destroy(testing.allocator);
    var producer = ring.attach(10, 0);
    var record = std.mem.zeroes(Record);
    record.kind = @intFromEnum(layout.EventKind.function_call);
    for (0..300) |_| try testing.expect(producer.write(&record));
    _ = collector.drain_all();
    try testing.expectEqual(layout.StopReason.none, ring.stop_reason());
    try testing.expectEqual(layout.StopReason.max_events, settle_stop(ring, writer, 99));
    try testing.expectEqual(layout.StopReason.max_events, ring.stop_reason());
    // 100 kept and counted, 200 refused, then the marker (outside the limit).
    try testing.expectEqual(@as(u64, 100), collector.recorded);
    try testing.expectEqual(@as(u64, 200), writer.refused_count);
    try testing.expectEqual(@as(u64, 101), writer.records_count);
    try testing.expect(!producer.write(&record));
    try testing.expectEqual(@as(u64, 0), ring.stats().dropped);
    // Settling again writes no second marker.
    _ = settle_stop(ring, writer, 99);
    try testing.expectEqual(@as(u64, 101), writer.records_count);
    producer.detach();
}

test "collector: recording stopped while the thread runs: one byte on the stop-notice pipe, nothing before; the pipe ends with the collector" {
    var rig: TestRig = undefined;
    try rig.init("notice", .{ .lane_count = 2, .lane_capacity_slots = 1024, .mode = .discard, .collector_pid = @intCast(std.c.getpid()) });
    defer rig.deinit();
    const ring = &rig.ring;
    rig.writer.limit_records = 100;
    const collector = try Collector.create(testing.allocator, ring, &rig.writer, 99);
    var destroyed = false;
    defer if (!destroyed) {
        collector.stop();
        collector.destroy(testing.allocator);
    };
    const fd = collector.stop_notices() orelse return error.SkipZigTest;
    defer _ = std.c.close(fd);
    try collector.start();
    var byte: [4]u8 = undefined;
    var producer = ring.attach(10, 0);
    var detached = false;
    defer if (!detached) producer.detach();
    var record = std.mem.zeroes(Record);
    record.kind = @intFromEnum(layout.EventKind.function_call);
    for (0..50) |_| try testing.expect(producer.write(&record));
    // Under the limit: drained (a few idle turns), no notice.
    for (0..40) |_| sleep_a_millisecond();
    try testing.expectEqual(@as(isize, -1), std.c.read(fd, &byte, byte.len));
    for (0..100) |_| _ = producer.write(&record);
    ring.wake();
    var waited_ms: u32 = 0;
    while (ring.stop_reason() == .none or std.c.read(fd, &byte, byte.len) != 1) : (waited_ms += 1) {
        if (waited_ms > 5000) return error.NoStopNotice;
        sleep_a_millisecond();
    }
    try testing.expectEqual(layout.StopReason.max_events, ring.stop_reason());
    // Once: later turns write nothing more.
    for (0..40) |_| sleep_a_millisecond();
    try testing.expectEqual(@as(isize, -1), std.c.read(fd, &byte, byte.len));
    producer.detach();
    detached = true;
    collector.stop();
    collector.destroy(testing.allocator);
    destroyed = true;
    // The write end closed: the reader sees the end.
    try testing.expectEqual(@as(isize, 0), std.c.read(fd, &byte, byte.len));
}

test "collector: a size limit keeps whole chunks under it with room for the end" {
    var path_buffer: [64]u8 = undefined;
    const path = try std.fmt.bufPrintSentinel(&path_buffer, "/tmp/scope-test-size-{d}.bin", .{std.c.getpid()}, 0);
    var writer = try trace_file.Writer.open(testing.allocator, path, .{ .host = "test", .argv = "", .monotonic_anchor_ns = 1, .realtime_anchor_ns = 1, .collector_pid = 1 });
    defer _ = std.c.unlink(path);
    defer writer.deinit(testing.allocator);
    writer.limit_bytes = 64 * 1024;
    const records = try testing.allocator.alloc(Record, 5000);
    defer testing.allocator.free(records);
    @memset(records, std.mem.zeroes(Record));
    try writer.append(std.mem.sliceAsBytes(records));
    try testing.expectEqual(layout.StopReason.max_size, writer.stop_reason);
    try testing.expect(writer.size_bytes + trace_file.Writer.limit_reserve_bytes <= writer.limit_bytes);
    try testing.expect(writer.size_bytes + trace_file.Writer.limit_reserve_bytes + 128 > writer.limit_bytes);
    try testing.expectEqual(5000, writer.records_count + writer.refused_count);
    try writer.close(std.mem.zeroes(trace_file.EndTotals));
    try testing.expect(writer.size_bytes <= writer.limit_bytes);
}

test "collector: a flight recorder writes nothing until asked, then the window once; an exception exit asks too" {
    var rig: TestRig = undefined;
    try rig.init("flight", .{ .lane_count = 2, .lane_capacity_slots = 1024, .mode = .discard, .collector_pid = @intCast(std.c.getpid()) });
    defer rig.deinit();
    const ring = &rig.ring;
    const writer = &rig.writer;
    const collector = try Collector.create_flight(testing.allocator, ring, writer, 99, .{ .window_ns = 60 * std.time.ns_per_s });
    defer collector.destroy(testing.allocator);
    try collector.start();
    var producer = ring.attach(10, 0);
    var record = std.mem.zeroes(Record);
    record.kind = @intFromEnum(layout.EventKind.function_call);
    for (0..500) |_| try testing.expect(producer.write(&record));
    // Until asked, nothing reaches the file.
    while (ring.stats().received < 500) sleep_a_millisecond();
    try testing.expectEqual(@as(u64, 0), writer.records_count);
    collector.request_flight_dump(.signal);
    while (@atomicLoad(u64, &collector.flight_dumps[@intFromEnum(layout.FlightTrigger.signal)], .acquire) == 0) sleep_a_millisecond();
    try testing.expectEqual(@as(u64, 501), writer.records_count);
    try testing.expectEqual(@as(u64, 500), collector.recorded);
    // A thread's uncaught exception: its exit record asks for the next write.
    for (0..100) |_| try testing.expect(producer.write(&record));
    var exit = std.mem.zeroes(Record);
    exit.kind = @intFromEnum(layout.EventKind.thread_exit);
    exit.e = @intFromEnum(layout.ExitReason.uncaught_exception);
    try testing.expect(producer.write(&exit));
    while (@atomicLoad(u64, &collector.flight_dumps[@intFromEnum(layout.FlightTrigger.uncaught_exception)], .acquire) == 0) sleep_a_millisecond();
    try testing.expectEqual(@as(u64, 501 + 102), writer.records_count);
    // The end: what came since, for a non-zero exit; nothing held is written twice.
    for (0..7) |_| try testing.expect(producer.write(&record));
    producer.detach();
    collector.finish_flight(.nonzero_exit, 3);
    try testing.expectEqual(@as(u64, 501 + 102 + 8), writer.records_count);
    try testing.expectEqual(@as(u64, 500 + 101 + 7), collector.recorded);
    try testing.expectEqual(@as(u64, 608), collector.flight.?.received);
}

fn sleep_a_millisecond() void {
    const duration: std.c.timespec = .{ .sec = 0, .nsec = std.time.ns_per_ms };
    _ = std.c.nanosleep(&duration, null);
}

/// Test set-up: process `pid`'s main thread and two workers started (at 10 ns), worker 2 ended
/// on its own, worker 1 not; their producers, attached.
fn start_two_workers(ring: *ring_module.Ring, pid: u32) ![3]ring_module.Producer {
    var producers = [_]ring_module.Producer{ ring.attach(pid, 0), ring.attach(pid, 1), ring.attach(pid, 2) };
    var record = std.mem.zeroes(Record);
    record.kind = @intFromEnum(layout.EventKind.trace_start);
    record.timestamp_ns = 10;
    record.e = 1;
    try testing.expect(producers[0].write(&record));
    record.e = 0;
    try testing.expect(producers[1].write(&record));
    try testing.expect(producers[2].write(&record));
    record.kind = @intFromEnum(layout.EventKind.thread_exit);
    try testing.expect(producers[2].write(&record));
    return producers;
}

test "collector: a process gone without its ending: its ending, then one for each worker that recorded none" {
    var rig: TestRig = undefined;
    try rig.init("threads-end", .{ .lane_count = 4, .lane_capacity_slots = 64, .mode = .discard, .collector_pid = @intCast(std.c.getpid()) });
    defer rig.deinit();
    const ring = &rig.ring;
    const writer = &rig.writer;
    const collector = try Collector.create(testing.allocator, ring, writer, 99);
    defer collector.destroy(testing.allocator);
    // pid 0x7fff_fff0: no such process (above pid_max), so gone at the first check.
    var producers = try start_two_workers(ring, 0x7fff_fff0);
    for (&producers) |*producer| producer.detach();
    _ = collector.drain_all();
    try testing.expectEqual(@as(u64, 4), writer.records_count);
    collector.endings.check(clock.monotonic_ns(), true);
    collector.endings.settle(clock.monotonic_ns(), true, collector, Collector.emit_ending, Collector.end_threads);
    // The process's ending and worker 1's: nothing open is left.
    try testing.expectEqual(@as(u64, 6), writer.records_count);
    try testing.expectEqual(@as(u64, 1), collector.endings.wrote_unknown);
    for (collector.threads) |entry| try testing.expectEqual(@as(u64, 0), entry.open_start_ns);
}

test "collector: a process gone with its own ending: one for each worker that recorded none, with its status, at its time; none with --events without thread" {
    for ([_]bool{ true, false }) |workers_enabled| {
        var rig: TestRig = undefined;
        try rig.init("threads-own-end", .{ .lane_count = 4, .lane_capacity_slots = 64, .mode = .discard, .collector_pid = @intCast(std.c.getpid()) });
        defer rig.deinit();
        const ring = &rig.ring;
        const writer = &rig.writer;
        const collector = try Collector.create(testing.allocator, ring, writer, 99);
        defer collector.destroy(testing.allocator);
        collector.endings.workers_enabled.store(workers_enabled, .monotonic);
        // pid 0x7fff_fff1: no such process (above pid_max), so gone at the first check.
        var producers = try start_two_workers(ring, 0x7fff_fff1);
        // Worker 1 is still running at the process's process.exit(3).
        var record = std.mem.zeroes(Record);
        record.kind = @intFromEnum(layout.EventKind.process_exit);
        record.timestamp_ns = 500;
        record.a = 3;
        try testing.expect(producers[0].write(&record));
        for (&producers) |*producer| producer.detach();
        _ = collector.drain_all();
        try testing.expectEqual(@as(u64, 5), writer.records_count);
        collector.endings.check(clock.monotonic_ns(), true);
        collector.endings.settle(clock.monotonic_ns(), true, collector, Collector.emit_ending, Collector.end_threads);
        try testing.expectEqual(@as(u64, 0), collector.endings.wrote_unknown + collector.endings.wrote_status);
        if (!workers_enabled) {
            try testing.expectEqual(@as(u64, 5), writer.records_count);
            continue;
        }
        // Worker 1's ending, as the collector's, with the process's own status and time.
        try testing.expectEqual(@as(u64, 6), writer.records_count);
        for (collector.threads) |entry| try testing.expectEqual(@as(u64, 0), entry.open_start_ns);
        var records: [6]Record = undefined;
        try rig.read_back(&records);
        const ending = records[5];
        try testing.expectEqual(@as(u16, @intFromEnum(layout.EventKind.thread_exit)), ending.kind);
        try testing.expectEqual(@as(u32, 1), ending.tid);
        try testing.expectEqual(@as(u64, 3), ending.a);
        try testing.expectEqual(@as(u64, 500), ending.timestamp_ns);
        try testing.expectEqual(layout.exit_flag_collector, ending.flags);
    }
}
