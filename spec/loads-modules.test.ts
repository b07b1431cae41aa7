/**
 * hasEvaluatorText (loads-modules.ts) finds each needle by a part of it that starts with a
 * rare character; its answer must be the plain scan's (each whole needle by indexOf) on
 * every source: the reference below is that plain scan, as loads-modules.ts had it.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
// The word and blank tests are shared (unchanged by the rare-letter search); the reference is the plain scan built on them.
import { hasEvaluatorText, isQuote, isWordChar, skipBlank } from "../src/instrument/loads-modules";

function someWord(text: string, word: string, accept: (before: number, after: number) => boolean): boolean {
  for (let at = text.indexOf(word); at >= 0; at = text.indexOf(word, at + 1)) {
    const before = at === 0 ? 32 : text.charCodeAt(at - 1);
    const end = at + word.length;
    if (isWordChar(before) || (end < text.length && isWordChar(text.charCodeAt(end)))) continue;
    if (accept(before, end)) return true;
  }
  return false;
}
function reference(text: string): boolean {
  if (text.includes("importModuleDynamically") || text.includes("USE_MAIN_CONTEXT_DEFAULT_LOADER")) return true;
  if (someWord(text, "eval", (before, after) => !isQuote(before) && !isQuote(text.charCodeAt(after)))) return true;
  if (someWord(text, "runMain", () => true)) return true;
  return someWord(text, "Function", (_before, after) => {
    const next = skipBlank(text, after);
    const c = text.charCodeAt(next);
    return c === 40 || (c === 46 && /^\.\s*(apply|call|bind)\b/.test(text.slice(next, next + 16)));
  });
}

test("crafted sources: the needles at the edges, as parts of words, quoted, and in two-byte text", () => {
  const cases: [string, boolean][] = [
    ["", false],
    ["eval", true],
    ["eval(x)", true],
    ["x = eval", true],
    ["val", false],
    ["xval eval_ $eval evalé éeval", false],
    ["'eval' \"eval\" `eval`", false],
    ["eval'", false],
    ["é; eval(s)", true],
    ["runMain", true],
    ["Main", false],
    ["unMain Main runMainx", false],
    ["Module.runMain()", true],
    ["é Module.runMain", true],
    ["Function", false],
    ["Function(", true],
    ["Funct(", false],
    ["Functions(", false],
    ["new Function /* c */ ('a')", true],
    ["Function\n  .call(null)", true],
    ["Function.prototype", false],
    ["Function.bindx", false],
    ["é Function.apply", true],
    ["importModuleDynamically", true],
    ["moduleDynamically Dynamically importModuleDynamicall", false],
    ["xé{importModuleDynamically:", true],
    ["USE_MAIN_CONTEXT_DEFAULT_LOADER", true],
    ["USE_MAIN_CONTEXT_DEFAULT_LOADE USE_M", false],
    ["é USE_MAIN_CONTEXT_DEFAULT_LOADER", true],
  ];
  for (const [text, expected] of cases) {
    expect({ text, answer: reference(text) }).toEqual({ text, answer: expected });
    expect({ text, answer: hasEvaluatorText(text) }).toEqual({ text, answer: expected });
  }
});

test("random texts made of the needles' parts: the same answer as the plain scan", () => {
  const parts = ["e", "v", "al", "eval", "run", "Main", "M", "Funct", "ion", "Function", "(", ".", "call", " ", "'", "x", "é", "$", "/*", "*/", "import", "Module", "Dynam", "ically", "USE_M", "AIN_CONTEXT_DEFAULT_LOADER", "\n"];
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) % parts.length;
  let yes = 0;
  for (let i = 0; i < 20000; i++) {
    let text = "";
    for (let n = 1 + (i % 12); n > 0; n--) text += parts[next()];
    const answer = reference(text);
    if (answer) yes++;
    expect({ text, answer: hasEvaluatorText(text) }).toEqual({ text, answer });
  }
  expect(yes).toBeGreaterThan(100);
  expect(yes).toBeLessThan(19900);
});

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    let stat;
    try {
      stat = statSync(path);
    } catch {
      continue;
    }
    if (stat.isDirectory()) yield* sources(path);
    else if (/\.[cm]?js$/.test(name)) yield path;
  }
}

test("every .js, .cjs and .mjs file of node_modules: the same answer as the plain scan", () => {
  let files = 0;
  let yes = 0;
  for (const path of sources(join(import.meta.dir, "..", "node_modules"))) {
    const text = readFileSync(path, "utf8");
    const answer = reference(text);
    files++;
    if (answer) yes++;
    expect({ path, answer: hasEvaluatorText(text) }).toEqual({ path, answer });
  }
  expect(files).toBeGreaterThan(1000);
  expect(yes).toBeGreaterThan(10);
});
