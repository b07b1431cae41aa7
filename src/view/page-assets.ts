/**
 * The page's files. Compiled, they are strings embedded in the executable (scripts/build.ts
 * bundles the script with Bun.build into dist/view/, page-embedded.ts imports them as
 * text); from source the script is bundled here, in memory, on first use.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isCompiled } from "../core/assets";

export interface PageAssets {
  html: string;
  js: string;
  css: string;
}

const pageDir = join(import.meta.dir, "page");

/** Bundles the page script (scripts/build.ts writes the same to dist/view/app.bundle). */
export async function bundlePage(): Promise<{ js: string; css: string }> {
  const result = await Bun.build({ entrypoints: [join(pageDir, "app.ts")], target: "browser", format: "esm", minify: true });
  if (!result.success) throw new Error(`bundling the view page failed: ${result.logs.map(String).join("; ")}`);
  const js = await result.outputs.find((output) => output.kind === "entry-point")!.text();
  return { js, css: readFileSync(join(pageDir, "style.css"), "utf8") };
}

let cached: PageAssets | undefined;

export async function pageAssets(): Promise<PageAssets> {
  if (cached) return cached;
  if (isCompiled) {
    const { embeddedPage } = require("./page-embedded") as typeof import("./page-embedded");
    cached = embeddedPage;
  } else {
    const { js, css } = await bundlePage();
    cached = { html: readFileSync(join(pageDir, "index.html"), "utf8"), js, css };
  }
  return cached;
}
