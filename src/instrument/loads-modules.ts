/**
 * Whether a CommonJS source could make Node load an ES module (node-hooks.ts registers
 * the ESM hooks, and so starts Node's hooks thread, only before such a source runs).
 * An ES module reaches Node 20's loader from CommonJS through `import()` (syntax: the
 * word `import` then `(`), through code a source evaluates (eval, the Function
 * constructor, vm with `importModuleDynamically`) or through `Module.runMain`. The check
 * is over the text, so it errs towards yes: `import(` in a string or comment counts
 * unless the parser said the code has no import() (`parsed`), and any evaluator counts.
 */
import { lineEndFrom } from "./line-ends";

export function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 36 || c === 95 || c > 127;
}

export function isQuote(c: number): boolean {
  return c === 34 || c === 39 || c === 96;
}

/** The first index at or after `from` that is not whitespace or a comment. */
export function skipBlank(text: string, from: number): number {
  let at = from;
  while (at < text.length) {
    const c = text.charCodeAt(at);
    if (c === 32 || c === 9 || c === 10 || c === 13) at++;
    else if (c === 47 && text.charCodeAt(at + 1) === 42) {
      const end = text.indexOf("*/", at + 2);
      if (end < 0) return text.length;
      at = end + 2;
    } else if (c === 47 && text.charCodeAt(at + 1) === 47) {
      // To the line end: a lone \r, U+2028 or U+2029 ends a line comment too.
      const end = lineEndFrom(text, at + 2);
      if (end >= text.length) return text.length;
      at = end + 1;
    } else break;
  }
  return at;
}

/**
 * The indexes of `word` in `text` in order, found by searching for `key`, a part of it at
 * `keyAt`: V8 finds a needle by scanning for its first character, so a needle that starts
 * with a rare character ("Main" of "runMain") is found several times faster than one that
 * starts with a common one ("r"), above all in a two-byte string (a source with any
 * character past Latin-1).
 */
function* occurrences(text: string, word: string, key: string, keyAt: number): Generator<number> {
  for (let found = text.indexOf(key, keyAt); found >= 0; found = text.indexOf(key, found + 1)) {
    if (key === word || text.startsWith(word, found - keyAt)) yield found - keyAt;
  }
}

/** Some occurrence of `word` as a whole word for which `accept(index after it)` holds. */
function someWord(text: string, word: string, accept: (before: number, after: number) => boolean, key = word, keyAt = 0): boolean {
  for (const at of occurrences(text, word, key, keyAt)) {
    const before = at === 0 ? 32 : text.charCodeAt(at - 1);
    const end = at + word.length;
    if (isWordChar(before) || (end < text.length && isWordChar(text.charCodeAt(end)))) continue;
    if (accept(before, end)) return true;
  }
  return false;
}

/** `import(` (comments and blanks allowed between), not `.import(` (a method). */
export function hasImportCallText(text: string): boolean {
  return someWord(text, "import", (before, after) => before !== 46 && text.charCodeAt(skipBlank(text, after)) === 40);
}

/**
 * Evaluates code or runs an entry point: `eval` as a word not quoted ("eval" in a string
 * is a name), `Function(` / `Function.apply|call|bind`, vm's `importModuleDynamically`
 * or USE_MAIN_CONTEXT_DEFAULT_LOADER, `runMain`.
 */
export function hasEvaluatorText(text: string): boolean {
  // Each needle is searched for by a part that starts with a rare character (occurrences).
  if (!occurrences(text, "importModuleDynamically", "Dynam", 12).next().done || !occurrences(text, "USE_MAIN_CONTEXT_DEFAULT_LOADER", "USE_M", 0).next().done) return true;
  if (someWord(text, "eval", (before, after) => !isQuote(before) && !isQuote(text.charCodeAt(after)), "val", 1)) return true;
  if (someWord(text, "runMain", () => true, "Main", 3)) return true;
  return someWord(
    text,
    "Function",
    (_before, after) => {
      const next = skipBlank(text, after);
      const c = text.charCodeAt(next);
      return c === 40 || (c === 46 && /^\.\s*(apply|call|bind)\b/.test(text.slice(next, next + 16)));
    },
    "Funct",
    0,
  );
}

/**
 * `parsed`: the parser's word on import() and direct eval in this code, when it parsed it;
 * `evaluator`: hasEvaluatorText(text), when the caller scanned for it already.
 */
export function mayLoadModules(text: string, parsed?: boolean, evaluator?: boolean): boolean {
  if (parsed === true) return true;
  if (parsed === undefined && hasImportCallText(text)) return true;
  return evaluator ?? hasEvaluatorText(text);
}
