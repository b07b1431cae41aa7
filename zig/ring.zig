//! The ring: fixed 64-byte slots in one shared-memory region, written by every thread
//! and process of a traced tree, drained by one consumer (the collector).
//!
//! Region layout (all offsets from the start of the mapping, little-endian):
//!
//!   0                  Header (one page): magic "SCOPERNG", versions, geometry, mode,
//!                      the clock calibration every producer converts with (clock.zig),
//!                      the producers' overflow bound, the attach counter `next_lane`,
//!                      and the collector's wake word (a futex) on its own line.
//!   lanes_offset       lane_count × LaneControl (256 bytes each): the producer side
//!                      (head, dropped) and the consumer side (tail, counters) of a lane
//!                      on separate 128-byte lines, so producers and the consumer do not
//!                      false-share (x86 prefetches lines in pairs, hence 128).
//!   slots_offset       lane_count × lane_capacity_slots × Record (64 bytes).
//!   batches_offset     the threads' function-event buffers (batches.zig: an owner word a
//!                      slot, then the slots, whole pages; none without function tracing):
//!                      what a process killed by a signal had buffered, for the collector.
//!
//! Lanes. A producer takes a lane at attach time, round-robin, so a thread or process
//! usually has a lane to itself: one shared cursor would cost ~28 ns/event and not
//! scale. Each slot carries its own sequence number (`Record.seq`) that says which
//! position it holds and whether it is complete; the consumer reads only that and the
//! head, whoever wrote them. A lane is held one of two ways (LaneControl.holders):
//!
//!   exclusive  one producer took the lane empty with one CAS at attach and is its only
//!              writer until it detaches: it advances the head with a plain store and
//!              writes slots with plain stores and a release of the seq. No locked
//!              instruction per record: on Intel a locked instruction waits for the
//!              store buffer, i.e. for the previous record's slot to reach the cache,
//!              which tripled the producer's cost (BENCHMARKS.md, "the floor").
//!   shared     any number of producers (threads or processes) on one lane: positions
//!              are claimed with an atomic on the lane head.
//!
//! A producer attaching takes an empty lane exclusively, from its round-robin lane on;
//! lane 0 is never taken exclusively (nor the only lane of a one-lane ring), so when
//! producers outnumber lanes the rest share the lanes nobody holds exclusively, lane 0 at
//! least. A lane turns from one way to the other only while empty (no producer attached),
//! or when its exclusive holder's process is gone: agents do not always detach (Bun's
//! never does, nor Node's on process.exit), so an attach takes over a lane whose holder
//! pid no longer exists (kill(pid, 0): ESRCH) instead of losing it for the ring's life.
//! Pids only mean that inside one pid namespace: only producers in the ring creator's
//! pid namespace (Header.pid_namespace) hold lanes exclusively; others share.
//!
//! Slot sequence encoding (u32, wrapping): `committed(p) = (p + 1) << 1` says the slot
//! holds the complete record of lane position p; `busy(p) = committed(p) | 1` says a
//! writer of p is inside the slot (overwrite mode only). The initial 0 reads as
//! "committed(-1)", older than every position. Distances between positions are taken
//! modulo 2^31, so capacities stay below 2^30.
//!
//! Discard mode (default): a producer claims positions only while the lane has room
//! (head - tail < capacity) with one CAS for a whole batch, writes the bodies, then
//! publishes each slot with a release store of committed(p). A full lane drops the new
//! records and counts them in the lane's `dropped`. The consumer copies slot `tail` once
//! its seq reads committed(tail), then publishes the new tail so producers may reuse
//! the slots (release/acquire: its reads happen before their writes).
//!
//! Overwrite mode (`--mode overwrite`; not the flight recorder, which is the collector's
//! time window, flight.zig, over a discard-mode ring): producers always advance the head
//! (fetch_add), so none ever waits or spills when the drain falls behind, and a
//! writer takes its slot with a CAS from a non-busy older state to busy(p), writes, then
//! stores committed(p). A writer that finds the slot busy (a slower writer still inside)
//! or already holding a newer position gives up: two writers never write one slot at
//! once, so no slot is ever torn. The consumer reads like a seqlock: seq before, copy,
//! seq after; it accepts the copy only when both read committed(tail), and counts every
//! position it has to pass without a valid record (lapped, overwritten during the copy,
//! or given up) as `overwritten`. So after a final drain, exactly:
//!     received + dropped + overwritten + abandoned == produced (written + dropped),
//! with `abandoned` (positions claimed but never completed, skipped by a final drain)
//! zero unless a producer died between claiming and publishing.
//!
//! Bursts (discard mode). A lane holds what the collector has not drained yet; a
//! synchronous loop can outrun any drain for a while. So a producer that finds its lane
//! full does not drop at once: it keeps the records, stamped and complete, in its own
//! overflow (process memory, mapped on first use, at most `overflow_capacity_records`,
//! unmapped once empty) and moves them into the lane first on its next write and when it
//! detaches (waiting there, bounded, for the collector). While records wait there the
//! lane's `overflow_pending` counts them, so the collector counts a killed process's
//! waiting records as lost instead of losing them silently. Only past that bound are
//! records dropped, and the producer then writes one `drop` record (its pid and tid, the
//! time of the first loss, the count) as soon as it can write again.
//!
//! Stopping. Recording can stop while the program runs on (`scope stop`, --max-events,
//! --max-size, --duration, a failed trace write): the header's `stop_reason` is set once,
//! and from then on producers refuse every record (write returns false, not a loss) so
//! the agents can turn their hooks off; the collector keeps draining (so no producer
//! ever waits) and keeps nothing it drains after the stop (collector.zig settle_stop).
//!
//! Waking the collector. The collector sleeps on the header's `wake_sequence` (a futex)
//! with a timeout. A producer looks at its lane's fill only when its head passes a
//! private mark (`wake_position`: about every half lane), and when the lane is past half
//! full and the collector says it is sleeping, it bumps the word and wakes it: one
//! syscall per crossing, none on the ordinary write path. A producer that spills into
//! its overflow wakes it too. The waker clears the sleeping flag as it wakes, so a
//! sleep costs one FUTEX_WAKE however many producers write before the collector runs.
const std = @import("std");
const builtin = @import("builtin");
const assert = std.debug.assert;
const layout = @import("layout.zig");
const clock = @import("clock.zig");
const proc_stat = @import("proc_stat.zig");
const batches = @import("batches.zig");

const Record = layout.Record;

pub const magic: [8]u8 = "SCOPERNG".*;
/// Bumped on any change to Header, LaneControl or the slot sequence protocol.
/// 2: the clock calibration in the header. 3: the overflow bound and the collector's
/// wake word in the header, `overflow_pending`/`overflowed` per lane. 4: exclusive lanes
/// (LaneControl.holders, Header.pid_namespace). 5: Header.stop_reason. 6: slots may hold
/// function_calls packs, which only a drain of this version expands. 7:
/// Header.collector_stalled_at; a dead holder's unpublished positions published by its heir
/// as abandoned_record. 8: the threads' function-event batches after the slots
/// (Header.batches_offset_bytes, batches.zig).
pub const ring_layout_version: u32 = 8;

pub const page_size_bytes: u64 = 4096;
pub const header_size_bytes: u64 = page_size_bytes;
pub const lane_control_size_bytes: u64 = 256;
/// 128 bytes: one x86 cache line plus its adjacent-line prefetch partner.
const line_size_bytes = 128;

pub const lane_count_max: u32 = 256;
/// Ring.drain_losses' entries.
pub const drain_losses_max: u32 = 2 * lane_count_max;
pub const lane_capacity_slots_min: u32 = 8;
/// 2^22 slots × 64 bytes = 256 MiB per lane.
pub const lane_capacity_slots_max: u32 = 1 << 22;
pub const total_size_bytes_max: u64 = 4 << 30;
/// The largest batch one string may take: string_max_bytes in 32-byte fragments.
pub const string_fragment_count_max: u32 = layout.string_max_bytes / layout.string_fragment_bytes;
/// A producer's overflow holds at most this many records, and at least the minimum.
pub const overflow_capacity_records_max: u32 = 1 << 24;
pub const overflow_capacity_records_min: u32 = 1 << 10;
/// How long a detaching producer waits for the collector to make room while it makes
/// no progress at all (the collector stopped, blocked, deadlocked or starved): then what is
/// left is dropped, and the ring remembers it (Header.collector_stalled_at) so later waits,
/// in any thread or process, do not wait again until the collector drains something. A
/// collector that is gone or a zombie is not waited for at all (collector_draining).
pub const flush_stall_ns_max: u64 = 2 * std.time.ns_per_s;
/// Ring.flush_stall_ns in unit tests whose rings have no drainer: what a test checks past a
/// full overflow (drops, drop records, endings) is the same after the bound, only sooner.
pub const test_stall_ns: u64 = 20 * std.time.ns_per_ms;

comptime {
    assert(std.math.isPowerOfTwo(lane_capacity_slots_min));
    assert(std.math.isPowerOfTwo(lane_capacity_slots_max));
    // Sequence distances are computed modulo 2^31 (see the encoding above).
    assert(lane_capacity_slots_max < (1 << 30));
    // A string's fragments fit in the smallest lane only if claimed piecewise: they must
    // fit in one batch claim of the lanes we allow for strings (checked at write time).
    assert(string_fragment_count_max == 128);
    assert(header_size_bytes % page_size_bytes == 0);
    assert(@sizeOf(Record) == layout.record_size_bytes);
}

pub const Mode = enum(u32) {
    discard = 0,
    overwrite = 1,
};

pub const Header = extern struct {
    magic: [8]u8,
    ring_layout_version: u32,
    record_layout_version: u32,
    lane_count: u32,
    lane_capacity_slots: u32,
    mode: u32,
    collector_pid: u32,
    total_size_bytes: u64,
    lanes_offset_bytes: u64,
    slots_offset_bytes: u64,
    /// The two clocks read together at creation, to place monotonic timestamps in wall time.
    created_monotonic_ns: u64,
    created_realtime_ns: u64,
    /// How producers stamp records: the TSC line or CLOCK_MONOTONIC (clock.zig). Written
    /// once before the magic; producers copy it at attach.
    clock_calibration: clock.Calibration,
    /// Each producer's overflow bound in records (a power of two); see "Bursts" above.
    overflow_capacity_records: u32,
    reserved_overflow: u32,
    /// The creator's pid namespace (the inode of /proc/self/ns/pid; 0 when unknown): the
    /// namespace the pids of exclusive lane holders are read in.
    pid_namespace: u64,
    /// Nonzero (a layout.StopReason) once recording stopped (see "Stopping"): producers
    /// then refuse every record without counting it. Written once; on the line every
    /// producer reads anyway, so the check on each write is a load from a clean line.
    stop_reason: std.atomic.Value(u32),
    reserved: [line_size_bytes - 124]u8,
    /// Attach counter: producers take lane `next_lane++ % lane_count`. Own line: attaches
    /// are rare but must not disturb the fields every open reads.
    next_lane: std.atomic.Value(u32),
    /// The threads' function-event buffers (batches.zig): an area of
    /// batches.area_bytes(batch_slot_count) at batches_offset_bytes, after the slots (0: none,
    /// a ring made for a run without function tracing). Written once by format.
    batch_slot_count: u32,
    batches_offset_bytes: u64,
    reserved_attach: [line_size_bytes - 16]u8,
    /// The collector's futex: producers bump it to wake the collector (see "Waking").
    wake_sequence: std.atomic.Value(u32),
    /// 1 while the collector is (about to be) asleep on `wake_sequence`.
    collector_sleeping: std.atomic.Value(u32),
    /// Set when a producer gave up waiting for the collector (Producer.flush: no progress
    /// for flush_stall_ns_max): the lanes' drained total then, plus one; 0 while none has.
    /// A later wait that finds nothing drained since gives up at once, so a collector that
    /// drains nothing costs the program one bound, not one per thread and process that ends.
    collector_stalled_at: std.atomic.Value(u64),
    reserved_wake: [line_size_bytes - 16]u8,
};

pub const LaneControl = extern struct {
    // Producer side: written by the lane's producers.
    /// Positions claimed so far (monotonic, never wraps in practice: u64).
    head: std.atomic.Value(u64),
    /// Records refused because the lane was full (discard mode).
    dropped: std.atomic.Value(u64),
    producers_attached: std.atomic.Value(u32),
    reserved_attached: u32,
    /// Records the lane's producers hold in their overflows, not yet in the lane.
    overflow_pending: std.atomic.Value(u64),
    /// Records that went through an overflow (a statistic: how often bursts outran the drain).
    overflowed: std.atomic.Value(u64),
    /// How the lane is held (see Holders): free, by one producer exclusively, or shared
    /// by a count of producers. Changed only at attach and detach.
    holders: std.atomic.Value(u64),
    reserved_producer: [line_size_bytes - 48]u8,
    // Consumer side: written only by the consumer; producers read `tail` (discard mode).
    /// Positions consumed (received or skipped).
    tail: std.atomic.Value(u64),
    received: std.atomic.Value(u64),
    overwritten: std.atomic.Value(u64),
    abandoned: std.atomic.Value(u64),
    reserved_consumer: [line_size_bytes - 32]u8,
};

/// LaneControl.holders: bit 63 set: held exclusively, bits 0..31 the holder's pid; clear:
/// bits 0..31 count the producers sharing the lane (0: free). Bits 32..62 count exclusive
/// acquisitions, so a value is never seen twice: taking over a dead holder's lane by CAS
/// cannot succeed once the lane has changed hands in between.
const Holders = struct {
    const exclusive_bit: u64 = 1 << 63;
    const generation_one: u64 = 1 << 32;
    const generation_mask: u64 = ((1 << 31) - 1) << 32;
    const low_mask: u64 = (1 << 32) - 1;

    fn is_exclusive(holders: u64) bool {
        return holders & exclusive_bit != 0;
    }

    /// The exclusive holder's pid.
    fn pid(holders: u64) u32 {
        assert(is_exclusive(holders));
        return @truncate(holders & low_mask);
    }

    /// Producers sharing the lane; 0 when free.
    fn count(holders: u64) u32 {
        assert(!is_exclusive(holders));
        return @truncate(holders & low_mask);
    }

    /// The value of `holder_pid` holding exclusively after `holders`.
    fn exclusive(holders: u64, holder_pid: u32) u64 {
        assert(holder_pid != 0);
        return exclusive_bit | ((holders +% generation_one) & generation_mask) | holder_pid;
    }

    /// Free, keeping the generation.
    fn released(holders: u64) u64 {
        return holders & generation_mask;
    }
};

/// How a producer holds its lane (LaneControl.holders).
pub const Sharing = enum { exclusive, shared };

comptime {
    assert(@sizeOf(Header) == 3 * line_size_bytes);
    assert(@sizeOf(Header) <= header_size_bytes);
    assert(@offsetOf(Header, "next_lane") == line_size_bytes);
    assert(@offsetOf(Header, "wake_sequence") == 2 * line_size_bytes);
    assert(@offsetOf(Header, "overflow_capacity_records") == 104);
    assert(@offsetOf(Header, "clock_calibration") == 72);
    assert(@sizeOf(LaneControl) == lane_control_size_bytes);
    assert(@offsetOf(LaneControl, "tail") == line_size_bytes);
    assert(@offsetOf(LaneControl, "overflow_pending") == 24);
    assert(@offsetOf(LaneControl, "holders") == 40);
    assert(@offsetOf(Header, "pid_namespace") == 112);
    assert(@offsetOf(Header, "stop_reason") == 120);
    assert(@offsetOf(Header, "collector_stalled_at") == 2 * line_size_bytes + 8);
    assert(@offsetOf(Header, "batches_offset_bytes") == line_size_bytes + 8);
    assert(batches.area_bytes(batches.slot_count) % page_size_bytes == 0);
}

pub const Error = error{
    /// Geometry out of limits: lane count, capacity not a power of two, total size.
    InvalidArgument,
    /// The region does not start with the ring magic (or is too small to hold a header).
    NotARing,
    /// A ring written by a different ring or record layout version.
    WrongLayoutVersion,
    /// The region's size differs from what its header describes.
    SizeMismatch,
};

pub const Options = struct {
    lane_count: u32,
    lane_capacity_slots: u32,
    mode: Mode,
    collector_pid: u32,
    /// The TSC when usable (calibrating sleeps clock.calibration_window_ns).
    clock: clock.Choice = .auto,
    /// A calibration the caller began (clock.calibration_begin with `clock`), ended by
    /// format; none: format calibrates from the start.
    calibration: ?clock.Window = null,
    /// Each producer's overflow bound; 0: four times the ring's slots (overflow_capacity).
    overflow_capacity_records: u32 = 0,
    /// The threads' function-event batches (batches.zig), at most batches.slot_count_max.
    batch_slot_count: u32 = 0,
};

/// The default overflow bound: four times the whole ring's slots, so a bigger ring (the
/// option a loss message names) also absorbs bigger bursts. 16 MiB: 2^20 records (64 MiB
/// of address space, touched only as far as a burst reaches).
pub fn overflow_capacity(lane_count: u32, lane_capacity_slots: u32) u32 {
    const slots: u64 = @as(u64, lane_count) * lane_capacity_slots * 4;
    const floor = std.math.floorPowerOfTwo(u64, slots);
    return @intCast(std.math.clamp(floor, overflow_capacity_records_min, overflow_capacity_records_max));
}

pub fn validate_geometry(lane_count: u32, lane_capacity_slots: u32) Error!void {
    if (lane_count == 0 or lane_count > lane_count_max) return error.InvalidArgument;
    if (!std.math.isPowerOfTwo(lane_capacity_slots)) return error.InvalidArgument;
    if (lane_capacity_slots < lane_capacity_slots_min) return error.InvalidArgument;
    if (lane_capacity_slots > lane_capacity_slots_max) return error.InvalidArgument;
    if (size_bytes(lane_count, lane_capacity_slots) > total_size_bytes_max) return error.InvalidArgument;
}

fn lanes_offset_bytes() u64 {
    return header_size_bytes;
}

fn slots_offset_bytes(lane_count: u32) u64 {
    return lanes_offset_bytes() + std.mem.alignForward(u64, lane_count * lane_control_size_bytes, page_size_bytes);
}

/// Where the threads' batches start (batches.zig): after the slots, on a page.
fn batches_offset_bytes(lane_count: u32, lane_capacity_slots: u32) u64 {
    assert(lane_count > 0 and lane_count <= lane_count_max);
    assert(lane_capacity_slots > 0 and lane_capacity_slots <= lane_capacity_slots_max);
    return std.mem.alignForward(u64, slots_offset_bytes(lane_count) +
        @as(u64, lane_count) * lane_capacity_slots * layout.record_size_bytes, page_size_bytes);
}

/// Bytes of the whole region for this geometry (header, lane controls, slots) without batches.
pub fn size_bytes(lane_count: u32, lane_capacity_slots: u32) u64 {
    return size_bytes_batches(lane_count, lane_capacity_slots, 0);
}

/// Bytes of the whole region with `batch_slot_count` batches (batches.zig) after the slots.
pub fn size_bytes_batches(lane_count: u32, lane_capacity_slots: u32, batch_slot_count: u32) u64 {
    // Whole pages, so the region maps exactly.
    return batches_offset_bytes(lane_count, lane_capacity_slots) + batches.area_bytes(batch_slot_count);
}

fn seq_committed(position: u64) u32 {
    return @truncate((position +% 1) << 1);
}

fn seq_busy(position: u64) u32 {
    return seq_committed(position) | 1;
}

/// Positions from `position` to the one `seq` names (negative: seq names an older one).
fn seq_distance(seq: u32, position: u64) i32 {
    const difference: u32 = (seq & ~@as(u32, 1)) -% seq_committed(position);
    return @as(i32, @bitCast(difference)) >> 1;
}

fn seq_is_busy(seq: u32) bool {
    return seq & 1 == 1;
}

/// The calling process's pid namespace: the inode number in the /proc/self/ns/pid link
/// ("pid:[4026531836]"); 0 when it cannot be read (no /proc). Read once a process (a
/// process cannot change its own pid namespace), not at every thread's attach (a readlink
/// ~2 µs a worker): kept with the pid it was read in, so a forked child reads its own.
fn pid_namespace() u64 {
    const pid: u64 = @intCast(std.c.getpid());
    // Acquire: pairs with the release below, so the namespace read with the pid is its own.
    if (pid_namespace_of.load(.acquire) == pid) return pid_namespace_read.load(.monotonic);
    var buffer: [64]u8 = undefined;
    const length = std.c.readlink("/proc/self/ns/pid", &buffer, buffer.len);
    if (length <= 0) return 0;
    const namespace = pid_namespace_parse(buffer[0..@intCast(length)]);
    pid_namespace_read.store(namespace, .monotonic);
    pid_namespace_of.store(pid, .release);
    return namespace;
}
var pid_namespace_read = std.atomic.Value(u64).init(0);
var pid_namespace_of = std.atomic.Value(u64).init(0);

