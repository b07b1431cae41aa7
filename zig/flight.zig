//! The flight recorder's window (`scope run --flight-recorder <duration>`): the collector's
//! drain thread keeps what it drains in memory instead of writing it, holding about the
//! last `window_ns` of records, and writes them to the trace only when a trigger asks
//! (SIGUSR1 to `scope run`, an uncaught exception or unhandled rejection in any traced
//! process or thread, a non-zero exit at the end: collector.zig).
//!
//! What is held is chosen by time; memory only protects. Two FIFO queues of 4096-record
//! blocks (256 KiB each), allocated on first use and recycled through a free list, so the
//! memory is bounded by `memory_bytes` whatever the event rate:
//!
//!   events  every record but the two classes below, in drain order. A block leaves
//!           when its newest record is older than the window (aged out), or, oldest
//!           first, when the queue holds 3/4 of `memory_bytes` (evicted by the cap: the
//!           window then covers less than asked, and the summary says so).
//!   names   `string` records and definition records (trace_start, function_table,
//!           http_connection, db_connection: records later events name by id), 1/4 of `memory_bytes`,
//!           never aged: events in the window name strings interned long before it
//!           (function names, argv, an HTTP method). Evicted oldest block first when
//!           full; definitions and the strings a definition names are moved forward
//!           instead of dropped (a names index, bounded), unless they fill more than half
//!           the evicted block, so previews churning through do not push out the names of
//!           functions and threads.
//!
//! A dump writes, after the collector's `flight_dump` record, every definition not yet
//! written, the strings that the dumped events and definitions name (any field a..e of
//! the same (pid, tid) whose value is the id of a held string: a field that only looks
//! like an id adds a string, never loses one), then every event record of the window not
//! older than it. Then the events queue is empty and the written names are dropped: no
//! record is written twice, and the next dump writes what came since.
const std = @import("std");
const assert = std.debug.assert;
const layout = @import("layout.zig");

const Record = layout.Record;

pub const block_records: u32 = 4096;
pub const block_size_bytes: u64 = block_records * layout.record_size_bytes;
/// Blocks are at least one per queue; `memory_bytes` below this is raised to it.
pub const memory_bytes_min: u64 = 4 * block_size_bytes;
pub const memory_bytes_default: u64 = 256 << 20;
/// 1 TiB: 2^22 blocks, so block counts fit in u32 with room to spare.
pub const memory_bytes_max: u64 = 1 << 40;
/// The names queue's share of `memory_bytes` (the events queue gets the rest).
pub const names_share_divisor: u64 = 4;

/// `seq` of a held names record: 0 while not yet written, this once written by a dump
/// (the field belongs to the ring; records are written with it zeroed).
const seq_written: u32 = 1;

const Block = struct {
    count: u32,
    timestamp_max_ns: u64,
    records: [block_records]Record,
};

/// A bounded FIFO of blocks.
const Queue = struct {
    slots: []*Block,
    head: u32 = 0,
    count: u32 = 0,

    fn oldest(queue: *const Queue) ?*Block {
        if (queue.count == 0) return null;
        return queue.slots[queue.head];
    }

    fn newest(queue: *const Queue) ?*Block {
        if (queue.count == 0) return null;
        return queue.slots[(queue.head + queue.count - 1) % queue.slots.len];
    }

    fn at(queue: *const Queue, index: u32) *Block {
        assert(index < queue.count);
        return queue.slots[(queue.head + index) % queue.slots.len];
    }

    fn full(queue: *const Queue) bool {
        return queue.count == queue.slots.len;
    }

    fn push(queue: *Queue, block: *Block) void {
        assert(!queue.full());
        queue.slots[(queue.head + queue.count) % queue.slots.len] = block;
        queue.count += 1;
    }

    fn pop_oldest(queue: *Queue) *Block {
        assert(queue.count > 0);
        const block = queue.slots[queue.head];
        queue.head = @intCast((queue.head + 1) % queue.slots.len);
        queue.count -= 1;
        return block;
    }
};

