/**
 * Builds the one executable, dist/scope: the Zig artifacts (ReleaseFast), oxc-parser's
 * native binding (copied to dist/lib), the agent bundles, then a compile (Bun.build with
 * `compile`, as `bun build --compile`) with all of them embedded. The content hash of
 * the embedded files keys the private cache directory they are extracted to.
 */
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { agentEntries, bundleAgent, oxcBindingSource } from "../src/core/assets";
import { oxcBindingPlugin } from "../src/core/oxc-plugin";
import { bundlePage } from "../src/view/page-assets";

const root = join(import.meta.dir, "..");
const dist = join(root, "dist");

function run(argv: string[]): void {
  const result = Bun.spawnSync(argv, { cwd: root, stdout: "inherit", stderr: "inherit" });
  if (result.exitCode !== 0) throw new Error(`build step failed (exit ${result.exitCode}): ${argv.join(" ")}`);
}

run(["zig", "build", "-Doptimize=ReleaseFast"]);
mkdirSync(join(dist, "agent"), { recursive: true });
mkdirSync(join(dist, "lib"), { recursive: true });
// oxc-parser's JavaScript and its binding must be the same release (napi-rs checks only on request).
const oxcBinding = oxcBindingSource();
if (!oxcBinding) throw new Error("oxc-parser's native binding for this platform is not installed (bun install)");
const versionOf = (packageJson: string) => (JSON.parse(readFileSync(packageJson, "utf8")) as { version: string }).version;
const oxcVersion = versionOf(join(root, "node_modules/oxc-parser/package.json"));
if (versionOf(join(dirname(oxcBinding), "package.json")) !== oxcVersion) throw new Error(`${oxcBinding} is not oxc-parser ${oxcVersion}'s`);
copyFileSync(oxcBinding, join(dist, "lib/oxc-parser.node"));
const files = [
  join(root, "zig-out/lib/libscope.so"),
  join(root, "zig-out/lib/scope.node"),
  join(dist, "lib/oxc-parser.node"),
  ...(await Promise.all(Object.keys(agentEntries).map((name) => bundleAgent(name as keyof typeof agentEntries, join(dist, "agent"))))),
];
// `scope view`'s page (script bundled with its d3 modules, style, HTML), embedded as text (src/view/page-embedded.ts).
mkdirSync(join(dist, "view"), { recursive: true });
const page = await bundlePage();
writeFileSync(join(dist, "view/app.bundle"), page.js);
writeFileSync(join(dist, "view/style.bundle"), page.css);
copyFileSync(join(root, "src/view/page/index.html"), join(dist, "view/index.bundle"));
const hash = createHash("sha256");
for (const file of files) hash.update(readFileSync(file));
const assetHash = hash.digest("hex").slice(0, 16);

// The CLI's own copy of oxc-parser (`scope instrument` on TypeScript) opens the extracted binding.
const compiled = await Bun.build({
  entrypoints: [join(root, "src/cli/main.ts")],
  compile: { outfile: join(dist, "scope") },
  minify: { syntax: true },
  define: { SCOPE_ASSET_HASH: JSON.stringify(assetHash) },
  plugins: [oxcBindingPlugin(join(root, "src/core/assets.ts"))],
});
if (!compiled.success) throw new Error(`compiling dist/scope failed: ${compiled.logs.map(String).join("; ")}`);
console.log(`built dist/scope (assets ${assetHash})`);
