/**
 * Builds the one executable, dist/scope: the Zig artifacts (ReleaseFast), oxc-parser's
 * native binding (copied to dist/lib), the agent bundles, `scope view`'s page, then a
 * compile (scripts/compile.ts) with all of them embedded.
 */
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { agentEntries, agentFiles, bundleAgent, oxcBindingSource } from "../src/core/assets";
import { compileScope, writeViewPage } from "./compile";

const root = join(import.meta.dir, "..");
const dist = join(root, "dist");

function run(argv: string[]): void {
  const result = Bun.spawnSync(argv, { cwd: root, stdout: "inherit", stderr: "inherit" });
  if (result.exitCode !== 0) throw new Error(`build step failed (exit ${result.exitCode}): ${argv.join(" ")}`);
}

// SCOPE_BUILD_CPU=x86_64_v3: native code valgrind can run (scripts/start-instructions-agent-cache.sh).
run(["zig", "build", "-Doptimize=ReleaseFast", ...(process.env.SCOPE_BUILD_CPU ? [`-Dcpu=${process.env.SCOPE_BUILD_CPU}`] : [])]);
mkdirSync(join(dist, "agent"), { recursive: true });
mkdirSync(join(dist, "lib"), { recursive: true });
// oxc-parser's JavaScript and its binding must be the same release (napi-rs checks only on request).
const oxcBinding = oxcBindingSource();
if (!oxcBinding) throw new Error("oxc-parser's native binding for this platform is not installed (bun install)");
const versionOf = (packageJson: string) => (JSON.parse(readFileSync(packageJson, "utf8")) as { version: string }).version;
const oxcVersion = versionOf(join(root, "node_modules/oxc-parser/package.json"));
if (versionOf(join(dirname(oxcBinding), "package.json")) !== oxcVersion) throw new Error(`${oxcBinding} is not oxc-parser ${oxcVersion}'s`);
copyFileSync(oxcBinding, join(dist, "lib/oxc-parser.node"));
const agents = Object.fromEntries(
  await Promise.all(Object.keys(agentEntries).map(async (name) => [name, await bundleAgent(name as keyof typeof agentEntries, join(dist, "agent"))])),
) as Record<keyof typeof agentEntries, string>;
await writeViewPage();
const assetHash = await compileScope({
  files: {
    libscope: join(root, "zig-out/lib/libscope.so"),
    addon: join(root, "zig-out/lib/scope.node"),
    oxcBinding: join(dist, "lib/oxc-parser.node"),
    ...agentFiles(agents),
  },
  outfile: join(dist, "scope"),
});
console.log(`built dist/scope (assets ${assetHash})`);
