const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});

    // Artifacts first, steps after (libxev's shape).

    // libscope: the C ABI for bun:ffi (collector, CLI, Bun agent).
    const lib = b.addLibrary(.{
        .name = "scope",
        .linkage = .dynamic,
        .root_module = b.createModule(.{
            .root_source_file = b.path("zig/c_abi.zig"),
            .target = target,
            .optimize = optimize,
            .link_libc = true,
        }),
    });

    // scope.node: the Node-API producer. Node-API symbols resolve against the node
    // binary at load time, so undefined symbols are allowed.
    const addon = b.addLibrary(.{
        .name = "scope-napi",
        .linkage = .dynamic,
        .root_module = b.createModule(.{
            .root_source_file = b.path("zig/napi.zig"),
            .target = target,
            .optimize = optimize,
            .link_libc = true,
        }),
    });
    addon.linker_allow_shlib_undefined = true;

    // A native producer process for the multi-process stress test.
    const stress = b.addExecutable(.{
        .name = "scope-stress",
        .root_module = b.createModule(.{
            .root_source_file = b.path("zig/stress.zig"),
            .target = target,
            .optimize = optimize,
            .link_libc = true,
        }),
    });

    // Benchmarks always build optimised: a Debug figure means nothing.
    const bench = b.addExecutable(.{
        .name = "scope-bench",
        .root_module = b.createModule(.{
            .root_source_file = b.path("zig/bench.zig"),
            .target = target,
            .optimize = .ReleaseFast,
            .link_libc = true,
        }),
    });

    const unit_tests = b.addTest(.{
        .root_module = b.createModule(.{
            .root_source_file = b.path("zig/root.zig"),
            .target = target,
            .optimize = .Debug,
            .link_libc = true,
        }),
    });

    b.installArtifact(lib);
    b.getInstallStep().dependOn(&b.addInstallFileWithDir(addon.getEmittedBin(), .lib, "scope.node").step);
    b.installArtifact(stress);

    const test_step = b.step("test", "Run the Zig unit tests");
    test_step.dependOn(&b.addRunArtifact(unit_tests).step);

    const bench_run = b.addRunArtifact(bench);
    bench_run.addPassthruArgs();
    const bench_step = b.step("bench", "Native ring throughput: 1, 2, 4 producers, with and without a consumer");
    bench_step.dependOn(&bench_run.step);
}