/// Pure: the inode number of a /proc/<pid>/ns/pid link's text; 0 when malformed.
fn pid_namespace_parse(link: []const u8) u64 {
    const prefix = "pid:[";
    if (!std.mem.startsWith(u8, link, prefix) or !std.mem.endsWith(u8, link, "]")) return 0;
    return std.fmt.parseInt(u64, link[prefix.len .. link.len - 1], 10) catch 0;
}

/// The process no longer exists (not even as a zombie). A process we may not signal
/// exists (EPERM).
fn process_gone(pid: u32) bool {
    if (pid == 0 or pid > std.math.maxInt(i32)) return false;
    const rc = std.c.kill(@intCast(pid), @enumFromInt(0));
    return rc == -1 and std.c.errno(rc) == .SRCH;
}

/// The process is gone or a zombie: it writes nothing more.
fn process_ended(pid: u32) bool {
    return process_gone(pid) or switch (process_state(pid)) {
        'Z', 'X', 'x' => true,
        else => false,
    };
}

/// Orders the consumer's slot copy before its second read of the slot's seq (the
/// seqlock read side). x86 never reorders loads with loads, so only the compiler must be
/// stopped; arm64 needs a load barrier.
fn load_fence() void {
    switch (builtin.cpu.arch) {
        .x86_64 => asm volatile ("" ::: .{ .memory = true }),
        .aarch64 => asm volatile ("dmb ishld" ::: .{ .memory = true }),
        else => @compileError("ring: load_fence for this architecture"),
    }
}

/// Orders an overwrite writer's busy mark before its body stores (the seqlock write
/// side). On x86 the locked CAS is already a full barrier.
fn store_fence() void {
    switch (builtin.cpu.arch) {
        .x86_64 => asm volatile ("" ::: .{ .memory = true }),
        .aarch64 => asm volatile ("dmb ishst" ::: .{ .memory = true }),
        else => @compileError("ring: store_fence for this architecture"),
    }
}

/// Everything but `seq`, which only the ring's protocol writes (atomically). The payload
/// a..e is copied as 40 bytes (a 32-byte vector store and one more with AVX), not five
/// stores field by field.
fn store_body(slot: *Record, record: *align(1) const Record, timestamp_ns: u64, pid: u32, tid: u32) void {
    const payload_offset = @offsetOf(Record, "a");
    comptime assert(payload_offset + 5 * @sizeOf(u64) == @sizeOf(Record));
    const source: *align(1) const [@sizeOf(Record)]u8 = @ptrCast(record);
    const target: *[@sizeOf(Record)]u8 = @ptrCast(slot);
    target[payload_offset..].* = source[payload_offset..].*;
    slot.kind = record.kind;
    slot.flags = record.flags;
    slot.timestamp_ns = timestamp_ns;
    slot.pid = pid;
    slot.tid = tid;
}

pub const Stats = struct {
    /// Positions claimed by producers: every record accepted into the ring.
    written: u64 = 0,
    /// Records refused by a full lane (discard mode).
    dropped: u64 = 0,
    /// Positions the consumer passed without a valid record (overwrite mode).
    overwritten: u64 = 0,
    /// Positions claimed but never completed, skipped by a final drain.
    abandoned: u64 = 0,
    /// Records the consumer has copied out.
    received: u64 = 0,
    /// Positions written but not yet consumed.
    pending: u64 = 0,
    producers_attached: u64 = 0,
    /// Records producers hold in their overflows, not yet in a lane. After every producer
    /// ended, what is left here was lost with a process that died holding it.
    overflow_pending: u64 = 0,
    /// Records that went through an overflow.
    overflowed: u64 = 0,
    /// Records the drain made beyond the slots it took: a function_calls pack of n calls
    /// is one slot and n records. `written + unpacked` is what the ring handed on.
    unpacked: u64 = 0,
};

const Stuck = struct {
    position: u64 = 0,
    since_ns: u64 = 0,
};

