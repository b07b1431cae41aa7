/**
 * Writing result rows: a table for people (chalk, only when colour is on), CSV (RFC 4180)
 * or JSON (one object per line, as `scope dump --json`). Rows are streamed: the table's
 * column widths come from the first TABLE_SAMPLE rows, longer cells after them are cut.
 * The table measures terminal columns (Bun.stringWidth: CJK and emoji take two) and shows
 * control and bidirectional characters as `\uXXXX`, so trace data cannot drive the terminal.
 */
import type { ChalkInstance } from "chalk";
import type { Output } from "../core/output";

export type RowFormat = "table" | "csv" | "json";
export type Row = Record<string, unknown>;

const TABLE_SAMPLE = 1000;
const CELL_MAX = 80;

// What a terminal would act on rather than show: C0 controls (ESC starts sequences that clear
// the screen, set the title, ...), DEL, C1 controls, and the bidirectional controls that
// reorder what follows them. Trace data (a thrown error's message, a preview) can hold any.
const NOT_PLAIN = /[^\x20-\x7e]/;
const UNSHOWN = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** The terminal columns of the last cellText (set by it: measured where the text is known to be plain). */
let cellWidth = 0;

function cellText(value: unknown): string {
  let text: string;
  if (value === null || value === undefined) text = "";
  else if (typeof value === "number" || typeof value === "bigint") text = String(value);
  else if (value instanceof Uint8Array) text = `x'${Buffer.from(value).toString("hex")}'`;
  else {
    text = String(value);
    if (NOT_PLAIN.test(text)) {
      text = text.replace(/[\r\n\t]/g, " ").replace(UNSHOWN, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
      cellWidth = Bun.stringWidth(text);
      return text;
    }
  }
  cellWidth = text.length;
  return text;
}

/** Columns the text takes on a terminal (wide East Asian characters and emoji: 2; combining marks: 0). */
function widthOf(text: string): number {
  return NOT_PLAIN.test(text) ? Bun.stringWidth(text) : text.length;
}

function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? "" : value instanceof Uint8Array ? Buffer.from(value).toString("hex") : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function jsonValue(value: unknown): unknown {
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : String(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString("hex");
  return value;
}

/** `text` (of `textWidth` columns) in at most `width` columns: cut at a character (never inside a surrogate pair), `…` last. */
function cut(text: string, width: number, textWidth = widthOf(text)): string {
  if (textWidth <= width) return text;
  let kept = "";
  let used = 0;
  for (const character of text) {
    const w = widthOf(character);
    if (used + w > width - 1) break;
    kept += character;
    used += w;
  }
  return `${kept}…`;
}

function pad(text: string, width: number, start: boolean, textWidth = widthOf(text)): string {
  // padStart/padEnd count UTF-16 units: the target moved by what the text's units and columns differ.
  const target = width + text.length - textWidth;
  return start ? text.padStart(target) : text.padEnd(target);
}

/**
 * Writes `rows` with `columns` in `format`; returns false when the reader went away.
 * `extra` adds leading columns (e.g. top's section) to CSV and JSON.
 */
export async function writeRows(out: Output, columns: string[], rows: Iterable<Row>, format: RowFormat, color: ChalkInstance): Promise<boolean> {
  const more = async (): Promise<boolean> => !out.full || (await out.flush());
  if (format === "json") {
    for (const row of rows) {
      const object: Record<string, unknown> = {};
      for (const column of columns) object[column] = jsonValue(row[column]);
      out.add(`${JSON.stringify(object)}\n`);
      if (!(await more())) return false;
    }
    return out.flush();
  }
  if (format === "csv") {
    out.add(`${columns.map(csvCell).join(",")}\n`);
    for (const row of rows) {
      out.add(`${columns.map((column) => csvCell(row[column])).join(",")}\n`);
      if (!(await more())) return false;
    }
    return out.flush();
  }
  const iterator = rows[Symbol.iterator]();
  const sample: Row[] = [];
  for (let next = iterator.next(); !next.done; next = iterator.next()) {
    sample.push(next.value);
    if (sample.length >= TABLE_SAMPLE) break;
  }
  const widths = columns.map((column) => Math.min(CELL_MAX, Math.max(widthOf(cellText(column)), ...sample.map((row) => (cellText(row[column]), cellWidth)))));
  const numeric = columns.map((column) => sample.length > 0 && sample.every((row) => row[column] === null || typeof row[column] === "number" || typeof row[column] === "bigint"));
  const line = (row: Row): string =>
    columns
      .map((column, i) => {
        const value = row[column];
        const width = widths[i]!;
        const full = cellText(value);
        const fullWidth = cellWidth;
        const padded = fullWidth <= width ? pad(full, width, numeric[i]!, fullWidth) : pad(cut(full, width, fullWidth), width, numeric[i]!);
        return value === null || value === undefined ? color.dim(padded) : padded;
      })
      .join("  ")
      .trimEnd();
  out.add(`${color.bold(columns.map((column, i) => pad(cut(cellText(column), widths[i]!), widths[i]!, numeric[i]!)).join("  ").trimEnd())}\n`);
  out.add(`${color.dim(widths.map((width) => "─".repeat(width)).join("  "))}\n`);
  let count = 0;
  for (const row of sample) {
    out.add(`${line(row)}\n`);
    count++;
    if (!(await more())) return false;
  }
  for (let next = iterator.next(); !next.done; next = iterator.next()) {
    out.add(`${line(next.value)}\n`);
    count++;
    if (!(await more())) return false;
  }
  out.add(color.dim(`(${count} ${count === 1 ? "row" : "rows"})\n`));
  return out.flush();
}
