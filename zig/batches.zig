//! Batches: every Node thread's function-event buffer (napi.zig `events()`, the calls level's
//! records waiting for the end of their job) lives in the ring's file, so that what a process
//! killed by a signal had buffered is still there for the collector to write.
//!
//! A process killed at a signal's default disposition (Ctrl-C's SIGINT, SIGTERM, SIGKILL)
//! runs no code of its own, so its threads' unflushed batches (the call of the function a hung
//! program is stuck in among them) would die with it. A handler of our own for those signals
//! would write into a lane from a signal context, so none is installed: the buffer itself is
//! shared memory instead, and the collector reads it once the process is gone.
//!
//! Area layout (at Header.batches_offset_bytes of the ring file, ring.zig):
//!
//!   0            owners: a u64 word a slot, one page. 0: free; else pid << 32 | tid of
//!                the thread whose buffer the slot is (pid is never 0).
//!   owners_bytes the slots, slot_bytes each (whole pages, so each maps on its own):
//!                the buffer napi.zig hands JavaScript (events_*: header words, records,
//!                two preview texts).
//!
//! Protocol. A thread claims a free slot with one CAS at its events() (napi.zig), maps that
//! slot's pages on their own (so `scope attach`'s release can unmap the ring under a buffer
//! JavaScript still holds), zeroes it, and releases it when its environment is torn down
//! (after the env's cleanup hook wrote what was buffered). The collector takes a slot only
//! once the owner's process has ended (a zombie or gone), so it never reads a buffer a live
//! thread is writing: it writes the records before the first zero kind word (the buffer is
//! zeroed after each commit, and JavaScript writes a record's kind first, the rule of
//! napi.zig `events_salvage`), stamped at the time it knows the process was gone (an upper
//! bound, as every calls-level time is), with the owner's pid and tid, function_calls packs
//! expanded; then it zeroes the records and frees the slot. A commit caught between its ring
//! write and its zeroing has header word `committing_word` set: its records may be in the
//! ring already, so that batch is not written again (no duplicates; at worst a commit's worth
//! lost, as before). Threads past slot_count live at once keep their buffer in process memory,
//! as before (not salvaged).
const std = @import("std");
const assert = std.debug.assert;
const layout = @import("layout.zig");

const Record = layout.Record;

pub const page_size_bytes: u64 = 4096;
/// The buffer JavaScript sees (src/instrument/runtime.ts EVENTS_*): header words (u32) at
/// 0..header_bytes, then batch_records records, then two texts of text_bytes each. Header
/// words: 0 records buffered, 1 texts (0..2) to write before the last record, 2/3 the first
/// text's string id and byte length, 4/5 the second's, 6 (written by commitEvents) how many
/// records were not written, 7 (written by events()) 1 when the batch may hold
/// function_calls packs, 8 (committing_word) nonzero while a commit writes the batch.
pub const header_bytes = 64;
pub const batch_records = 256;
/// preview.ts: 3 bytes a UTF-16 unit at PREVIEW_LIMIT_CHARS (4096), and the cut; the
/// ring keeps string_max_bytes of it.
pub const text_bytes = 3 * 4096 + 64;
pub const buffer_bytes = header_bytes + batch_records * layout.record_size_bytes + 2 * text_bytes;
pub const committing_word = 8;

/// The slots of a ring made for function tracing (scope run --functions, scope attach).
pub const slot_count: u32 = 64;
pub const slot_count_max: u32 = 512;
pub const slot_bytes: u64 = std.mem.alignForward(u64, buffer_bytes, page_size_bytes);
pub const owners_bytes: u64 = page_size_bytes;

/// The area's bytes in the ring file for `count` slots (allocated with it: fallocate, no
/// SIGBUS on a full tmpfs); none without slots.
pub fn area_bytes(count: u32) u64 {
    assert(count <= slot_count_max);
    if (count == 0) return 0;
    return owners_bytes + count * slot_bytes;
}
/// The most records one slot's batch stands for (every record a full function_calls pack).
pub const records_max: u32 = batch_records * layout.calls_pack_max;

comptime {
    assert(text_bytes >= layout.string_max_bytes);
    assert(header_bytes % 8 == 0 and text_bytes % 8 == 0);
    assert(committing_word * 4 < header_bytes);
    assert(slot_count <= slot_count_max and slot_count_max * @sizeOf(u64) <= owners_bytes);
    assert(slot_bytes % page_size_bytes == 0 and slot_bytes >= buffer_bytes);
}

pub fn owner_key(pid: u32, tid: u32) u64 {
    assert(pid != 0);
    return @as(u64, pid) << 32 | tid;
}