/// A string's identity: ids are unique per (pid, tid) producer.
const Key = struct { pid: u32, tid: u32, id: u32 };
/// A held string not yet written: whether the dump needs it, and its records (a long string is several).
const Need = struct { needed: bool = false, records: u32 = 0 };
const Needed = std.AutoHashMapUnmanaged(Key, Need);

fn key_of(pid: u32, tid: u32, value: u64) ?Key {
    if (value == 0 or value > std.math.maxInt(u32)) return null;
    return .{ .pid = pid, .tid = tid, .id = @intCast(value) };
}

fn string_key(record: *const Record) Key {
    assert(record.kind == @intFromEnum(layout.EventKind.string));
    return .{ .pid = record.pid, .tid = record.tid, .id = @truncate(record.a) };
}

/// Records later events name by id (kept with the strings, never aged).
pub fn is_definition(kind: u16) bool {
    return switch (kind) {
        @intFromEnum(layout.EventKind.trace_start),
        @intFromEnum(layout.EventKind.function_table),
        @intFromEnum(layout.EventKind.http_connection),
        @intFromEnum(layout.EventKind.db_connection),
        => true,
        else => false,
    };
}

fn is_name(kind: u16) bool {
    return kind == @intFromEnum(layout.EventKind.string) or is_definition(kind);
}

/// The payload fields of a record, any of which may name a string.
fn fields(record: *const Record) [5]u64 {
    return .{ record.a, record.b, record.c, record.d, record.e };
}

pub const Options = struct {
    window_ns: u64,
    memory_bytes: u64 = memory_bytes_default,
};

pub const DumpResult = struct {
    /// Records written after the flight_dump record.
    written: u64,
    /// The time from which the dump holds every record the window had (flight_dump c).
    window_start_ns: u64,
    /// Events of the window left out, the oldest, to fit `room`.
    cut: u64 = 0,
};