/// A process's view of one ring region. The region is shared; this struct is not.
pub const Ring = struct {
    header: *Header,
    lanes: [*]LaneControl,
    slots: [*]Record,
    /// The threads' function-event buffers (batches.zig).
    batches: batches.Area,
    lane_count: u32,
    lane_capacity_slots: u32,
    mode: Mode,
    /// Consumer-only: the lane the next drain starts at, so no lane starves.
    drain_lane_next: u32 = 0,
    /// Consumer-only (Stats.unpacked): written by the drain, read by stats() on any thread.
    unpacked: std.atomic.Value(u64) = .init(0),
    /// Consumer-only, overwrite mode: where the last drain passed positions it counted as
    /// overwritten, lane by lane, for the collector's markers: one entry per run of them
    /// (a producer lapping the drain as it copies loses slots here and there); past
    /// drain_losses_max, later runs add to the last entry, moved to the newest.
    drain_losses: [drain_losses_max]DrainLoss = undefined,
    drain_losses_len: u32 = 0,
    /// Consumer-only, overwrite mode: each lane's exclusive holder's pid when a drain last
    /// saw it held (0: shared), for a lane its holder left before the drain came (exited).
    drain_holders: [lane_count_max]u32 = @splat(0),
    /// Consumer-only, discard mode: where each lane's drain last stopped at a position marked
    /// busy, and since when (claim_dead).
    drain_stuck: [lane_count_max]Stuck = @splat(.{}),
    /// Consumer-only: the last claimer claim_dead found dead (its next positions pass at once).
    claim_dead_pid: u32 = 0,
    /// How long a lane stays stuck at a marked position before its claimer is looked at.
    claim_dead_after_ns: u64 = 200 * std.time.ns_per_ms,
    /// How long producers attached through this Ring wait for a collector that makes no
    /// room (Producer.wait_for_drain) before they drop and mark it stalled. Process-local,
    /// never in the header: the agents' rings (open) keep flush_stall_ns_max; unit tests of
    /// rings nobody drains set it short (test_stall_ns) so they do not wait out the bound.
    flush_stall_ns: u64 = flush_stall_ns_max,

    /// Positions of one lane a drain passed as overwritten: `count` of them, met when
    /// `index` records were in `out`; `first` .. `end`: the lane's records this drain copied
    /// (those from `index` on came after the loss). `holder`: the lane's exclusive holder's
    /// pid then, else 0 (shared or free: its records may be any of several threads').
    pub const DrainLoss = struct { index: u32, count: u64, first: u32, end: u32, holder: u32 };

    /// Formats `memory` as an empty ring. `memory` must be zeroed (a fresh mapping).
    pub fn format(memory: []align(page_size_bytes) u8, options: Options) Error!Ring {
        try validate_geometry(options.lane_count, options.lane_capacity_slots);
        if (options.overflow_capacity_records != 0) {
            if (!std.math.isPowerOfTwo(options.overflow_capacity_records)) return error.InvalidArgument;
            if (options.overflow_capacity_records > overflow_capacity_records_max) return error.InvalidArgument;
        }
        if (options.batch_slot_count > batches.slot_count_max) return error.InvalidArgument;
        if (memory.len != size_bytes_batches(options.lane_count, options.lane_capacity_slots, options.batch_slot_count)) return error.SizeMismatch;
        const header: *Header = @ptrCast(memory.ptr);
        assert(std.mem.allEqual(u8, std.mem.asBytes(header), 0));
        const clock_calibration = if (options.calibration) |window| clock.calibration_end(window) else clock.calibrate(options.clock);
        header.* = .{
            .magic = @splat(0),
            .ring_layout_version = ring_layout_version,
            .record_layout_version = layout.record_layout_version,
            .lane_count = options.lane_count,
            .lane_capacity_slots = options.lane_capacity_slots,
            .mode = @intFromEnum(options.mode),
            .collector_pid = options.collector_pid,
            .total_size_bytes = memory.len,
            .lanes_offset_bytes = lanes_offset_bytes(),
            .slots_offset_bytes = slots_offset_bytes(options.lane_count),
            .created_monotonic_ns = clock.monotonic_ns(),
            .created_realtime_ns = clock.realtime_ns(),
            .clock_calibration = clock_calibration,
            .overflow_capacity_records = if (options.overflow_capacity_records != 0)
                options.overflow_capacity_records
            else
                overflow_capacity(options.lane_count, options.lane_capacity_slots),
            .reserved_overflow = 0,
            .pid_namespace = pid_namespace(),
            .stop_reason = .init(0),
            .reserved = @splat(0),
            .next_lane = .init(0),
            .batch_slot_count = options.batch_slot_count,
            .batches_offset_bytes = batches_offset_bytes(options.lane_count, options.lane_capacity_slots),
            .reserved_attach = @splat(0),
            .wake_sequence = .init(0),
            .collector_sleeping = .init(0),
            .collector_stalled_at = .init(0),
            .reserved_wake = @splat(0),
        };
        assert(std.math.isPowerOfTwo(header.overflow_capacity_records));
        // The magic goes last, with release: an opener that sees it sees a whole header.
        @atomicStore(u64, @as(*u64, @ptrCast(&header.magic)), @bitCast(magic), .release);
        return view(memory, header);
    }

    /// Validates and views an existing ring region.
    pub fn open(memory: []align(page_size_bytes) u8) Error!Ring {
        if (memory.len < header_size_bytes) return error.NotARing;
        const header: *Header = @ptrCast(memory.ptr);
        // Acquire: pairs with the creator's release store of the magic.
        const magic_value = @atomicLoad(u64, @as(*const u64, @ptrCast(&header.magic)), .acquire);
        if (magic_value != @as(u64, @bitCast(magic))) return error.NotARing;
        if (header.ring_layout_version != ring_layout_version) return error.WrongLayoutVersion;
        if (header.record_layout_version != layout.record_layout_version) return error.WrongLayoutVersion;
        validate_geometry(header.lane_count, header.lane_capacity_slots) catch return error.NotARing;
        if (header.mode > @intFromEnum(Mode.overwrite)) return error.NotARing;
        if (header.batch_slot_count > batches.slot_count_max) return error.NotARing;
        const expected_bytes = size_bytes_batches(header.lane_count, header.lane_capacity_slots, header.batch_slot_count);
        if (header.total_size_bytes != expected_bytes) return error.SizeMismatch;
        if (memory.len != expected_bytes) return error.SizeMismatch;
        if (header.slots_offset_bytes != slots_offset_bytes(header.lane_count)) return error.NotARing;
        if (header.batches_offset_bytes != batches_offset_bytes(header.lane_count, header.lane_capacity_slots)) return error.NotARing;
        if (!clock.calibration_valid(&header.clock_calibration)) return error.NotARing;
        if (!std.math.isPowerOfTwo(header.overflow_capacity_records)) return error.NotARing;
        if (header.overflow_capacity_records > overflow_capacity_records_max) return error.NotARing;
        return view(memory, header);
    }

    fn view(memory: []align(page_size_bytes) u8, header: *Header) Ring {
        assert(memory.len == header.total_size_bytes);
        return .{
            .header = header,
            .lanes = @ptrCast(@alignCast(memory.ptr + header.lanes_offset_bytes)),
            .slots = @ptrCast(@alignCast(memory.ptr + header.slots_offset_bytes)),
            .batches = batches.Area.view(@alignCast(memory[header.batches_offset_bytes..][0..batches.area_bytes(header.batch_slot_count)]), header.batch_slot_count),
            .lane_count = header.lane_count,
            .lane_capacity_slots = header.lane_capacity_slots,
            .mode = @enumFromInt(header.mode),
        };
    }

    fn lane_slots(ring: *const Ring, lane_index: u32) [*]Record {
        assert(lane_index < ring.lane_count);
        return ring.slots + @as(usize, lane_index) * ring.lane_capacity_slots;
    }

    /// A producer on an empty lane (or one whose holder's process is gone), held
    /// exclusively, from the next lane round-robin on; when there is none, sharing a lane
    /// no producer holds exclusively (lane 0 always qualifies). Never fails, never waits,
    /// does not allocate; reads /proc/self/ns/pid (and may signal 0 to holders' pids).
    pub fn attach(ring: *const Ring, pid: u32, tid: u32) Producer {
        // Monotonic: the counter only spreads producers over lanes; nothing is published.
        const ticket = ring.header.next_lane.fetchAdd(1, .monotonic);
        const exclusive = ring.header.pid_namespace != 0 and ring.header.pid_namespace == pid_namespace();
        if (exclusive) for (0..ring.lane_count) |offset| {
            const lane_index: u32 = @intCast((ticket +% offset) % ring.lane_count);
            if (!ring.exclusive_allowed(lane_index)) continue;
            if (ring.attach_lane(lane_index, .exclusive, pid, tid)) |producer| return producer;
        };
        for (0..ring.lane_count) |offset| {
            const lane_index: u32 = @intCast((ticket +% offset) % ring.lane_count);
            var producer = ring.attach_lane(lane_index, .shared, pid, tid) orelse continue;
            // Its pid means something to the collector only in the creator's pid namespace.
            if (exclusive) producer.claim_pid = @intCast(std.c.getpid());
            return producer;
        }
        // Lane 0 is never held exclusively when there are others, and a one-lane ring is
        // never held exclusively: the loop above always finds a lane to share.
        unreachable;
    }

    /// Whether the calling process is in the ring creator's pid namespace: its pids mean
    /// there what they mean to the collector.
    pub fn in_pid_namespace(ring: *const Ring) bool {
        return ring.header.pid_namespace != 0 and ring.header.pid_namespace == pid_namespace();
    }

    pub fn exclusive_allowed(ring: *const Ring, lane_index: u32) bool {
        assert(lane_index < ring.lane_count);
        // A one-lane ring is always shared: a second producer must have somewhere to go.
        return lane_index != 0 and ring.lane_count > 1;
    }

    /// A producer on this lane, held as asked; null when the lane is held the other way
    /// (exclusive: the lane is not empty and its holder's process is alive; shared: a
    /// producer holds it exclusively). Exclusive only from the ring creator's pid
    /// namespace (the caller checks, as attach does).
    pub fn attach_lane(ring: *const Ring, lane_index: u32, sharing: Sharing, pid: u32, tid: u32) ?Producer {
        assert(lane_index < ring.lane_count);
        const lane = &ring.lanes[lane_index];
        // Monotonic: the CAS below decides, with acquire.
        var holders = lane.holders.load(.monotonic);
        var holders_ours: u64 = undefined;
        var holder_dead = false;
        while (true) {
            switch (sharing) {
                .exclusive => {
                    assert(ring.exclusive_allowed(lane_index));
                    if (Holders.is_exclusive(holders)) {
                        holder_dead = process_gone(Holders.pid(holders));
                        if (!holder_dead) return null;
                    } else if (Holders.count(holders) != 0) return null;
                    // Our process's pid: the one that says whether we are gone.
                    holders_ours = Holders.exclusive(holders, @intCast(std.c.getpid()));
                },
                .shared => {
                    if (Holders.is_exclusive(holders)) return null;
                    assert(Holders.count(holders) < std.math.maxInt(u32));
                    holders_ours = holders + 1;
                },
            }
            // Acquire: pairs with the release of the previous holders' detach, so their
            // head and slot writes happen before ours. (A dead holder wrote before it
            // died, long before the kernel reported its pid gone.)
            holders = lane.holders.cmpxchgWeak(holders, holders_ours, .acquire, .monotonic) orelse break;
        }
        // Monotonic: a statistic only. A dead holder is detached on its behalf.
        if (holder_dead) _ = lane.producers_attached.fetchSub(1, .monotonic);
        if (holder_dead and ring.mode == .discard) ring.abandon_unfinished(lane_index);
        // Monotonic: a statistic only.
        _ = lane.producers_attached.fetchAdd(1, .monotonic);
        return .{
            .header = ring.header,
            .overflow_capacity_records = ring.header.overflow_capacity_records,
            .wake_position = ring.lane_capacity_slots / 2,
            .lane = lane,
            .slots = ring.lane_slots(lane_index),
            .capacity_slots = ring.lane_capacity_slots,
            .mode = ring.mode,
            .sharing = sharing,
            .holders = holders_ours,
            .pid = pid,
            .tid = tid,
            .lane_index = lane_index,
            // Validated by format or open; the header is never rewritten after.
            .clock = .init(ring.header.clock_calibration),
            .stall_ns_max = ring.flush_stall_ns,
        };
    }

    /// A dead exclusive holder's positions it claimed and never published (killed between
    /// the two) would stop the lane's drain for good: the consumer waits at an incomplete
    /// slot until the final drain, and the heir's records queue behind it, then overflow and
    /// drop. So the heir, now the lane's only writer, publishes each of them as
    /// `abandoned_record`, which the drain passes and counts as abandoned (as a final drain
    /// does). Newest first: the consumer stops at the oldest until that one is published,
    /// so it never passes a position while we look at it.
    fn abandon_unfinished(ring: *const Ring, lane_index: u32) void {
        const lane = &ring.lanes[lane_index];
        const slots = ring.lane_slots(lane_index);
        const mask: u64 = ring.lane_capacity_slots - 1;
        // Acquire: as the producers' tail loads. Monotonic: we are the head's only writer.
        const tail = lane.tail.load(.acquire);
        var position = lane.head.load(.monotonic);
        while (position > tail) {
            position -= 1;
            const slot = &slots[position & mask];
            // Acquire: pairs with the dead holder's release of what it did publish.
            if (@atomicLoad(u32, &slot.seq, .acquire) == seq_committed(position)) continue;
            slot.* = abandoned_record;
            // Release: as any publish.
            @atomicStore(u32, &slot.seq, seq_committed(position), .release);
        }
    }

    /// Whether the shared-lane position `position` of lane `lane_index`, marked busy by its
    /// claimer (Producer.claim_mark; the slot's pid is the claimer's, read after the seq's
    /// acquire), will never be published: its process is gone or a zombie. Looked at only
    /// once the drain has found the lane stuck at that position for claim_dead_after_ns (a
    /// live writer publishes within nanoseconds unless descheduled), then once per that
    /// period; the next positions of a process found dead at once. A process killed between
    /// its claim and its mark (two instructions) is not seen: that lane waits for the final
    /// drain, as every lane did before.
    fn claim_dead(ring: *Ring, lane_index: u32, position: u64, slot: *const Record) bool {
        const pid = @atomicLoad(u32, &slot.pid, .monotonic);
        if (pid == 0) return false;
        const now_ns = clock.monotonic_ns();
        if (pid != ring.claim_dead_pid) {
            const stuck = &ring.drain_stuck[lane_index];
            if (stuck.position != position or stuck.since_ns == 0) {
                stuck.* = .{ .position = position, .since_ns = now_ns };
                return false;
            }
            if (now_ns -| stuck.since_ns < ring.claim_dead_after_ns) return false;
            stuck.since_ns = now_ns;
        }
        const dead = process_gone(pid) or switch (process_state(pid)) {
            'Z', 'X', 'x' => true,
            else => false,
        };
        ring.claim_dead_pid = if (dead) pid else 0;
        return dead;
    }

    /// Copies up to out.len complete records, oldest first per lane, lanes round-robin;
    /// sets each copy's seq to 0. Only one consumer may drain a ring.
    pub fn drain(ring: *Ring, out: []align(1) Record) u32 {
        return ring.drain_lanes(out, false);
    }

    /// As drain (drain_final with `final`), and in overwrite mode with the `drop` records of
    /// the losses it found put in (mark_losses): up to drain_losses_max of `out` is kept
    /// for them (all of `out` is drained when it is not longer than that). The collector's.
    pub fn drain_marked(ring: *Ring, out: []align(1) Record, final: bool) u32 {
        if (ring.mode != .overwrite or out.len <= drain_losses_max) return ring.drain_lanes(out, final);
        const count = ring.drain_lanes(out[0 .. out.len - drain_losses_max], final);
        return ring.mark_losses(out, count);
    }

    /// Overwrite mode, after a drain of `count` records into `records`: puts a `drop` record
    /// (flags drop_flag_overwritten, a = the count) where the drain passed overwritten
    /// positions of a lane one producer held, naming that thread (the pid and tid of the
    /// lane's record next to the loss, when it is the holder's) and stamped as that record,
    /// so readers end the thread's open calls there (ARCHITECTURE.md "Records lost: calls
    /// nest again from depth 0"); returns the new count. Losses of shared lanes, or with no
    /// record of the lane beside them, are left to the collector's own marker.
    pub fn mark_losses(ring: *const Ring, records: []align(1) Record, count: u32) u32 {
        const losses = ring.drain_losses[0..ring.drain_losses_len];
        var markers: u32 = 0;
        for (losses) |*loss| markers += @intFromBool(loss_neighbour(loss, records[0..count]) != null);
        if (markers == 0) return count;
        assert(records.len >= count + markers);
        // From the last: each segment moves up by the markers before it; a loss's neighbour
        // (at or just below its index) is read before anything is moved onto it.
        var end: u32 = count;
        var shift = markers;
        var at = losses.len;
        while (at > 0) {
            at -= 1;
            const loss = &losses[at];
            const neighbour = loss_neighbour(loss, records[0..count]) orelse continue;
            var record = std.mem.zeroes(Record);
            record.kind = @intFromEnum(layout.EventKind.drop);
            record.flags = layout.drop_flag_overwritten;
            record.timestamp_ns = neighbour.timestamp_ns;
            record.pid = neighbour.pid;
            record.tid = neighbour.tid;
            record.a = loss.count;
            var from = end;
            while (from > loss.index) {
                from -= 1;
                records[from + shift] = records[from];
            }
            records[loss.index + shift - 1] = record;
            shift -= 1;
            end = loss.index;
        }
        assert(shift == 0);
        return count + markers;
    }

    /// The lane's record next to `loss` (after it, else before it) when the lane's holder wrote it.
    fn loss_neighbour(loss: *const DrainLoss, records: []align(1) const Record) ?*align(1) const Record {
        if (loss.holder == 0) return null;
        const neighbour = if (loss.index < loss.end) &records[loss.index] else if (loss.index > loss.first) &records[loss.index - 1] else return null;
        return if (neighbour.pid == loss.holder) neighbour else null;
    }

    /// As drain, and also passes positions that were claimed but never completed,
    /// counting them (abandoned in discard mode, overwritten in overwrite mode). Only
    /// once every producer has detached or died: a live writer could still be inside.
    pub fn drain_final(ring: *Ring, out: []align(1) Record) u32 {
        return ring.drain_lanes(out, true);
    }

    fn drain_lanes(ring: *Ring, out: []align(1) Record, final: bool) u32 {
        assert(ring.drain_lane_next < ring.lane_count);
        var count: u32 = 0;
        var visited: u32 = 0;
        ring.drain_losses_len = 0;
        while (visited < ring.lane_count and count < out.len) : (visited += 1) {
            const lane_index = (ring.drain_lane_next + visited) % ring.lane_count;
            count += switch (ring.mode) {
                .discard => ring.drain_lane_discard(lane_index, out[count..], final),
                .overwrite => ring.drain_lane_overwrite(lane_index, out, count, final),
            };
        }
        ring.drain_lane_next = (ring.drain_lane_next + 1) % ring.lane_count;
        // The lanes are empty and every producer gone: what the processes that ended left in
        // their threads' batches (killed by a signal: batches.zig), stamped now.
        if (final and count == 0 and ring.batches.count > 0 and out.len >= batches.records_max) count = ring.salvage(out, 0, clock.monotonic_ns());
        assert(count <= out.len);
        return count;
    }

    /// The batches of threads of process `pid` (0: of every process) that has ended, as
    /// records stamped `stamp_ns` (batches.zig), as many slots as `out` surely holds; counted
    /// with `unpacked` (records the ring handed on beyond the slots it took).
    pub fn salvage(ring: *Ring, out: []align(1) Record, pid: u32, stamp_ns: u64) u32 {
        var count: u32 = 0;
        while (out.len - count >= batches.records_max) {
            count += ring.batches.salvage_one(out[count..], pid, stamp_ns, process_ended) orelse break;
        }
        // Monotonic: a statistic, written only by the consumer.
        if (count > 0) _ = ring.unpacked.fetchAdd(count, .monotonic);
        return count;
    }

    fn drain_lane_discard(ring: *Ring, lane_index: u32, out: []align(1) Record, final: bool) u32 {
        const lane = &ring.lanes[lane_index];
        const slots = ring.lane_slots(lane_index);
        const mask: u64 = ring.lane_capacity_slots - 1;
        // Monotonic: only this consumer writes the tail.
        var tail = lane.tail.load(.monotonic);
        // Monotonic: the head only bounds the scan; each slot's seq says if it is complete.
        const head = lane.head.load(.monotonic);
        assert(head -% tail <= ring.lane_capacity_slots or head < tail);
        var tally: Tally = .{};
        var abandoned: u64 = 0;
        while (tally.count < out.len and tail < head) : (tail += 1) {
            const slot = &slots[tail & mask];
            // Acquire: pairs with the producer's release store; the body is visible.
            const seq = @atomicLoad(u32, &slot.seq, .acquire);
            if (seq != seq_committed(tail)) {
                // A shared lane's position whose writer was killed before publishing it.
                if (!final and !(seq == seq_busy(tail) and ring.claim_dead(lane_index, tail, slot))) break;
                abandoned += 1;
                continue;
            }
            // A position its dead holder never published, passed by its heir (abandon_unfinished).
            if (is_abandoned(slot)) {
                abandoned += 1;
                continue;
            }
            const records = Tally.copy(slot, out[tally.count..]);
            if (slot.kind == @intFromEnum(layout.EventKind.function_calls) and records < layout.calls_pack_count(slot)) {
                // What does not fit stays in the slot, which is this consumer's until the
                // tail passes it, and comes out first next time.
                calls_pack_keep(slot, records);
                tally.took_part(records);
                break;
            }
            tally.took_slot(records);
        }
        // Release: the copies above happen before any producer reuses these slots (it
        // reads the tail with acquire before claiming).
        lane.tail.store(tail, .release);
        // Monotonic: statistics, written only here.
        if (abandoned > 0) _ = lane.abandoned.fetchAdd(abandoned, .monotonic);
        return tally.publish(ring, lane);
    }

    /// Drains lane `lane_index` into `out_all` from `first` on; returns the records copied.
    fn drain_lane_overwrite(ring: *Ring, lane_index: u32, out_all: []align(1) Record, first: u32, final: bool) u32 {
        const out = out_all[first..];
        // This lane's entries of drain_losses start here.
        const losses_start = ring.drain_losses_len;
        const lane = &ring.lanes[lane_index];
        const slots = ring.lane_slots(lane_index);
        const capacity: u64 = ring.lane_capacity_slots;
        // Monotonic: only this consumer writes the tail; producers ignore it in this mode.
        var tail = lane.tail.load(.monotonic);
        // Monotonic: the head only bounds the scan; each slot's seq says what it holds.
        const head = lane.head.load(.monotonic);
        var overwritten: u64 = 0;
        if (head > tail + capacity) {
            // Lapped: the positions older than the last lap are gone.
            overwritten += head - capacity - tail;
            ring.note_loss(losses_start, first, head - capacity - tail);
            tail = head - capacity;
        }
        var tally: Tally = .{};
        while (tally.count < out.len and tail < head) {
            const slot = &slots[tail & (capacity - 1)];
            // Acquire: pairs with the writer's release store of committed(tail).
            const seq_before = @atomicLoad(u32, &slot.seq, .acquire);
            if (seq_before == seq_committed(tail)) {
                // Volatile: a later writer may be storing into the slot as we copy; the
                // seq re-check below decides whether the copy is whole.
                const copy = @as(*volatile Record, slot).*;
                load_fence();
                // Monotonic: ordered after the copy by the fence above.
                const seq_after = @atomicLoad(u32, &slot.seq, .monotonic);
                if (seq_after == seq_before) {
                    // The agents pack calls only into discard-mode rings (losses here are
                    // counted in slots); one that came anyway is expanded when `out` has
                    // room for it, else read again by the next drain (an `out` shorter
                    // than the pack takes what fits: never the collector's).
                    if (copy.kind == @intFromEnum(layout.EventKind.function_calls) and tally.count > 0 and
                        out.len - tally.count < layout.calls_pack_count(&copy)) break;
                    tally.took_slot(Tally.copy(&copy, out[tally.count..]));
                } else {
                    // Only a writer of a later position changes a committed slot.
                    assert(seq_distance(seq_after, tail) > 0);
                    overwritten += 1;
                    ring.note_loss(losses_start, first + tally.count, 1);
                }
                tail += 1;
                continue;
            }
            const distance = seq_distance(seq_before, tail);
            if (distance > 0 or final) {
                // A later position took the slot, or the writer gave up or died.
                overwritten += 1;
                ring.note_loss(losses_start, first + tally.count, 1);
                tail += 1;
                continue;
            }
            // Its writer is inside (busy) or has not arrived yet: wait for it.
            break;
        }
        if (overwritten > 0 and tally.count == 0 and !final) {
            // Lost, and nothing of the lane after it to place the loss by (its writer is
            // inside the next slot): passed next time instead, with what follows, so the
            // loss's drop record stands before that (mark_losses). Nothing was handed on.
            ring.drain_losses_len = losses_start;
            return 0;
        }
        // Monotonic: producers do not read the tail in overwrite mode.
        lane.tail.store(tail, .monotonic);
        // Monotonic: who holds the lane names whose records were lost; changed only at
        // attach and detach. A free lane's records are its last holder's.
        const holders = lane.holders.load(.monotonic);
        const holder = if (Holders.is_exclusive(holders)) Holders.pid(holders) else if (Holders.count(holders) == 0) ring.drain_holders[lane_index] else 0;
        ring.drain_holders[lane_index] = holder;
        // Monotonic: statistics, written only here.
        if (overwritten > 0) {
            _ = lane.overwritten.fetchAdd(overwritten, .monotonic);
            for (ring.drain_losses[losses_start..ring.drain_losses_len]) |*loss| {
                loss.first = first;
                loss.end = first + tally.count;
                loss.holder = holder;
            }
        }
        return tally.publish(ring, lane);
    }

    /// `count` positions of the lane being drained (its entries from `losses_start`) passed
    /// as overwritten when `index` records were in the drain's `out`: a run of its own
    /// unless it continues the last one (no record copied in between).
    fn note_loss(ring: *Ring, losses_start: u32, index: u32, count: u64) void {
        if (ring.drain_losses_len > losses_start) {
            const last = &ring.drain_losses[ring.drain_losses_len - 1];
            if (last.index == index or ring.drain_losses_len == drain_losses_max) {
                last.index = index;
                last.count += count;
                return;
            }
        } else if (ring.drain_losses_len == drain_losses_max) {
            // Full with other lanes' runs: this lane's go to the collector's own marker.
            return;
        }
        ring.drain_losses[ring.drain_losses_len] = .{ .index = index, .count = count, .first = 0, .end = 0, .holder = 0 };
        ring.drain_losses_len += 1;
    }

    /// What one lane's drain handed on, kept the same way by both modes' drains: records
    /// copied into `out`, slots taken whole (the lane's `received`) and records made beyond
    /// the slots (a function_calls pack of n calls is one slot and n records: the ring's
    /// `unpacked`; wrapping, as a pack split over two drains adds its first records before
    /// it takes the slot's own one back).
    const Tally = struct {
        count: u32 = 0,
        slots_taken: u32 = 0,
        unpacked: u64 = 0,

        /// Copies a committed slot's record into `out` with seq 0, a function_calls pack as
        /// its function_call records (as many as fit); returns how many records it made.
        fn copy(slot: *align(1) const Record, out: []align(1) Record) u32 {
            assert(out.len > 0);
            if (slot.kind == @intFromEnum(layout.EventKind.function_calls)) return expand_calls(slot, out);
            out[0] = slot.*;
            out[0].seq = 0;
            return 1;
        }

        /// A slot handed on as `records` records: its own one counts as written, the rest as unpacked.
        fn took_slot(tally: *Tally, records: u32) void {
            tally.count += records;
            tally.slots_taken += 1;
            tally.unpacked +%= records;
            tally.unpacked -%= 1;
        }

        /// The first `records` calls of a pack whose slot stays for the next drain.
        fn took_part(tally: *Tally, records: u32) void {
            tally.count += records;
            tally.unpacked +%= records;
        }

        /// Adds the drain's figures to the lane's and the ring's statistics; returns the records copied.
        fn publish(tally: *const Tally, ring: *Ring, lane: *LaneControl) u32 {
            // Monotonic: statistics, written only by the consumer.
            if (tally.slots_taken > 0) _ = lane.received.fetchAdd(tally.slots_taken, .monotonic);
            if (tally.unpacked != 0) _ = ring.unpacked.fetchAdd(tally.unpacked, .monotonic);
            return tally.count;
        }
    };

    /// A function_calls pack's calls as function_call records, as many as `out` holds.
    fn expand_calls(pack: *align(1) const Record, out: []align(1) Record) u32 {
        const ids = layout.calls_pack_ids(pack);
        const calls = layout.calls_pack_count(pack);
        const taken: u32 = @intCast(@min(calls, out.len));
        for (0..taken) |index| out[index] = layout.calls_pack_call(pack, &ids, @intCast(index));
        return taken;
    }

    /// Drops a pack's first `taken` calls, keeping the rest in the slot (discard mode).
    fn calls_pack_keep(pack: *Record, taken: u32) void {
        const ids = layout.calls_pack_ids(pack);
        const calls = layout.calls_pack_count(pack);
        assert(taken < calls);
        var rest: [layout.calls_pack_max]u32 = @splat(0);
        for (taken..calls) |index| rest[index - taken] = ids[index];
        const first: u32 = @truncate(pack.a);
        pack.a = (pack.a & 0xffff_ffff_0000_0000) | (first + taken);
        pack.b = @as(u64, rest[1]) << 32 | rest[0];
        pack.c = @as(u64, rest[3]) << 32 | rest[2];
        pack.d = @as(u64, rest[5]) << 32 | rest[4];
        pack.e = @as(u64, rest[7]) << 32 | rest[6];
    }

    /// Totals over all lanes. Monotonic loads: statistics, read while producers run.
    pub fn stats(ring: *const Ring) Stats {
        var result: Stats = .{};
        for (ring.lanes[0..ring.lane_count]) |*lane| {
            const head = lane.head.load(.monotonic);
            const tail = lane.tail.load(.monotonic);
            result.written += head;
            result.dropped += lane.dropped.load(.monotonic);
            result.overwritten += lane.overwritten.load(.monotonic);
            result.abandoned += lane.abandoned.load(.monotonic);
            result.received += lane.received.load(.monotonic);
            result.pending += head -| tail;
            result.producers_attached += lane.producers_attached.load(.monotonic);
            result.overflow_pending += lane.overflow_pending.load(.monotonic);
            result.overflowed += lane.overflowed.load(.monotonic);
        }
        result.unpacked = ring.unpacked.load(.monotonic);
        return result;
    }

    /// Whether any lane holds positions the consumer has not passed yet.
    pub fn has_pending(ring: *const Ring) bool {
        for (ring.lanes[0..ring.lane_count]) |*lane| {
            // Acquire: pairs with nothing in particular; ordered after the caller's
            // seq_cst store of collector_sleeping on x86 and by the fence below elsewhere.
            if (lane.head.load(.acquire) != lane.tail.load(.monotonic)) return true;
        }
        return false;
    }

    /// The consumer's sleep: returns when a producer wakes it, after `timeout_ns`, or at
    /// once when a lane already holds something. Only the one consumer calls this.
    pub fn wait_for_work(ring: *Ring, timeout_ns: u64) void {
        const header = ring.header;
        const sequence = header.wake_sequence.load(.seq_cst);
        // Seq_cst (with the producers' seq_cst bump and load of this flag, see wake): either
        // a producer sees us sleeping and wakes us, or we see its records below.
        header.collector_sleeping.store(1, .seq_cst);
        defer header.collector_sleeping.store(0, .seq_cst);
        if (ring.has_pending()) return;
        futex_wait(&header.wake_sequence, sequence, timeout_ns);
    }

    /// Wakes a consumer sleeping in wait_for_work (for the collector's own stop request).
    pub fn wake(ring: *const Ring) void {
        wake_collector(ring.header);
    }

    /// Stops recording (see "Stopping"); the first reason given stays. Wakes the consumer.
    pub fn stop(ring: *const Ring, reason: layout.StopReason) void {
        assert(reason != .none);
        // Release: pairs with the producers' load; nothing else is published with it.
        _ = ring.header.stop_reason.cmpxchgStrong(0, @intFromEnum(reason), .release, .monotonic);
        wake_collector(ring.header);
    }

    pub fn stop_reason(ring: *const Ring) layout.StopReason {
        return @enumFromInt(ring.header.stop_reason.load(.acquire));
    }
};

/// Wakes the collector if it sleeps: a bump of the word (so a wait about to start
/// returns at once) and a FUTEX_WAKE only when the collector said it sleeps. The waker
/// clears that flag (swap): one FUTEX_WAKE per sleep, not one per write of every producer
/// until the woken collector gets a CPU (a backlogged producer wakes on each write: on a
/// loaded machine, 100,000–500,000 syscalls a million-call burst, up to 0.7 s of system
/// time; BENCHMARKS.md "The collector's drain rate and the wake storm").
fn wake_collector(header: *Header) void {
    // Seq_cst: see wait_for_work.
    _ = header.wake_sequence.fetchAdd(1, .seq_cst);
    if (header.collector_sleeping.load(.seq_cst) == 0) return;
    // Seq_cst: the one waker that takes the flag makes the syscall; a later waker sees 0
    // and relies on that wake (the collector re-reads the lanes before it sleeps again).
    if (header.collector_sleeping.swap(0, .seq_cst) == 0) return;
    // Shared (not private): the collector is another process.
    _ = std.os.linux.futex_3arg(&header.wake_sequence.raw, .{ .cmd = .WAKE, .private = false }, 1);
}

fn futex_wait(word: *std.atomic.Value(u32), expected: u32, timeout_ns: u64) void {
    const timeout: std.os.linux.timespec = .{
        .sec = @intCast(timeout_ns / std.time.ns_per_s),
        .nsec = @intCast(timeout_ns % std.time.ns_per_s),
    };
    // Any outcome is fine: woken, timed out, interrupted, or the word already moved.
    _ = std.os.linux.futex_4arg(&word.raw, .{ .cmd = .WAIT, .private = false }, expected, &timeout);
}

fn sleep_ns(duration_ns: u64) void {
    const request: std.c.timespec = .{
        .sec = @intCast(duration_ns / std.time.ns_per_s),
        .nsec = @intCast(duration_ns % std.time.ns_per_s),
    };
    _ = std.c.nanosleep(&request, null);
}

const Claim = struct {
    position: u64,
    count: u32,
};

