/**
 * The platforms scope ships npm packages for: one package each, holding that platform's
 * compiled `scope`, picked by npm through the main package's optionalDependencies and the
 * package's own os/cpu/libc. The launcher (launcher.js) carries the same table of names;
 * scripts/release/release.ts checks that they agree.
 */
export interface Platform {
  /** Package name suffix and launcher key: `<os>-<cpu>-<libc abbreviation>`. */
  name: string;
  os: "linux";
  cpu: "x64" | "arm64";
  libc: "glibc";
  /** zig build -Dtarget: glibc 2.28 (Debian 10, RHEL 8) is the oldest the libraries link against. */
  zigTarget: string;
  /** zig build -Dcpu: the oldest CPU the native code may assume (x86-64-v2: SSE4.2, as Bun's baseline). */
  zigCpu: string;
  /** Bun.build compile target. */
  bunTarget: Bun.Build.CompileTarget;
  /** The npm package Bun's runtime for this target comes in (bin/bun inside), at this Bun's version. */
  bunPackage: string;
  /** oxc-parser's native binding for this platform (same version as oxc-parser). */
  oxcPackage: string;
  /** ELF e_machine of every native file in the package. */
  elfMachine: number;
}

export const platforms: readonly Platform[] = [
  {
    name: "linux-x64-gnu",
    os: "linux",
    cpu: "x64",
    libc: "glibc",
    zigTarget: "x86_64-linux-gnu.2.28",
    zigCpu: "x86_64_v2",
    // Bun's baseline x64 build (no AVX2 needed, as -Dcpu above), not the one for Haswell and later.
    bunTarget: "bun-linux-x64-baseline",
    bunPackage: "@oven/bun-linux-x64-baseline",
    oxcPackage: "@oxc-parser/binding-linux-x64-gnu",
    elfMachine: 62, // EM_X86_64
  },
  {
    name: "linux-arm64-gnu",
    os: "linux",
    cpu: "arm64",
    libc: "glibc",
    zigTarget: "aarch64-linux-gnu.2.28",
    zigCpu: "baseline",
    bunTarget: "bun-linux-arm64",
    bunPackage: "@oven/bun-linux-aarch64",
    oxcPackage: "@oxc-parser/binding-linux-arm64-gnu",
    elfMachine: 183, // EM_AARCH64
  },
];

/** The npm scope of the platform packages: `@scope-tracer/linux-x64-gnu`. */
export const platformScope = "@scope-tracer";

export function platformPackageName(platform: Platform): string {
  return `${platformScope}/${platform.name}`;
}

/** e_machine of an ELF file (bytes 18..19, little-endian), or undefined when it is not ELF. */
export function elfMachine(bytes: Uint8Array): number | undefined {
  if (bytes.length < 20 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) return undefined;
  return bytes[18]! | (bytes[19]! << 8);
}
