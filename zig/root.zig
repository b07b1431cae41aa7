//! Pulls every Zig unit's tests into one `zig build test` run.
test {
    _ = @import("layout.zig");
    _ = @import("c_abi.zig");
    _ = @import("collector.zig");
    _ = @import("flight.zig");
    _ = @import("endings.zig");
    _ = @import("proc_stat.zig");
    _ = @import("clock.zig");
    _ = @import("ring.zig");
    _ = @import("batches.zig");
    _ = @import("shm.zig");
    _ = @import("producer.zig");
    _ = @import("stress.zig");
    _ = @import("trace_file.zig");
    _ = @import("loop_turns.zig");
    _ = @import("shared_files.zig");
    _ = @import("js_number.zig");
    _ = @import("digits.zig");
}
