/** The npm files scripts/check-raw-walk.ts and check-instrument-trees.ts instrument. */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../src/bench/instrument";

/** Up to `limit` .js/.cjs/.mjs files of node_modules: per package the largest (2 KB–4 MB), in path order. */
export function npmFiles(limit: number): string[] {
  const found: { file: string; size: number }[] = [];
  const visit = (dir: string, depth: number) => {
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of entries) {
      const path = join(dir, name);
      let stat;
      try {
        stat = statSync(path);
      } catch {
        continue;
      }
      if (stat.isDirectory()) {
        if (depth < 6 && name !== ".bin" && name !== "test" && name !== "tests") visit(path, depth + 1);
      } else if (/\.(c|m)?js$/.test(name) && stat.size > 2000 && stat.size < 4_000_000) found.push({ file: path, size: stat.size });
    }
  };
  visit(join(repoRoot, "node_modules"), 0);
  // One file per package directory, the largest, so many packages are seen.
  const byPackage = new Map<string, { file: string; size: number }>();
  for (const entry of found) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(entry.file.slice(entry.file.lastIndexOf("node_modules/")));
    const key = match?.[1] ?? entry.file;
    const seen = byPackage.get(key);
    if (!seen || entry.size > seen.size) byPackage.set(key, entry);
  }
  return [...byPackage.values()].sort((a, b) => a.file.localeCompare(b.file)).slice(0, limit).map((e) => e.file);
}

