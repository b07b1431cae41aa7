//! Clocks for timestamps. Records carry CLOCK_MONOTONIC nanoseconds, read through the
//! vDSO (no syscall, ~20 ns): every process of a traced tree on one host shares that
//! clock, so records from different processes order correctly without calibration.
//! CLOCK_REALTIME is read once per ring (header) to place the trace in wall-clock time.
const std = @import("std");
const assert = std.debug.assert;

const ns_per_s: u64 = 1_000_000_000;

fn read(clock_id: std.c.clockid_t) u64 {
    var time: std.c.timespec = undefined;
    // Cannot fail for these clock ids on Linux (both always exist, the pointer is valid);
    // a tracer must not fail on the write path, so a failure reads as 0 ("unstamped").
    const rc = std.c.clock_gettime(clock_id, &time);
    if (rc != 0) return 0;
    assert(time.sec >= 0);
    assert(time.nsec >= 0 and time.nsec < ns_per_s);
    return @as(u64, @intCast(time.sec)) * ns_per_s + @as(u64, @intCast(time.nsec));
}

/// CLOCK_MONOTONIC nanoseconds: the timestamp of every record.
pub fn monotonic_ns() u64 {
    return read(.MONOTONIC);
}

/// CLOCK_REALTIME nanoseconds since the Unix epoch.
pub fn realtime_ns() u64 {
    return read(.REALTIME);
}

test "clock: monotonic never goes back and advances" {
    const first_ns = monotonic_ns();
    var last_ns = first_ns;
    var i: u32 = 0;
    while (i < 10_000) : (i += 1) {
        const now_ns = monotonic_ns();
        try std.testing.expect(now_ns >= last_ns);
        last_ns = now_ns;
    }
    try std.testing.expect(first_ns > 0);
    try std.testing.expect(last_ns > first_ns);
}

test "clock: realtime is after 2020" {
    const year_2020_ns: u64 = 1_577_836_800 * ns_per_s;
    try std.testing.expect(realtime_ns() > year_2020_ns);
}
