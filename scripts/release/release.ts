/**
 * `bun run release [--platform linux-x64-gnu,linux-arm64-gnu] [--out dist/npm]`: builds
 * one `scope` executable per platform and the npm package tarballs that ship them, as
 * esbuild, Biome and Turborepo do: a small main package (the root package.json's name)
 * whose `scope` bin is a Node launcher (launcher.cjs), and one package per platform
 * (platforms.ts) holding that platform's compiled `scope`, which npm picks through the
 * main package's optionalDependencies and each package's os/cpu/libc. Every package
 * takes its version from the root package.json (src/version.ts reads the same). Nothing
 * is published: the tarballs are written to --out.
 *
 * Per platform: Zig cross-compiles libscope.so and scope.node (-Dtarget, -Dcpu); the
 * parser binding is oxc-parser's package for that platform at oxc-parser's version (from
 * node_modules for this machine, else fetched with `npm pack` and checked against
 * bun.lock's integrity); Bun compiles into the target's runtime, the `bin/bun` of Bun's
 * own npm package for it (`npm pack`, the version of the Bun running this script), given
 * as `executablePath`: Bun would otherwise fetch it itself, from registry.npmjs.org at a
 * fixed URL (`BUN_COMPILE_TARGET_TARBALL_URL` overrides), without npm's configuration
 * (registry, proxy, cache). Fetched tarballs are kept in dist/release/downloads.
 */
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { agentEntries, agentFiles, bundleAgent, oxcBindingSource } from "../../src/core/assets";
import { compileScope, writeViewPage, type EmbeddedFiles } from "../compile";
import { elfMachine, platformPackageName, platforms, type Platform } from "./platforms";

const root = join(import.meta.dir, "../..");
const work = join(root, "dist/release");
const downloads = join(work, "downloads");

interface PackageJson {
  name: string;
  version: string;
  description?: string;
  dependencies?: Record<string, string>;
}
const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;
const rootPackage = readJson<PackageJson>(join(root, "package.json"));
const version = rootPackage.version;

function run(argv: string[], cwd = root): string {
  const result = Bun.spawnSync(argv, { cwd, stdout: "pipe", stderr: "inherit" });
  if (result.exitCode !== 0) throw new Error(`release step failed (exit ${result.exitCode}): ${argv.join(" ")}`);
  return result.stdout.toString();
}

function sha512(path: string): string {
  return `sha512-${createHash("sha512").update(readFileSync(path)).digest("base64")}`;
}

/** bun.lock's integrity for name@version, if bun.lock lists it (optional dependencies it did not install too). */
function lockedIntegrity(name: string, at: string): string | undefined {
  const lock = readFileSync(join(root, "bun.lock"), "utf8");
  const escaped = `${name}@${at}`.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  return new RegExp(`\\["${escaped}",[^\\n]*"(sha512-[A-Za-z0-9+/=]+)"\\]`).exec(lock)?.[1];
}

/** name@at from the npm registry (npm pack: npm checks the tarball's integrity), unpacked; returns the package dir. */
function fetchPackage(name: string, at: string, integrity?: string): string {
  const base = `${name.replace(/^@/, "").replace("/", "-")}-${at}`;
  const tarball = join(downloads, `${base}.tgz`);
  const unpacked = join(downloads, base);
  if (existsSync(join(unpacked, "package/package.json"))) return join(unpacked, "package");
  mkdirSync(downloads, { recursive: true });
  if (!existsSync(tarball)) {
    console.log(`release: fetching ${name}@${at} (npm pack)`);
    run(["npm", "pack", "--silent", "--pack-destination", downloads, `${name}@${at}`], downloads);
  }
  if (integrity && sha512(tarball) !== integrity) {
    rmSync(tarball);
    throw new Error(`${name}@${at}: the tarball's integrity is not bun.lock's ${integrity}`);
  }
  rmSync(unpacked, { recursive: true, force: true });
  mkdirSync(unpacked, { recursive: true });
  run(["tar", "-xzf", tarball, "-C", unpacked]);
  return join(unpacked, "package");
}

const isHost = (platform: Platform) => platform.os === process.platform && platform.cpu === process.arch;

