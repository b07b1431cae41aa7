/**
 * What the agents never record as it is (SCOPE_REDACT, JSON of RedactionSettings, from
 * `scope run --redact-keys / --redact-pattern / --no-redact`), read once per process or
 * thread when its agent loads:
 *
 * - secret-looking keys: a value under such a key (an object field in a preview, a query
 *   parameter in a URL) is recorded as "[redacted]": the defaults (password, token, secret,
 *   key, authorization, cookie, credential, session, as substrings, any case) plus the
 *   keys given; `--no-redact` drops the defaults, never the keys given.
 * - patterns: every string the agent records (previews, URLs, query texts, error messages,
 *   command lines) has each match replaced by "[redacted]"; none by default.
 * - SQL literals: query texts are recorded with their literal values replaced by
 *   placeholders (sql.ts), unless `--no-redact`.
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
const DEFAULT_SECRET_KEYS = "pass(?:word|wd|phrase)?|token|authori[sz]ation|cookie|secret|key|credential|session";
const NEVER = /(?!)/;

export interface Redaction {
  /** Tested against object keys and query parameter names. */
  secretKey: RegExp;
  /** Every match in a recorded string becomes REDACTED; undefined: none (the usual case). */
  pattern: RegExp | undefined;
  /** Query texts have their literal values replaced. */
  sqlLiterals: boolean;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The rules for `settings`; throws (with the engine's message) on a pattern that is not a regular expression. */
export function redactionOf(settings: RedactionSettings): Redaction {
  const keys = [...(settings.off ? [] : [DEFAULT_SECRET_KEYS]), ...(settings.keys ?? []).filter((key) => key !== "").map(escapeRegExp)];
  const patterns = settings.patterns ?? [];
  return {
    secretKey: keys.length === 0 ? NEVER : new RegExp(keys.join("|"), "i"),
    pattern: patterns.length === 0 ? undefined : new RegExp(patterns.map((pattern) => `(?:${pattern})`).join("|"), "g"),
    sqlLiterals: !settings.off,
  };
}

/** This process's rules: SCOPE_REDACT when set and valid, else the defaults. */
function fromEnvironment(): Redaction {
  const text = typeof process === "object" ? process.env.SCOPE_REDACT : undefined;
  if (text) {
    try {
      return redactionOf(JSON.parse(text) as RedactionSettings);
    } catch {
      // Checked by `scope run` before it starts anything; a hand-made bad value: the defaults.
    }
  }
  return redactionOf({});
}

export const redaction: Redaction = fromEnvironment();

/** `text` with every match of the patterns replaced; itself when there are none. */
export function redactText(text: string): string {
  const pattern = redaction.pattern;
  if (pattern === undefined) return text;
  pattern.lastIndex = 0;
  return text.replace(pattern, REDACTED);
}
