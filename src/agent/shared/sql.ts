/**
 * Query text as recorded: every literal value replaced by `?`, so a trace never holds the
 * values a program put into its SQL (passwords, emails) and equal queries have equal text.
 * A small tokenizer for PostgreSQL's and SQLite's lexical rules, not a parser:
 *
 * - strings `'it''s'`, with a prefix E'\n' (backslash escapes), B'', X'', N'', U&'': `?`
 * - dollar quoting `$$...$$`, `$tag$...$tag$`: `?` (`$1` stays: a parameter)
 * - numbers `42`, `3.14`, `.5`, `1e-3`, `0x1F`, `1_000`: `?` (not digits inside names: `t1`)
 * - comments `-- ...` and `/* ... *\/` (nested, as PostgreSQL nests them): removed, since
 *   they can hold values too
 * - kept as written: keywords, names, `"quoted names"`, `` `names` ``, `[names]` (SQLite)
 *   operators, parameters (`$1`, `?`, `?1`, `:name`, `@name`, `$name`), casts (`::date`)
 * - runs of whitespace become one space; leading and trailing whitespace is dropped
 *
 * The MySQL dialect (`normalizeSql(text, SqlDialect.mysql)`, MySQL and MariaDB) differs where
 * a literal could otherwise reach the trace:
 *
 * - every string takes backslash escapes (`'it\'s'`), as MySQL's default sql_mode reads them
 *   (under NO_BACKSLASH_ESCAPES a string ending in `\` takes more text into the `?`: never less)
 * - `"..."` is a string (`?`), not a name (ANSI_QUOTES mode's quoted names are scrubbed too)
 * - `#` starts a comment to the end of the line, as `-- ` does
 * - block comments do not nest (MySQL ends one at the first `*\/`)
 * - a version comment `/*!50110 ... *\/` (or MariaDB's `/*M!100100 ... *\/`) is code the server
 *   runs: its marker and closing are dropped and its contents scrubbed like the rest
 * - `0x1F`, `0b101`, `x'1F'`, `b'101'`, `N'..'`, `_utf8mb4'..'` literals: `?`; `` `names` ``, `?`, `@var` kept
 *
 * Bounded: at most `MAX_SCANNED_CHARS` of the input are read and at most `MAX_QUERY_CHARS`
 * written; anything past that is cut (a literal the cut falls inside is still a `?`).
 */

export const MAX_QUERY_CHARS = 1024;
export const MAX_SCANNED_CHARS = 64 * 1024;

/** Lexical rules: PostgreSQL's and SQLite's (standard), or MySQL's and MariaDB's. */
export const SqlDialect = { standard: 0, mysql: 1 } as const;

export interface NormalizedSql {
  text: string;
  /** The input was longer than what was read or written. */
  cut: boolean;
}

const SPACE = 1;
const NAME_START = 2;
const NAME_PART = 4;
const DIGIT = 8;
const classes = new Uint8Array(128);
// Built when the agent loads (every traced process): plain comparisons, no regular expressions.
for (let c = 0; c < 128; c++) {
  if (c === 32 || (c >= 9 && c <= 13)) classes[c] = SPACE;
  else if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95) classes[c] = NAME_START | NAME_PART;
  else if (c >= 48 && c <= 57) classes[c] = DIGIT | NAME_PART;
}
classes[36] = classes[36]! | NAME_PART; // `$` continues a name in PostgreSQL (a$b)

function isClass(code: number, mask: number): boolean {
  // Non-ASCII letters start and continue names (PostgreSQL and SQLite both allow them).
  return code < 128 ? (classes[code]! & mask) !== 0 : (mask & (NAME_START | NAME_PART)) !== 0;
}