pub const Window = struct {
    allocator: std.mem.Allocator,
    window_ns: u64,
    events: Queue,
    names: Queue,
    /// Recycled blocks (at most as many as both queues hold).
    free: []*Block,
    free_count: u32 = 0,
    /// Keys of the strings held definitions name: moved forward, not dropped, on eviction.
    named: std.AutoHashMapUnmanaged(Key, void) = .empty,
    named_max: u32,

    // Counts (read by the collector for the summary).
    received: u64 = 0,
    dumped: u64 = 0,
    dump_count: u64 = 0,
    aged_out: u64 = 0,
    evicted_by_cap: u64 = 0,
    names_evicted: u64 = 0,
    /// Events of the window a dump left out, the oldest, to fit the trace's limit (`room`).
    cut_by_limit: u64 = 0,
    /// Records dropped because no block could be allocated (the machine is out of memory).
    no_memory: u64 = 0,
    blocks_allocated: u32 = 0,
    blocks_peak: u32 = 0,
    /// The newest timestamp the cap evicted since the last dump: the window is whole after it.
    cap_evicted_timestamp_ns: u64 = 0,

    pub fn init(allocator: std.mem.Allocator, options: Options) error{OutOfMemory}!Window {
        assert(options.window_ns > 0);
        assert(options.memory_bytes <= memory_bytes_max);
        const memory_bytes = @max(options.memory_bytes, memory_bytes_min);
        const names_blocks: u32 = @intCast(@max(1, memory_bytes / names_share_divisor / block_size_bytes));
        const events_blocks: u32 = @intCast(@max(1, memory_bytes / block_size_bytes - names_blocks));
        const events_slots = try allocator.alloc(*Block, events_blocks);
        errdefer allocator.free(events_slots);
        const names_slots = try allocator.alloc(*Block, names_blocks);
        errdefer allocator.free(names_slots);
        const free = try allocator.alloc(*Block, events_blocks + names_blocks);
        return .{
            .allocator = allocator,
            .window_ns = options.window_ns,
            .events = .{ .slots = events_slots },
            .names = .{ .slots = names_slots },
            .free = free,
            // Each definition names at most three strings; the index stays well inside
            // the names queue's own bound.
            .named_max = names_blocks * block_records,
        };
    }

    pub fn deinit(window: *Window) void {
        const allocator = window.allocator;
        while (window.events.count > 0) allocator.destroy(window.events.pop_oldest());
        while (window.names.count > 0) allocator.destroy(window.names.pop_oldest());
        for (window.free[0..window.free_count]) |block| allocator.destroy(block);
        allocator.free(window.events.slots);
        allocator.free(window.names.slots);
        allocator.free(window.free);
        window.named.deinit(allocator);
        window.* = undefined;
    }

    /// Bytes of record blocks held now (allocated, in use or free).
    pub fn held_bytes(window: *const Window) u64 {
        return @as(u64, window.blocks_allocated) * @sizeOf(Block);
    }

    /// Records held now (events, and names not yet written).
    pub fn held_records(window: *const Window) u64 {
        var count: u64 = 0;
        for (0..window.events.count) |index| count += window.events.at(@intCast(index)).count;
        for (0..window.names.count) |index| count += window.names.at(@intCast(index)).count;
        return count;
    }

    /// Takes drained records (seq 0), each into its queue.
    pub fn add(window: *Window, records: []const Record) void {
        for (records) |*record| {
            assert(record.seq == 0);
            if (is_name(record.kind)) window.add_name(record) else window.add_event(record);
        }
        window.received += records.len;
    }

    fn add_event(window: *Window, record: *const Record) void {
        const block = window.writable(&window.events) orelse {
            window.no_memory += 1;
            return;
        };
        block.records[block.count] = record.*;
        block.count += 1;
        block.timestamp_max_ns = @max(block.timestamp_max_ns, record.timestamp_ns);
    }

    fn add_name(window: *Window, record: *const Record) void {
        if (is_definition(record.kind)) window.index_named(record);
        const block = window.writable(&window.names) orelse {
            window.no_memory += 1;
            return;
        };
        block.records[block.count] = record.*;
        block.count += 1;
    }

    /// The strings a definition names are kept while the definition is (bounded).
    fn index_named(window: *Window, record: *const Record) void {
        for (fields(record)) |value| {
            const key = key_of(record.pid, record.tid, value) orelse continue;
            if (window.named.count() >= window.named_max) return;
            window.named.put(window.allocator, key, {}) catch return;
        }
    }

    /// The queue's newest block if it has room, else a fresh one (evicting the oldest
    /// when the queue is full); null only when no block can be allocated at all.
    fn writable(window: *Window, queue: *Queue) ?*Block {
        if (queue.newest()) |block| {
            if (block.count < block_records) return block;
        }
        if (queue.full()) {
            if (queue == &window.events) window.evict_event_block() else window.evict_names_block();
            if (queue.newest()) |block| {
                if (block.count < block_records) return block;
            }
        }
        const block = window.take_block() orelse {
            // Out of memory: make room in this queue instead.
            if (queue.count == 0) return null;
            if (queue == &window.events) window.evict_event_block() else window.evict_names_block();
            return window.writable_after_eviction(queue);
        };
        queue.push(block);
        return block;
    }

    fn writable_after_eviction(window: *Window, queue: *Queue) ?*Block {
        if (queue.newest()) |block| {
            if (block.count < block_records) return block;
        }
        const block = window.take_block() orelse return null;
        queue.push(block);
        return block;
    }

    fn take_block(window: *Window) ?*Block {
        const block = if (window.free_count > 0) blk: {
            window.free_count -= 1;
            break :blk window.free[window.free_count];
        } else blk: {
            const block = window.allocator.create(Block) catch return null;
            window.blocks_allocated += 1;
            window.blocks_peak = @max(window.blocks_peak, window.blocks_allocated);
            break :blk block;
        };
        block.count = 0;
        block.timestamp_max_ns = 0;
        return block;
    }

    fn recycle(window: *Window, block: *Block) void {
        assert(window.free_count < window.free.len);
        window.free[window.free_count] = block;
        window.free_count += 1;
    }

    fn evict_event_block(window: *Window) void {
        const block = window.events.pop_oldest();
        window.evicted_by_cap += block.count;
        window.cap_evicted_timestamp_ns = @max(window.cap_evicted_timestamp_ns, block.timestamp_max_ns);
        window.recycle(block);
    }

    /// Drops the oldest names block, moving forward the definitions and the strings they
    /// name (unwritten ones) unless they fill more than half of it.
    fn evict_names_block(window: *Window) void {
        const block = window.names.pop_oldest();
        var kept: u32 = 0;
        for (block.records[0..block.count]) |*record| {
            if (record.seq == seq_written) continue;
            const keep = is_definition(record.kind) or window.named.contains(string_key(record));
            if (!keep) continue;
            block.records[kept] = record.*;
            kept += 1;
        }
        if (kept == 0 or kept > block_records / 2) {
            window.names_evicted += block.count;
            window.recycle(block);
            return;
        }
        window.names_evicted += block.count - kept;
        block.count = kept;
        window.names.push(block);
    }

    /// Drops event blocks whose newest record is older than the window.
    pub fn evict_aged(window: *Window, now_ns: u64) void {
        while (window.events.oldest()) |block| {
            if (block.timestamp_max_ns +| window.window_ns >= now_ns) return;
            window.aged_out += block.count;
            window.recycle(window.events.pop_oldest());
        }
    }

    /// Writes the window through `sink.emit(records)` (batches of at most `staging.len`),
    /// preceded by the `flight_dump` record (trigger, count, window start, detail d and e,
    /// `own_pid`). `room`: the records the trace still takes, marker included (a limit,
    /// --max-size or --max-events; maxInt: none). A window that does not fit leaves out its
    /// oldest events (and the strings only they name), not its newest: a flight recorder
    /// keeps the last moments (counted in `cut_by_limit`). Returns what it wrote.
    pub fn dump(window: *Window, sink: anytype, staging: []Record, now_ns: u64, own_pid: u32, trigger: layout.FlightTrigger, detail_d: u64, detail_e: u64, room: u64) DumpResult {
        assert(staging.len > 0);
        assert(trigger != .none);
        window.evict_aged(now_ns);
        const oldest_ns = now_ns -| window.window_ns;
        // The strings held that are not written yet, all needed only when the index
        // cannot be had (no memory): a dump then writes every held string.
        var needed: Needed = .empty;
        defer needed.deinit(window.allocator);
        const plan = window.plan_dump(&needed, oldest_ns, room);
        const skip = plan.skip;
        const indexed = plan.indexed;
        const events_count = plan.events;
        const names_count = plan.names;
        window.cut_by_limit += skip;
        const written = names_count + events_count;
        const window_start_ns = @max(oldest_ns, window.cap_evicted_timestamp_ns);

        var out = Staging(@TypeOf(sink)){ .sink = sink, .buffer = staging };
        var marker = std.mem.zeroes(Record);
        marker.kind = @intFromEnum(layout.EventKind.flight_dump);
        marker.timestamp_ns = now_ns;
        marker.pid = own_pid;
        marker.a = @intFromEnum(trigger);
        marker.b = written;
        marker.c = window_start_ns;
        marker.d = detail_d;
        marker.e = detail_e;
        out.put(&marker);
        // Names first (strings, then the definitions that name them), then the events.
        var names_written: u64 = 0;
        for ([_]bool{ false, true }) |definitions| {
            for (0..window.names.count) |block_index| {
                const block = window.names.at(@intCast(block_index));
                for (block.records[0..block.count]) |*record| {
                    if (record.seq == seq_written) continue;
                    if (is_definition(record.kind) != definitions) continue;
                    if (!definitions and indexed and !(needed.get(string_key(record)) orelse Need{ .needed = true }).needed) continue;
                    record.seq = 0;
                    out.put(record);
                    record.seq = seq_written;
                    names_written += 1;
                }
            }
        }
        assert(names_written == names_count);
        var skipped: u64 = 0;
        while (window.events.count > 0) {
            const block = window.events.pop_oldest();
            for (block.records[0..block.count]) |*record| {
                if (record.timestamp_ns < oldest_ns) {
                    window.aged_out += 1;
                    continue;
                }
                if (skipped < skip) {
                    skipped += 1;
                    continue;
                }
                out.put(record);
            }
            window.recycle(block);
        }
        out.flush();
        assert(out.emitted == written + 1);
        window.compact_names();
        window.dumped += written;
        window.dump_count += 1;
        window.cap_evicted_timestamp_ns = 0;
        return .{ .written = written, .window_start_ns = window_start_ns, .cut = skip };
    }

    const DumpPlan = struct { events: u64, names: u64, skip: u64, indexed: bool };

    /// What a dump writes: the definitions not yet written, the window's events not older
    /// than `oldest_ns` (the newest of them that fit `room`, marker included: `skip` the
    /// oldest), and the strings those name (`needed` marks them; every unwritten string
    /// when the index cannot be had).
    fn plan_dump(window: *Window, needed: *Needed, oldest_ns: u64, room: u64) DumpPlan {
        const indexed = window.index_unwritten_strings(needed);
        // The definitions, and the strings they name, are written whatever the room.
        var names_count: u64 = 0;
        for (0..window.names.count) |block_index| {
            const block = window.names.at(@intCast(block_index));
            for (block.records[0..block.count]) |*record| {
                if (record.seq == seq_written or !is_definition(record.kind)) continue;
                names_count += 1;
                if (indexed) names_count += mark_named(needed, record);
            }
        }
        if (!indexed) names_count += window.unwritten_strings();
        // Then events from the newest back, each with the strings it adds, while they fit;
        // the older ones only counted (left out).
        const limited = room != std.math.maxInt(u64);
        var events_count: u64 = 0;
        var window_events: u64 = 0;
        var full = false;
        var block_index = window.events.count;
        while (block_index > 0) {
            block_index -= 1;
            const block = window.events.at(block_index);
            var index = block.count;
            while (index > 0) {
                index -= 1;
                const record = &block.records[index];
                if (record.timestamp_ns < oldest_ns) continue;
                window_events += 1;
                if (full) continue;
                if (limited) {
                    const added = if (indexed) count_unmarked(needed, record) else 0;
                    full = 1 + names_count + added + events_count + 1 > room;
                    if (full) continue;
                }
                if (indexed) names_count += mark_named(needed, record);
                events_count += 1;
            }
        }
        // The names as the dump writes them: a string held twice under one key is written twice.
        var names_written: u64 = 0;
        for (0..window.names.count) |names_index| {
            const block = window.names.at(@intCast(names_index));
            for (block.records[0..block.count]) |*record| {
                if (record.seq == seq_written) continue;
                if (is_definition(record.kind) or !indexed or (needed.get(string_key(record)) orelse Need{ .needed = true }).needed) names_written += 1;
            }
        }
        return .{ .events = events_count, .names = names_written, .skip = window_events - events_count, .indexed = indexed };
    }

    /// Strings held and not yet written.
    fn unwritten_strings(window: *const Window) u64 {
        var count: u64 = 0;
        for (0..window.names.count) |block_index| {
            const block = window.names.at(@intCast(block_index));
            for (block.records[0..block.count]) |*record| count += @intFromBool(record.seq != seq_written and record.kind == @intFromEnum(layout.EventKind.string));
        }
        return count;
    }

    /// Puts every unwritten string's key in `needed` (not needed, with its records); false when it cannot.
    fn index_unwritten_strings(window: *Window, needed: *Needed) bool {
        var count: u32 = 0;
        for (0..window.names.count) |block_index| count += window.names.at(@intCast(block_index)).count;
        needed.ensureTotalCapacity(window.allocator, count) catch return false;
        for (0..window.names.count) |block_index| {
            const block = window.names.at(@intCast(block_index));
            for (block.records[0..block.count]) |*record| {
                if (record.seq == seq_written or record.kind != @intFromEnum(layout.EventKind.string)) continue;
                const entry = needed.getOrPutAssumeCapacity(string_key(record));
                if (!entry.found_existing) entry.value_ptr.* = .{};
                entry.value_ptr.records += 1;
            }
        }
        return true;
    }

    /// Marks the held strings `record` names as needed; returns the records of those that were not yet.
    fn mark_named(needed: *Needed, record: *const Record) u64 {
        if (record.kind == @intFromEnum(layout.EventKind.string)) return 0;
        var marked: u64 = 0;
        for (fields(record)) |value| {
            const key = key_of(record.pid, record.tid, value) orelse continue;
            if (needed.getPtr(key)) |need| {
                if (!need.needed) marked += need.records;
                need.needed = true;
            }
        }
        return marked;
    }

    /// The records of the held strings `record` names that are not marked needed yet (a string named twice counts once).
    fn count_unmarked(needed: *Needed, record: *const Record) u64 {
        if (record.kind == @intFromEnum(layout.EventKind.string)) return 0;
        var keys: [5]Key = undefined;
        var count: usize = 0;
        var records: u64 = 0;
        for (fields(record)) |value| {
            const key = key_of(record.pid, record.tid, value) orelse continue;
            const need = needed.get(key) orelse continue;
            if (need.needed) continue;
            const seen = for (keys[0..count]) |other| {
                if (std.meta.eql(other, key)) break true;
            } else false;
            if (seen) continue;
            keys[count] = key;
            count += 1;
            records += need.records;
        }
        return records;
    }

    /// After a dump: drops the names written (they are in the trace), keeps the rest in order.
    fn compact_names(window: *Window) void {
        const count = window.names.count;
        var target: ?*Block = null;
        var kept_blocks: u32 = 0;
        var index: u32 = 0;
        while (index < count) : (index += 1) {
            const block = window.names.pop_oldest();
            var kept: u32 = 0;
            for (block.records[0..block.count]) |*record| {
                if (record.seq == seq_written) continue;
                block.records[kept] = record.*;
                kept += 1;
            }
            block.count = kept;
            if (kept == 0) {
                window.recycle(block);
                continue;
            }
            // Fill the previous kept block first, so held names stay dense.
            if (target) |previous| {
                const room = block_records - previous.count;
                const moved = @min(room, kept);
                @memcpy(previous.records[previous.count..][0..moved], block.records[0..moved]);
                previous.count += moved;
                if (moved == kept) {
                    window.recycle(block);
                    continue;
                }
                std.mem.copyForwards(Record, block.records[0 .. kept - moved], block.records[moved..kept]);
                block.count = kept - moved;
            }
            window.names.push(block);
            kept_blocks += 1;
            target = block;
        }
        assert(window.names.count == kept_blocks);
        // Every definition held was written: the strings they named were too.
        window.named.clearRetainingCapacity();
    }
};

