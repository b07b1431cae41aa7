/**
 * Function tracing never breaks the program's own toolchain: no file scope ships carries
 * a line that tools read as a source-map comment, input maps are found and chained
 * however they are named and however long they are.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentEntries, bundleAgent } from "../src/core/assets";
import { instrument } from "../src/instrument/instrument";
import type { SourceMapV3 } from "../src/instrument/print";
import { SourceMapConsumerLite } from "./instrument-sourcemap";

/** source-map-support 0.5.21's reading of a file's map comment: the last match wins. */
const SOURCE_MAP_SUPPORT = /(?:\/\/[@#][\s]*sourceMappingURL=([^\s'"]+)[\s]*$)|(?:\/\*[@#][\s]*sourceMappingURL=([^\s*'"]+)[\s]*(?:\*\/)[\s]*$)/gm;
/** Node 20's (lib/internal/source_map/source_map_cache.js): anywhere, the last match wins. */
const NODE = /\/[*/]#\s+sourceMappingURL=(?<sourceMappingURL>[^\s]+)/g;

function mapComments(text: string): string[] {
  return [...text.matchAll(SOURCE_MAP_SUPPORT), ...text.matchAll(NODE)].map((match) => match[0]);
}

const config = { level: "calls" as const };
const base64 = (map: object) => Buffer.from(JSON.stringify(map)).toString("base64");

describe("what scope ships and writes", () => {
  test("no agent file carries a line tools take for a source-map comment", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scope-toolchain-agents-"));
    const names = Object.keys(agentEntries) as (keyof typeof agentEntries)[];
    const files = await Promise.all(names.map((name) => bundleAgent(name, dir)));
    const found = Object.fromEntries(files.map((file, i) => [names[i], mapComments(readFileSync(file, "utf8"))]));
    expect(found).toEqual(Object.fromEntries(names.map((name) => [name, []])));
    // The functions agent does contain print(): the comment is assembled at run time.
    expect(readFileSync(files[names.indexOf("functionsAgent")]!, "utf8")).toContain("sourceMappingURL=");
  });

  test("an instrumented file has one map comment, its last line, and it decodes", () => {
    const result = instrument("function a() { return 1 }\nconst s = '//# sourceMappingURL=not-this.js.map';\n", "/src/a.js", { config });
    if (result.status !== "instrumented") throw new Error(result.status);
    const comments = [...result.code.matchAll(SOURCE_MAP_SUPPORT)];
    expect(comments.length).toBe(1);
    const at = comments[0]!.index!;
    expect(result.code[at - 1]).toBe("\n");
    expect(result.code.slice(at).trimEnd()).toBe(comments[0]![0].trimEnd());
    const url = comments[0]![1]!;
    expect(JSON.parse(Buffer.from(url.slice(url.indexOf(",") + 1), "base64").toString()).sources).toEqual(["/src/a.js"]);
  });
});

describe("input maps", () => {
  // Babel (6 and 7) names the original after the compiled file itself: the same name, resolved.
  test("a map whose source is the file itself is the original: chained once, no recursion", () => {
    const original = "const double = (x) => x * 2;\n";
    const compiled = '"use strict";\n\nvar double = function double(x) {\n  return x * 2;\n};\n';
    const map: SourceMapV3 = { version: 3, sources: ["a.js"], names: [], mappings: ";;AAAA,IAAMA,MAAM,GAAG,SAATA,MAAM,CAAIC,CAAC;EAAA,OAAKA,CAAC,GAAG,CAAC;AAAA", sourcesContent: [original] };
    const code = `${compiled}//# sourceMappingURL=data:application/json;charset=utf-8;base64,${base64(map)}\n`;
    const result = instrument(code, "/src/a.js", { config });
    if (result.status !== "instrumented") throw new Error(`${result.status}: ${"reason" in result ? result.reason : ""}`);
    expect(result.map!.sources).toEqual(["/src/a.js"]);
    expect(result.map!.sourcesContent).toEqual([original]);
    // `x * 2` in the compiled return: the original's `x` at line 1, column 22.
    const at = result.code.indexOf("x * 2");
    expect(new SourceMapConsumerLite(result.map!).originalFor(result.code, at)).toEqual({ line: 1, column: 22 });
  });

  test("an inline map comment far from the end (a long map) is found, and only a trailing comment counts", () => {
    const long: SourceMapV3 = { version: 3, sources: ["long.ts"], names: [], mappings: "AAAA;AACA", sourcesContent: ["x".repeat(20_000)] };
    const code = `function a() { return 1 }\nfunction b() { return 2 }\n//# sourceMappingURL=data:application/json;base64,${base64(long)}\n\n`;
    const result = instrument(code, "/src/long.js", { config });
    if (result.status !== "instrumented") throw new Error(result.status);
    expect(result.map!.sources).toEqual(["/src/long.ts"]);
    expect(result.code).not.toContain(base64(long));
    // A comment that is not last (code follows it) names no map: nothing chained, nothing removed.
    const notLast = `//# sourceMappingURL=data:application/json;base64,${base64(long)}\nfunction c() { return 3 }\n`;
    const plain = instrument(notLast, "/src/c.js", { config });
    if (plain.status !== "instrumented") throw new Error(plain.status);
    expect(plain.map!.sources).toEqual(["/src/c.js"]);
    expect(plain.code.startsWith(notLast.slice(0, notLast.indexOf("\n")))).toBe(true);
  });

  test("an external map elsewhere: its sources are relative to the map, not to the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "scope-toolchain-maps-"));
    mkdirSync(join(dir, "dist"));
    mkdirSync(join(dir, "maps"));
    const map: SourceMapV3 = { version: 3, sources: ["../src/a.ts"], names: [], mappings: "AAAA;AACA" };
    writeFileSync(join(dir, "maps/a.js.map"), JSON.stringify(map));
    const code = "function a() { return 1 }\nfunction b() { return 2 }\n//# sourceMappingURL=../maps/a.js.map\n";
    const file = join(dir, "dist/a.js");
    const readFile = (url: string) => readFileSync(join(dir, "dist", url), "utf8");
    const result = instrument(code, file, { config, readFile });
    if (result.status !== "instrumented") throw new Error(result.status);
    expect(result.map!.sources).toEqual([join(dir, "src/a.ts")]);
    // As an ES module the names are file: URLs.
    const url = `file://${file}`;
    const module = instrument(code, file, { config, readFile, module: true, sourceName: url });
    if (module.status !== "instrumented") throw new Error(module.status);
    expect(module.map!.sources).toEqual([`file://${join(dir, "src/a.ts")}`]);
  });
});