/// One producer: a thread or process writing into one lane. Lives in the producer's own
/// memory; only `lane`, `slots` and `header` point into the shared region.
pub const Producer = struct {
    lane: *LaneControl,
    slots: [*]Record,
    capacity_slots: u32,
    mode: Mode,
    /// Exclusive: the only writer of the lane's head and slots (no atomic RMW per record).
    sharing: Sharing,
    /// The lane's holders value our exclusive attach wrote (unused when shared).
    holders: u64,
    pid: u32,
    tid: u32,
    lane_index: u32,
    /// The ring's clock, copied at attach: the source never changes for a ring.
    clock: clock.Clock,
    header: *Header,
    /// A lower bound of the lane's tail: refreshed only when the lane looks full, so a
    /// producer does not touch the consumer's line on every write.
    tail_cached: u64 = 0,
    written_count: u64 = 0,
    dropped_count: u64 = 0,
    /// The head past which the producer next looks at its lane's fill (discard mode):
    /// see "Waking the collector" above.
    wake_position: u64,
    /// Records in the overflow or a loss not yet reported: every write takes the
    /// backlog path first, so order holds.
    backlogged: bool = false,
    /// The collector's drained total when this thread last found it stopped by a signal
    /// (wait_for_drain): its bursts do not wait again until the collector drains something.
    stopped_collector_at: u64 = std.math.maxInt(u64),
    /// The ring's flush_stall_ns, copied at attach: how long wait_for_drain waits for a
    /// collector that makes no room.
    stall_ns_max: u64 = flush_stall_ns_max,
    /// Time this thread spent in wait_for_drain (a burst held at the collector's pace, or
    /// a detach's flush): a statistic for benches and tests, never on the write path.
    drain_waited_ns: u64 = 0,
    overflow: Overflow = .{},
    overflow_capacity_records: u32,
    /// Records dropped since the last `drop` record this producer wrote, and when the
    /// first of them was lost.
    drops_unreported: u64 = 0,
    drop_first_ns: u64 = 0,
    /// A shared lane's producer in discard mode marks each position it claims with this pid
    /// (claim_mark) until it publishes it, so the consumer can pass a position whose writer
    /// was killed between the two (Ring.claim_dead). 0: no marks (exclusive lanes, whose
    /// heir passes them: abandon_unfinished; producers in another pid namespace).
    claim_pid: u32 = 0,

    /// Detaches; first moves what its overflow holds into the lane, waiting for the
    /// collector as long as it makes progress (see flush).
    pub fn detach(producer: *Producer) void {
        producer.flush(true);
        const lane = producer.lane;
        // Monotonic: a statistic only.
        const before = lane.producers_attached.fetchSub(1, .monotonic);
        assert(before > 0);
        // Release: our head and slot writes happen before those of the lane's next holder
        // (its attach acquires).
        switch (producer.sharing) {
            .exclusive => {
                // Only we change the value while we hold the lane: a takeover needs our
                // process gone.
                const holders = lane.holders.cmpxchgStrong(producer.holders, Holders.released(producer.holders), .release, .monotonic);
                assert(holders == null);
            },
            .shared => {
                const holders = lane.holders.fetchSub(1, .release);
                assert(!Holders.is_exclusive(holders) and Holders.count(holders) > 0);
            },
        }
        producer.* = undefined;
    }

    /// Writes one record; a zero timestamp is stamped now; pid and tid are the
    /// producer's. Returns false when the record was dropped (discard mode, lane and
    /// overflow full).
    /// Inline, the common case laid out straight in the caller: recording, not backlogged,
    /// discard mode, the lane exclusive and with room by the cached tail. Everything else
    /// (stopped, backlog, overwrite, a shared lane, a lane that looks full) leaves it at
    /// one test for write_rest, out of line, which claims and publishes the general way. A
    /// call of a write that held every case ran ~18 code lines a record with commitEvent's
    /// body, its cold paths between the common ones; a traced web request's code is fetched
    /// again at nearly every run (BENCHMARKS.md "The native write laid out straight, one
    /// path").
    pub inline fn write(producer: *Producer, record: *const Record) bool {
        // Monotonic: as claim_discard's.
        const head = producer.lane.head.load(.monotonic);
        if (producer.stopped() or producer.backlogged or producer.mode != .discard or
            producer.sharing != .exclusive or producer.free_cached(head) == 0)
        {
            @branchHint(.cold);
            return producer.write_rest(record);
        }
        // claim_discard of one on an exclusive lane: the only writer of the head, a plain
        // store. Monotonic: as claim_discard's.
        producer.lane.head.store(head + 1, .monotonic);
        producer.commit_one(.discard, head, record);
        return true;
    }

    /// write's cases off its straight path: write_batch of one, without its loop.
    noinline fn write_rest(producer: *Producer, record: *const Record) bool {
        if (producer.stopped()) return false;
        if (producer.backlogged) return producer.write_backlogged(record[0..1], 1) == 1;
        const claim = switch (producer.mode) {
            .discard => producer.claim_discard(1, 1),
            .overwrite => producer.claim_overwrite(1),
        };
        assert(claim.count <= 1);
        if (claim.count == 0) {
            // The lane is full: the record waits in the overflow.
            return producer.spill(record[0..1], 1, 0) == 1;
        }
        producer.commit_one(producer.mode, claim.position, record);
        return true;
    }

    /// One claimed record's stamp, publish, count and wake-up: write's and write_rest's.
    inline fn commit_one(producer: *Producer, mode: Mode, position: u64, record: *const Record) void {
        const timestamp_ns = if (record.timestamp_ns != 0) record.timestamp_ns else producer.clock.now_ns();
        producer.publish_as(mode, position, record, timestamp_ns);
        producer.written_count += 1;
        if (position + 1 > producer.wake_position) {
            // About once per half lane.
            @branchHint(.unlikely);
            producer.wake_check(position + 1);
        }
    }

    /// Writes all of `records` as one claim, with one clock reading for those with a zero
    /// timestamp, or nothing: false, without counting a loss, when the lane has no room for
    /// all of them now, the producer is backlogged or recording stopped (the caller then
    /// writes them the ordinary way, which spills, drops and counts as it does). A send's
    /// string and event (napi.zig commitString, commitHeld): one claim, one clock read.
    pub fn write_whole(producer: *Producer, records: []align(1) const Record) bool {
        assert(records.len > 0 and records.len <= producer.capacity_slots);
        const count: u32 = @intCast(records.len);
        const position = producer.claim_whole(count) orelse return false;
        const now_ns = producer.clock.now_ns();
        for (records, 0..) |*record, index| {
            const timestamp_ns = if (record.timestamp_ns != 0) record.timestamp_ns else now_ns;
            producer.publish(position + index, record, timestamp_ns);
        }
        producer.end_whole(position, count);
        return true;
    }

    /// write_whole's and write_string_whole's claim: all `count` slots at once, or null when
    /// the lane has no room for all of them now, the producer is backlogged or recording
    /// stopped (nothing counted: the caller writes the ordinary way).
    inline fn claim_whole(producer: *Producer, count: u32) ?u64 {
        if (producer.backlogged or producer.stopped()) return null;
        const claim = switch (producer.mode) {
            .discard => producer.claim_discard(count, count),
            .overwrite => producer.claim_overwrite(count),
        };
        if (claim.count == 0) return null;
        assert(claim.count == count);
        return claim.position;
    }

    /// After a whole claim's records are published: counted, the collector woken past the mark.
    inline fn end_whole(producer: *Producer, position: u64, count: u32) void {
        producer.written_count += count;
        if (position + count > producer.wake_position) {
            @branchHint(.unlikely);
            producer.wake_check(position + count);
        }
    }

    /// write_whole of string `id`'s fragments (string_fragments' records for `text`, at most
    /// string_max_bytes) and then `record`, each fragment built straight into its slot:
    /// `text.ptr[text.len..]` must hold zeros up to the next multiple of
    /// string_fragment_bytes (the caller's padding), read as the last fragment's tail.
    /// false, as write_whole, when the lane has no room for all of them now, the producer is
    /// backlogged or recording stopped.
    pub fn write_string_whole(producer: *Producer, id: u32, text: []const u8, record: *const Record) bool {
        assert(text.len <= layout.string_max_bytes);
        const fragment_bytes = layout.string_fragment_bytes;
        const fragments: u32 = @intCast(@max(1, (text.len + fragment_bytes - 1) / fragment_bytes));
        const count = fragments + 1;
        if (count > producer.capacity_slots) return false;
        const position = producer.claim_whole(count) orelse return false;
        const now_ns = producer.clock.now_ns();
        const a = @as(u64, id) | (@as(u64, text.len) << 32);
        for (0..fragments) |index| {
            var fragment: Record = undefined;
            fragment.seq = 0;
            fragment.kind = @intFromEnum(layout.EventKind.string);
            fragment.flags = @intCast(index);
            fragment.a = a;
            const data: *[fragment_bytes]u8 = @ptrCast(&fragment.b);
            data.* = text.ptr[index * fragment_bytes ..][0..fragment_bytes].*;
            producer.publish(position + index, &fragment, now_ns);
        }
        producer.publish(position + fragments, record, if (record.timestamp_ns != 0) record.timestamp_ns else now_ns);
        producer.end_whole(position, count);
        return true;
    }

    /// Writes up to records.len records as one claim; at least `count_min` or none
    /// (a string's fragments go all or nothing). Records with a zero timestamp share one
    /// clock read. What the lane cannot take goes to the overflow (discard mode).
    /// Returns the number accepted; the rest were dropped (counted).
    pub fn write_batch(producer: *Producer, records: []align(1) const Record, count_min: u32) u32 {
        assert(count_min <= records.len);
        assert(records.len <= std.math.maxInt(u32));
        if (records.len == 0) return 0;
        if (producer.stopped()) return 0;
        if (producer.backlogged) return producer.write_backlogged(records, count_min);
        const count_wanted: u32 = @intCast(records.len);
        const claim = switch (producer.mode) {
            .discard => producer.claim_discard(count_wanted, @max(count_min, 1)),
            .overwrite => producer.claim_overwrite(count_wanted),
        };
        assert(claim.count <= count_wanted);
        var now_ns: u64 = 0;
        for (records[0..claim.count], 0..) |*record, index| {
            var timestamp_ns = record.timestamp_ns;
            if (timestamp_ns == 0) {
                if (now_ns == 0) now_ns = producer.clock.now_ns();
                timestamp_ns = now_ns;
            }
            producer.publish(claim.position + index, record, timestamp_ns);
        }
        producer.written_count += claim.count;
        if (claim.count < count_wanted) {
            // The lane is full: the rest waits in the overflow (off the ordinary path).
            const count_min_rest = if (claim.count == 0) count_min else 0;
            return claim.count + producer.spill(records[claim.count..], count_min_rest, now_ns);
        }
        if (claim.position + claim.count > producer.wake_position) producer.wake_check(claim.position + claim.count);
        return claim.count;
    }

    /// Moves what the overflow holds into the lane as far as it fits now; with `wait`,
    /// keeps at it (sleeping briefly, waking the collector) until the overflow is empty,
    /// the collector is gone, or it made no room for flush_stall_ns_max; what is then
    /// still held is dropped (counted). Then reports unreported losses. For thread exit;
    /// never on the ordinary path.
    pub fn flush(producer: *Producer, wait: bool) void {
        if (!producer.backlogged) return;
        producer.backlog_move();
        if (!wait) return;
        producer.wait_for_drain(false);
        if (producer.overflow.count() > 0) producer.overflow_abandon();
    }

    /// Keeps moving the overflow into the lane (sleeping briefly, waking the collector)
    /// until it is empty, the collector is gone (or, with `unless_stopped`, stopped by a
    /// signal), or it made no room for flush_stall_ns_max (then marked stalled, so later
    /// waits return at once until it drains again). What is still held stays held.
    fn wait_for_drain(producer: *Producer, unless_stopped: bool) void {
        producer.wait_for_room(unless_stopped, 0);
    }

    /// As wait_for_drain, and until the lane has room for `room_for` records too (a thread
    /// with nothing in its overflow whose lane is full while the process's other threads
    /// hold the whole overflow budget: spill).
    fn wait_for_room(producer: *Producer, unless_stopped: bool, room_for: u32) void {
        const header = producer.header;
        var tail_seen = producer.lane.tail.load(.acquire);
        // Time passed, not sleeps asked for: on a loaded machine a 1 ms sleep takes longer.
        const started_ns = clock.monotonic_ns();
        var stalled_since_ns = started_ns;
        defer producer.drain_waited_ns += clock.monotonic_ns() -| started_ns;
        var pause_ns: u64 = 20 * std.time.ns_per_us;
        while (producer.backlogged or producer.lane_free() < room_for) {
            wake_collector(header);
            if (!collector_draining(header)) return;
            // Stopped by a signal: this thread's next writes drop at once until it drains again.
            if (unless_stopped) switch (process_state(header.collector_pid)) {
                'T', 't' => {
                    // Not marked stalled for all: a thread's or process's end still waits for it.
                    producer.stopped_collector_at = drained_total(header);
                    return;
                },
                else => {},
            };
            if (clock.monotonic_ns() -| stalled_since_ns >= producer.stall_ns_max) return mark_collector_stalled(header);
            sleep_ns(pause_ns);
            const tail = producer.lane.tail.load(.acquire);
            if (tail == tail_seen) {
                pause_ns = @min(pause_ns * 2, std.time.ns_per_ms);
            } else {
                tail_seen = tail;
                stalled_since_ns = clock.monotonic_ns();
                pause_ns = 20 * std.time.ns_per_us;
            }
            producer.backlog_move();
        }
    }

    /// Recording stopped (Ring.stop): every write is refused, and not counted as a loss.
    pub fn stopped(producer: *const Producer) bool {
        // Monotonic: a late view only lets a few more records through, which the collector
        // refuses in turn.
        return producer.header.stop_reason.load(.monotonic) != 0;
    }

    /// Counts records refused without claiming a position.
    pub fn drop(producer: *Producer, count: u32) void {
        assert(count > 0);
        // Monotonic: a statistic, summed by the consumer.
        _ = producer.lane.dropped.fetchAdd(count, .monotonic);
        producer.dropped_count += count;
    }

    /// The backlog path: the overflow goes into the lane first; new records follow it
    /// there, or behind it in the overflow while it is not empty.
    fn write_backlogged(producer: *Producer, records: []align(1) const Record, count_min: u32) u32 {
        assert(producer.backlogged);
        assert(producer.mode == .discard);
        producer.backlog_move();
        if (!producer.backlogged) return producer.write_batch(records, count_min);
        return producer.spill(records, count_min, 0);
    }

    /// Keeps records the lane cannot take, stamped now (a zero timestamp) and complete,
    /// in the overflow; drops what does not fit (all of it when fewer than count_min fit).
    /// The overflow's last free slot is kept for a `drop` record: a loss is reported there,
    /// in the thread's stream where it happened, after what was kept before it and before
    /// anything kept after it (readers end the thread's open calls there: ARCHITECTURE.md
    /// "Nothing lost at default settings: bursts"); losses while it is the newest record
    /// add to its count.
    fn spill(producer: *Producer, records: []align(1) const Record, count_min: u32, now_given_ns: u64) u32 {
        assert(records.len > 0);
        assert(producer.mode == .discard);
        const count_wanted: u32 = @intCast(records.len);
        var now_ns = now_given_ns;
        if (now_ns == 0) now_ns = producer.clock.now_ns();
        // A process's or thread's ending (process_exit, thread_exit, trace_stop) is never
        // dropped for a full overflow: the producer waits, bounded, for the collector to
        // drain it first (flush), as it would at the thread's end right after. Cold: only
        // when a last burst filled the overflow and the collector is behind (starved of CPU).
        const ending = holds_ending(records);
        if (ending and producer.overflow.free() -| 1 < count_wanted) producer.flush(true);
        // Past what this thread's overflow or the process's budget can take, while the
        // collector drains (a burst outran a drain slowed by the machine: 887,183 records of a
        // full-level loop dropped in one CI run): the thread waits for the drain to take its
        // overflow instead of dropping, then writes into the lane. Not for a collector gone,
        // stopped by a signal or stalled (flush_stall_ns_max without progress): those drop
        // and count as before. Cold: only when the lane and the overflow are full.
        if (!ending and producer.overflow_room() < count_wanted) {
            if (producer.wait_and_write(records, count_min)) |written| return written;
        }
        // What this thread's overflow can take (its last free slot kept for a `drop` record)
        // and the process's budget allows (overflow_budget: every overflow of the process
        // shares one bound); an ending is taken past the budget, as it never waits on others.
        const overflow = &producer.overflow;
        const fits: u32 = @intCast(@min(count_wanted, if (overflow.records != null) overflow.free() -| 1 else producer.overflow_capacity_records -| 1));
        var count: u32 = 0;
        if (fits > 0 and fits >= count_min) {
            count = if (ending) overflow_budget_force(fits) else overflow_budget_take(fits, count_min, producer.overflow_capacity_records);
        }
        if (!ending and count < fits) {
            // Another thread of the process took the budget between the look above and the
            // take: wait as above (once; a second such race drops, counted).
            if (count > 0) overflow_budget_give(count);
            count = 0;
            if (producer.wait_and_write(records, count_min)) |written| return written;
            if (fits >= count_min) count = overflow_budget_take(fits, count_min, producer.overflow_capacity_records);
        }
        if (count > 0 and !overflow.reserve(producer.overflow_capacity_records)) {
            overflow_budget_give(count);
            count = 0;
        }
        const mapped = overflow.records != null;
        if (count > 0) {
            for (records[0..count]) |*record| {
                const timestamp_ns = if (record.timestamp_ns == 0) now_ns else record.timestamp_ns;
                overflow.push(record, timestamp_ns, producer.pid, producer.tid);
            }
            // Monotonic: statistics; the collector reads them after producers end.
            // Pending in records as the trace would hold them (a pack: its calls), so a
            // killed producer's are counted lost call by call.
            _ = producer.lane.overflow_pending.fetchAdd(layout.expanded_count(records[0..count]), .monotonic);
            _ = producer.lane.overflowed.fetchAdd(count, .monotonic);
            producer.written_count += count;
            producer.backlogged = true;
        }
        if (count < count_wanted) {
            // Counted in records as the trace would have held them (a pack: each of its calls).
            const lost: u32 = @intCast(layout.expanded_count(records[count..]));
            if (mapped) producer.drop_in_overflow(lost, now_ns) else producer.drop_unreported(lost, now_ns);
        }
        // The lane is full: the collector should be draining now.
        wake_collector(producer.header);
        return count;
    }

    /// Past what the overflow or the process's budget may take while the collector drains:
    /// waits for the drain instead of dropping, then writes (returns what write_batch wrote).
    /// A backlogged thread waits for its overflow to go into the lane; a thread with an empty
    /// overflow whose lane is full while the process's other threads hold the whole budget
    /// (several threads bursting at once: `zig build bench -- burst 1000000 8` dropped 1–2
    /// records a round) waits for room in its lane. null: not waited (a collector gone,
    /// stopped by a signal or stalled) or no room made; the caller drops and counts as before.
    /// Writes only with room for all of `records` now, so it does not recurse without progress.
    fn wait_and_write(producer: *Producer, records: []align(1) const Record, count_min: u32) ?u32 {
        if (collector_marked_stalled(producer.header) or drained_total(producer.header) == producer.stopped_collector_at) return null;
        if (producer.backlogged) {
            producer.wait_for_drain(true);
            producer.backlog_move();
            if (producer.backlogged) return null;
            return producer.write_batch(records, count_min);
        }
        const room: u32 = @intCast(@min(records.len, producer.capacity_slots));
        producer.wait_for_room(true, room);
        if (producer.lane_free() < room) return null;
        return producer.write_batch(records, count_min);
    }

    /// What the overflow can keep now: its free slots but the one kept for a `drop` record,
    /// within the process's budget.
    fn overflow_room(producer: *const Producer) u64 {
        const free: u64 = if (producer.overflow.records != null) producer.overflow.free() -| 1 else producer.overflow_capacity_records -| 1;
        return @min(free, producer.overflow_capacity_records -| overflow_budget_used());
    }

    fn holds_ending(records: []align(1) const Record) bool {
        for (records) |*record| switch (@as(layout.EventKind, @enumFromInt(record.kind))) {
            .process_exit, .thread_exit, .trace_stop => return true,
            else => {},
        };
        return false;
    }

    /// A loss while the overflow holds records: counted, and reported by the `drop` record
    /// at the overflow's newest position (the slot spill keeps free), made now or, when it
    /// is still the newest, added to. Not in written_count (that counts the caller's records);
    /// pending as the one record the trace will hold.
    fn drop_in_overflow(producer: *Producer, count: u32, now_ns: u64) void {
        producer.drop(count);
        const overflow = &producer.overflow;
        if (overflow.drop_position) |position| {
            if (position + 1 == overflow.write and position >= overflow.read) {
                overflow.records.?[position & (overflow.capacity - 1)].a += count;
                return;
            }
        }
        assert(overflow.free() > 0);
        var record = std.mem.zeroes(Record);
        record.kind = @intFromEnum(layout.EventKind.drop);
        record.flags = layout.drop_flag_producer;
        record.a = count;
        overflow.drop_position = overflow.write;
        // Past the budget if need be: one record, in the slot spill kept for it.
        _ = overflow_budget_force(1);
        overflow.push(&record, now_ns, producer.pid, producer.tid);
        // Monotonic: a statistic (see spill).
        _ = producer.lane.overflow_pending.fetchAdd(1, .monotonic);
        producer.backlogged = true;
    }

    fn drop_unreported(producer: *Producer, count: u32, now_ns: u64) void {
        producer.drop(count);
        if (producer.drops_unreported == 0) producer.drop_first_ns = now_ns;
        producer.drops_unreported += count;
        producer.backlogged = true;
    }

    /// Moves the overflow into the lane, oldest first, as far as the lane has room; once
    /// it is empty, writes the `drop` record of unreported losses (if any).
    fn backlog_move(producer: *Producer) void {
        assert(producer.mode == .discard);
        while (producer.overflow.count() > 0) {
            const run = producer.overflow.oldest_run();
            assert(run.len > 0);
            const claim = producer.claim_discard(@intCast(run.len), 1);
            if (claim.count == 0) break;
            for (run[0..claim.count], 0..) |*record, index| {
                producer.publish(claim.position + index, record, record.timestamp_ns);
            }
            // Monotonic: a statistic (see spill).
            _ = producer.lane.overflow_pending.fetchSub(layout.expanded_count(run[0..claim.count]), .monotonic);
            producer.overflow.pop(claim.count);
            overflow_budget_give(claim.count);
            if (claim.position + claim.count > producer.wake_position) producer.wake_check(claim.position + claim.count);
        }
        if (producer.overflow.count() > 0) return;
        producer.overflow.release();
        if (producer.drops_unreported > 0) {
            // The loss is itself an event, at the time it began, from the thread it hit.
            var record = std.mem.zeroes(Record);
            record.kind = @intFromEnum(layout.EventKind.drop);
            record.flags = layout.drop_flag_producer;
            record.a = producer.drops_unreported;
            const claim = producer.claim_discard(1, 1);
            if (claim.count == 0) return;
            // Not in written_count: that counts the caller's records.
            producer.publish(claim.position, &record, producer.drop_first_ns);
            producer.drops_unreported = 0;
        }
        producer.backlogged = false;
    }

    /// Gives up on what the overflow still holds (the collector is gone or stuck):
    /// counted as dropped, and no longer pending.
    fn overflow_abandon(producer: *Producer) void {
        assert(producer.overflow.count() > 0);
        var count: u64 = 0;
        var lost: u64 = 0;
        var pending: u64 = 0;
        while (producer.overflow.count() > 0) {
            const run = producer.overflow.oldest_run();
            for (run) |*record| {
                // A `drop` record of its own (drop_in_overflow): its losses are counted already.
                if (is_overflow_drop(record)) {
                    pending += 1;
                    continue;
                }
                count += 1;
                lost += layout.expanded_count(record[0..1]);
            }
            producer.overflow.pop(run.len);
            overflow_budget_give(run.len);
        }
        producer.overflow.release();
        _ = producer.lane.overflow_pending.fetchSub(lost + pending, .monotonic);
        producer.written_count -= count;
        if (lost > 0) producer.drop(@intCast(lost));
    }

    /// Past the private mark: look at the lane's fill and wake a sleeping collector
    /// when it is past half; set the next mark. About once per half lane of records.
    fn wake_check(producer: *Producer, head: u64) void {
        if (producer.mode != .discard) {
            producer.wake_position = std.math.maxInt(u64);
            return;
        }
        const mark: u64 = producer.capacity_slots / 2;
        // Acquire: as in claim_discard, this refreshes the producer's view of the tail.
        producer.tail_cached = producer.lane.tail.load(.acquire);
        const used = head -| producer.tail_cached;
        if (used >= mark) {
            wake_collector(producer.header);
            producer.wake_position = head + @max(mark / 2, 1);
            // A lane past half full may mean nobody drains: a collector that died (killed
            // `scope run`) stops recording for every producer, so the program does not go
            // on paying for records (and overflows) that nobody will read.
            if (collector_gone(producer.header)) {
                @branchHint(.cold);
                _ = producer.header.stop_reason.cmpxchgStrong(0, @intFromEnum(layout.StopReason.collector_gone), .release, .monotonic);
            }
        } else {
            producer.wake_position = producer.tail_cached + mark;
        }
    }

    /// The lane's free slots now (the tail read again). Cold: waits only.
    fn lane_free(producer: *Producer) u64 {
        // Acquire: as in claim_discard.
        producer.tail_cached = producer.lane.tail.load(.acquire);
        // Monotonic: as in claim_discard.
        return producer.free_cached(producer.lane.head.load(.monotonic));
    }

    /// The lane's free slots at `head` by the cached tail (a lower bound).
    inline fn free_cached(producer: *const Producer, head: u64) u64 {
        return @as(u64, producer.capacity_slots) -| (head -| producer.tail_cached);
    }

    fn claim_discard(producer: *Producer, count_wanted: u32, count_min: u32) Claim {
        assert(count_min >= 1 and count_min <= count_wanted);
        // Monotonic: the head only hands out positions; what a slot holds is published
        // through its own seq.
        var head = producer.lane.head.load(.monotonic);
        while (true) {
            // Saturating: a tail read after a stale head may be ahead of it; the CAS below
            // then fails and reloads the head.
            var free = producer.free_cached(head);
            if (free < count_wanted) {
                // Acquire: pairs with the consumer's release store of the tail, so its
                // reads of the freed slots happen before our writes into them.
                producer.tail_cached = producer.lane.tail.load(.acquire);
                free = producer.free_cached(head);
            }
            const count: u32 = @intCast(@min(free, count_wanted));
            if (count < count_min) return .{ .position = head, .count = 0 };
            if (producer.sharing == .exclusive) {
                // The only writer of the head: a plain store, no locked instruction.
                // Monotonic: as the CAS below.
                producer.lane.head.store(head + count, .monotonic);
                return .{ .position = head, .count = count };
            }
            // Monotonic on success: ownership of the positions needs no ordering beyond
            // the tail acquire above (before it in program order) and the seq release after.
            head = producer.lane.head.cmpxchgWeak(head, head + count, .monotonic, .monotonic) orelse {
                if (producer.claim_pid != 0) producer.claim_mark(head, count);
                return .{ .position = head, .count = count };
            };
        }
    }

    /// Marks `count` positions from `position` on, just claimed on a shared lane, as being
    /// written by this process: the slot's pid, then its seq as busy(position) (the consumer
    /// stops there as at any incomplete slot). Publishing overwrites both. Cold: shared lanes
    /// only (producers outnumber lanes), never the exclusive path.
    fn claim_mark(producer: *Producer, position: u64, count: u32) void {
        for (0..count) |index| {
            const slot = &producer.slots[(position + index) & (producer.capacity_slots - 1)];
            // Monotonic: ordered before the seq below by its release.
            @atomicStore(u32, &slot.pid, producer.claim_pid, .monotonic);
            // Release: a consumer that acquires busy(position) reads our pid.
            @atomicStore(u32, &slot.seq, seq_busy(position + index), .release);
        }
    }

    fn claim_overwrite(producer: *Producer, count_wanted: u32) Claim {
        // Monotonic: as in claim_discard; a flight recorder always advances.
        if (producer.sharing == .exclusive) {
            const position = producer.lane.head.load(.monotonic);
            producer.lane.head.store(position + count_wanted, .monotonic);
            return .{ .position = position, .count = count_wanted };
        }
        const position = producer.lane.head.fetchAdd(count_wanted, .monotonic);
        return .{ .position = position, .count = count_wanted };
    }

    /// Inline: the body of every write; a call here cost the bench's single writes ~3 ns.
    inline fn publish(producer: *Producer, position: u64, record: *align(1) const Record, timestamp_ns: u64) void {
        producer.publish_as(producer.mode, position, record, timestamp_ns);
    }

    /// publish in `mode` (the producer's): comptime-known in write's straight path, which
    /// tested it, so only the discard form is laid there.
    inline fn publish_as(producer: *Producer, mode: Mode, position: u64, record: *align(1) const Record, timestamp_ns: u64) void {
        const slot = &producer.slots[position & (producer.capacity_slots - 1)];
        // The slot two ahead, asked for now: a lane's slot was last touched a lap ago (by the
        // consumer's read), so it is rarely still cached, and a traced program writes its next
        // record microseconds later, by when the line is in. A hint: never faults, no ordering.
        @prefetch(&producer.slots[(position + 2) & (producer.capacity_slots - 1)], .{ .rw = .write, .locality = 3, .cache = .data });
        switch (mode) {
            .discard => {
                store_body(slot, record, timestamp_ns, producer.pid, producer.tid);
                // Release: the body above is visible to a consumer that acquires this seq.
                @atomicStore(u32, &slot.seq, seq_committed(position), .release);
            },
            .overwrite => if (producer.sharing == .exclusive) {
                // The lane's only writer: no one else is inside the slot, so the busy
                // mark needs no CAS; it only tells a consumer copying the slot's
                // previous record that the copy may be torn.
                // Monotonic: ordered before the body stores by store_fence.
                @atomicStore(u32, &slot.seq, seq_busy(position), .monotonic);
                store_fence();
                store_body(slot, record, timestamp_ns, producer.pid, producer.tid);
                // Release: the body is visible to a consumer that acquires committed(p).
                @atomicStore(u32, &slot.seq, seq_committed(position), .release);
            } else {
                // Monotonic: the CAS below re-checks the value with acquire.
                const seq = @atomicLoad(u32, &slot.seq, .monotonic);
                // Busy: a slower writer is inside; newer: ours would clobber a later record.
                // Either way ours is lost, and the consumer counts it when it passes.
                if (seq_is_busy(seq) or seq_distance(seq, position) >= 0) return;
                // Acquire: our body stores stay after the busy mark (with store_fence).
                if (@cmpxchgStrong(u32, &slot.seq, seq, seq_busy(position), .acquire, .monotonic) != null) return;
                store_fence();
                store_body(slot, record, timestamp_ns, producer.pid, producer.tid);
                // Release: the body is visible to a consumer that acquires committed(p).
                @atomicStore(u32, &slot.seq, seq_committed(position), .release);
            },
        }
    }
};

