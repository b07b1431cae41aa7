/**
 * The compile step shared by scripts/build.ts (dist/scope for this machine) and
 * scripts/release/release.ts (one `scope` per npm platform package): Bun.build with
 * `compile`, the given native files and agent bundles embedded. src/core/embedded.ts
 * names the files dist/scope embeds; the plugin below replaces its imports with the
 * files given here, so one source serves every platform. The content hash of the
 * embedded files keys the private cache directory they are extracted to.
 */
import type { BunPlugin } from "bun";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AssetName } from "../src/core/assets";
import { oxcBindingPlugin } from "../src/core/oxc-plugin";
import { bundlePage } from "../src/view/page-assets";

const root = join(import.meta.dir, "..");

/** Every embedded file, by the name src/core/embedded.ts exports it under. */
export type EmbeddedFiles = Record<AssetName, string>;

export interface CompileOptions {
  files: EmbeddedFiles;
  outfile: string;
  /** A Bun compile target (`bun-linux-arm64`); this machine's when absent. */
  target?: Bun.Build.CompileTarget;
  /** The Bun runtime to embed into (the target's `bin/bun`); Bun's own when absent. */
  executablePath?: string;
}

/** The asset hash: sha256 over the files in name order, 16 hex digits. */
export function assetHash(files: EmbeddedFiles): string {
  const hash = createHash("sha256");
  for (const name of Object.keys(files).sort() as AssetName[]) hash.update(readFileSync(files[name]));
  return hash.digest("hex").slice(0, 16);
}

/** src/core/embedded.ts with its imports pointed at `files`. */
function embeddedPlugin(files: EmbeddedFiles): BunPlugin {
  return {
    name: "scope-embedded",
    setup(build) {
      build.onLoad({ filter: /[\\/]src[\\/]core[\\/]embedded\.ts$/ }, () => {
        const names = Object.keys(files) as AssetName[];
        const lines = names.map((name) => `import ${name} from ${JSON.stringify(files[name])} with { type: "file" };`);
        lines.push(`export const embedded = { ${names.join(", ")} };`);
        return { loader: "ts", contents: lines.join("\n") };
      });
    },
  };
}

/**
 * `scope view`'s page (script bundled with its d3 modules, style, HTML) into dist/view/,
 * where src/view/page-embedded.ts imports it as text: the same for every platform.
 */
export async function writeViewPage(): Promise<void> {
  const dir = join(root, "dist/view");
  mkdirSync(dir, { recursive: true });
  const page = await bundlePage();
  writeFileSync(join(dir, "app.bundle"), page.js);
  writeFileSync(join(dir, "style.bundle"), page.css);
  copyFileSync(join(root, "src/view/page/index.html"), join(dir, "index.bundle"));
}

/** Compiles src/cli/main.ts into options.outfile (after writeViewPage); returns the asset hash it embeds. */
export async function compileScope(options: CompileOptions): Promise<string> {
  const hash = assetHash(options.files);
  // Nothing of the working directory's loaded at start: not its .env files into process.env
  // (`scope run` hands its environment to the program; src/core/own-environment.ts undoes it
  // as well), nor its bunfig.toml (a project's `preload` ran inside scope, printing on the
  // traced program's stdout).
  const compile: NonNullable<Bun.BuildConfig["compile"]> = { outfile: options.outfile, autoloadDotenv: false, autoloadBunfig: false };
  if (options.target) compile.target = options.target;
  if (options.executablePath) compile.executablePath = options.executablePath;
  // The CLI's own copy of oxc-parser (`scope instrument` on TypeScript) opens the extracted binding.
  const compiled = await Bun.build({
    entrypoints: [join(root, "src/cli/main.ts")],
    compile,
    minify: { syntax: true },
    define: { SCOPE_ASSET_HASH: JSON.stringify(hash) },
    plugins: [embeddedPlugin(options.files), oxcBindingPlugin(join(root, "src/core/assets.ts"))],
  });
  if (!compiled.success) throw new Error(`compiling ${options.outfile} failed: ${compiled.logs.map(String).join("; ")}`);
  return hash;
}