/// The area of one ring mapping. The memory is shared; this struct is not.
pub const Area = struct {
    owners: [*]std.atomic.Value(u64),
    slots: [*]align(page_size_bytes) u8,
    count: u32,

    /// `memory`: area_bytes(count) of them (empty without slots).
    pub fn view(memory: []align(page_size_bytes) u8, count: u32) Area {
        assert(memory.len == area_bytes(count));
        if (count == 0) return .{ .owners = undefined, .slots = undefined, .count = 0 };
        return .{ .owners = @ptrCast(memory.ptr), .slots = @alignCast(memory.ptr + owners_bytes), .count = count };
    }

    /// Where slot `index` starts, from the start of the area (its own mapping's file offset is
    /// the area's plus this).
    pub fn slot_offset(index: u32) u64 {
        assert(index < slot_count_max);
        return owners_bytes + index * slot_bytes;
    }

    pub fn slot(area: Area, index: u32) *align(page_size_bytes) [buffer_bytes]u8 {
        assert(index < area.count);
        return @ptrCast(@alignCast(area.slots + index * slot_bytes));
    }

    /// A free slot for thread (pid, tid), looked for from `start` on; null when all are taken.
    /// The caller zeroes its buffer before use.
    pub fn claim(area: Area, pid: u32, tid: u32, start: u32) ?u32 {
        const key = owner_key(pid, tid);
        for (0..area.count) |offset| {
            const index: u32 = @intCast((start +% offset) % area.count);
            const owner = &area.owners[index];
            // Monotonic: a first look; the CAS decides.
            if (owner.load(.monotonic) != 0) continue;
            // Acquire: pairs with the release of the slot's last freeing (its thread's or the
            // collector's), so their zeroing happens before our writes.
            if (owner.cmpxchgStrong(0, key, .acquire, .monotonic) == null) return index;
        }
        return null;
    }

    /// Frees slot `index` if (pid, tid) still owns it (a collector that took it first freed it).
    pub fn release(area: Area, index: u32, pid: u32, tid: u32) void {
        assert(index < area.count);
        // Release: the buffer's last writes happen before a later claimer's.
        _ = area.owners[index].cmpxchgStrong(owner_key(pid, tid), 0, .release, .monotonic);
    }

    /// Writes into `out` the batch of one slot whose owner's process ended (`pid`, or any
    /// such process when `pid` is 0; `ended` says which have), stamped `stamp_ns`, and frees
    /// it. Returns the records written (0 for an empty batch), or null when no slot matched.
    pub fn salvage_one(area: Area, out: []align(1) Record, pid: u32, stamp_ns: u64, ended: *const fn (u32) bool) ?u32 {
        assert(out.len >= records_max);
        for (area.owners[0..area.count], 0..) |*owner, index| {
            // Acquire: pairs with the owner's claim; its buffer writes before it died are
            // visible (a dead process wrote long before the kernel said it was gone).
            const key = owner.load(.acquire);
            if (key == 0) continue;
            const owner_pid: u32 = @truncate(key >> 32);
            if (pid != 0 and owner_pid != pid) continue;
            if (!ended(owner_pid)) continue;
            const count = take(area.slot(@intCast(index)), out, owner_pid, @truncate(key), stamp_ns);
            // Release: our zeroing happens before the next claimer's writes.
            owner.store(0, .release);
            return count;
        }
        return null;
    }
};

/// The records of one dead thread's buffer into `out` (see the protocol above); zeroes them.
fn take(buffer: *align(page_size_bytes) [buffer_bytes]u8, out: []align(1) Record, pid: u32, tid: u32, stamp_ns: u64) u32 {
    const header: *[header_bytes / 4]u32 = @ptrCast(buffer);
    const records: *[batch_records]Record = @ptrCast(@alignCast(buffer[header_bytes..][0 .. batch_records * layout.record_size_bytes]));
    var buffered: u32 = 0;
    while (buffered < batch_records and records[buffered].kind != 0) buffered += 1;
    var count: u32 = 0;
    // Caught inside a commit: its records may be in the ring already.
    if (header[committing_word] == 0) {
        for (records[0..buffered]) |*buffered_record| {
            var record = buffered_record.*;
            record.seq = 0;
            if (record.timestamp_ns == 0) record.timestamp_ns = stamp_ns;
            record.pid = pid;
            record.tid = tid;
            if (record.kind != @intFromEnum(layout.EventKind.function_calls)) {
                out[count] = record;
                count += 1;
                continue;
            }
            // A pack whose first call was being written when the thread died has no id yet.
            const ids = layout.calls_pack_ids(&record);
            const calls = layout.calls_pack_count(&record);
            for (0..calls) |call| out[count + call] = layout.calls_pack_call(&record, &ids, @intCast(call));
            count += calls;
        }
    }
    assert(count <= records_max);
    @memset(std.mem.sliceAsBytes(records[0..buffered]), 0);
    @memset(header[0..], 0);
    return count;
}

const testing = std.testing;

fn test_area() ![]align(page_size_bytes) u8 {
    const memory = try testing.allocator.alignedAlloc(u8, .fromByteUnits(page_size_bytes), area_bytes(slot_count));
    @memset(memory, 0);
    return memory;
}