/// What an heir publishes at a position its dead holder claimed and never published
/// (Ring.abandon_unfinished): kind `invalid`, which no agent writes, with flags and `a` no
/// record has, so the drain tells it from any record.
const abandoned_record: Record = blk: {
    var record = std.mem.zeroes(Record);
    record.kind = @intFromEnum(layout.EventKind.invalid);
    record.flags = 0xffff;
    record.a = 0x4445_4E4F_4441_4241; // a constant no agent writes there
    break :blk record;
};

fn is_abandoned(slot: *const Record) bool {
    return slot.kind == abandoned_record.kind and slot.flags == abandoned_record.flags and slot.a == abandoned_record.a;
}

/// Whether the ring's collector process is gone (a detaching producer stops waiting).
fn collector_gone(header: *const Header) bool {
    const rc = std.os.linux.syscall2(.kill, header.collector_pid, 0);
    return std.os.linux.errno(rc) == .SRCH;
}

/// Whether waiting for the collector to drain can help (Producer.flush; cold): not when it
/// is gone or a zombie (killed, its parent not reaping it yet), nor when it has drained
/// nothing since a producer gave up on it (Header.collector_stalled_at). A stopped one
/// (SIGSTOP, a debugger) is waited for as a starved one is: it may resume within the bound,
/// and the first wait that runs out marks it for the rest.
fn collector_draining(header: *const Header) bool {
    // The cheap test first: a burst past a stalled collector asks at every write (spill).
    if (collector_marked_stalled(header)) return false;
    if (collector_gone(header)) return false;
    switch (process_state(header.collector_pid)) {
        'Z', 'X', 'x' => return false,
        else => {},
    }
    return true;
}

/// Whether a producer gave up on the collector and it has drained nothing since.
fn collector_marked_stalled(header: *const Header) bool {
    // Acquire: pairs with wait_for_drain's release.
    const stalled_at = header.collector_stalled_at.load(.acquire);
    return stalled_at != 0 and stalled_at == drained_total(header) + 1;
}

fn mark_collector_stalled(header: *Header) void {
    // Release: pairs with collector_marked_stalled's acquire (a statistic-like hint).
    header.collector_stalled_at.store(drained_total(header) + 1, .release);
}

/// The state letter of /proc/<pid>/stat (R, S, D, Z, T, ...), 0 when it cannot be read.
fn process_state(pid: u32) u8 {
    // comm is at most 16 bytes: the state is well within 128.
    var buffer: [128]u8 = undefined;
    const text = proc_stat.read(pid, &buffer) orelse return 0;
    return (proc_stat.fields(text) orelse return 0)[0];
}

/// Records drained from every lane so far (the lanes' tails summed): moves while the
/// collector makes progress. Cold (flush only).
fn drained_total(header: *const Header) u64 {
    const lanes: [*]const LaneControl = @ptrFromInt(@intFromPtr(header) + header.lanes_offset_bytes);
    var total: u64 = 0;
    // Acquire: as flush's own tail loads.
    for (lanes[0..header.lane_count]) |*lane| total +%= lane.tail.load(.acquire);
    return total;
}

/// Records held in the overflows of this process's producers (all its threads): the
/// process's overflow budget. Bounded by the ring's `overflow_capacity_records` (4× the
/// ring's slots by default: 2^20 records, 64 MiB at the default ring) for the whole process,
/// not per thread: 40 threads whose collector is stopped or starved hold 64 MiB between
/// them, not 40 × 64 MiB. Past it records drop as past a thread's own overflow (counted,
/// with a `drop` record in the thread's stream). Endings (process_exit, thread_exit,
/// trace_stop) and a thread's `drop` record go past it: one record each.
var overflow_budget_held: std.atomic.Value(u64) = .init(0);

/// Takes up to `count` records of the budget (at least `count_min`, else none); `limit`: the bound.
fn overflow_budget_take(count: u32, count_min: u32, limit: u64) u32 {
    // Monotonic: a counter; what the records hold is the taking thread's own memory.
    var held = overflow_budget_held.load(.monotonic);
    while (true) {
        const take: u32 = @intCast(@min(limit -| held, count));
        if (take == 0 or take < count_min) return 0;
        held = overflow_budget_held.cmpxchgWeak(held, held + take, .monotonic, .monotonic) orelse return take;
    }
}

/// Takes `count` records of the budget whatever it holds (endings, drop records).
fn overflow_budget_force(count: u32) u32 {
    _ = overflow_budget_held.fetchAdd(count, .monotonic);
    return count;
}

fn overflow_budget_give(count: u64) void {
    const before = overflow_budget_held.fetchSub(count, .monotonic);
    assert(before >= count);
}

/// What this process's overflows hold now (tests).
pub fn overflow_budget_used() u64 {
    return overflow_budget_held.load(.monotonic);
}

/// A `drop` record a producer put in its overflow (drop_in_overflow); the agents write none.
fn is_overflow_drop(record: *align(1) const Record) bool {
    return record.kind == @intFromEnum(layout.EventKind.drop) and record.flags == layout.drop_flag_producer;
}

/// A producer's private FIFO of complete records (stamped, pid and tid set): mapped on
/// first use (address space only; pages are touched as a burst reaches them) and
/// unmapped once empty, so a program pays memory only while a burst is held.
const Overflow = struct {
    records: ?[*]Record = null,
    /// Records; a power of two. Set when mapped.
    capacity: u32 = 0,
    read: u64 = 0,
    write: u64 = 0,
    /// Positions below this one have had their pages given back (pop), in whole chunks.
    trimmed: u64 = 0,
    /// The position of the last `drop` record put here (drop_in_overflow). Positions start
    /// again at 0 when the buffer is mapped again, so this goes with them (release), or a
    /// later loss would add its count to whatever record then sits at the old position.
    drop_position: ?u64 = null,

    /// Records whose pages a drained overflow gives back at once: 4096 (256 KiB), less in a
    /// small overflow.
    const trim_records_max: u64 = 4096;

    fn count(overflow: *const Overflow) u64 {
        assert(overflow.write >= overflow.read);
        return overflow.write - overflow.read;
    }

    fn free(overflow: *const Overflow) u64 {
        assert(overflow.count() <= overflow.capacity);
        return overflow.capacity - overflow.count();
    }

    /// Maps the buffer unless it is; false when the system refuses (then records drop).
    fn reserve(overflow: *Overflow, capacity: u32) bool {
        if (overflow.records != null) return true;
        if (capacity == 0) return false; // tests turn the overflow off this way
        assert(std.math.isPowerOfTwo(capacity));
        const size_bytes_total = @as(usize, capacity) * layout.record_size_bytes;
        const address = std.c.mmap(null, size_bytes_total, .{ .READ = true, .WRITE = true }, .{ .TYPE = .PRIVATE, .ANONYMOUS = true, .NORESERVE = true }, -1, 0);
        if (address == std.c.MAP_FAILED) return false;
        overflow.* = .{ .records = @ptrCast(@alignCast(address)), .capacity = capacity, .read = 0, .write = 0 };
        return true;
    }

    fn push(overflow: *Overflow, record: *align(1) const Record, timestamp_ns: u64, pid: u32, tid: u32) void {
        assert(overflow.free() > 0);
        const slot = &overflow.records.?[overflow.write & (overflow.capacity - 1)];
        slot.* = record.*;
        slot.seq = 0;
        slot.timestamp_ns = timestamp_ns;
        slot.pid = pid;
        slot.tid = tid;
        overflow.write += 1;
    }

    /// The oldest records that lie contiguously in the buffer (up to its wrap point).
    fn oldest_run(overflow: *const Overflow) []const Record {
        const start: usize = @intCast(overflow.read & (overflow.capacity - 1));
        const len: usize = @intCast(@min(overflow.count(), overflow.capacity - start));
        return overflow.records.?[start .. start + len];
    }

    fn pop(overflow: *Overflow, count_popped: u64) void {
        assert(count_popped <= overflow.count());
        overflow.read += count_popped;
        // The pages of drained records go back to the system chunk by chunk as the reader
        // passes them: an overflow that never empties (a collector draining slower than the
        // thread writes) would otherwise have its writer wander over the whole buffer and
        // keep every page of it, so memory stays near what the budget holds. A chunk the
        // writer has come round to again (a newer lap's records in it) is passed, not given.
        const chunk: u64 = @max(1, @min(trim_records_max, overflow.capacity / 4));
        while (overflow.trimmed + chunk <= overflow.read) : (overflow.trimmed += chunk) {
            if (overflow.write > overflow.trimmed + overflow.capacity) continue;
            const start: usize = @intCast(overflow.trimmed & (overflow.capacity - 1));
            const bytes: [*]u8 = @ptrCast(&overflow.records.?[start]);
            // Cold (a burst's drain); a refusal only leaves the pages where they were.
            _ = std.os.linux.madvise(bytes, @intCast(chunk * layout.record_size_bytes), std.os.linux.MADV.DONTNEED);
        }
    }

    fn release(overflow: *Overflow) void {
        assert(overflow.count() == 0);
        const records = overflow.records orelse return;
        const rc = std.c.munmap(@ptrCast(@alignCast(records)), @as(usize, overflow.capacity) * layout.record_size_bytes);
        assert(rc == 0);
        overflow.* = .{};
    }
};

/// Cuts `bytes` to at most `limit` bytes without splitting a UTF-8 sequence.
pub fn utf8_truncate(bytes: []const u8, limit: u32) []const u8 {
    if (bytes.len <= limit) return bytes;
    var cut: usize = limit;
    // A continuation byte (10xxxxxx) at the cut belongs to a sequence that started before.
    while (cut > 0 and bytes[cut] & 0xC0 == 0x80) cut -= 1;
    assert(cut <= limit);
    return bytes[0..cut];
}

/// Builds the `string` fragment records of one string into `out`; returns how many.
/// a = id | total_len << 32, flags = fragment index, bytes 32..64 = up to 32 bytes.
pub fn string_fragments(id: u32, utf8: []const u8, out: *[string_fragment_count_max]Record) u32 {
    const text = utf8_truncate(utf8, layout.string_max_bytes);
    const fragment_bytes = layout.string_fragment_bytes;
    const count: u32 = @intCast(@max(1, std.math.divCeil(usize, text.len, fragment_bytes) catch unreachable));
    assert(count <= string_fragment_count_max);
    for (out[0..count], 0..) |*record, index| {
        record.* = std.mem.zeroes(Record);
        record.kind = @intFromEnum(layout.EventKind.string);
        record.flags = @intCast(index);
        record.a = @as(u64, id) | (@as(u64, text.len) << 32);
        const start = index * fragment_bytes;
        const end = @min(text.len, start + fragment_bytes);
        const data: *[fragment_bytes]u8 = @ptrCast(&record.b);
        @memcpy(data[0 .. end - start], text[start..end]);
    }
    return count;
}

// ---------------------------------------------------------------------------------------
// Tests: an in-process region (the shm mapping is its own unit, zig/shm.zig).

const testing = std.testing;

const TestRing = struct {
    memory: []align(page_size_bytes) u8,
    ring: Ring,

    fn init(lane_count: u32, lane_capacity_slots: u32, mode: Mode) !TestRing {
        return init_clock(lane_count, lane_capacity_slots, mode, .auto);
    }

    fn init_clock(lane_count: u32, lane_capacity_slots: u32, mode: Mode, clock_choice: clock.Choice) !TestRing {
        const memory = try testing.allocator.alignedAlloc(u8, .fromByteUnits(page_size_bytes), size_bytes(lane_count, lane_capacity_slots));
        @memset(memory, 0);
        const ring = try Ring.format(memory, .{
            .lane_count = lane_count,
            .lane_capacity_slots = lane_capacity_slots,
            .mode = mode,
            .collector_pid = 1,
            .clock = clock_choice,
        });
        return .{ .memory = memory, .ring = ring };
    }

    fn deinit(test_ring: *TestRing) void {
        testing.allocator.free(test_ring.memory);
    }
};

