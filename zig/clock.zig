//! Clocks for timestamps. Records carry CLOCK_MONOTONIC nanoseconds: every process of a
//! traced tree on one host shares that clock, so records from different processes order
//! correctly. CLOCK_REALTIME is read once per ring (header) to place the trace in
//! wall-clock time.
//!
//! Reading CLOCK_MONOTONIC through the vDSO costs ~21 ns here (an ordered TSC read, a
//! seqlock, a multiply), most of a record's cost. So when the TSC is invariant and the
//! kernel itself keeps time with it, the ring's creator calibrates TSC ticks against
//! CLOCK_MONOTONIC once and stores the line (tsc0, monotonic0_ns, multiplier, shift) in
//! the ring header; every producer of every process converts a plain `rdtsc` (~9 ns)
//! with one multiply and shift. Otherwise (no invariant TSC, the kernel not on the TSC,
//! another architecture, or SCOPE_RING_CLOCK=monotonic) the header says `monotonic` and
//! producers read the vDSO as before. The choice is made once per ring and copied into
//! each producer at attach: one predictable branch per clock read.
//!
//! Exactness (measured, BENCHMARKS.md "Ring and producers"): the conversion differs from
//! CLOCK_MONOTONIC by a constant offset of a few ns (the width of the calibration reads)
//! plus a linear drift from the rate error, a few µs per minute at most on the
//! development machines. The kernel's CLOCK_MONOTONIC is itself a fixed linear function of the TSC
//! unless NTP changes its rate after the ring was made, so the drift stays linear and
//! small; the header is never re-anchored (producers copy it once).
const std = @import("std");
const builtin = @import("builtin");
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

/// CLOCK_MONOTONIC nanoseconds through the vDSO: the collector's clock, the producers'
/// fallback, and the reference the TSC is calibrated against.
pub fn monotonic_ns() u64 {
    return read(.MONOTONIC);
}

/// CLOCK_REALTIME nanoseconds since the Unix epoch.
pub fn realtime_ns() u64 {
    return read(.REALTIME);
}

// ---------------------------------------------------------------------------------------
// TSC.

pub const Source = enum(u32) {
    /// clock_gettime(CLOCK_MONOTONIC) per read.
    monotonic = 0,
    /// rdtsc, converted with the ring's calibration.
    tsc = 1,
};

/// What the ring's creator may choose.
pub const Choice = enum {
    /// The TSC when it is usable, CLOCK_MONOTONIC otherwise.
    auto,
    /// CLOCK_MONOTONIC always (tests, and SCOPE_RING_CLOCK=monotonic).
    monotonic,
};

/// How every producer of one ring turns a clock reading into CLOCK_MONOTONIC ns:
///   ns = monotonic0_ns + ((tsc - tsc0) * multiplier) >> shift
/// Lives in the ring header (written once before the magic, read at attach); all zero
/// but `source` for the monotonic source.
pub const Calibration = extern struct {
    source: u32,
    shift: u32,
    tsc0: u64,
    monotonic0_ns: u64,
    multiplier: u64,
};

comptime {
    assert(@sizeOf(Calibration) == 32);
}

/// 2^32 × ns per tick: 1 part in ~10^9 of resolution for TSCs up to ~4 GHz; the product
/// with a tick count is taken in 128 bits, so no tick count overflows it.
pub const tsc_shift: u32 = 32;
/// Between the two calibration reads: the rate error is the reads' error (~1 ns) over
/// this window. Measured over 20 calibrations each: 5 ms, 0.05 ppm mean and 0.15 ppm
/// worst (9 µs/min); 10 ms about half that; 20 ms, 0.014 ppm mean and 0.043 worst
/// (2.6 µs/min). 10 ms of sleep at ring creation (no CPU) is the price for a few µs/min.
pub const calibration_window_ns: u64 = 10 * std.time.ns_per_ms;
/// A TSC slower than 100 MHz or faster than 100 GHz means the calibration went wrong.
const multiplier_min: u64 = (@as(u64, 1) << tsc_shift) / 100;
const multiplier_max: u64 = (@as(u64, 1) << tsc_shift) * 10;