fn Staging(comptime Sink: type) type {
    return struct {
        sink: Sink,
        buffer: []Record,
        count: usize = 0,
        emitted: u64 = 0,

        fn put(staging: *@This(), record: *const Record) void {
            staging.buffer[staging.count] = record.*;
            staging.buffer[staging.count].seq = 0;
            staging.count += 1;
            if (staging.count == staging.buffer.len) staging.flush();
        }

        fn flush(staging: *@This()) void {
            if (staging.count == 0) return;
            staging.sink.emit(staging.buffer[0..staging.count]);
            staging.emitted += staging.count;
            staging.count = 0;
        }
    };
}

const testing = std.testing;

const Collected = struct {
    records: std.ArrayListUnmanaged(Record) = .empty,

    fn emit(collected: *Collected, records: []const Record) void {
        collected.records.appendSlice(testing.allocator, records) catch unreachable;
    }
};

fn event(kind: layout.EventKind, pid: u32, timestamp_ns: u64, a: u64, c: u64) Record {
    var record = std.mem.zeroes(Record);
    record.kind = @intFromEnum(kind);
    record.pid = pid;
    record.timestamp_ns = timestamp_ns;
    record.a = a;
    record.c = c;
    return record;
}

fn string(pid: u32, id: u32, timestamp_ns: u64) Record {
    var record = std.mem.zeroes(Record);
    record.kind = @intFromEnum(layout.EventKind.string);
    record.pid = pid;
    record.timestamp_ns = timestamp_ns;
    record.a = id | (@as(u64, 3) << 32);
    return record;
}