fn test_record(value: u64) Record {
    var record = std.mem.zeroes(Record);
    record.kind = @intFromEnum(layout.EventKind.agent_error);
    record.timestamp_ns = value + 1;
    record.a = value;
    record.e = ~value;
    return record;
}

fn expect_stats_balance(ring: *const Ring, produced: u64) !void {
    const stats = ring.stats();
    try testing.expectEqual(produced, stats.written + stats.dropped + stats.overflow_pending);
    try testing.expectEqual(stats.written, stats.received + stats.overwritten + stats.abandoned + stats.pending);
}

test "ring: sequence encoding orders positions across the u32 wrap" {
    try testing.expectEqual(@as(i32, -1), seq_distance(0, 0));
    try testing.expectEqual(@as(i32, 0), seq_distance(seq_committed(7), 7));
    try testing.expectEqual(@as(i32, 0), seq_distance(seq_busy(7), 7));
    try testing.expectEqual(@as(i32, 8), seq_distance(seq_committed(15), 7));
    const near_wrap: u64 = (1 << 31) - 3;
    try testing.expectEqual(@as(i32, 6), seq_distance(seq_committed(near_wrap + 6), near_wrap));
    try testing.expectEqual(@as(i32, -6), seq_distance(seq_committed(near_wrap), near_wrap + 6));
    try testing.expect(seq_committed(near_wrap) != seq_busy(near_wrap));
}

