//! scope-stress: a native producer process for spec/stress.test.ts. Maps an existing
//! ring and writes from several threads at once, each thread one producer, every record
//! self-checking (see `payload`); prints "ready", waits for a byte on stdin, writes,
//! then prints what each producer wrote and dropped as JSON.
//!
//!   scope-stress <ring-path> <first-producer-id> <threads> <records-per-thread> <batch>
//!
//! The record a producer writes for sequence s (mirrored in spec/stress.test.ts and the
//! JS fixtures): kind agent_error, flags 0x5a5a, a = producer id, b = s,
//! c = mix(id, s), d = mix(c, 1), e = mix(c, 2), tid = producer id. A torn record
//! (fields from two writes) fails the check; a duplicate fails the per-producer order.
const std = @import("std");
const assert = std.debug.assert;
const layout = @import("layout.zig");
const ring_module = @import("ring.zig");
const shm = @import("shm.zig");

pub const stress_flags: u16 = 0x5a5a;
const threads_max = 64;
const batch_max = 256;

/// A 32-bit integer mix (murmur3's finaliser), cheap to mirror in JS with Math.imul.
pub fn mix(x: u32, y: u32) u32 {
    var h: u32 = (x *% 0x9E3779B1) ^ y;
    h ^= h >> 16;
    h *%= 0x85EBCA6B;
    h ^= h >> 13;
    h *%= 0xC2B2AE35;
    h ^= h >> 16;
    return h;
}

pub fn payload(producer_id: u32, sequence: u32) layout.Record {
    const c = mix(producer_id, sequence);
    return .{
        .seq = 0,
        .kind = @intFromEnum(layout.EventKind.agent_error),
        .flags = stress_flags,
        .timestamp_ns = 0,
        .pid = 0,
        .tid = 0,
        .a = producer_id,
        .b = sequence,
        .c = c,
        .d = mix(c, 1),
        .e = mix(c, 2),
    };
}

const Worker = struct {
    producer: ring_module.Producer,
    producer_id: u32,
    records: u32,
    batch: u32,

    fn run(worker: *Worker) void {
        assert(worker.batch >= 1 and worker.batch <= batch_max);
        var buffer: [batch_max]layout.Record = undefined;
        var sequence: u32 = 0;
        while (sequence < worker.records) {
            const count = @min(worker.batch, worker.records - sequence);
            for (buffer[0..count], 0..) |*record, index| {
                record.* = payload(worker.producer_id, sequence + @as(u32, @intCast(index)));
            }
            if (count == 1) {
                _ = worker.producer.write(&buffer[0]);
            } else {
                _ = worker.producer.write_batch(buffer[0..count], 0);
            }
            sequence += count;
        }
    }
};

fn parse(text: ?[:0]const u8) u32 {
    return std.fmt.parseInt(u32, text orelse fail("missing argument"), 10) catch fail("bad number");
}

fn fail(message: []const u8) noreturn {
    _ = std.c.write(2, message.ptr, message.len);
    _ = std.c.write(2, "\nusage: scope-stress <ring-path> <first-producer-id> <threads> <records-per-thread> <batch>\n", 91);
    std.c.exit(2);
}

pub fn main(init: std.process.Init.Minimal) void {
    var args = init.args.iterate();
    _ = args.next();
    const path = args.next() orelse fail("missing ring path");
    const first_id = parse(args.next());
    const thread_count = parse(args.next());
    const records = parse(args.next());
    const batch = parse(args.next());
    if (thread_count == 0 or thread_count > threads_max) fail("threads: 1..64");
    if (batch == 0 or batch > batch_max) fail("batch: 1..256");

    var mapping = shm.open(path) catch |err| fail(@errorName(err));
    defer shm.close(&mapping);
    const pid: u32 = @intCast(std.c.getpid());
    var workers: [threads_max]Worker = undefined;
    var threads: [threads_max]std.Thread = undefined;
    // Attach every producer before any starts, so none finishes before the last attaches.
    for (workers[0..thread_count], 0..) |*worker, index| {
        const id = first_id + @as(u32, @intCast(index));
        worker.* = .{ .producer = mapping.ring.attach(pid, id), .producer_id = id, .records = records, .batch = batch };
    }
    // Start gate: say we are ready, then wait for the test to let every process go at
    // once (any byte, or end of input, on stdin), so their writes overlap.
    _ = std.c.write(1, "ready\n", 6);
    var gate: [1]u8 = undefined;
    _ = std.c.read(0, &gate, 1);
    for (threads[0..thread_count], workers[0..thread_count]) |*thread, *worker| {
        thread.* = std.Thread.spawn(.{}, Worker.run, .{worker}) catch fail("cannot spawn a thread");
    }
    for (threads[0..thread_count]) |thread| thread.join();

    var output: [threads_max * 96 + 32]u8 = undefined;
    var used: usize = 0;
    used += (std.fmt.bufPrint(output[used..], "{{\"producers\":[", .{}) catch unreachable).len;
    for (workers[0..thread_count], 0..) |*worker, index| {
        const separator: []const u8 = if (index == 0) "" else ",";
        used += (std.fmt.bufPrint(output[used..], "{s}{{\"id\":{d},\"written\":{d},\"dropped\":{d}}}", .{
            separator, worker.producer_id, worker.producer.written_count, worker.producer.dropped_count,
        }) catch unreachable).len;
        worker.producer.detach();
    }
    used += (std.fmt.bufPrint(output[used..], "]}}\n", .{}) catch unreachable).len;
    _ = std.c.write(1, &output, used);
}

test "stress: mix matches the values spec/stress.test.ts expects" {
    try std.testing.expectEqual(@as(u32, 0), mix(0, 0));
    const record = payload(3, 7);
    try std.testing.expectEqual(@as(u64, mix(3, 7)), record.c);
    try std.testing.expectEqual(@as(u64, mix(mix(3, 7), 2)), record.e);
}