fn count_kind(records: []const Record, kind: layout.EventKind) usize {
    var count: usize = 0;
    for (records) |record| count += @intFromBool(record.kind == @intFromEnum(kind));
    return count;
}

test "flight: a dump writes the window's events after its marker, with the strings they name, once" {
    var window = try Window.init(testing.allocator, .{ .window_ns = 1000 });
    defer window.deinit();
    var staging: [100]Record = undefined;
    // A function named long ago (string 1, table entry naming it), a preview string 2 and
    // its call, an unrelated string 3 nobody in the window names.
    var table = event(.function_table, 7, 10, 5, 0);
    table.b = 1;
    window.add(&.{ string(7, 1, 10), table, string(7, 3, 11) });
    window.add(&.{ string(7, 2, 5000), event(.function_call, 7, 5000, 5, 2) });
    var collected: Collected = .{};
    defer collected.records.deinit(testing.allocator);
    const result = window.dump(&collected, &staging, 5500, 99, .signal, 0, 0, std.math.maxInt(u64));
    const out = collected.records.items;
    try testing.expectEqual(@as(u64, 4), result.written);
    try testing.expectEqual(@as(usize, 5), out.len);
    try testing.expectEqual(@intFromEnum(layout.EventKind.flight_dump), out[0].kind);
    try testing.expectEqual(@as(u64, @intFromEnum(layout.FlightTrigger.signal)), out[0].a);
    try testing.expectEqual(@as(u64, 4), out[0].b);
    try testing.expectEqual(@as(u64, 4500), out[0].c);
    try testing.expectEqual(@as(u32, 99), out[0].pid);
    // Strings 1 and 2 (named by the table entry and the call), not 3; the table; the call.
    try testing.expectEqual(@as(usize, 2), count_kind(out, .string));
    for (out) |record| {
        try testing.expectEqual(@as(u32, 0), record.seq);
        if (record.kind == @intFromEnum(layout.EventKind.string)) try testing.expect(@as(u32, @truncate(record.a)) != 3);
    }
    try testing.expectEqual(@intFromEnum(layout.EventKind.function_call), out[4].kind);

    // A second dump writes only what came since: a new call naming the old table entry.
    collected.records.clearRetainingCapacity();
    window.add(&.{event(.function_call, 7, 6000, 5, 0)});
    const second = window.dump(&collected, &staging, 6100, 99, .uncaught_exception, 7, 0, std.math.maxInt(u64));
    try testing.expectEqual(@as(u64, 1), second.written);
    try testing.expectEqual(@as(usize, 2), collected.records.items.len);
    try testing.expectEqual(@intFromEnum(layout.EventKind.function_call), collected.records.items[1].kind);
    // String 3 was never named: still held, never written.
    try testing.expectEqual(@as(u64, 1), window.held_records());
}