/** oxc-parser's binding for `platform`, at the version of oxc-parser in node_modules. */
function oxcBinding(platform: Platform): string {
  const oxcVersion = readJson<PackageJson>(join(root, "node_modules/oxc-parser/package.json")).version;
  if (rootPackage.dependencies?.["oxc-parser"] !== oxcVersion) throw new Error(`node_modules has oxc-parser ${oxcVersion}, package.json wants ${rootPackage.dependencies?.["oxc-parser"]}: bun install`);
  let file: string | undefined;
  if (isHost(platform)) {
    file = oxcBindingSource();
    if (!file?.includes(platform.oxcPackage)) throw new Error(`${platform.oxcPackage} is not installed (bun install)`);
    if (readJson<PackageJson>(join(file, "../package.json")).version !== oxcVersion) throw new Error(`${file} is not oxc-parser ${oxcVersion}'s`);
  } else {
    const integrity = lockedIntegrity(platform.oxcPackage, oxcVersion);
    if (!integrity) throw new Error(`bun.lock has no integrity for ${platform.oxcPackage}@${oxcVersion}`);
    const dir = fetchPackage(platform.oxcPackage, oxcVersion, integrity);
    const node = readdirSync(dir).find((entry) => entry.endsWith(".node"));
    if (!node) throw new Error(`${platform.oxcPackage}@${oxcVersion} holds no .node file`);
    file = join(dir, node);
  }
  return file;
}

/**
 * Bun's runtime for `platform`: its npm package's bin/bun, at the version of the Bun running
 * this (the compile's JavaScript and the runtime must be one release). Fetched for the host
 * too, so what a package holds does not depend on which flavour `npm install bun` picked here.
 */
function bunRuntime(platform: Platform): string {
  const bun = join(fetchPackage(platform.bunPackage, Bun.version), "bin/bun");
  if (!existsSync(bun)) throw new Error(`${platform.bunPackage}@${Bun.version} holds no bin/bun`);
  return bun;
}

function checkElf(path: string, platform: Platform): void {
  const machine = elfMachine(readFileSync(path).subarray(0, 20));
  if (machine !== platform.elfMachine) throw new Error(`${path}: ELF machine ${machine}, ${platform.name} needs ${platform.elfMachine}`);
}

/** Builds platform's `scope` into dist/release/<platform>/scope. */
async function buildPlatform(platform: Platform, agents: Record<keyof typeof agentEntries, string>): Promise<string> {
  const dir = join(work, platform.name);
  const zigOut = join(dir, "zig");
  console.log(`release: ${platform.name}: zig build -Dtarget=${platform.zigTarget} -Dcpu=${platform.zigCpu}`);
  run(["zig", "build", "-Doptimize=ReleaseFast", `-Dtarget=${platform.zigTarget}`, `-Dcpu=${platform.zigCpu}`, "--prefix", zigOut]);
  const files: EmbeddedFiles = {
    libscope: join(zigOut, "lib/libscope.so"),
    addon: join(zigOut, "lib/scope.node"),
    oxcBinding: oxcBinding(platform),
    ...agentFiles(agents),
  };
  for (const native of [files.libscope, files.addon, files.oxcBinding]) checkElf(native, platform);
  const outfile = join(dir, "scope");
  console.log(`release: ${platform.name}: compiling ${platform.bunTarget}`);
  const hash = await compileScope({ files, outfile, target: platform.bunTarget, executablePath: bunRuntime(platform) });
  checkElf(outfile, platform);
  if (isHost(platform)) {
    const reported = run([outfile, "--version"]).trim();
    if (!reported.includes(version)) throw new Error(`${outfile} --version says ${reported}, not ${version}`);
  }
  console.log(`release: ${platform.name}: ${outfile} (${(statSync(outfile).size / 2 ** 20).toFixed(1)} MiB, assets ${hash})`);
  return outfile;
}

/** Writes a package directory and packs it into `out`; returns the tarball's path. */
function pack(dir: string, out: string): string {
  const json = run(["npm", "pack", "--json", "--pack-destination", out], dir);
  const [result] = JSON.parse(json) as { filename: string }[];
  return join(out, result!.filename);
}