pub const calibration_monotonic: Calibration = .{
    .source = @intFromEnum(Source.monotonic),
    .shift = 0,
    .tsc0 = 0,
    .monotonic0_ns = 0,
    .multiplier = 0,
};

/// Whether a calibration read from a (shared, possibly damaged) header can be used.
pub fn calibration_valid(calibration: *const Calibration) bool {
    return switch (calibration.source) {
        @intFromEnum(Source.monotonic) => true,
        @intFromEnum(Source.tsc) => builtin.cpu.arch == .x86_64 and
            calibration.shift == tsc_shift and
            calibration.multiplier >= multiplier_min and calibration.multiplier <= multiplier_max,
        else => false,
    };
}

/// Plain rdtsc, not ordered with earlier loads (lfence + rdtsc costs 14 ns, rdtscp 17 ns
/// here, against 9). Enough for what records need: a producer's own timestamps never go
/// back (Clock clamps them), and a message crossing processes or threads goes through a
/// system call (pipe, socket, eventfd, futex), and SYSCALL and SYSRET wait for all
/// earlier instructions, so the send's read happens before and the receive's after.
fn tsc_read() u64 {
    switch (builtin.cpu.arch) {
        .x86_64 => {
            var low: u32 = undefined;
            var high: u32 = undefined;
            asm volatile ("rdtsc"
                : [low] "={eax}" (low),
                  [high] "={edx}" (high),
            );
            return (@as(u64, high) << 32) | low;
        },
        // Never chosen: calibrate() picks the TSC only on x86-64.
        else => unreachable,
    }
}

/// Pure: ticks to CLOCK_MONOTONIC ns. A tick count from before tsc0 (another core's TSC
/// a few ticks behind) reads as tsc0.
pub fn tsc_to_ns(calibration: *const Calibration, tsc: u64) u64 {
    const ticks: u128 = tsc -| calibration.tsc0;
    const elapsed_ns: u64 = @truncate((ticks * calibration.multiplier) >> tsc_shift);
    return calibration.monotonic0_ns +% elapsed_ns;
}

/// One producer's clock: the ring's calibration, copied at attach, and the last value
/// returned so the producer's timestamps never go back. Not shared.
pub const Clock = struct {
    calibration: Calibration,
    source: Source,
    last_ns: u64 = 0,

    pub fn init(calibration: Calibration) Clock {
        assert(calibration_valid(&calibration));
        return .{ .calibration = calibration, .source = @enumFromInt(calibration.source) };
    }

    /// The raw reading alone, without conversion (the bench's floor): TSC ticks, or
    /// CLOCK_MONOTONIC ns when that is the source.
    pub inline fn now_raw(clock: *const Clock) u64 {
        return switch (clock.source) {
            .monotonic => monotonic_ns(),
            .tsc => tsc_read(),
        };
    }

    pub inline fn now_ns(clock: *Clock) u64 {
        switch (clock.source) {
            .monotonic => {
                // Where the TSC is not usable (other machines, rare on x86-64): the TSC's
                // path laid out straight in the writes that inline this (BENCHMARKS.md
                // "The native write laid out straight, one path").
                @branchHint(if (builtin.cpu.arch == .x86_64) .unlikely else .none);
                return monotonic_ns();
            },
            .tsc => {
                const now = @max(tsc_to_ns(&clock.calibration, tsc_read()), clock.last_ns);
                clock.last_ns = now;
                return now;
            },
        }
    }
};

/// Chooses the ring's clock and, for the TSC, calibrates it: sleeps about
/// calibration_window_ns. Called once, by the ring's creator.
pub fn calibrate(choice: Choice) Calibration {
    return calibration_end(calibration_begin(choice));
}

/// A calibration under way: its first point, or none (the monotonic clock, nothing to calibrate).
pub const Window = struct {
    start: ?Pair,
};

