/**
 * Builds the one executable, dist/scope: the Zig artifacts (ReleaseFast), the agent
 * bundles, then `bun build --compile` with all of them embedded. The content hash
 * of the embedded files keys the private cache directory they are extracted to.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { agentEntries, bundleAgent } from "../src/core/assets";

const root = join(import.meta.dir, "..");
const dist = join(root, "dist");

function run(argv: string[]): void {
  const result = Bun.spawnSync(argv, { cwd: root, stdout: "inherit", stderr: "inherit" });
  if (result.exitCode !== 0) throw new Error(`build step failed (exit ${result.exitCode}): ${argv.join(" ")}`);
}

run(["zig", "build", "-Doptimize=ReleaseFast"]);
mkdirSync(join(dist, "agent"), { recursive: true });
const files = [
  join(root, "zig-out/lib/libscope.so"),
  join(root, "zig-out/lib/scope.node"),
  ...(await Promise.all(Object.keys(agentEntries).map((name) => bundleAgent(name as keyof typeof agentEntries, join(dist, "agent"))))),
];
const hash = createHash("sha256");
for (const file of files) hash.update(readFileSync(file));
const assetHash = hash.digest("hex").slice(0, 16);

run([
  process.execPath, "build", "--compile", "--minify-syntax",
  `--define=SCOPE_ASSET_HASH=${JSON.stringify(assetHash)}`,
  join(root, "src/cli/main.ts"), "--outfile", join(dist, "scope"),
]);
console.log(`built dist/scope (assets ${assetHash})`);