test "flight: a dump over its room leaves out the oldest events and the strings only they name, keeps the newest" {
    var window = try Window.init(testing.allocator, .{ .window_ns = 1_000_000 });
    defer window.deinit();
    // A definition and its name, then 100 events each naming a string of its own (ids 100..199).
    var table = event(.function_table, 3, 1, 9, 0);
    table.b = 42;
    window.add(&.{ string(3, 42, 1), table });
    for (0..100) |index| {
        window.add(&.{string(3, @intCast(100 + index), 10 + index)});
        window.add(&.{event(.message_send, 3, 10 + index, 100 + index, 0)});
    }
    var staging: [16]Record = undefined;
    var collected: Collected = .{};
    defer collected.records.deinit(testing.allocator);
    // Room for the marker, the table and its name, and 10 events with their 10 strings.
    const result = window.dump(&collected, &staging, 1000, 1, .signal, 0, 0, 1 + 2 + 20);
    try testing.expectEqual(@as(u64, 90), result.cut);
    try testing.expectEqual(@as(u64, 90), window.cut_by_limit);
    try testing.expectEqual(@as(u64, 22), result.written);
    const out = collected.records.items;
    try testing.expectEqual(@as(usize, 23), out.len);
    try testing.expectEqual(@as(u64, 22), out[0].b);
    // The newest ten events (a = 190..199), in order, after the names they need.
    var events_seen: u64 = 0;
    for (out) |record| {
        if (record.kind == @intFromEnum(layout.EventKind.message_send)) {
            try testing.expectEqual(@as(u64, 190 + events_seen), record.a);
            events_seen += 1;
        } else if (record.kind == @intFromEnum(layout.EventKind.string)) {
            const id: u32 = @truncate(record.a);
            try testing.expect(id == 42 or id >= 190);
        }
    }
    try testing.expectEqual(@as(u64, 10), events_seen);
    // Without a limit the whole window goes.
    window.add(&.{event(.message_send, 3, 500, 1, 0)});
    const whole = window.dump(&collected, &staging, 1000, 1, .signal, 0, 0, std.math.maxInt(u64));
    try testing.expectEqual(@as(u64, 0), whole.cut);
    try testing.expectEqual(@as(u64, 1), whole.written);
}

