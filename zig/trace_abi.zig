//! The C ABI of the trace file (writer and reader), exported from libscope.
const std = @import("std");
