/**
 * What the agents never record as it is (SCOPE_REDACT, JSON of RedactionSettings, from
 * `scope run --redact-keys / --redact-pattern / --no-redact`), read once per process or
 * thread when its agent loads:
 *
 * - secret-looking keys: a value under such a key (an object field in a preview, a query
 *   parameter in a URL) is recorded as "[redacted]": the defaults (password, token, secret,
 *   key, authorization, cookie, credential, session, as substrings, any case) plus the
 *   keys given; `--no-redact` drops the defaults, never the keys given. A URL's user
 *   information (`user:password@`) counts as under "password": in URLs and error messages.
 * - patterns: every string the agent records (previews, URLs, query texts, error messages,
 *   command lines) has each match replaced by "[redacted]"; none by default.
 * - SQL literals: query texts are recorded with their literal values replaced by
 *   placeholders (sql.ts), unless `--no-redact`; a Redis command's arguments, keys included,
 *   likewise (src/agent/node/db/redis-command.ts: `SET ? ?`).
 * HTTP headers are not recorded (only an incoming or outgoing `traceparent`), so the
 * Authorization and Cookie headers never reach a trace.
 */
export interface RedactionSettings {
  /** More secret key names (matched as substrings, case-insensitive). */
  keys?: string[];
  /** Regular expressions (JavaScript syntax) whose matches are replaced in every recorded string. */
  patterns?: string[];
  /** Drop the defaults (secret keys, SQL literals); keys and patterns given still apply. */
  off?: boolean;
}

export const REDACTED = "[redacted]";
export const DEFAULT_SECRET_KEYS = "pass(?:word|wd|phrase)?|token|authori[sz]ation|cookie|secret|key|credential|session";

/** What secretKey is: a RegExp, or the defaults' test (its `test` gives what the RegExp's would). */
export interface KeyTest {
  test(text: string): boolean;
}

export interface Redaction {
  /** Tested against object keys and query parameter names. */
  secretKey: KeyTest;
  /** Every match in a recorded string becomes REDACTED; undefined: none (the usual case). */
  pattern: RegExp | undefined;
  /** Query texts have their literal values replaced. */
  sqlLiterals: boolean;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The default secret keys' test without compiling their case-insensitive regular expression
 * for ASCII texts (every key a program's messages usually have): compiling it (V8's
 * irregexp with ICU's case folding, ~0.4 M instructions) was run by every worker thread at
 * its first message preview (BENCHMARKS.md "Ninth look"). A text with a character above
 * U+007F is tested by the expression itself, made on first need.
 */
function defaultSecretKey(): KeyTest {
  let expression: RegExp | undefined;
  // DEFAULT_SECRET_KEYS as the lower-case words it finds (`pass(?:word|wd|phrase)?` finds what
  // `pass` finds): for an ASCII text, `/DEFAULT_SECRET_KEYS/i.test(text)` is "its lower case
  // holds one of these" (in a case-insensitive regular expression without the `u` flag a
  // character above U+007F never matches an ASCII letter, so only ASCII needs folding). Made
  // with the rules, not at the module's top level (BENCHMARKS.md "Worker start: the core's top
  // level made at first use").
  const words = ["pass", "token", "authorization", "authorisation", "cookie", "secret", "key", "credential", "session"];
  return {
    test(text: string): boolean {
      for (let i = 0; i < text.length; i++) {
        if (text.charCodeAt(i) > 0x7f) return (expression ??= new RegExp(DEFAULT_SECRET_KEYS, "i")).test(text);
      }
      const lower = text.toLowerCase();
      for (let i = 0; i < words.length; i++) if (lower.includes(words[i]!)) return true;
      return false;
    },
  };
}

/** The rules for `settings`; throws (with the engine's message) on a pattern that is not a regular expression. */
export function redactionOf(settings: RedactionSettings): Redaction {
  const given = (settings.keys ?? []).filter((key) => key !== "").map(escapeRegExp);
  const keys = [...(settings.off ? [] : [DEFAULT_SECRET_KEYS]), ...given];
  const patterns = settings.patterns ?? [];
  return {
    secretKey: keys.length === 0 ? /(?!)/ : !settings.off && given.length === 0 ? defaultSecretKey() : new RegExp(keys.join("|"), "i"),
    pattern: patterns.length === 0 ? undefined : new RegExp(patterns.map((pattern) => `(?:${pattern})`).join("|"), "g"),
    sqlLiterals: !settings.off,
  };
}

/**
 * SCOPE_REDACT as this process or thread read it when its agent loaded: the rules are those
 * of this text even when the program changes its environment later.
 */
const settingsText = typeof process === "object" ? process.env.SCOPE_REDACT : undefined;

/** The rules of a non-empty SCOPE_REDACT when valid, else the defaults. */
function fromText(text: string): Redaction {
  try {
    return redactionOf(JSON.parse(text) as RedactionSettings);
  } catch {
    // Checked by `scope run` before it starts anything; a hand-made bad value: the defaults.
    return redactionOf({});
  }
}

/**
 * The rules of a SCOPE_REDACT that is set, made when the agent loads (a bad pattern falls back
 * to the defaults there, as before); undefined until `redaction()` makes the defaults. The
 * defaults (SCOPE_REDACT unset: every run without --redact-*) depend on nothing, so they are
 * made at their first use: a worker that records no preview, URL or query never builds them
 * (their objects and closures were ~6 K instructions a property in a new worker: BENCHMARKS.md
 * "Worker start: the core's top level made at first use").
 */
let rules: Redaction | undefined = settingsText ? fromText(settingsText) : undefined;

/** This process's rules: SCOPE_REDACT's when it was set at load, else the defaults. */
export function redaction(): Redaction {
  return (rules ??= redactionOf({}));
}

/**
 * The patterns of this process's rules (`redaction().pattern`) without making the rules: every
 * string recorded asks (the defaults have none).
 */
export const redactPattern: RegExp | undefined = rules?.pattern;

/** A URL's scheme (1) and user information (`user:password@`) at a text's start, up to the authority's last `@`. */
const USERINFO_AT_START = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#]*@/;
/** The same anywhere in a text (an error message naming a URL, as fetch's does): user information without spaces. */
const USERINFO_ANYWHERE = /([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^\s/?#@]*@/g;

/**
 * `scheme://user:password@host...` as `scheme://[redacted]@host...`, as a key named "password"
 * would be (the rules' secret keys: not with --no-redact): a URL's own (`anywhere` false: Bun's
 * fetch records it so), or every URL's in a message (`anywhere` true).
 */
export function redactUserinfo(text: string, anywhere = false): string {
  if (text.indexOf("@") < 0 || !redaction().secretKey.test("password")) return text;
  return text.replace(anywhere ? USERINFO_ANYWHERE : USERINFO_AT_START, `$1${REDACTED}@`);
}

/** `text` with every match of the patterns replaced; itself when there are none. */
export function redactText(text: string): string {
  const pattern = redactPattern;
  if (pattern === undefined) return text;
  pattern.lastIndex = 0;
  return text.replace(pattern, REDACTED);
}