/// Starts a calibration (calibrate in two halves): the creator does its other work (the
/// ring file's allocation) inside the window instead of sleeping all of it afterwards.
pub fn calibration_begin(choice: Choice) Window {
    if (choice == .monotonic or !tsc_usable()) return .{ .start = null };
    return .{ .start = pair_read() };
}

/// Ends a calibration begun by calibration_begin: sleeps what is left of
/// calibration_window_ns since its first point (none when the work between took longer),
/// so the window is never shorter than calibrate's.
pub fn calibration_end(window: Window) Calibration {
    const start = window.start orelse return calibration_monotonic;
    const elapsed_ns = monotonic_ns() -| start.ns;
    if (elapsed_ns < calibration_window_ns) sleep_ns(calibration_window_ns - elapsed_ns);
    const end = pair_read();
    // Both pairs came from one thread, possibly on two cores: the kernel keeps TSCs in
    // sync (it would not use the TSC as its clocksource otherwise).
    if (end.tsc <= start.tsc or end.ns <= start.ns) return calibration_monotonic;
    const multiplier_wide = (@as(u128, end.ns - start.ns) << tsc_shift) / (end.tsc - start.tsc);
    if (multiplier_wide < multiplier_min or multiplier_wide > multiplier_max) return calibration_monotonic;
    const calibration: Calibration = .{
        .source = @intFromEnum(Source.tsc),
        .shift = tsc_shift,
        .tsc0 = start.tsc,
        .monotonic0_ns = start.ns,
        .multiplier = @intCast(multiplier_wide),
    };
    assert(calibration_valid(&calibration));
    return calibration;
}

const Pair = struct {
    tsc: u64,
    ns: u64,
};

const pair_reads = 64;

/// One (TSC, CLOCK_MONOTONIC) point: of 64 bracketed reads (tsc, monotonic, tsc), the
/// tightest, at the middle of its bracket, so an interrupt or a preemption inside a read
/// is left out. ~3 µs. (Averaging the reads near the tightest measured no better.)
fn pair_read() Pair {
    var best: Pair = undefined;
    var width_min: u64 = std.math.maxInt(u64);
    for (0..pair_reads) |_| {
        const before = tsc_read();
        const ns = monotonic_ns();
        const after = tsc_read();
        const width = after -% before;
        if (width >= width_min) continue;
        width_min = width;
        best = .{ .tsc = before +% width / 2, .ns = ns };
    }
    assert(width_min < std.math.maxInt(u64));
    return best;
}

fn sleep_ns(duration_ns: u64) void {
    var remaining: std.c.timespec = .{
        .sec = @intCast(duration_ns / ns_per_s),
        .nsec = @intCast(duration_ns % ns_per_s),
    };
    // Interrupted by a signal: sleep the rest (the window only has to be long enough).
    while (std.c.nanosleep(&remaining, &remaining) != 0) {}
}

/// The TSC is usable when it is invariant (constant rate, runs in deep C-states:
/// constant_tsc and nonstop_tsc) and the kernel keeps CLOCK_MONOTONIC with it: the kernel
/// checks at boot and at run time that the CPUs' TSCs agree, and leaves the TSC
/// clocksource when they do not (or on hypervisors that do not promise a stable one).
pub fn tsc_usable() bool {
    if (builtin.cpu.arch != .x86_64) return false;
    var buffer: [16 * 1024]u8 = undefined;
    const cpuinfo = file_prefix("/proc/cpuinfo", &buffer);
    if (!cpu_flags_allow_tsc(cpuinfo)) return false;
    const clocksource = file_prefix("/sys/devices/system/clocksource/clocksource0/current_clocksource", &buffer);
    return clocksource_allows_tsc(clocksource);
}

