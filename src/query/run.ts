/**
 * `scope query`: open the trace's database (cached), run one SQL statement on it, write
 * the rows. Every failure is one line `scope: ...` on stderr: a trace that cannot be
 * read (exit 1), the engine's message for bad SQL (exit 1). A trace that was not closed
 * or is damaged is loaded as far as it is valid and says so in a line; a damaged one
 * exits 2 after its rows, as `scope dump` does.
 */
import type { Database, Statement } from "bun:sqlite";
import chalk, { Chalk } from "chalk";
import type { Writable } from "node:stream";
import { CLOSED_PIPE_STATUS, Output } from "../core/output";
import { openTrace, TraceOpenError, type TraceDatabase } from "./database";
import { writeRows, type Row, type RowFormat } from "./format";
import { USER_RELATIONS } from "./schema";

export interface CommonOptions {
  tracePath: string;
  format: RowFormat;
  stdout: Writable;
  stderr: Writable;
  colorEnabled: boolean;
  /** false: load into memory, keep nothing. */
  cache: boolean;
}

/** One line on stderr, `scope: ` first, newlines folded. */
export function complain(stderr: Writable, message: string): void {
  new Output(stderr).writeNow(`scope: ${message.replace(/\s*\n\s*/g, " ").trim()}\n`);
}

/** Opens the trace for a command: the database, or the exit status after saying why not. */
export function openForCommand(options: CommonOptions): TraceDatabase | number {
  try {
    // A first query of a large trace takes a while: say so on a terminal (never in a pipe or a test's output).
    const tty = (options.stderr as { isTTY?: boolean }).isTTY === true;
    const onLoad = tty ? (path: string | null) => complain(options.stderr, `loading ${options.tracePath}${path ? ` into ${path}` : ""} (once; later queries reuse it)`) : undefined;
    const trace = openTrace(options.tracePath, { cache: options.cache, onLoad: options.cache ? onLoad : undefined });
    if (trace.warning) complain(options.stderr, trace.warning);
    return trace;
  } catch (error) {
    if (error instanceof TraceOpenError) {
      complain(options.stderr, error.message);
      return 1;
    }
    throw error;
  }
}

/** The exit status once the rows are out: 141 for a closed pipe, else how the trace ended (core/trace-ending.ts: 2 damaged). */
export function finalStatus(trace: TraceDatabase, written: boolean): number {
  if (!written) return CLOSED_PIPE_STATUS;
  return trace.status;
}

/**
 * What is wrong with the SQL after the first statement (bun:sqlite prepares only the first
 * and ignores the rest): the engine's message for text that does not parse, or that it is
 * a second statement; null when only semicolons, whitespace or comments follow.
 */
function afterFirstStatement(db: Database, sql: string, statement: Statement): string | null {
  const end = firstStatementEnd(db, sql, statement);
  if (end === null) return null;
  const rest = sql.slice(end).replace(/^[\s;]+/, "");
  if (!rest) return null;
  try {
    db.prepare(rest).finalize();
  } catch (error) {
    // Bun's word for text without a statement (comments only).
    return (error as Error).message === "Invalid SQL statement" ? null : (error as Error).message;
  }
  return `one SQL statement at a time; this follows the first: ${rest}`;
}

/** Where the first statement of `sql` ends (null: nothing can follow it). */
function firstStatementEnd(db: Database, sql: string, statement: Statement): number | null {
  if (statement.paramsCount === 0) {
    // The statement's text as SQLite parsed it.
    const first = statement.toString();
    const at = sql.indexOf(first);
    return at < 0 ? null : at + first.length;
  }
  // With parameters its text shows their values: the first ";" whose text up to it is that
  // same statement (a ";" inside a string does not prepare; inside a comment, it is a shorter one).
  const whole = statement.toString();
  for (let at = sql.indexOf(";"); at >= 0; at = sql.indexOf(";", at + 1)) {
    try {
      const prefix = db.prepare(sql.slice(0, at + 1));
      const same = prefix.toString() === whole;
      prefix.finalize();
      if (same) return at + 1;
    } catch {
      // Not the end of a statement.
    }
  }
  return null;
}

export async function queryTrace(options: CommonOptions & { sql: string | undefined }): Promise<number> {
  const color = options.colorEnabled ? chalk : new Chalk({ level: 0 });
  const trace = openForCommand(options);
  if (typeof trace === "number") return trace;
  try {
    const out = new Output(options.stdout);
    if (options.sql === undefined || options.sql.trim() === "") {
      const rows: Row[] = USER_RELATIONS.map((name) => ({
        relation: name,
        columns: (trace.db.query(`SELECT name FROM pragma_table_info(?)`).all(name) as { name: string }[]).map((c) => c.name).join(", "),
      }));
      return finalStatus(trace, await writeRows(out, ["relation", "columns"], rows, options.format, color));
    }
    let statement;
    try {
      statement = trace.db.prepare(options.sql);
    } catch (error) {
      // Bun's word for text without a statement.
      const message = (error as Error).message;
      complain(options.stderr, message === "Invalid SQL statement" ? "no SQL statement in the text given (only comments or semicolons)" : message);
      return 1;
    }
    const more = afterFirstStatement(trace.db, options.sql, statement);
    if (more) {
      statement.finalize();
      complain(options.stderr, more);
      return 1;
    }
    // Integers as SQLite holds them (64-bit): u64 payload fields and the like beyond 2^53 exact.
    statement.safeIntegers(true);
    const columns = statement.columnNames;
    let written: boolean;
    try {
      written = await writeRows(out, columns, statement.iterate() as Iterable<Row>, options.format, color);
    } catch (error) {
      if ((error as Error).name !== "SQLiteError") throw error;
      await out.flush();
      complain(options.stderr, (error as Error).message);
      return 1;
    } finally {
      statement.finalize();
    }
    return finalStatus(trace, written);
  } finally {
    trace.close();
  }
}