function platformPackage(platform: Platform, binary: string, stage: string): string {
  const dir = join(stage, platform.name);
  mkdirSync(join(dir, "bin"), { recursive: true });
  copyFileSync(binary, join(dir, "bin/scope"));
  chmodSync(join(dir, "bin/scope"), 0o755);
  const name = platformPackageName(platform);
  const manifest = {
    name,
    version,
    description: `The ${platform.name} executable of ${rootPackage.name}: install ${rootPackage.name}, not this.`,
    os: [platform.os],
    cpu: [platform.cpu],
    libc: [platform.libc],
    files: ["bin/scope"],
    preferUnplugged: true,
  };
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(dir, "README.md"), `# ${name}\n\nThe \`scope\` executable for ${platform.name}. Install [\`${rootPackage.name}\`](https://www.npmjs.com/package/${rootPackage.name}), which picks this package on ${platform.name}.\n`);
  return dir;
}

function mainPackage(stage: string): string {
  const dir = join(stage, "main");
  mkdirSync(join(dir, "bin"), { recursive: true });
  copyFileSync(join(import.meta.dir, "launcher.cjs"), join(dir, "bin/scope.cjs"));
  chmodSync(join(dir, "bin/scope.cjs"), 0o755);
  const manifest = {
    name: rootPackage.name,
    version,
    description: rootPackage.description,
    bin: { scope: "bin/scope.cjs" },
    files: ["bin/scope.cjs"],
    engines: { node: ">=18" },
    optionalDependencies: Object.fromEntries(platforms.map((platform) => [platformPackageName(platform), version])),
  };
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(
    join(dir, "README.md"),
    [
      `# ${rootPackage.name}`,
      "",
      rootPackage.description ?? "",
      "",
      `    npm install -g ${rootPackage.name}`,
      "    scope run -- node app.js     # writes trace.bin, prints a summary",
      "    scope dump trace.bin",
      "    scope doctor                 # does scope work on this machine?",
      "",
      `Platforms: ${platforms.map((platform) => platform.name).join(", ")}. The \`scope\` command is a small Node launcher that runs the`,
      "executable of the platform package npm installed with it (an optional dependency picked by os, cpu and libc).",
      "",
    ].join("\n"),
  );
  return dir;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { platform: { type: "string" }, out: { type: "string" } } });
  const wanted = values.platform ? values.platform.split(",") : platforms.map((platform) => platform.name);
  const chosen = wanted.map((name) => {
    const platform = platforms.find((candidate) => candidate.name === name);
    if (!platform) throw new Error(`unknown platform ${name} (known: ${platforms.map((p) => p.name).join(", ")})`);
    return platform;
  });
  const out = values.out ? resolve(values.out) : join(root, "dist/npm");
  // The launcher's table and platforms.ts must name the same packages.
  const { packages } = createRequire(import.meta.url)("./launcher.cjs") as { packages: Record<string, string> };
  const expected = Object.fromEntries(platforms.map((platform) => [`${platform.os}-${platform.cpu}-${platform.libc}`, platformPackageName(platform)]));
  if (JSON.stringify(packages) !== JSON.stringify(expected)) throw new Error(`launcher.cjs names ${JSON.stringify(packages)}, platforms.ts ${JSON.stringify(expected)}`);

  mkdirSync(join(work, "agent"), { recursive: true });
  const agents = Object.fromEntries(
    await Promise.all(Object.keys(agentEntries).map(async (name) => [name, await bundleAgent(name as keyof typeof agentEntries, join(work, "agent"))])),
  ) as Record<keyof typeof agentEntries, string>;
  await writeViewPage();
  const stage = join(work, "packages");
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const tarballs = [pack(mainPackage(stage), out)];
  for (const platform of chosen) {
    const binary = await buildPlatform(platform, agents);
    tarballs.push(pack(platformPackage(platform, binary, stage), out));
  }
  for (const tarball of tarballs) console.log(`release: ${tarball} (${(statSync(tarball).size / 2 ** 20).toFixed(1)} MiB)`);
}

try {
  await main();
} catch (error) {
  console.error(`release: ${(error as Error).message}`);
  process.exit(1);
}