test "flight: the window holds only the last window_ns, and a dump skips older records" {
    var window = try Window.init(testing.allocator, .{ .window_ns = 1000 });
    defer window.deinit();
    var records: [block_records]Record = undefined;
    // Three blocks of events at times 0.., 10_000.., 20_000..
    for (0..3) |block_index| {
        for (&records, 0..) |*record, index| record.* = event(.message_send, 1, block_index * 10_000 + index / 8, index, 0);
        window.add(&records);
    }
    window.evict_aged(20_600);
    try testing.expectEqual(@as(u64, 2 * block_records), window.aged_out);
    var staging: [block_records]Record = undefined;
    var collected: Collected = .{};
    defer collected.records.deinit(testing.allocator);
    const result = window.dump(&collected, &staging, 20_600, 1, .nonzero_exit, 1, 0, std.math.maxInt(u64));
    // Of the last block (times 20_000..20_511) the dump keeps those not older than 19_600: all.
    try testing.expectEqual(@as(u64, block_records), result.written);
    const later = window.dump(&collected, &staging, 30_000, 1, .signal, 0, 0, std.math.maxInt(u64));
    try testing.expectEqual(@as(u64, 0), later.written);
    try testing.expectEqual(@as(u64, 0), window.held_records());
}

test "flight: memory is bounded: the cap evicts the oldest events, names keep definitions" {
    // The smallest memory: one names block, three event blocks.
    var window = try Window.init(testing.allocator, .{ .window_ns = std.math.maxInt(u64) / 2, .memory_bytes = 0 });
    defer window.deinit();
    var table = event(.function_table, 3, 1, 9, 0);
    table.b = 42;
    // A database's connection, named by queries long after: kept as the table entry is.
    var connection = event(.db_connection, 3, 1, 1, 0);
    connection.b = 43;
    window.add(&.{ string(3, 42, 1), table, string(3, 43, 1), connection });
    var records: [block_records]Record = undefined;
    var timestamp_ns: u64 = 2;
    for (0..10) |_| {
        for (&records) |*record| {
            record.* = event(.message_send, 3, timestamp_ns, 0, 0);
            timestamp_ns += 1;
        }
        window.add(&records);
        // Previews churning through the names queue.
        for (&records, 0..) |*record, index| record.* = string(3, @intCast(1000 + index), timestamp_ns);
        window.add(&records);
    }
    try testing.expectEqual(@as(u32, 3), window.events.count);
    try testing.expect(window.evicted_by_cap >= 7 * block_records);
    try testing.expect(window.blocks_peak <= 4 + 1);
    try testing.expect(window.held_bytes() <= memory_bytes_min + @sizeOf(Block));
    // The table entry and its name survived the churn.
    var staging: [256]Record = undefined;
    var collected: Collected = .{};
    defer collected.records.deinit(testing.allocator);
    const result = window.dump(&collected, &staging, timestamp_ns, 1, .signal, 0, 0, std.math.maxInt(u64));
    try testing.expect(result.window_start_ns > 2);
    var saw_name = false;
    var saw_database = false;
    for (collected.records.items) |record| {
        if (record.kind == @intFromEnum(layout.EventKind.string) and @as(u32, @truncate(record.a)) == 42) saw_name = true;
        if (record.kind == @intFromEnum(layout.EventKind.string) and @as(u32, @truncate(record.a)) == 43) saw_database = true;
    }
    try testing.expect(saw_name);
    try testing.expect(saw_database);
    try testing.expectEqual(@as(usize, 1), count_kind(collected.records.items, .function_table));
    try testing.expectEqual(@as(usize, 1), count_kind(collected.records.items, .db_connection));
}