test "ring: write and drain across wrap-around, in order, seq cleared" {
    var test_ring = try TestRing.init(1, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    var producer = ring.attach(42, 7);
    var out: [5]Record = undefined;
    var expected: u64 = 0;
    var produced: u64 = 0;
    while (produced < 100) : (produced += 1) {
        try testing.expect(producer.write(&test_record(produced)));
        if (produced % 5 == 4) {
            const count = ring.drain(&out);
            try testing.expectEqual(@as(u32, 5), count);
            for (out[0..count]) |record| {
                try testing.expectEqual(expected, record.a);
                try testing.expectEqual(~expected, record.e);
                try testing.expectEqual(@as(u32, 0), record.seq);
                try testing.expectEqual(@as(u32, 42), record.pid);
                try testing.expectEqual(@as(u32, 7), record.tid);
                expected += 1;
            }
        }
    }
    try testing.expectEqual(@as(u64, 100), expected);
    try expect_stats_balance(ring, produced);
    try testing.expectEqual(@as(u64, 0), ring.stats().dropped);
}

test "ring: a wake takes the sleeping collector's flag: one FUTEX_WAKE a sleep, not one a write" {
    var test_ring = try TestRing.init(1, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    ring.flush_stall_ns = test_stall_ns;
    const header = ring.header;
    var producer = ring.attach(1, 0);
    defer producer.detach();
    // The collector said it sleeps (wait_for_work), then did not run yet (a loaded machine):
    // every write past the full lane spills and wakes it; only the first may make the syscall.
    header.collector_sleeping.store(1, .seq_cst);
    const sequence = header.wake_sequence.load(.seq_cst);
    var value: u64 = 0;
    while (value < 9) : (value += 1) try testing.expect(producer.write(&test_record(value)));
    try testing.expectEqual(@as(u32, 0), header.collector_sleeping.load(.seq_cst));
    // Each spill still bumps the word: a wait about to start returns at once.
    try testing.expect(header.wake_sequence.load(.seq_cst) != sequence);
    while (value < 12) : (value += 1) try testing.expect(producer.write(&test_record(value)));
    try testing.expectEqual(@as(u32, 0), header.collector_sleeping.load(.seq_cst));
    // A real sleep is still woken: a thread waiting up to 10 s returns at the next spill.
    const Sleeper = struct {
        fn run(sleeping_ring: *Ring, done: *std.atomic.Value(bool)) void {
            sleeping_ring.wait_for_work(10 * std.time.ns_per_s);
            done.store(true, .release);
        }
    };
    var out: [16]Record = undefined;
    var drained: u32 = 0;
    while (true) {
        const count = ring.drain(&out);
        if (count == 0) break;
        drained += count;
    }
    try testing.expectEqual(@as(u32, 8), drained);
    var done: std.atomic.Value(bool) = .init(false);
    const thread = try std.Thread.spawn(.{}, Sleeper.run, .{ ring, &done });
    while (header.collector_sleeping.load(.seq_cst) == 0) std.Thread.yield() catch {};
    const started_ns = clock.monotonic_ns();
    // The lane is empty now: the next write moves the overflow in, fills the lane, spills and wakes.
    while (!done.load(.acquire)) {
        try testing.expect(producer.write(&test_record(value)));
        value += 1;
        std.Thread.yield() catch {};
        if (clock.monotonic_ns() - started_ns > 5 * std.time.ns_per_s) break;
    }
    thread.join();
    try testing.expect(clock.monotonic_ns() - started_ns < 5 * std.time.ns_per_s);
}

test "ring: discard mode without an overflow drops new records when a lane is full, counts and reports them" {
    var test_ring = try TestRing.init(1, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    // Nobody drains this ring: past the overflow, give up on the collector at once.
    ring.flush_stall_ns = test_stall_ns;
    var producer = ring.attach(1, 0);
    producer.overflow_capacity_records = 0;
    // No overflow and nobody drains: give up on the collector at once, not after 2 s.
    producer.stall_ns_max = test_stall_ns;
    var value: u64 = 0;
    while (value < 12) : (value += 1) _ = producer.write(&test_record(value));
    try testing.expectEqual(@as(u64, 8), producer.written_count);
    try testing.expectEqual(@as(u64, 4), producer.dropped_count);
    var out: [16]Record = undefined;
    try testing.expectEqual(@as(u32, 8), ring.drain(&out));
    // The oldest eight survive; the four newest were dropped.
    for (out[0..8], 0..) |record, index| try testing.expectEqual(@as(u64, index), record.a);
    try testing.expect(producer.write(&test_record(99)));
    // The next write first says what was lost, from this producer, when it began.
    try testing.expectEqual(@as(u32, 2), ring.drain(&out));
    try testing.expectEqual(@intFromEnum(layout.EventKind.drop), out[0].kind);
    try testing.expectEqual(layout.drop_flag_producer, out[0].flags);
    try testing.expectEqual(@as(u64, 4), out[0].a);
    try testing.expectEqual(@as(u32, 1), out[0].pid);
    try testing.expect(out[0].timestamp_ns > 0);
    try testing.expectEqual(@as(u64, 99), out[1].a);
    try expect_stats_balance(ring, 14);
    try testing.expectEqual(@as(u64, 4), ring.stats().dropped);
}

fn test_pack(first: u32, request: u32, ids: []const u32) Record {
    assert(ids.len <= layout.calls_pack_max);
    var words: [layout.calls_pack_max]u32 = @splat(0);
    @memcpy(words[0..ids.len], ids);
    var record = std.mem.zeroes(Record);
    record.kind = @intFromEnum(layout.EventKind.function_calls);
    record.timestamp_ns = 1000 + first;
    record.a = @as(u64, request) << 32 | first;
    record.b = @as(u64, words[1]) << 32 | words[0];
    record.c = @as(u64, words[3]) << 32 | words[2];
    record.d = @as(u64, words[5]) << 32 | words[4];
    record.e = @as(u64, words[7]) << 32 | words[6];
    return record;
}

test "ring: a function_calls pack drains as its function_call records, split across drains when out is short" {
    var test_ring = try TestRing.init(1, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    var producer = ring.attach(4, 2);
    try testing.expect(producer.write(&test_pack(100, 7, &.{ 11, 12, 13, 14, 15, 16, 17, 18 })));
    try testing.expect(producer.write(&test_record(5)));
    try testing.expect(producer.write(&test_pack(200, 0, &.{ 21, 22, 23 })));
    var out: [3]Record = undefined;
    var all: [12]Record = undefined;
    var count: u32 = 0;
    while (true) {
        const drained = ring.drain(&out);
        if (drained == 0) break;
        @memcpy(all[count..][0..drained], out[0..drained]);
        count += drained;
    }
    try testing.expectEqual(@as(u32, 12), count);
    for (all[0..8], 0..) |record, index| {
        try testing.expectEqual(@as(u16, @intFromEnum(layout.EventKind.function_call)), record.kind);
        try testing.expectEqual(@as(u64, 11 + index), record.a);
        try testing.expectEqual(@as(u64, 100 + index), record.b);
        try testing.expectEqual(@as(u64, 0), record.c);
        try testing.expectEqual(@as(u64, 7), record.d);
        try testing.expectEqual(@as(u64, 1100), record.timestamp_ns);
        try testing.expectEqual(@as(u32, 4), record.pid);
        try testing.expectEqual(@as(u32, 2), record.tid);
        try testing.expectEqual(@as(u32, 0), record.seq);
    }
    try testing.expectEqual(@as(u64, 5), all[8].a);
    for (all[9..12], 0..) |record, index| {
        try testing.expectEqual(@as(u64, 21 + index), record.a);
        try testing.expectEqual(@as(u64, 200 + index), record.b);
        try testing.expectEqual(@as(u64, 0), record.d);
    }
    // Slots, not records: the ring's own balance is unchanged by the expansion; what it
    // handed on is written + unpacked (3 slots, 12 records, one pack split over drains).
    try expect_stats_balance(ring, 3);
    try testing.expectEqual(@as(u64, 9), ring.stats().unpacked);
}

test "ring: overwrite mode expands a function_calls pack whole, or leaves it for the next drain" {
    var test_ring = try TestRing.init(1, 8, .overwrite);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    var producer = ring.attach(4, 2);
    try testing.expect(producer.write(&test_record(5)));
    try testing.expect(producer.write(&test_pack(300, 9, &.{ 31, 32, 33 })));
    var out: [3]Record = undefined;
    // One record and no room for the pack's three: the pack waits.
    try testing.expectEqual(@as(u32, 1), ring.drain(&out));
    try testing.expectEqual(@as(u64, 5), out[0].a);
    try testing.expectEqual(@as(u32, 3), ring.drain(&out));
    for (out, 0..) |record, index| {
        try testing.expectEqual(@as(u16, @intFromEnum(layout.EventKind.function_call)), record.kind);
        try testing.expectEqual(@as(u64, 31 + index), record.a);
        try testing.expectEqual(@as(u64, 300 + index), record.b);
        try testing.expectEqual(@as(u64, 9), record.d);
        try testing.expectEqual(@as(u32, 0), record.seq);
    }
    try testing.expectEqual(@as(u32, 0), ring.drain(&out));
    try expect_stats_balance(ring, 2);
    try testing.expectEqual(@as(u64, 2), ring.stats().unpacked);
}

test "ring: a pack lost to a full lane counts each of its calls" {
    var test_ring = try TestRing.init(1, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    var producer = ring.attach(1, 0);
    producer.overflow_capacity_records = 0;
    // No overflow and nobody drains: give up on the collector at once, not after 2 s.
    producer.stall_ns_max = test_stall_ns;
    var value: u64 = 0;
    while (value < 8) : (value += 1) try testing.expect(producer.write(&test_record(value)));
    const packs = [_]Record{ test_pack(1, 0, &.{ 1, 2, 3, 4, 5, 6, 7, 8 }), test_pack(9, 0, &.{ 1, 2, 3 }), test_record(9) };
    try testing.expectEqual(@as(u32, 0), producer.write_batch(&packs, 0));
    try testing.expectEqual(@as(u64, 12), producer.dropped_count);
    var out: [16]Record = undefined;
    try testing.expectEqual(@as(u32, 8), ring.drain(&out));
    try testing.expect(producer.write(&test_record(99)));
    try testing.expectEqual(@as(u32, 2), ring.drain(&out));
    try testing.expectEqual(@intFromEnum(layout.EventKind.drop), out[0].kind);
    try testing.expectEqual(@as(u64, 12), out[0].a);
}

test "ring: a burst past the lane waits in the overflow, stamped when written, and reaches the lane in order" {
    var test_ring = try TestRing.init(1, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    var producer = ring.attach(1, 0);
    var value: u64 = 0;
    while (value < 100) : (value += 1) try testing.expect(producer.write(&test_record(value)));
    const held = ring.stats();
    try testing.expectEqual(@as(u64, 8), held.written);
    try testing.expectEqual(@as(u64, 92), held.overflow_pending);
    try testing.expectEqual(@as(u64, 0), held.dropped);
    try testing.expectEqual(@as(u64, 100), producer.written_count);
    var out: [8]Record = undefined;
    var expected: u64 = 0;
    while (expected < 100) {
        const count = ring.drain(&out);
        if (count == 0) {
            // The producer's next write (here: a flush) moves the overflow on.
            producer.flush(false);
            continue;
        }
        for (out[0..count]) |record| {
            try testing.expectEqual(expected, record.a);
            // test_record's own timestamp is kept, not the time it reached the lane.
            try testing.expectEqual(expected + 1, record.timestamp_ns);
            expected += 1;
        }
    }
    try testing.expect(!producer.backlogged);
    try testing.expectEqual(@as(?[*]Record, null), producer.overflow.records);
    const stats = ring.stats();
    try testing.expectEqual(@as(u64, 0), stats.overflow_pending);
    try testing.expectEqual(@as(u64, 92), stats.overflowed);
    try expect_stats_balance(ring, 100);
}

test "ring: past the overflow bound records drop, counted, then reported once" {
    var test_ring = try TestRing.init(1, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    // Nobody drains this ring: past the overflow, give up on the collector at once.
    ring.flush_stall_ns = test_stall_ns;
    var producer = ring.attach(7, 3);
    const bound = producer.overflow_capacity_records;
    const total: u64 = 8 + bound + 5;
    var value: u64 = 0;
    while (value < total) : (value += 1) _ = producer.write(&test_record(value));
    // The overflow's last slot holds the drop record: 6 lost.
    try testing.expectEqual(@as(u64, 6), producer.dropped_count);
    try testing.expectEqual(@as(u64, bound), ring.stats().overflow_pending);
    var out: [64]Record = undefined;
    var data: u64 = 0;
    var reported: u64 = 0;
    while (true) {
        const count = ring.drain(&out);
        if (count == 0) {
            if (!producer.backlogged) break;
            producer.flush(false);
            continue;
        }
        for (out[0..count]) |record| {
            if (record.kind == @intFromEnum(layout.EventKind.drop)) {
                try testing.expectEqual(@as(u32, 3), record.tid);
                reported += record.a;
                // After everything the producer kept, before anything later.
                try testing.expectEqual(@as(u64, 8 + bound - 1), data);
            } else {
                try testing.expectEqual(data, record.a);
                data += 1;
            }
        }
    }
    try testing.expectEqual(@as(u64, 8 + bound - 1), data);
    try testing.expectEqual(@as(u64, 6), reported);
    try expect_stats_balance(ring, total + 1);
}

test "ring: a loss past the overflow bound is reported where it happened: records kept after it follow its drop record" {
    var test_ring = try TestRing.init(1, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    // Nobody drains this ring: past the overflow, give up on the collector at once.
    ring.flush_stall_ns = test_stall_ns;
    var producer = ring.attach(7, 3);
    const bound = producer.overflow_capacity_records;
    // The lane takes 8, the overflow bound - 1 and the drop record; 6 are lost.
    var value: u64 = 0;
    while (value < 8 + bound + 5) : (value += 1) _ = producer.write(&test_record(value));
    try testing.expectEqual(@as(u64, 6), producer.dropped_count);
    // The lane drains a little; the next write moves 4 records in and keeps 3 of its own
    // behind the drop record (the last free slot stays for a drop record); 2 more are lost,
    // reported by a second drop record.
    var out: [64]Record = undefined;
    try testing.expectEqual(@as(u32, 4), ring.drain(out[0..4]));
    const later = value;
    while (value < later + 5) : (value += 1) _ = producer.write(&test_record(value));
    try testing.expectEqual(@as(u64, 8), producer.dropped_count);
    const expected = [_]u64{ 6, later, later + 1, later + 2, 2 };
    var data: u64 = 4;
    var seen: usize = 0;
    while (true) {
        const count = ring.drain(&out);
        if (count == 0) {
            if (!producer.backlogged) break;
            producer.flush(false);
            continue;
        }
        for (out[0..count]) |record| {
            if (data < 8 + bound - 1) {
                try testing.expectEqual(@as(u16, @intFromEnum(layout.EventKind.agent_error)), record.kind);
                try testing.expectEqual(data, record.a);
                data += 1;
                continue;
            }
            const is_drop = record.kind == @intFromEnum(layout.EventKind.drop);
            try testing.expectEqual(seen == 0 or seen == 4, is_drop);
            if (is_drop) try testing.expectEqual(@as(u32, 3), record.tid);
            try testing.expectEqual(expected[seen], record.a);
            seen += 1;
        }
    }
    try testing.expectEqual(@as(usize, 5), seen);
    try expect_stats_balance(ring, 8 + bound + 5 + 5 + 2);
}

test "ring: an overflow mapped again starts its positions over: a later loss gets a drop record of its own, no record's field changed" {
    var test_ring = try TestRing.init(1, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    // Nobody drains this ring: past the overflow, give up on the collector at once.
    ring.flush_stall_ns = test_stall_ns;
    var producer = ring.attach(7, 3);
    const bound = producer.overflow_capacity_records;
    var out: [64]Record = undefined;
    // First burst: the lane takes 8, the overflow bound - 1 and, at its last position, the
    // drop record of the one lost. Then everything drains and the overflow is unmapped.
    var value: u64 = 0;
    while (value < 8 + bound) : (value += 1) _ = producer.write(&test_record(value));
    try testing.expectEqual(@as(u64, 1), producer.dropped_count);
    var drained: u64 = 0;
    while (producer.backlogged or ring.has_pending()) {
        drained += ring.drain(&out);
        producer.flush(false);
    }
    try testing.expectEqual(@as(?[*]Record, null), producer.overflow.records);
    // Second burst: the overflow holds bound - 1 again, one drains, and the next write
    // puts a record at the position the first drop record had; the write after it is
    // lost: a new drop record, not a count added to that record.
    const second = value;
    while (value < second + 8 + bound - 1) : (value += 1) _ = producer.write(&test_record(value));
    try testing.expectEqual(@as(u32, 1), ring.drain(out[0..1]));
    drained += 1;
    _ = producer.write(&test_record(value));
    value += 1;
    _ = producer.write(&test_record(value));
    value += 1;
    try testing.expectEqual(@as(u64, 2), producer.dropped_count);
    var drops: u64 = 0;
    var reported: u64 = 0;
    while (producer.backlogged or ring.has_pending()) {
        const count = ring.drain(&out);
        for (out[0..count]) |record| {
            if (record.kind == @intFromEnum(layout.EventKind.drop)) {
                drops += 1;
                reported += record.a;
            } else {
                // test_record's own check word: no field changed after it was written.
                try testing.expectEqual(~record.a, record.e);
            }
        }
        producer.flush(false);
    }
    try testing.expectEqual(@as(u64, 1), drops);
    try testing.expectEqual(@as(u64, 1), reported);
    producer.detach();
}

test "ring: a thread whose lane fills while the process's other threads hold the whole budget waits for the drain, drops nothing" {
    var test_ring = try TestRing.init(3, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    const used_before = overflow_budget_used();
    var first = ring.attach(7, 1);
    var third = ring.attach(7, 3);
    var second = ring.attach(7, 2);
    const budget = ring.header.overflow_capacity_records;
    // The first thread's burst takes its lane and all of the budget it can (its overflow
    // keeps one slot for a drop record); the third's takes the rest.
    const first_kept = @min(budget - used_before, budget - 1);
    var value: u64 = 0;
    while (value < 8 + first_kept) : (value += 1) try testing.expect(first.write(&test_record(value)));
    const third_kept = budget - used_before - first_kept;
    value = 0;
    while (value < 8 + third_kept) : (value += 1) try testing.expect(third.write(&test_record(value)));
    try testing.expectEqual(@as(u64, budget), overflow_budget_used());
    // A collector drains the lanes meanwhile (first's and third's overflows stay where they
    // are: their threads write no more).
    const Drainer = struct {
        fn run(drained_ring: *Ring, stop: *std.atomic.Value(bool), seen: *u64, in_order: *bool) void {
            var out: [16]Record = undefined;
            var next: u64 = 0;
            while (!stop.load(.acquire)) {
                const count = drained_ring.drain(&out);
                for (out[0..count]) |record| {
                    if (record.tid != 2) continue;
                    if (record.a != next) in_order.* = false;
                    next += 1;
                }
                if (count == 0) std.Thread.yield() catch {};
            }
            seen.* = next;
        }
    };
    var stop: std.atomic.Value(bool) = .init(false);
    var seen: u64 = 0;
    var in_order = true;
    const thread = try std.Thread.spawn(.{}, Drainer.run, .{ ring, &stop, &seen, &in_order });
    // The second thread's lane fills; its overflow is empty and the budget all taken: it
    // waits for room in its lane instead of dropping (before: 40 of these 48 dropped).
    const second_total: u64 = 48;
    value = 0;
    while (value < second_total) : (value += 1) try testing.expect(second.write(&test_record(value)));
    try testing.expectEqual(@as(u64, 0), second.dropped_count);
    try testing.expect(!second.backlogged);
    try testing.expect(second.drain_waited_ns > 0);
    while (ring.lanes[second.lane_index].tail.load(.acquire) < second_total) std.Thread.yield() catch {};
    stop.store(true, .release);
    thread.join();
    try testing.expectEqual(second_total, seen);
    try testing.expect(in_order);
    // The others' overflows drained and handed over: the budget is whole again.
    var out: [64]Record = undefined;
    while (first.backlogged or third.backlogged or ring.stats().pending > 0) {
        if (ring.drain(&out) == 0) {
            first.flush(false);
            third.flush(false);
        }
    }
    try testing.expectEqual(used_before, overflow_budget_used());
    first.detach();
    second.detach();
    third.detach();
}

test "ring: a process's overflows share one budget: a second thread's burst drops past it, counted and reported" {
    var test_ring = try TestRing.init(2, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    // Nobody drains this ring: past the overflow, give up on the collector at once.
    ring.flush_stall_ns = test_stall_ns;
    const used_before = overflow_budget_used();
    var first = ring.attach(7, 1);
    var second = ring.attach(7, 2);
    try testing.expect(first.lane != second.lane);
    const budget = ring.header.overflow_capacity_records;
    // The first thread's burst takes all but 100 of the budget.
    const first_kept = budget - 100 - used_before;
    var value: u64 = 0;
    while (value < 8 + first_kept) : (value += 1) try testing.expect(first.write(&test_record(value)));
    try testing.expectEqual(used_before + first_kept, overflow_budget_used());
    // The second's: its lane, then the rest of the budget; the rest is lost, counted.
    const second_total: u64 = 8 + 1000;
    var kept: u64 = 0;
    for (0..second_total) |index| {
        if (second.write(&test_record(index))) kept += 1;
    }
    try testing.expectEqual(@as(u64, 8 + 100), kept);
    try testing.expectEqual(second_total - kept, second.dropped_count);
    // The budget holds both overflows and the second's drop record, no more.
    try testing.expectEqual(@as(u64, budget + 1), overflow_budget_used());
    // Drained and handed over: the budget is whole again, the loss reported in the trace.
    var out: [64]Record = undefined;
    var reported: u64 = 0;
    while (first.backlogged or second.backlogged or ring.stats().pending > 0) {
        const count = ring.drain(&out);
        for (out[0..count]) |record| {
            if (record.kind == @intFromEnum(layout.EventKind.drop)) reported += record.a;
        }
        if (count == 0) {
            first.flush(false);
            second.flush(false);
        }
    }
    try testing.expectEqual(second_total - kept, reported);
    try testing.expectEqual(used_before, overflow_budget_used());
    try expect_stats_balance(ring, 8 + first_kept + second_total + 1);
    first.detach();
    second.detach();
}

test "ring: an overflow drained while written gives its drained pages back" {
    var test_ring = try TestRing.init(1, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    var producer = ring.attach(1, 0);
    const capacity = producer.overflow_capacity_records;
    const chunk = capacity / 4;
    var value: u64 = 0;
    while (value < 8 + chunk + 10) : (value += 1) try testing.expect(producer.write(&test_record(value)));
    // Drain a chunk's worth and more through the lane; the overflow is never empty meanwhile.
    var out: [8]Record = undefined;
    var drained: u64 = 0;
    while (drained < chunk + 8) {
        const count = ring.drain(&out);
        drained += count;
        if (count == 0) producer.flush(false);
    }
    try testing.expect(producer.backlogged);
    try testing.expect(producer.overflow.read >= chunk);
    // The first chunk's slots were given back: they read as zero pages now.
    const records = producer.overflow.records.?;
    for (records[0..chunk]) |record| try testing.expectEqual(@as(u64, 0), record.a | record.e);
    // The records still held are whole.
    const held = records[producer.overflow.read & (capacity - 1)];
    try testing.expectEqual(~held.a, held.e);
    while (producer.backlogged) {
        if (ring.drain(&out) == 0) producer.flush(false);
    }
    try expect_stats_balance(ring, 8 + chunk + 10);
    producer.detach();
}

test "ring: a detaching producer hands its overflow to the collector, waiting while it drains" {
    var test_ring = try TestRing.init(1, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    var producer = ring.attach(1, 0);
    var value: u64 = 0;
    while (value < 500) : (value += 1) try testing.expect(producer.write(&test_record(value)));
    const Detacher = struct {
        fn run(p: *Producer) void {
            p.detach();
        }
    };
    const thread = try std.Thread.spawn(.{}, Detacher.run, .{&producer});
    var out: [4]Record = undefined;
    var expected: u64 = 0;
    while (expected < 500) {
        for (out[0..ring.drain(&out)]) |record| {
            try testing.expectEqual(expected, record.a);
            expected += 1;
        }
    }
    thread.join();
    const stats = ring.stats();
    try testing.expectEqual(@as(u64, 0), stats.producers_attached);
    try testing.expectEqual(@as(u64, 0), stats.overflow_pending);
    try testing.expectEqual(@as(u64, 0), stats.dropped);
    try expect_stats_balance(ring, 500);
}

test "ring: a collector that drained nothing since a producer gave up on it is not waited for again, until it drains" {
    var test_ring = try TestRing.init(1, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    // A producer gave up on this collector (pid 1: alive, never stopped) with 3 records drained.
    var out: [8]Record = undefined;
    var first = ring.attach(1, 0);
    for (0..3) |value| try testing.expect(first.write(&test_record(value)));
    try testing.expectEqual(@as(u32, 3), ring.drain(&out));
    ring.header.collector_stalled_at.store(drained_total(ring.header) + 1, .release);
    // A thread ending with a full lane and records in its overflow: no wait (bound 2 s), the overflow dropped.
    var value: u64 = 3;
    while (value < 100) : (value += 1) try testing.expect(first.write(&test_record(value)));
    const started_ns = clock.monotonic_ns();
    first.detach();
    try testing.expect(clock.monotonic_ns() - started_ns < 200 * std.time.ns_per_ms);
    var stats = ring.stats();
    try testing.expectEqual(@as(u64, 100 - 3 - 8), stats.dropped);
    try testing.expectEqual(@as(u64, 0), stats.overflow_pending);
    // Once it drains again, a producer waits for it as before: nothing more lost.
    try testing.expectEqual(@as(u32, 8), ring.drain(&out));
    var second = ring.attach(2, 0);
    value = 0;
    while (value < 40) : (value += 1) try testing.expect(second.write(&test_record(value)));
    const Detacher = struct {
        fn run(p: *Producer) void {
            p.detach();
        }
    };
    const thread = try std.Thread.spawn(.{}, Detacher.run, .{&second});
    var drained: u64 = 0;
    while (drained < 40) drained += ring.drain(&out);
    thread.join();
    stats = ring.stats();
    try testing.expectEqual(@as(u64, 100 - 3 - 8), stats.dropped);
    try testing.expectEqual(@as(u64, 0), stats.overflow_pending);
}

test "ring: a zombie collector is not waited for; a running or stopped one (it may resume) is" {
    // This process is running; pid 1's /proc/1/stat reads too; a pid that is gone reads no state.
    const self: u32 = @intCast(std.c.getpid());
    const state = process_state(self);
    try testing.expect(state == 'R' or state == 'S');
    try testing.expectEqual(@as(u8, 0), process_state(std.math.maxInt(u31)));
    // A child we stop, then a child that exits unreaped.
    const child = std.c.fork();
    if (child == 0) {
        while (true) sleep_ns(std.time.ns_per_s);
    }
    try testing.expect(child > 0);
    defer _ = std.c.waitpid(child, null, 0);
    _ = std.c.kill(child, std.c.SIG.STOP);
    var tries: u32 = 0;
    while (process_state(@intCast(child)) != 'T' and tries < 1000) : (tries += 1) sleep_ns(std.time.ns_per_ms);
    try testing.expectEqual(@as(u8, 'T'), process_state(@intCast(child)));
    var test_ring = try TestRing.init(1, 8, .discard);
    defer test_ring.deinit();
    try testing.expect(collector_draining(test_ring.ring.header));
    test_ring.ring.header.collector_pid = @intCast(child);
    try testing.expect(collector_draining(test_ring.ring.header));
    _ = std.c.kill(child, std.c.SIG.KILL);
    tries = 0;
    while (process_state(@intCast(child)) != 'Z' and tries < 1000) : (tries += 1) sleep_ns(std.time.ns_per_ms);
    try testing.expectEqual(@as(u8, 'Z'), process_state(@intCast(child)));
    try testing.expect(!collector_draining(test_ring.ring.header));
}

test "ring: overwrite mode keeps the newest, counts the overwritten" {
    var test_ring = try TestRing.init(1, 8, .overwrite);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    var producer = ring.attach(1, 0);
    var value: u64 = 0;
    while (value < 21) : (value += 1) try testing.expect(producer.write(&test_record(value)));
    var out: [16]Record = undefined;
    try testing.expectEqual(@as(u32, 8), ring.drain(&out));
    for (out[0..8], 13..) |record, expected| try testing.expectEqual(@as(u64, expected), record.a);
    const stats = ring.stats();
    try testing.expectEqual(@as(u64, 13), stats.overwritten);
    try testing.expectEqual(@as(u64, 0), stats.dropped);
    try expect_stats_balance(ring, 21);
}

test "ring: an overwrite-mode drain says where it passed overwritten positions, lane by lane, and who held the lane" {
    var test_ring = try TestRing.init(2, 8, .overwrite);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    // The lane's holder is named by the process's pid, as the agents name their records.
    const pid: u32 = @intCast(std.c.getpid());
    var lapped = ring.attach(pid, 0);
    var kept = ring.attach(pid, 1);
    var value: u64 = 0;
    while (value < 21) : (value += 1) try testing.expect(lapped.write(&test_record(value)));
    try testing.expect(kept.write(&test_record(100)));
    var out: [16]Record = undefined;
    try testing.expectEqual(@as(u32, 9), ring.drain(&out));
    // One lane lost 13 before the 8 it kept; the other lost none.
    try testing.expectEqual(@as(u32, 1), ring.drain_losses_len);
    const loss = ring.drain_losses[0];
    try testing.expectEqual(@as(u64, 13), loss.count);
    try testing.expectEqual(pid, loss.holder);
    try testing.expectEqual(loss.first, loss.index);
    try testing.expectEqual(loss.first + 8, loss.end);
    try testing.expectEqual(@as(u64, 13), out[loss.index].a);
    try testing.expectEqual(@as(u32, 0), out[loss.index].tid);
    // The next drain finds nothing lost.
    try testing.expectEqual(@as(u32, 0), ring.drain(&out));
    try testing.expectEqual(@as(u32, 0), ring.drain_losses_len);
    // A producer lapping the drain as it copies: a run of losses per place in `out`.
    ring.note_loss(0, 0, 13);
    ring.note_loss(0, 0, 1);
    ring.note_loss(0, 3, 1);
    ring.note_loss(0, 3, 2);
    try testing.expectEqual(@as(u32, 2), ring.drain_losses_len);
    try testing.expectEqual(@as(u64, 14), ring.drain_losses[0].count);
    try testing.expectEqual(@as(u32, 3), ring.drain_losses[1].index);
    try testing.expectEqual(@as(u64, 3), ring.drain_losses[1].count);
}

test "ring: drain_marked puts a drop record naming the thread before what its lane kept after a loss" {
    var test_ring = try TestRing.init(2, 8, .overwrite);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    const pid: u32 = @intCast(std.c.getpid());
    // Lane 1 held by one producer (exclusive), lane 0 shared: its loss names no thread.
    var lapped = ring.attach(pid, 4);
    var shared = ring.attach(pid, 5);
    var value: u64 = 0;
    while (value < 21) : (value += 1) try testing.expect(lapped.write(&test_record(value)));
    while (value < 31) : (value += 1) try testing.expect(shared.write(&test_record(value)));
    var out: [drain_losses_max + 32]Record = undefined;
    const count = ring.drain_marked(&out, false);
    try testing.expectEqual(@as(u32, 17), count);
    var markers: u32 = 0;
    for (out[0..count], 0..) |record, index| {
        if (record.kind != @intFromEnum(layout.EventKind.drop)) continue;
        markers += 1;
        try testing.expectEqual(layout.drop_flag_overwritten, record.flags);
        try testing.expectEqual(@as(u32, 4), record.tid);
        try testing.expectEqual(@as(u64, 13), record.a);
        // Before the 8 the lane kept, stamped as the first of them.
        try testing.expectEqual(@as(u64, 13), out[index + 1].a);
        try testing.expectEqual(out[index + 1].timestamp_ns, record.timestamp_ns);
    }
    try testing.expectEqual(@as(u32, 1), markers);
    try testing.expectEqual(@as(u64, 15), ring.stats().overwritten);
}

test "ring: batch claim takes what fits, all-or-nothing when asked" {
    var test_ring = try TestRing.init(1, 16, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    var producer = ring.attach(1, 0);
    producer.overflow_capacity_records = 0;
    // No overflow and nobody drains: give up on the collector at once, not after 2 s.
    producer.stall_ns_max = test_stall_ns;
    var batch: [10]Record = undefined;
    for (&batch, 0..) |*record, index| record.* = test_record(index);
    try testing.expectEqual(@as(u32, 10), producer.write_batch(&batch, 0));
    // Six slots left: an all-or-nothing batch of ten is refused whole.
    try testing.expectEqual(@as(u32, 0), producer.write_batch(&batch, 10));
    // A best-effort batch: the report of those ten takes a slot, five fit, five drop.
    try testing.expectEqual(@as(u32, 5), producer.write_batch(&batch, 0));
    try testing.expectEqual(@as(u64, 15), producer.dropped_count);
    var out: [32]Record = undefined;
    try testing.expectEqual(@as(u32, 16), ring.drain(&out));
    try testing.expectEqual(@as(u64, 9), out[9].a);
    try testing.expectEqual(@intFromEnum(layout.EventKind.drop), out[10].kind);
    try testing.expectEqual(@as(u64, 10), out[10].a);
    try testing.expectEqual(@as(u64, 0), out[11].a);
    try testing.expectEqual(@as(u64, 4), out[15].a);
    try expect_stats_balance(ring, 31);
}

fn expect_stamps(clock_choice: clock.Choice, source: clock.Source) !void {
    var test_ring = try TestRing.init_clock(1, 8, .discard, clock_choice);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    try testing.expectEqual(@intFromEnum(source), ring.header.clock_calibration.source);
    var producer = ring.attach(1, 0);
    try testing.expectEqual(source, producer.clock.source);
    var record = test_record(0);
    record.timestamp_ns = 0;
    const before_ns = clock.monotonic_ns();
    try testing.expect(producer.write(&record));
    record.timestamp_ns = 5;
    try testing.expect(producer.write(&record));
    record.timestamp_ns = 0;
    try testing.expect(producer.write(&record));
    const after_ns = clock.monotonic_ns();
    var out: [3]Record = undefined;
    try testing.expectEqual(@as(u32, 3), ring.drain(&out));
    // The TSC line is within a few ns (offset) and µs per minute (drift) of the vDSO
    // clock; CLOCK_MONOTONIC itself is exact.
    const tolerance_ns: u64 = if (source == .tsc) 10 * std.time.ns_per_us else 0;
    try testing.expect(out[0].timestamp_ns + tolerance_ns >= before_ns);
    try testing.expect(out[0].timestamp_ns <= after_ns + tolerance_ns);
    try testing.expectEqual(@as(u64, 5), out[1].timestamp_ns);
    try testing.expect(out[2].timestamp_ns >= out[0].timestamp_ns);
}

test "ring: a zero timestamp is stamped with the ring's clock, a given one kept" {
    try expect_stamps(.auto, if (clock.tsc_usable()) .tsc else .monotonic);
}

test "ring: a zero timestamp is stamped by CLOCK_MONOTONIC when the ring says so" {
    try expect_stamps(.monotonic, .monotonic);
}

test "ring: a damaged clock calibration is not a ring" {
    var test_ring = try TestRing.init(1, 8, .discard);
    defer test_ring.deinit();
    const calibration = test_ring.ring.header.clock_calibration;
    test_ring.ring.header.clock_calibration.source = 9;
    try testing.expectError(error.NotARing, Ring.open(test_ring.memory));
    test_ring.ring.header.clock_calibration = calibration;
    test_ring.ring.header.clock_calibration.source = @intFromEnum(clock.Source.tsc);
    test_ring.ring.header.clock_calibration.multiplier = 0;
    try testing.expectError(error.NotARing, Ring.open(test_ring.memory));
    test_ring.ring.header.clock_calibration = calibration;
    _ = try Ring.open(test_ring.memory);
}

test "ring: an incomplete slot stops the drain; a final drain passes it as abandoned" {
    var test_ring = try TestRing.init(1, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    var producer = ring.attach(1, 0);
    // A producer that claimed position 0 and died before publishing.
    try testing.expectEqual(@as(u32, 1), producer.claim_discard(1, 1).count);
    try testing.expect(producer.write(&test_record(1)));
    var out: [8]Record = undefined;
    try testing.expectEqual(@as(u32, 0), ring.drain(&out));
    try testing.expectEqual(@as(u32, 1), ring.drain_final(&out));
    try testing.expectEqual(@as(u64, 1), out[0].a);
    const stats = ring.stats();
    try testing.expectEqual(@as(u64, 1), stats.abandoned);
    try expect_stats_balance(ring, 2);
}

test "ring: a torn overwrite slot is never returned" {
    var test_ring = try TestRing.init(1, 8, .overwrite);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    var producer = ring.attach(1, 0);
    var value: u64 = 0;
    while (value < 8) : (value += 1) try testing.expect(producer.write(&test_record(value)));
    // A writer of position 8 is inside slot 0 (busy, half written): the consumer must
    // not return slot 0's old record 0 as valid once its seq changed, nor the half body.
    const slot = &producer.slots[0];
    _ = producer.claim_overwrite(1);
    @atomicStore(u32, &slot.seq, seq_busy(8), .release);
    slot.a = 12345;
    var out: [16]Record = undefined;
    const count = ring.drain(&out);
    try testing.expectEqual(@as(u32, 7), count);
    for (out[0..count], 1..) |record, expected| try testing.expectEqual(@as(u64, expected), record.a);
    // Position 0 was lost to the writer of 8, which is still inside: the drain waits.
    try testing.expectEqual(@as(u64, 1), ring.stats().overwritten);
    try testing.expectEqual(@as(u32, 0), ring.drain(&out));
    // A writer of position 16 arriving now gives up (slot busy) rather than tear it.
    _ = producer.claim_overwrite(8);
    producer.publish(16, &test_record(16), 1);
    try testing.expectEqual(seq_busy(8), slot.seq);
    try testing.expectEqual(@as(u32, 0), ring.drain_final(out[0..0]));
    try testing.expectEqual(@as(u32, 0), ring.drain_final(&out));
    try expect_stats_balance(ring, 17);
}

test "ring: string fragments carry id, length, index and the bytes; cut on UTF-8" {
    var fragments: [string_fragment_count_max]Record = undefined;
    const text = "a string that is longer than thirty-two bytes";
    const count = string_fragments(9, text, &fragments);
    try testing.expectEqual(@as(u32, 2), count);
    try testing.expectEqual(@as(u64, 9 | (text.len << 32)), fragments[1].a);
    try testing.expectEqual(@as(u16, 1), fragments[1].flags);
    const data: *const [32]u8 = @ptrCast(&fragments[1].b);
    try testing.expectEqualStrings(text[32..], data[0 .. text.len - 32]);
    try testing.expectEqual(@as(u32, 1), string_fragments(3, "", &fragments));
    // 4095 ASCII bytes then a 2-byte character: the character does not fit, all of it goes.
    var long: [4097]u8 = @splat('x');
    long[4095] = 0xC3;
    long[4096] = 0xA9;
    try testing.expectEqual(@as(usize, 4095), utf8_truncate(&long, 4096).len);
    try testing.expectEqual(@as(u32, 128), string_fragments(1, &long, &fragments));
    try testing.expectEqual(@as(u64, 1 | (4095 << 32)), fragments[0].a);
}

test "ring: bad geometry and bad headers are refused with the right error" {
    try testing.expectError(error.InvalidArgument, validate_geometry(0, 64));
    try testing.expectError(error.InvalidArgument, validate_geometry(1, 100));
    try testing.expectError(error.InvalidArgument, validate_geometry(lane_count_max + 1, 64));
    try testing.expectError(error.InvalidArgument, validate_geometry(1, 4));
    var test_ring = try TestRing.init(2, 8, .discard);
    defer test_ring.deinit();
    try testing.expectError(error.SizeMismatch, Ring.open(test_ring.memory[0 .. test_ring.memory.len - page_size_bytes]));
    test_ring.ring.header.ring_layout_version += 1;
    try testing.expectError(error.WrongLayoutVersion, Ring.open(test_ring.memory));
    test_ring.ring.header.ring_layout_version -= 1;
    _ = try Ring.open(test_ring.memory);
    test_ring.memory[0] = 'X';
    try testing.expectError(error.NotARing, Ring.open(test_ring.memory));
    try testing.expectError(error.NotARing, Ring.open(test_ring.memory[0..64]));
}

fn stress_producer(producer: *Producer, producer_id: u32, count: u64) void {
    var sequence: u64 = 0;
    while (sequence < count) : (sequence += 1) {
        var record = std.mem.zeroes(Record);
        record.kind = @intFromEnum(layout.EventKind.agent_error);
        record.a = producer_id;
        record.b = sequence;
        record.c = checksum(producer_id, sequence);
        record.timestamp_ns = 1;
        _ = producer.write(&record);
    }
    producer.detach();
}

pub fn checksum(producer_id: u64, sequence: u64) u64 {
    return std.hash.Wyhash.hash(producer_id, std.mem.asBytes(&sequence));
}

/// How stress_threads attaches its producers.
const StressAttach = enum {
    /// Four producers sharing two lanes, two on each.
    shared,
    /// As agents attach (Ring.attach) to three lanes: two hold lanes 1 and 2
    /// exclusively, the other two share lane 0.
    agents,
};

fn stress_threads(mode: Mode, attach: StressAttach) !void {
    const producer_count = 4;
    const per_producer: u64 = 200_000;
    var test_ring = try TestRing.init(if (attach == .shared) 2 else 3, 64, mode);
    defer test_ring.deinit();
    // Threads of one process, as agents' threads are: their real pid (the drain asks
    // whether a shared-lane claimer's process is alive), told apart by tid. `.shared`
    // attaches lanes directly, with no claim marks, so any pid does.
    const pid_agents: u32 = @intCast(std.c.getpid());
    var ring = &test_ring.ring;
    // Attached before the threads start, so "none attached" means all are done.
    var producers: [producer_count]Producer = undefined;
    for (&producers, 0..) |*producer, index| {
        const id: u32 = @intCast(index);
        producer.* = switch (attach) {
            .shared => ring.attach_lane(id % 2, .shared, 1000 + id, id).?,
            .agents => ring.attach(pid_agents, id),
        };
    }
    if (attach == .agents) {
        try testing.expectEqual(Sharing.exclusive, producers[0].sharing);
        try testing.expectEqual(Sharing.exclusive, producers[1].sharing);
        try testing.expectEqual(Sharing.shared, producers[2].sharing);
        try testing.expectEqual(Sharing.shared, producers[3].sharing);
    }
    var threads: [producer_count]std.Thread = undefined;
    for (&threads, &producers, 0..) |*thread, *producer, index| {
        thread.* = try std.Thread.spawn(.{}, stress_producer, .{ producer, @as(u32, @intCast(index)), per_producer });
    }
    // The producers write into the ring and their own structs here until they detach: no
    // return (a failed check) before they are joined.
    var joined = false;
    defer if (!joined) for (threads) |thread| thread.join();
    var next_sequence: [producer_count]u64 = @splat(0);
    var received: u64 = 0;
    var drop_records: u64 = 0;
    var drops_reported: u64 = 0;
    var out: [48]Record = undefined;
    var finished = false;
    while (true) {
        const count = if (finished) ring.drain_final(&out) else ring.drain(&out);
        for (out[0..count]) |record| {
            if (record.kind == @intFromEnum(layout.EventKind.drop)) {
                // A producer's report of its own losses: its pid, the count.
                try testing.expect(record.tid < producer_count);
                try testing.expectEqual(if (attach == .shared) @as(u32, 1000) + record.tid else pid_agents, record.pid);
                drop_records += 1;
                drops_reported += record.a;
                continue;
            }
            try testing.expect(record.a < producer_count);
            try testing.expectEqual(checksum(record.a, record.b), record.c);
            try testing.expectEqual(@as(u32, @intCast(record.a)), record.tid);
            try testing.expectEqual(if (attach == .shared) @as(u32, 1000) + record.tid else pid_agents, record.pid);
            // Per producer the sequence only grows: no duplicate, no reordering.
            try testing.expect(record.b >= next_sequence[record.a]);
            next_sequence[record.a] = record.b + 1;
        }
        received += count;
        if (finished and count == 0) break;
        if (!finished and ring.stats().producers_attached == 0) {
            for (threads) |thread| thread.join();
            joined = true;
            finished = true;
        }
    }
    const stats = ring.stats();
    try testing.expectEqual(received, stats.received);
    try testing.expectEqual(@as(u64, 0), stats.abandoned);
    try testing.expectEqual(@as(u64, 0), stats.pending);
    try testing.expectEqual(@as(u64, 0), stats.overflow_pending);
    try testing.expectEqual(producer_count * per_producer, stats.received - drop_records + stats.dropped + stats.overwritten);
    // Every loss was reported by the producer that had it (each detached while drained),
    // unless this thread, the consumer, was kept off the CPU past flush_stall_ns_max (seen
    // at nice 19 under a load of 18): a detach then gives up on its overflow, its losses
    // counted and not reported, as it does with a stuck collector.
    if (test_ring.ring.header.collector_stalled_at.load(.acquire) == 0) {
        try testing.expectEqual(stats.dropped, drops_reported);
    } else {
        try testing.expect(drops_reported <= stats.dropped);
    }
}

test "ring: four threads on two small lanes, discard: every record accounted for" {
    try stress_threads(.discard, .shared);
}

test "ring: four threads on two small lanes, overwrite: every record accounted for" {
    try stress_threads(.overwrite, .shared);
}

test "ring: two exclusive lanes and two threads sharing lane 0, discard: every record accounted for" {
    try stress_threads(.discard, .agents);
}

test "ring: two exclusive lanes and two threads sharing lane 0, overwrite: every record accounted for" {
    try stress_threads(.overwrite, .agents);
}

test "ring: attach holds an empty lane exclusively; lane 0 is shared when lanes run out" {
    var test_ring = try TestRing.init(3, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    var first = ring.attach(1, 1);
    var second = ring.attach(1, 2);
    try testing.expectEqual(Sharing.exclusive, first.sharing);
    try testing.expectEqual(@as(u32, 1), first.lane_index);
    try testing.expectEqual(Sharing.exclusive, second.sharing);
    try testing.expectEqual(@as(u32, 2), second.lane_index);
    // Every lane but 0 is held: the rest share lane 0.
    var third = ring.attach(1, 3);
    var fourth = ring.attach(1, 4);
    try testing.expectEqual(Sharing.shared, third.sharing);
    try testing.expectEqual(@as(u32, 0), third.lane_index);
    try testing.expectEqual(Sharing.shared, fourth.sharing);
    try testing.expectEqual(@as(u32, 0), fourth.lane_index);
    // A held lane cannot be joined either way.
    try testing.expectEqual(@as(?Producer, null), ring.attach_lane(1, .shared, 1, 9));
    try testing.expectEqual(@as(?Producer, null), ring.attach_lane(2, .exclusive, 1, 9));
    // Records from all four interleave per lane, in order, whole.
    for (0..3) |value| {
        try testing.expect(first.write(&test_record(value)));
        try testing.expect(second.write(&test_record(10 + value)));
        try testing.expect(third.write(&test_record(20 + value)));
        try testing.expect(fourth.write(&test_record(30 + value)));
    }
    var out: [16]Record = undefined;
    var count: u32 = 0;
    while (true) {
        const drained = ring.drain(out[count..]);
        if (drained == 0) break;
        count += drained;
    }
    try testing.expectEqual(@as(u32, 12), count);
    for (out[0..count]) |record| try testing.expectEqual(~record.a, record.e);
    // A detached lane is free again: the next attach from its turn takes it exclusively,
    // with the head where its last holder left it.
    first.detach();
    var fifth = ring.attach(1, 5);
    try testing.expectEqual(Sharing.exclusive, fifth.sharing);
    try testing.expectEqual(@as(u32, 1), fifth.lane_index);
    try testing.expect(fifth.write(&test_record(40)));
    try testing.expectEqual(@as(u32, 1), ring.drain(&out));
    try testing.expectEqual(@as(u64, 40), out[0].a);
    try testing.expectEqual(@as(u64, 4), ring.lanes[1].head.load(.monotonic));
    // A lane shared by two is free only when both left; a one-lane ring is always shared.
    third.detach();
    try testing.expectEqual(@as(u32, 1), ring.lanes[0].holders.load(.monotonic));
    fourth.detach();
    try testing.expectEqual(@as(u32, 0), ring.lanes[0].holders.load(.monotonic));
    second.detach();
    fifth.detach();
    try expect_stats_balance(ring, 13);
    var single = try TestRing.init(1, 8, .overwrite);
    defer single.deinit();
    var alone = single.ring.attach(1, 1);
    try testing.expectEqual(Sharing.shared, alone.sharing);
    alone.detach();
}

test "ring: a lane whose exclusive holder's process is gone is taken over; a live one is not" {
    var test_ring = try TestRing.init(3, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    // A holder that wrote two records and died without detaching (no such pid: above
    // any pid_max), and one that is alive (this process).
    var dead = ring.attach_lane(1, .exclusive, 1, 1).?;
    try testing.expect(dead.write(&test_record(0)));
    try testing.expect(dead.write(&test_record(1)));
    const pid_gone: u32 = std.math.maxInt(i32) - 1;
    try testing.expect(process_gone(pid_gone));
    try testing.expect(!process_gone(@intCast(std.c.getpid())));
    const holders_dead = Holders.exclusive(ring.lanes[1].holders.load(.monotonic), pid_gone);
    ring.lanes[1].holders.store(holders_dead, .monotonic);
    var alive = ring.attach_lane(2, .exclusive, 1, 2).?;
    try testing.expectEqual(@as(?Producer, null), ring.attach_lane(2, .exclusive, 1, 3));
    var heir = ring.attach(1, 3);
    try testing.expectEqual(Sharing.exclusive, heir.sharing);
    try testing.expectEqual(@as(u32, 1), heir.lane_index);
    // The dead holder is detached on its behalf; a newer generation holds the lane.
    try testing.expectEqual(@as(u64, 2), ring.stats().producers_attached);
    try testing.expect(ring.lanes[1].holders.load(.monotonic) != holders_dead);
    // The heir continues after the dead holder's records.
    try testing.expect(heir.write(&test_record(2)));
    var out: [8]Record = undefined;
    try testing.expectEqual(@as(u32, 3), ring.drain(&out));
    for (out[0..3], 0..) |record, expected| try testing.expectEqual(@as(u64, expected), record.a);
    heir.detach();
    alive.detach();
    try expect_stats_balance(ring, 3);
}

test "ring: a dead holder's position claimed and never published does not stop its heir's records: passed as abandoned" {
    var test_ring = try TestRing.init(3, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    // A holder that wrote two records, claimed a third and was killed before publishing it.
    var dead = ring.attach_lane(1, .exclusive, 1, 1).?;
    try testing.expect(dead.write(&test_record(0)));
    try testing.expect(dead.write(&test_record(1)));
    try testing.expectEqual(@as(u32, 1), dead.claim_discard(1, 1).count);
    const pid_gone: u32 = std.math.maxInt(i32) - 1;
    ring.lanes[1].holders.store(Holders.exclusive(ring.lanes[1].holders.load(.monotonic), pid_gone), .monotonic);
    var heir = ring.attach_lane(1, .exclusive, 1, 2).?;
    try testing.expect(heir.write(&test_record(3)));
    var out: [8]Record = undefined;
    try testing.expectEqual(@as(u32, 3), ring.drain(&out));
    for (out[0..3], [_]u64{ 0, 1, 3 }) |record, expected| try testing.expectEqual(expected, record.a);
    heir.detach();
    try testing.expectEqual(@as(u64, 1), ring.stats().abandoned);
    try expect_stats_balance(ring, 4);
}

test "ring: a shared lane's writer SIGKILLed between claiming and publishing does not block the lane: passed as abandoned" {
    // The ring in shared memory, so that a forked child writes into it as a process would.
    const lane_count = 2;
    const capacity = 8;
    const size = size_bytes(lane_count, capacity);
    const address = std.c.mmap(null, size, .{ .READ = true, .WRITE = true }, .{ .TYPE = .SHARED, .ANONYMOUS = true }, -1, 0);
    try testing.expect(address != std.c.MAP_FAILED);
    defer _ = std.c.munmap(@ptrCast(@alignCast(address)), size);
    const memory: []align(page_size_bytes) u8 = @as([*]align(page_size_bytes) u8, @ptrCast(@alignCast(address)))[0..size];
    var ring = try Ring.format(memory, .{ .lane_count = lane_count, .lane_capacity_slots = capacity, .mode = .discard, .collector_pid = @intCast(std.c.getpid()) });
    const linux = std.os.linux;
    const child = linux.fork();
    if (child == 0) {
        // Lane 0 is shared (never held exclusively). One record published, the next claimed
        // (and marked, as attach's shared producers do) and never published: killed there.
        var producer = ring.attach_lane(0, .shared, 1, 1).?;
        producer.claim_pid = @intCast(linux.getpid());
        _ = producer.write(&test_record(0));
        _ = producer.claim_discard(1, 1);
        _ = linux.kill(linux.getpid(), linux.SIG.KILL);
        unreachable;
    }
    var status: i32 = 0;
    _ = linux.waitpid(@intCast(child), &status, 0);
    try testing.expect(linux.W.IFSIGNALED(@bitCast(status)));
    var live = ring.attach_lane(0, .shared, 2, 2).?;
    live.claim_pid = @intCast(std.c.getpid());
    try testing.expect(live.write(&test_record(2)));
    var out: [8]Record = undefined;
    // The drain stops at the dead writer's position; once stuck there a while (here at
    // once), its claimer is found gone and the position passed: the live writer's follows.
    ring.claim_dead_after_ns = 0;
    try testing.expectEqual(@as(u32, 1), ring.drain(&out));
    try testing.expectEqual(@as(u64, 0), out[0].a);
    try testing.expectEqual(@as(u32, 1), ring.drain(&out));
    try testing.expectEqual(@as(u64, 2), out[0].a);
    try testing.expectEqual(@as(u64, 1), ring.stats().abandoned);
    try expect_stats_balance(&ring, 3);
    // A live writer's marked position is not passed: the lane waits for it.
    try testing.expectEqual(@as(u32, 1), live.claim_discard(1, 1).count);
    try testing.expect(live.write(&test_record(4)));
    try testing.expectEqual(@as(u32, 0), ring.drain(&out));
    try testing.expectEqual(@as(u32, 0), ring.drain(&out));
    try testing.expectEqual(@as(u64, 1), ring.stats().abandoned);
    live.detach();
}

test "ring: producers outside the creator's pid namespace only share lanes" {
    var test_ring = try TestRing.init(3, 8, .discard);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    try testing.expect(ring.header.pid_namespace != 0);
    ring.header.pid_namespace +%= 1;
    var producer = ring.attach(1, 1);
    try testing.expectEqual(Sharing.shared, producer.sharing);
    try testing.expectEqual(@as(u32, 0), producer.lane_index);
    producer.detach();
    try testing.expectEqual(@as(u64, 4026531836), pid_namespace_parse("pid:[4026531836]"));
    try testing.expectEqual(@as(u64, 0), pid_namespace_parse("pid:[x]"));
    try testing.expectEqual(@as(u64, 0), pid_namespace_parse("net:[4026531836]"));
    try testing.expectEqual(@as(u64, 0), pid_namespace_parse(""));
}

test "ring: an exclusive overwrite writer inside a slot is never returned torn" {
    var test_ring = try TestRing.init(2, 8, .overwrite);
    defer test_ring.deinit();
    var ring = &test_ring.ring;
    var producer = ring.attach(1, 0);
    try testing.expectEqual(Sharing.exclusive, producer.sharing);
    var value: u64 = 0;
    while (value < 8) : (value += 1) try testing.expect(producer.write(&test_record(value)));
    // The writer of position 8 claimed it and is half-way through slot 0 (busy mark, then
    // body stores): the consumer must neither return the old record 0 nor the half body.
    const slot = &producer.slots[0];
    const claim = producer.claim_overwrite(1);
    try testing.expectEqual(@as(u64, 8), claim.position);
    @atomicStore(u32, &slot.seq, seq_busy(8), .monotonic);
    slot.a = 12345;
    var out: [16]Record = undefined;
    const count = ring.drain(&out);
    try testing.expectEqual(@as(u32, 7), count);
    for (out[0..count], 1..) |record, expected| try testing.expectEqual(@as(u64, expected), record.a);
    try testing.expectEqual(@as(u64, 1), ring.stats().overwritten);
    // Still inside: the drain waits for it.
    try testing.expectEqual(@as(u32, 0), ring.drain(&out));
    // It finishes: the whole record arrives.
    producer.publish(8, &test_record(8), 9);
    try testing.expectEqual(@as(u32, 1), ring.drain(&out));
    try testing.expectEqual(@as(u64, 8), out[0].a);
    try testing.expectEqual(~@as(u64, 8), out[0].e);
    try expect_stats_balance(ring, 9);
}

test "ring: a final drain writes the batches of threads whose process ended, counted as unpacked" {
    const lane_count = 2;
    const capacity = 16;
    const bytes = size_bytes_batches(lane_count, capacity, batches.slot_count);
    try testing.expectEqual(size_bytes(lane_count, capacity) + batches.area_bytes(batches.slot_count), bytes);
    const memory = try testing.allocator.alignedAlloc(u8, .fromByteUnits(page_size_bytes), bytes);
    defer testing.allocator.free(memory);
    @memset(memory, 0);
    try testing.expectError(error.InvalidArgument, Ring.format(memory, .{ .lane_count = lane_count, .lane_capacity_slots = capacity, .mode = .discard, .collector_pid = 1, .clock = .monotonic, .batch_slot_count = batches.slot_count_max + 1 }));
    var ring = try Ring.format(memory, .{ .lane_count = lane_count, .lane_capacity_slots = capacity, .mode = .discard, .collector_pid = 1, .clock = .monotonic, .batch_slot_count = batches.slot_count });
    const opened = try Ring.open(memory);
    try testing.expectEqual(batches.slot_count, opened.batches.count);
    // A live owner (this process) and a gone one (a pid no process has).
    const own_pid: u32 = @intCast(std.c.getpid());
    const gone_pid: u32 = std.math.maxInt(i32) - 1;
    const live = ring.batches.claim(own_pid, 0, 0).?;
    const dead = ring.batches.claim(gone_pid, 4, 0).?;
    for ([_]u32{ live, dead }) |index| {
        const records: [*]Record = @ptrCast(@alignCast(&ring.batches.slot(index)[batches.header_bytes]));
        records[0] = test_record(7);
    }
    var out: [batches.records_max]Record = undefined;
    try testing.expectEqual(@as(u32, 0), ring.drain(&out));
    try testing.expectEqual(@as(u32, 1), ring.drain_final(&out));
    try testing.expectEqual(@as(u64, 7), out[0].a);
    try testing.expectEqual(gone_pid, out[0].pid);
    try testing.expectEqual(@as(u32, 4), out[0].tid);
    try testing.expectEqual(@as(u64, 1), ring.stats().unpacked);
    // Once: the slot is free again, and the live thread's batch is left to it.
    try testing.expectEqual(@as(u32, 0), ring.drain_final(&out));
    try testing.expectEqual(@as(u64, 0), ring.batches.owners[dead].load(.monotonic));
    try testing.expectEqual(batches.owner_key(own_pid, 0), ring.batches.owners[live].load(.monotonic));
    // A short `out` takes no batch (it could not hold one whole).
    try testing.expectEqual(@as(u32, 0), ring.salvage(out[0..16], 0, 1));
}