/// Up to buffer.len bytes from the start of a file; empty when it cannot be read.
fn file_prefix(path: [*:0]const u8, buffer: []u8) []const u8 {
    const fd = std.c.open(path, .{ .ACCMODE = .RDONLY, .CLOEXEC = true }, @as(std.c.mode_t, 0));
    if (fd < 0) return buffer[0..0];
    defer _ = std.c.close(fd);
    var used: usize = 0;
    while (used < buffer.len) {
        const count = std.c.read(fd, buffer[used..].ptr, buffer.len - used);
        if (count <= 0) break;
        used += @intCast(count);
    }
    assert(used <= buffer.len);
    return buffer[0..used];
}

/// Pure: the first "flags" line of /proc/cpuinfo names constant_tsc and nonstop_tsc.
pub fn cpu_flags_allow_tsc(cpuinfo: []const u8) bool {
    var lines = std.mem.splitScalar(u8, cpuinfo, '\n');
    while (lines.next()) |line| {
        if (!std.mem.startsWith(u8, line, "flags")) continue;
        const colon = std.mem.indexOfScalar(u8, line, ':') orelse return false;
        var constant = false;
        var nonstop = false;
        var words = std.mem.tokenizeAny(u8, line[colon + 1 ..], " \t");
        while (words.next()) |word| {
            if (std.mem.eql(u8, word, "constant_tsc")) constant = true;
            if (std.mem.eql(u8, word, "nonstop_tsc")) nonstop = true;
        }
        return constant and nonstop;
    }
    return false;
}

/// Pure: the kernel's current clocksource is the TSC.
pub fn clocksource_allows_tsc(current_clocksource: []const u8) bool {
    return std.mem.eql(u8, std.mem.trim(u8, current_clocksource, " \t\n"), "tsc");
}

// ---------------------------------------------------------------------------------------
// Tests.

const testing = std.testing;

test "clock: monotonic never goes back and advances" {
    const first_ns = monotonic_ns();
    var last_ns = first_ns;
    var i: u32 = 0;
    while (i < 10_000) : (i += 1) {
        const now_ns = monotonic_ns();
        try testing.expect(now_ns >= last_ns);
        last_ns = now_ns;
    }
    try testing.expect(first_ns > 0);
    try testing.expect(last_ns > first_ns);
}

test "clock: realtime is after 2020" {
    const year_2020_ns: u64 = 1_577_836_800 * ns_per_s;
    try testing.expect(realtime_ns() > year_2020_ns);
}

test "clock: TSC usable only with both invariant flags and the kernel on the TSC" {
    const flags = "processor\t: 0\nflags\t\t: fpu tsc constant_tsc rep_good nopl nonstop_tsc cpuid\nbugs\t\t:\n";
    try testing.expect(cpu_flags_allow_tsc(flags));
    try testing.expect(!cpu_flags_allow_tsc("flags\t\t: fpu tsc constant_tsc rep_good\n"));
    try testing.expect(!cpu_flags_allow_tsc("flags\t\t: fpu tsc nonstop_tsc\n"));
    // A flag name that only contains the wanted one does not count.
    try testing.expect(!cpu_flags_allow_tsc("flags\t\t: xconstant_tsc nonstop_tsc\n"));
    try testing.expect(!cpu_flags_allow_tsc(""));
    try testing.expect(clocksource_allows_tsc("tsc\n"));
    try testing.expect(!clocksource_allows_tsc("kvm-clock\n"));
    try testing.expect(!clocksource_allows_tsc("hpet\n"));
    try testing.expect(!clocksource_allows_tsc(""));
}

