/**
 * Ahead of time: `scope instrument <dir|file> --out <dir>` (the CLI command class calls
 * `instrumentPath`). JavaScript and TypeScript files are written instrumented, with an
 * inline source map; every other file is copied, so the output tree runs as the input
 * did. `node_modules` is skipped unless the config may select files in it (an include glob
 * naming it or a package, `packages`).
 */
import { copyFileSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { instrument, warningLine } from "./instrument";
import { Matcher, type MatchConfig } from "./match";
import { languageOf } from "./parse";
import { siblingReader } from "./node-hooks";

export interface AotSummary {
  instrumented: number;
  unchanged: number;
  copied: number;
  failed: { file: string; reason: string }[];
  functions: number;
  bytes: number;
}

export function instrumentPath(input: string, outDir: string, config: MatchConfig = {}, warn: (line: string) => void = () => {}): AotSummary {
  const source = resolve(input);
  const isDirectory = statSync(source).isDirectory();
  const base = isDirectory ? source : dirname(source);
  const matcher = new Matcher({ ...config, root: config.root ?? base });
  const summary: AotSummary = { instrumented: 0, unchanged: 0, copied: 0, failed: [], functions: 0, bytes: 0 };
  const out = resolve(outDir);
  const files = isDirectory ? listFiles(source, out, matcher) : [source];
  for (const file of files) {
    const target = join(out, relative(base, file));
    mkdirSync(dirname(target), { recursive: true });
    if (!languageOf(file) || file.endsWith(".d.ts")) {
      copyFileSync(file, target);
      summary.copied++;
      continue;
    }
    const code = readFileSync(file, "utf8");
    summary.bytes += code.length;
    const result = instrument(code, file, { matcher, readFile: siblingReader(file) });
    writeFileSync(target, result.code);
    if (result.status === "instrumented") {
      summary.instrumented++;
      summary.functions += result.functions.length;
    } else if (result.status === "failed") {
      summary.failed.push({ file, reason: result.reason });
      warn(warningLine(file, result.reason, "copied"));
    } else summary.unchanged++;
  }
  return summary;
}

function listFiles(dir: string, out: string, matcher: Matcher): string[] {
  const files: string[] = [];
  const visit = (current: string) => {
    if (current === out) return; // output inside input
    for (const name of readdirSync(current)) {
      const path = join(current, name);
      const stat = statSync(path);
      if (stat.isDirectory()) {
        if (name === "node_modules" && !matcher.selectsNodeModules) continue;
        if (name === ".git") continue;
        visit(path);
      } else if (stat.isFile()) files.push(path);
    }
  };
  visit(dir);
  return files.sort();
}
