/**
 * What the npm launcher (scripts/release/launcher.cjs) adds to a `scope` command: `scope
 * --version` through an npm install of dist/npm's tarballs (node launcher + binary) vs the
 * installed binary alone, alternated, medians of wall time and of CPU time (user + system,
 * the process and its children). `bun scripts/bench-launcher.ts [rounds]` after `bun run release`.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { platformPackageName, platforms } from "./release/platforms";

const root = join(import.meta.dir, "..");
const { name, version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { name: string; version: string };
const x64 = platforms.find((platform) => platform.cpu === process.arch)!;
const tarball = (pkg: string) => join(root, "dist/npm", `${pkg.replace(/^@/, "").replace("/", "-")}-${version}.tgz`);
const prefix = mkdtempSync(join(tmpdir(), "scope-bench-launcher-"));
const install = Bun.spawnSync(["npm", "install", "-g", "--offline", "--prefix", prefix, "--cache", join(prefix, "cache"), tarball(name), tarball(platformPackageName(x64))]);
if (install.exitCode !== 0) throw new Error(install.stderr.toString());
const launcher = join(prefix, "bin/scope");
const binary = join(prefix, "lib/node_modules", platformPackageName(x64), "bin/scope");
const rounds = Number(process.argv[2] ?? 30);
const samples: Record<"launcher" | "binary", { wallMs: number; cpuMs: number }[]> = { launcher: [], binary: [] };
const env = { ...process.env, XDG_CACHE_HOME: join(prefix, "xdg") };
for (let round = 0; round < rounds; round++) {
  for (const [which, path] of [["launcher", launcher], ["binary", binary]] as const) {
    const start = performance.now();
    const result = Bun.spawnSync([path, "--version"], { env });
    const wallMs = performance.now() - start;
    if (result.exitCode !== 0) throw new Error(`${path}: exit ${result.exitCode}`);
    const usage = result.resourceUsage!;
    samples[which].push({ wallMs, cpuMs: Number(usage.cpuTime.user + usage.cpuTime.system) / 1000 });
  }
}
const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
for (const which of ["launcher", "binary"] as const) {
  console.log(`${which}: wall ${median(samples[which].map((s) => s.wallMs)).toFixed(1)} ms, cpu ${median(samples[which].map((s) => s.cpuMs)).toFixed(1)} ms (median of ${rounds})`);
}
rmSync(prefix, { recursive: true, force: true });
