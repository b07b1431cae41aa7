/**
 * Writing result rows: a table for people (chalk, only when colour is on), CSV (RFC 4180)
 * or JSON (one object per line, as `scope dump --json`). Rows are streamed: the table's
 * column widths come from the first TABLE_SAMPLE rows, longer cells after them are cut.
 */
import type { ChalkInstance } from "chalk";
import type { Output } from "../core/output";

export type RowFormat = "table" | "csv" | "json";
export type Row = Record<string, unknown>;

const TABLE_SAMPLE = 1000;
const CELL_MAX = 80;

function cellText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (value instanceof Uint8Array) return `x'${Buffer.from(value).toString("hex")}'`;
  return String(value).replace(/[\r\n\t]/g, " ");
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

function cut(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
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
  const widths = columns.map((column) => Math.min(CELL_MAX, Math.max(column.length, ...sample.map((row) => cellText(row[column]).length))));
  const numeric = columns.map((column) => sample.length > 0 && sample.every((row) => row[column] === null || typeof row[column] === "number" || typeof row[column] === "bigint"));
  const line = (row: Row): string =>
    columns
      .map((column, i) => {
        const value = row[column];
        const text = cut(cellText(value), widths[i]!);
        const padded = numeric[i] ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
        return value === null || value === undefined ? color.dim(padded) : padded;
      })
      .join("  ")
      .trimEnd();
  out.add(`${color.bold(columns.map((column, i) => (numeric[i] ? column.padStart(widths[i]!) : column.padEnd(widths[i]!))).join("  ").trimEnd())}\n`);
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
