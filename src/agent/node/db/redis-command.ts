/**
 * A Redis command as a database query (ioredis.ts, node-redis.ts): its text, its reply's
 * row count, its error's code.
 *
 * Text: the command's name in capitals and one `?` per argument (`SET ? ?`, `HGET ? ?`),
 * keys included: a key is a value the program chose (`session:<token>`, `user:<email>`),
 * and nothing tells its fixed prefix from its personal part, so by default no argument
 * reaches the trace, as SQL literals do not (OpenTelemetry's Redis conventions ask for
 * sanitised text by default). Kept: the subcommand of the commands that have them
 * (`CONFIG GET ?`, `CLIENT SETNAME ?`), a word from a fixed set. At most 32 `?` (then ` …`,
 * flagged cut), so an MSET of 10,000 pairs is one short text. Texts are made once per
 * (name, argument count) and kept with their string id: a command costs a Map look-up.
 * `--no-redact` records the arguments (strings and numbers; a Buffer is `?`), bounded.
 */
import { dataProperty, type DbRecorder, type QueryText } from "../../shared/db";
import { redaction } from "../../shared/redact";

/** The name of the resolve functions the integrations put on a command: a command whose resolve has it was recorded (a WeakSet of commands cost ~0.4 µs a command). */
export const RECORDED = "scopeRecordedResolve";

const MAX_PLACEHOLDERS = 32;
const MAX_NAME = 64;
const MAX_ARGUMENT = 128;
const MAX_TEXT = 1024;
const TEXT_CUT = 1;

/** Commands whose first argument is a subcommand's name (`CONFIG GET`), not a value. */
const CONTAINERS = new Set(["ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DEBUG", "FUNCTION", "LATENCY", "MEMORY", "MODULE", "OBJECT", "PUBSUB", "SCRIPT", "SLOWLOG", "XGROUP", "XINFO"]);

export interface CommandTexts {
  /** The recorded text of a command: `name` as the library has it, `args` its arguments (the name not among them). */
  text(name: unknown, args: ArrayLike<unknown>, from: number): QueryText;
}

export function commandTexts(db: DbRecorder): CommandTexts {
  // name as given → its capitals, whether it has subcommands, texts by argument count
  // (index MAX_PLACEHOLDERS + 1: more than that).
  interface Named {
    upper: string;
    container: boolean;
    texts: QueryText[];
  }
  const byName = new Map<string, Named>();
  const made = (text: string, cut: boolean): QueryText => ({ id: db.recorder.str(text), flags: cut ? TEXT_CUT : 0 });
  const upper = (name: string): string => {
    const text = name.length > MAX_NAME ? name.slice(0, MAX_NAME) : name;
    return /^[A-Za-z][\w.|-]*$/.test(text) ? text.toUpperCase() : "?";
  };
  const placeholders = (head: string, count: number): QueryText => {
    const shown = Math.min(count, MAX_PLACEHOLDERS);
    let text = head;
    for (let i = 0; i < shown; i++) text += " ?";
    return made(count > shown ? text + " …" : text, count > shown);
  };
  const redacted = (name: string, args: ArrayLike<unknown>, from: number): QueryText => {
    const count = args.length - from;
    let named = byName.get(name);
    if (named === undefined) {
      if (byName.size >= 512) byName.clear();
      const head = upper(name);
      named = { upper: head, container: CONTAINERS.has(head), texts: [] };
      byName.set(name, named);
    }
    if (named.container && count > 0) {
      // Few subcommands: their texts are made each time (CONFIG, CLIENT: not a hot path).
      const sub = subcommand(args[from]);
      if (sub !== undefined) return placeholders(named.upper + " " + sub, count - 1);
    }
    const slot = count > MAX_PLACEHOLDERS ? MAX_PLACEHOLDERS + 1 : count;
    return (named.texts[slot] ??= placeholders(named.upper, count));
  };
  const withValues = (name: string, args: ArrayLike<unknown>, from: number): QueryText => {
    let text = upper(name);
    let cut = false;
    for (let i = from; i < args.length; i++) {
      if (text.length >= MAX_TEXT) {
        cut = true;
        break;
      }
      const value = args[i];
      let shown = typeof value === "string" ? value : typeof value === "number" || typeof value === "bigint" ? String(value) : "?";
      if (shown.length > MAX_ARGUMENT) {
        shown = shown.slice(0, MAX_ARGUMENT) + "…";
        cut = true;
      }
      text += " " + shown;
    }
    if (text.length > MAX_TEXT) {
      text = text.slice(0, MAX_TEXT);
      cut = true;
    }
    return made(text, cut);
  };
  const values = !redaction().sqlLiterals;
  return {
    text(name, args, from) {
      const known = typeof name === "string" ? name : name instanceof Uint8Array ? String(name) : "?";
      return values ? withValues(known, args, from) : redacted(known, args, from);
    },
  };
}

function subcommand(value: unknown): string | undefined {
  const text = typeof value === "string" ? value : value instanceof Uint8Array && value.length <= 32 ? String(value) : undefined;
  return text !== undefined && text.length <= 32 && /^[A-Za-z][A-Za-z-]*$/.test(text) ? text.toUpperCase() : undefined;
}

/** Rows of a reply: an array's length, none for a nil reply, else one value. */
export function replyRows(reply: unknown): number {
  if (Array.isArray(reply)) return reply.length;
  return reply === null || reply === undefined ? 0 : 1;
}

/**
 * An error's code: its `code` (a socket's ECONNREFUSED), else a Redis error reply's first word
 * when in capitals (`WRONGTYPE`, `ERR`, `NOSCRIPT`, `EXECABORT`), else its class's name
 * (ioredis' MaxRetriesPerRequestError, node-redis' SocketClosedUnexpectedlyError).
 */
export function errorCode(error: unknown, isProxy: (value: unknown) => boolean): string | undefined {
  if (error === null || (typeof error !== "object" && typeof error !== "function") || isProxy(error)) return undefined;
  const code = dataProperty(error, "code");
  if (typeof code === "string" || typeof code === "number") return String(code);
  const message = dataProperty(error, "message");
  if (typeof message === "string") {
    const word = /^[A-Z][A-Z0-9_]*(?=\s|$)/.exec(message);
    if (word !== null && word[0].length >= 2) return word[0];
  }
  const name = dataProperty(error, "name");
  return typeof name === "string" && name !== "Error" ? name : undefined;
}