/** The end (exclusive) of a single-quoted string starting at `open` (the quote). */
function stringEnd(text: string, open: number, end: number, backslashes: boolean): number {
  let i = open + 1;
  while (i < end) {
    const code = text.charCodeAt(i);
    if (backslashes && code === 92 /* \ */) {
      i += 2;
      continue;
    }
    if (code === 39 /* ' */) {
      if (text.charCodeAt(i + 1) === 39) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return end;
}

/** The end of a quoted name starting at `open` with `close` as its closing character (doubled to escape). */
function quotedEnd(text: string, open: number, end: number, close: number): number {
  let i = open + 1;
  while (i < end) {
    if (text.charCodeAt(i) === close) {
      if (close !== 93 && text.charCodeAt(i + 1) === close) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return end;
}

/** `$tag$` at `at`: the tag's length including both `$`, or 0 when this is no dollar quote. */
function dollarTag(text: string, at: number, end: number): number {
  let i = at + 1;
  if (i < end && text.charCodeAt(i) === 36) return 2;
  if (i >= end || !isClass(text.charCodeAt(i), NAME_START)) return 0;
  i++;
  while (i < end) {
    const code = text.charCodeAt(i);
    if (code === 36) return i - at + 1;
    if (!isClass(code, NAME_PART)) return 0;
    i++;
  }
  return 0;
}

/** The end of a number starting at `at` (a digit, or `.` followed by a digit). */
function numberEnd(text: string, at: number, end: number): number {
  let i = at;
  if (text.charCodeAt(i) === 48 && (text.charCodeAt(i + 1) | 32) === 120 /* 0x */) {
    i += 2;
    while (i < end && /[0-9A-Fa-f_]/.test(text[i]!)) i++;
    return i;
  }
  const digits = () => {
    while (i < end) {
      const code = text.charCodeAt(i);
      if ((code >= 48 && code <= 57) || code === 95) i++;
      else break;
    }
  };
  digits();
  if (text.charCodeAt(i) === 46 /* . */ && text.charCodeAt(i + 1) !== 46) {
    i++;
    digits();
  }
  if ((text.charCodeAt(i) | 32) === 101 /* e */) {
    let j = i + 1;
    const sign = text.charCodeAt(j);
    if (sign === 43 || sign === 45) j++;
    const first = text.charCodeAt(j);
    if (first >= 48 && first <= 57) {
      i = j;
      digits();
    }
  }
  return i;
}

/** The end of a MySQL string opened by `quote` (' or ") at `open`: backslash escapes, the quote doubled. */
function mysqlStringEnd(text: string, open: number, end: number, quote: number): number {
  let i = open + 1;
  while (i < end) {
    const code = text.charCodeAt(i);
    if (code === 92 /* \ */) {
      i += 2;
      continue;
    }
    if (code === quote) {
      if (text.charCodeAt(i + 1) === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return end;
}

/**
 * A MySQL block comment at `open` (`/*`): the index past its `*\/` (they do not nest), or for a
 * version comment (`/*!`, `/*!50110`, `/*M!100100`) minus the index past its marker.
 */
function mysqlCommentEnd(text: string, open: number, end: number): number {
  let i = open + 2;
  if (text.charCodeAt(i) === 77 /* M */ && text.charCodeAt(i + 1) === 33) i++;
  if (text.charCodeAt(i) === 33 /* ! */) {
    i++;
    while (i < end && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    return -i;
  }
  const close = text.indexOf("*/", i);
  return close < 0 || close + 2 > end ? end : close + 2;
}

/** --no-redact: the text as written, only bounded (MAX_QUERY_CHARS). */
export function keepSql(input: string): NormalizedSql {
  return input.length <= MAX_QUERY_CHARS ? { text: input, cut: false } : { text: input.slice(0, MAX_QUERY_CHARS), cut: true };
}

export function normalizeSql(input: string, dialect: number = SqlDialect.standard): NormalizedSql {
  // MySQL's rules in a loop of their own: the standard loop stays as it was, token for token
  // (the dialect's tests inside it cost it ~4 % more instructions: BENCHMARKS.md "mysql2").
  if (dialect === SqlDialect.mysql) return normalizeMySql(input);
  const end = Math.min(input.length, MAX_SCANNED_CHARS);
  let out = "";
  let cut = input.length > end;
  let pendingSpace = false;
  const emit = (piece: string) => {
    if (pendingSpace && out.length > 0) out += " ";
    pendingSpace = false;
    out += piece;
  };
  let i = 0;
  while (i < end) {
    if (out.length >= MAX_QUERY_CHARS) {
      cut = true;
      break;
    }
    const code = input.charCodeAt(i);
    const previous = i > 0 ? input.charCodeAt(i - 1) : 32;
    // Whitespace.
    if (code < 128 && (classes[code]! & SPACE) !== 0) {
      pendingSpace = true;
      i++;
      continue;
    }
    // Comments.
    if (code === 45 && input.charCodeAt(i + 1) === 45) {
      const newline = input.indexOf("\n", i + 2);
      i = newline < 0 || newline > end ? end : newline;
      pendingSpace = true;
      continue;
    }
    if (code === 47 && input.charCodeAt(i + 1) === 42) {
      let depth = 1;
      let j = i + 2;
      while (j < end && depth > 0) {
        const c = input.charCodeAt(j);
        if (c === 47 && input.charCodeAt(j + 1) === 42) {
          depth++;
          j += 2;
        } else if (c === 42 && input.charCodeAt(j + 1) === 47) {
          depth--;
          j += 2;
        } else j++;
      }
      i = j;
      pendingSpace = true;
      continue;
    }
    // Strings, with or without a prefix letter (E'', B'', X'', N'', U&'').
    if (code === 39) {
      i = stringEnd(input, i, end, false);
      emit("?");
      continue;
    }
    const startsName = isClass(code, NAME_START) && !isClass(previous, NAME_PART);
    if (startsName) {
      const lower = code | 32;
      if (input.charCodeAt(i + 1) === 39 && (lower === 101 || lower === 98 || lower === 120 || lower === 110)) {
        i = stringEnd(input, i + 1, end, lower === 101);
        emit("?");
        continue;
      }
      if (lower === 117 && input.charCodeAt(i + 1) === 38 && input.charCodeAt(i + 2) === 39) {
        i = stringEnd(input, i + 2, end, false);
        emit("?");
        continue;
      }
      let j = i + 1;
      while (j < end && isClass(input.charCodeAt(j), NAME_PART)) j++;
      emit(input.slice(i, j));
      i = j;
      continue;
    }
    // Quoted names: kept.
    if (code === 34 || code === 96 || (code === 91 && !isClass(previous, NAME_PART) && previous !== 93 && previous !== 41)) {
      const close = code === 91 ? 93 : code;
      const j = quotedEnd(input, i, end, close);
      emit(input.slice(i, j));
      i = j;
      continue;
    }
    // Dollar quotes ($$, $tag$) versus parameters ($1, $name).
    if (code === 36 && !isClass(previous, NAME_PART)) {
      const tag = dollarTag(input, i, end);
      if (tag > 0) {
        const close = input.indexOf(input.slice(i, i + tag), i + tag);
        i = close < 0 || close + tag > end ? end : close + tag;
        emit("?");
        continue;
      }
      let j = i + 1;
      while (j < end && isClass(input.charCodeAt(j), NAME_PART) && input.charCodeAt(j) !== 36) j++;
      emit(input.slice(i, j));
      i = j;
      continue;
    }
    // Parameters ?1, :name, @name: kept whole (not `::` casts) so their digits are not taken for numbers.
    const following = input.charCodeAt(i + 1);
    const parameter = code === 63 ? following >= 48 && following <= 57 : (code === 58 || code === 64) && previous !== 58 && isClass(following, NAME_START);
    if (parameter && i + 1 < end) {
      let j = i + 1;
      while (j < end && isClass(input.charCodeAt(j), NAME_PART) && input.charCodeAt(j) !== 36) j++;
      emit(input.slice(i, j));
      i = j;
      continue;
    }
    // Numbers.
    if ((code >= 48 && code <= 57) || (code === 46 && following >= 48 && following <= 57 && !isClass(previous, NAME_PART))) {
      i = numberEnd(input, i, end);
      // A name glued to a number (1abc) stays one token in SQLite; PostgreSQL rejects it.
      while (i < end && isClass(input.charCodeAt(i), NAME_PART)) i++;
      emit("?");
      continue;
    }
    // Anything else: operators and punctuation, as a run up to the next character that
    // can start something else (one slice, not a string per character).
    let j = i + 1;
    while (j < end) {
      const c = input.charCodeAt(j);
      if (c >= 128 || classes[c] !== 0 || c === 39 || c === 34 || c === 96 || c === 91 || c === 36 || c === 63 || c === 58 || c === 64 || c === 45 || c === 47 || c === 46) break;
      j++;
    }
    emit(j === i + 1 ? input[i]! : input.slice(i, j));
    i = j;
  }
  if (out.length > MAX_QUERY_CHARS) {
    out = out.slice(0, MAX_QUERY_CHARS);
    cut = true;
  }
  return { text: out, cut };
}

/**
 * normalizeSql's loop by MySQL's and MariaDB's rules (see the top of this file): the standard
 * loop's structure, without PostgreSQL's dollar quotes and SQLite's [names], with MySQL's
 * strings, comments and version comments.
 */
function normalizeMySql(input: string): NormalizedSql {
  const end = Math.min(input.length, MAX_SCANNED_CHARS);
  let out = "";
  let cut = input.length > end;
  let pendingSpace = false;
  // Inside a version comment (`/*!...`): its closing `*\/` is dropped.
  let versionComment = false;
  const emit = (piece: string) => {
    if (pendingSpace && out.length > 0) out += " ";
    pendingSpace = false;
    out += piece;
  };
  let i = 0;
  while (i < end) {
    if (out.length >= MAX_QUERY_CHARS) {
      cut = true;
      break;
    }
    const code = input.charCodeAt(i);
    const previous = i > 0 ? input.charCodeAt(i - 1) : 32;
    if (code < 128 && (classes[code]! & SPACE) !== 0) {
      pendingSpace = true;
      i++;
      continue;
    }
    // Comments: `-- `, `#`, `/* */` (not nested); a version comment's contents are code.
    if ((code === 45 && input.charCodeAt(i + 1) === 45) || code === 35) {
      const newline = input.indexOf("\n", i + 1);
      i = newline < 0 || newline > end ? end : newline;
      pendingSpace = true;
      continue;
    }
    if (code === 47 && input.charCodeAt(i + 1) === 42) {
      i = mysqlCommentEnd(input, i, end);
      if (i < 0) {
        i = -i;
        versionComment = true;
      }
      pendingSpace = true;
      continue;
    }
    if (versionComment && code === 42 && input.charCodeAt(i + 1) === 47) {
      versionComment = false;
      i += 2;
      pendingSpace = true;
      continue;
    }
    // Strings: '...' and "...", with backslash escapes.
    if (code === 39 || code === 34) {
      i = mysqlStringEnd(input, i, end, code);
      emit("?");
      continue;
    }
    if (isClass(code, NAME_START) && !isClass(previous, NAME_PART)) {
      const lower = code | 32;
      // x'1F', b'101', N'text' (a charset introducer, _utf8mb4'..', is a name before a string).
      if (input.charCodeAt(i + 1) === 39 && (lower === 98 || lower === 120 || lower === 110)) {
        i = mysqlStringEnd(input, i + 1, end, 39);
        emit("?");
        continue;
      }
      let j = i + 1;
      while (j < end && isClass(input.charCodeAt(j), NAME_PART)) j++;
      emit(input.slice(i, j));
      i = j;
      continue;
    }
    // Quoted names: kept.
    if (code === 96) {
      const j = quotedEnd(input, i, end, 96);
      emit(input.slice(i, j));
      i = j;
      continue;
    }
    // Parameters ?1, :name, @name, @@name: kept whole so their digits are not taken for numbers.
    const following = input.charCodeAt(i + 1);
    const parameter = code === 63 ? following >= 48 && following <= 57 : (code === 58 || code === 64) && previous !== 58 && isClass(following, NAME_START);
    if (parameter && i + 1 < end) {
      let j = i + 1;
      while (j < end && isClass(input.charCodeAt(j), NAME_PART)) j++;
      emit(input.slice(i, j));
      i = j;
      continue;
    }
    // Numbers (0x1F, 0b101 and 1e5 included).
    if ((code >= 48 && code <= 57) || (code === 46 && following >= 48 && following <= 57 && !isClass(previous, NAME_PART))) {
      i = numberEnd(input, i, end);
      while (i < end && isClass(input.charCodeAt(i), NAME_PART)) i++;
      emit("?");
      continue;
    }
    // Operators and punctuation, as a run up to the next character that can start something else.
    let j = i + 1;
    while (j < end) {
      const c = input.charCodeAt(j);
      if (c >= 128 || classes[c] !== 0 || c === 39 || c === 34 || c === 96 || c === 35 || c === 42 || c === 63 || c === 58 || c === 64 || c === 45 || c === 47 || c === 46) break;
      j++;
    }
    emit(j === i + 1 ? input[i]! : input.slice(i, j));
    i = j;
  }
  if (out.length > MAX_QUERY_CHARS) {
    out = out.slice(0, MAX_QUERY_CHARS);
    cut = true;
  }
  return { text: out, cut };
}