test "clock: conversion starts at monotonic0_ns, is exact for a known rate, saturates before tsc0" {
    // A 2.5 GHz TSC: 0.4 ns per tick.
    const calibration: Calibration = .{
        .source = @intFromEnum(Source.tsc),
        .shift = tsc_shift,
        .tsc0 = 1_000_000,
        .monotonic0_ns = 5_000,
        .multiplier = (@as(u64, 2) << tsc_shift) / 5,
    };
    try testing.expect(calibration_valid(&calibration) == (builtin.cpu.arch == .x86_64));
    try testing.expectEqual(@as(u64, 5_000), tsc_to_ns(&calibration, 1_000_000));
    try testing.expectEqual(@as(u64, 5_000), tsc_to_ns(&calibration, 999_000));
    // 2.5e9 ticks = 1 s, within the multiplier's truncation (< 1 ns per 2^32 ns).
    try testing.expectApproxEqAbs(@as(f64, 1e9 + 5_000), @as(f64, @floatFromInt(tsc_to_ns(&calibration, 1_000_000 + 2_500_000_000))), 1);
    // A year of ticks still fits.
    const year_ticks: u64 = 2_500_000_000 * 86_400 * 365;
    try testing.expect(tsc_to_ns(&calibration, 1_000_000 + year_ticks) > 31_000_000 * ns_per_s);
    var invalid = calibration;
    invalid.multiplier = 1;
    try testing.expect(!calibration_valid(&invalid));
    invalid = calibration;
    invalid.source = 7;
    try testing.expect(!calibration_valid(&invalid));
    try testing.expect(calibration_valid(&calibration_monotonic));
}

fn expect_clock_tracks_monotonic(calibration: Calibration) !void {
    var clock = Clock.init(calibration);
    // Offset plus drift over this test: far below this bound when calibrated.
    const tolerance_ns: u64 = 20 * std.time.ns_per_us;
    var last_ns: u64 = 0;
    var i: u32 = 0;
    while (i < 100_000) : (i += 1) {
        const before_ns = monotonic_ns();
        const now_ns = clock.now_ns();
        const after_ns = monotonic_ns();
        try testing.expect(now_ns >= last_ns);
        try testing.expect(now_ns + tolerance_ns >= before_ns);
        try testing.expect(now_ns <= after_ns + tolerance_ns);
        last_ns = now_ns;
    }
}

test "clock: the chosen clock (TSC here when usable) tracks CLOCK_MONOTONIC and never goes back" {
    const calibration = calibrate(.auto);
    try testing.expect(calibration_valid(&calibration));
    try testing.expectEqual(@intFromEnum(if (tsc_usable()) Source.tsc else Source.monotonic), calibration.source);
    try expect_clock_tracks_monotonic(calibration);
}

test "clock: the monotonic fallback when asked" {
    const calibration = calibrate(.monotonic);
    try testing.expectEqual(@intFromEnum(Source.monotonic), calibration.source);
    const clock = Clock.init(calibration);
    try testing.expectEqual(Source.monotonic, clock.source);
    try expect_clock_tracks_monotonic(calibration);
}

test "clock: a calibration in two halves keeps the whole window whatever ran between, and tracks CLOCK_MONOTONIC" {
    for ([_]u64{ 0, 4 * std.time.ns_per_ms, 15 * std.time.ns_per_ms }) |work_ns| {
        const before_ns = monotonic_ns();
        const window = calibration_begin(.auto);
        if (work_ns > 0) sleep_ns(work_ns);
        // A sleep is a voluntary context switch of this thread; being preempted on a busy
        // machine is not (time alone cannot tell them apart there).
        const switches_before = std.posix.getrusage(std.posix.rusage.THREAD).nvcsw;
        const calibration = calibration_end(window);
        const switches = std.posix.getrusage(std.posix.rusage.THREAD).nvcsw - switches_before;
        const elapsed_ns = monotonic_ns() - before_ns;
        try testing.expect(calibration_valid(&calibration));
        try testing.expectEqual(@intFromEnum(if (tsc_usable()) Source.tsc else Source.monotonic), calibration.source);
        if (tsc_usable()) {
            try testing.expect(elapsed_ns >= calibration_window_ns);
            // Work longer than the window: no sleep on top of it (calibrate would sleep 10 ms).
            if (work_ns > calibration_window_ns) try testing.expectEqual(@as(isize, 0), switches);
        }
        try expect_clock_tracks_monotonic(calibration);
    }
    const none = calibration_begin(.monotonic);
    try testing.expectEqual(@as(?Pair, null), none.start);
    try testing.expectEqual(@intFromEnum(Source.monotonic), calibration_end(none).source);
}