fn always_ended(pid: u32) bool {
    _ = pid;
    return true;
}

fn never_ended(pid: u32) bool {
    _ = pid;
    return false;
}

fn odd_ended(pid: u32) bool {
    return pid % 2 == 1;
}

/// Puts `record` at position `index` of slot `slot_index`'s batch, as JavaScript does.
fn buffer_record(area: Area, slot_index: u32, index: u32, record: Record) void {
    const records: [*]Record = @ptrCast(@alignCast(&area.slot(slot_index)[header_bytes]));
    records[index] = record;
}

test "batches: claim takes free slots, release frees only the owner's" {
    const memory = try test_area();
    defer testing.allocator.free(memory);
    const area = Area.view(memory, slot_count);
    try testing.expectEqual(@as(?u32, 3), area.claim(10, 0, 3));
    try testing.expectEqual(@as(?u32, 4), area.claim(10, 1, 3));
    try testing.expectEqual(owner_key(10, 1), area.owners[4].load(.monotonic));
    area.release(4, 11, 1);
    try testing.expectEqual(owner_key(10, 1), area.owners[4].load(.monotonic));
    area.release(4, 10, 1);
    try testing.expectEqual(@as(u64, 0), area.owners[4].load(.monotonic));
    for (0..slot_count - 1) |_| try testing.expect(area.claim(12, 0, 0) != null);
    try testing.expectEqual(@as(?u32, null), area.claim(12, 0, 0));
    try testing.expectEqual(@as(u64, 0), Area.slot_offset(0) % page_size_bytes);
}

test "batches: a dead thread's batch is written stamped with its pid and tid, packs expanded, then freed" {
    const memory = try test_area();
    defer testing.allocator.free(memory);
    const area = Area.view(memory, slot_count);
    const index = area.claim(7, 3, 0).?;
    var call = std.mem.zeroes(Record);
    call.kind = @intFromEnum(layout.EventKind.function_call);
    call.a = 5;
    call.b = 1;
    buffer_record(area, index, 0, call);
    var pack = std.mem.zeroes(Record);
    pack.kind = @intFromEnum(layout.EventKind.function_calls);
    pack.a = 2 | (9 << 32);
    pack.b = 6 | (7 << 32);
    pack.c = 8;
    buffer_record(area, index, 1, pack);
    // Written after the first zero kind: not part of the batch.
    buffer_record(area, index, 3, call);
    const out = try testing.allocator.alloc(Record, records_max);
    defer testing.allocator.free(out);
    try testing.expectEqual(@as(?u32, null), area.salvage_one(out, 7, 100, never_ended));
    try testing.expectEqual(@as(?u32, null), area.salvage_one(out, 8, 100, always_ended));
    try testing.expectEqual(@as(?u32, 4), area.salvage_one(out, 7, 100, always_ended));
    for (out[0..4], [_]u64{ 5, 6, 7, 8 }, [_]u64{ 1, 2, 3, 4 }) |record, id, ordinal| {
        try testing.expectEqual(@as(u16, @intFromEnum(layout.EventKind.function_call)), record.kind);
        try testing.expectEqual(id, record.a);
        try testing.expectEqual(ordinal, record.b);
        try testing.expectEqual(@as(u64, 100), record.timestamp_ns);
        try testing.expectEqual(@as(u32, 7), record.pid);
        try testing.expectEqual(@as(u32, 3), record.tid);
    }
    try testing.expectEqual(@as(u64, 9), out[1].d);
    try testing.expectEqual(@as(u64, 0), area.owners[index].load(.monotonic));
    try testing.expectEqual(@as(u16, 0), @as(*const [batch_records]Record, @ptrCast(@alignCast(&area.slot(index)[header_bytes])))[0].kind);
    try testing.expectEqual(@as(?u32, null), area.salvage_one(out, 0, 100, always_ended));
}

test "batches: a batch caught mid-commit is not written again; pid 0 takes any ended process's" {
    const memory = try test_area();
    defer testing.allocator.free(memory);
    const area = Area.view(memory, slot_count);
    const live = area.claim(2, 0, 0).?;
    const dead = area.claim(3, 0, 0).?;
    var call = std.mem.zeroes(Record);
    call.kind = @intFromEnum(layout.EventKind.function_call);
    call.a = 1;
    buffer_record(area, live, 0, call);
    buffer_record(area, dead, 0, call);
    const header: *[header_bytes / 4]u32 = @ptrCast(area.slot(dead));
    header[committing_word] = 1;
    const out = try testing.allocator.alloc(Record, records_max);
    defer testing.allocator.free(out);
    try testing.expectEqual(@as(?u32, 0), area.salvage_one(out, 0, 1, odd_ended));
    try testing.expectEqual(@as(u32, 0), header[committing_word]);
    try testing.expectEqual(@as(?u32, null), area.salvage_one(out, 0, 1, odd_ended));
    try testing.expectEqual(owner_key(2, 0), area.owners[live].load(.monotonic));
}
