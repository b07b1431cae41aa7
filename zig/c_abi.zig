//! The C ABI of libscope, called from TypeScript through bun:ffi.
//! Every function is `export fn scope_*`; failures return a `Status`, never an error cast.
const std = @import("std");
const layout = @import("layout.zig");

comptime {
    _ = @import("trace_abi.zig");
}

pub const Status = enum(u32) {
    ok = 0,
    invalid_argument = 1,
    _,
};

export fn scope_layout_version() u32 {
    return layout.record_layout_version;
}

test "c_abi: layout version" {
    try std.testing.expectEqual(@as(u32, 1), scope_layout_version());
}
