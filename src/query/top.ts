/**
 * `scope top`: canned questions over a loaded trace. Functions by total time (every
 * call's duration summed: a recursive function's inner calls count inside its outer
 * ones too), by self time (synchronous calls only: an async call's duration includes its
 * awaits) and by number of calls; the slowest requests and queries. Functions are
 * grouped by name and place across threads and processes.
 */
import chalk, { Chalk } from "chalk";
import type { Database, SQLQueryBindings } from "bun:sqlite";
import { Output } from "../core/output";
import { writeRows, type Row } from "./format";
import { finalStatus, openForCommand, type CommonOptions } from "./run";

export interface TopFilter {
  pids?: number[];
  tids?: number[];
  /** A glob (`*`, `?`, `[...]`: the whole text) or else a substring, case ignored: function names, request routes (else targets), query texts. */
  name?: string;
}

interface Section {
  key: string;
  title: string;
  columns: string[];
  rows: Row[];
}

function isGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/** WHERE terms for pid/tid on a table alias; bindings appended to `bind`. */
function threadTerms(filter: TopFilter, alias: string, bind: SQLQueryBindings[]): string[] {
  const terms: string[] = [];
  if (filter.pids?.length) {
    terms.push(`${alias}.pid IN (${filter.pids.map(() => "?").join(",")})`);
    bind.push(...filter.pids);
  }
  if (filter.tids?.length) {
    terms.push(`${alias}.tid IN (${filter.tids.map(() => "?").join(",")})`);
    bind.push(...filter.tids);
  }
  return terms;
}

/** A term matching `expression` against the name filter. */
function nameTerm(filter: TopFilter, expression: string, bind: SQLQueryBindings[]): string[] {
  if (filter.name === undefined) return [];
  if (isGlob(filter.name)) {
    bind.push(filter.name.toLowerCase());
    return [`lower(${expression}) GLOB ?`];
  }
  bind.push(filter.name.toLowerCase());
  return [`instr(lower(${expression}), ?) > 0`];
}

function where(terms: string[]): string {
  return terms.length === 0 ? "" : `WHERE ${terms.join(" AND ")}`;
}

const MS = (column: string) => `round(${column} / 1e6, 3)`;

export function topSections(db: Database, filter: TopFilter, limit: number): Section[] {
  // Per-function totals were summed at load (functions.calls, total_ns, ...): no pass over the calls.
  const bind: SQLQueryBindings[] = [];
  const functionWhere = where([...threadTerms(filter, "f", bind), ...nameTerm(filter, "f.name", bind)]);
  db.run("DROP TABLE IF EXISTS temp.top_functions");
  db.run(
    `CREATE TEMP TABLE top_functions AS
     SELECT f.name AS function, f.file || ':' || f.line AS location, sum(f.calls) AS calls, sum(f.total_ns) AS total_ns,
       sum(f.self_ns) AS self_ns, sum(f.ended) AS ended, max(f.max_ns) AS max_ns
     FROM functions f ${functionWhere}
     GROUP BY f.name, f.file, f.line`,
    bind,
  );
  const functionColumns = ["function", "location", "calls", "total_ms", "self_ms", "mean_ms", "max_ms"];
  const functions = (order: string) =>
    db
      .query(
        `SELECT function, location, calls, ${MS("total_ns")} AS total_ms, ${MS("self_ns")} AS self_ms,
           ${MS("total_ns * 1.0 / nullif(ended, 0)")} AS mean_ms, ${MS("max_ns")} AS max_ms
         FROM temp.top_functions WHERE ${order} IS NOT NULL ORDER BY ${order} DESC, function LIMIT ?`,
      )
      .all(limit) as Row[];

  const requestBind: SQLQueryBindings[] = [];
  const requestWhere = where(["r.duration_ns IS NOT NULL", ...threadTerms(filter, "r", requestBind), ...nameTerm(filter, "coalesce(r.route, r.target)", requestBind)]);
  const requests = db
    .query(
      `SELECT r.id AS request, r.kind, r.method, coalesce(r.route, r.target) AS target, r.status, ${MS("r.duration_ns")} AS ms,
         (SELECT count(*) FROM queries q WHERE q.request = r.id) AS queries, r.pid, r.tid
       FROM requests r ${requestWhere} ORDER BY r.duration_ns DESC, r.id LIMIT ?`,
    )
    .all(...requestBind, limit) as Row[];

  const queryBind: SQLQueryBindings[] = [];
  const queryWhere = where(["q.duration_ns IS NOT NULL", ...threadTerms(filter, "q", queryBind), ...nameTerm(filter, "q.text", queryBind)]);
  const queries = db
    .query(
      `SELECT q.id AS query, q.system, q.text, ${MS("q.duration_ns")} AS ms, q.rows, q.failed, q.request, q.pid, q.tid
       FROM queries q ${queryWhere} ORDER BY q.duration_ns DESC, q.id LIMIT ?`,
    )
    .all(...queryBind, limit) as Row[];

  return [
    { key: "total", title: "Functions by total time", columns: functionColumns, rows: functions("total_ns") },
    { key: "self", title: "Functions by self time", columns: functionColumns, rows: functions("self_ns") },
    { key: "calls", title: "Most-called functions", columns: functionColumns, rows: functions("calls") },
    { key: "requests", title: "Slowest requests", columns: ["request", "kind", "method", "target", "status", "ms", "queries", "pid", "tid"], rows: requests },
    { key: "queries", title: "Slowest queries", columns: ["query", "system", "text", "ms", "rows", "failed", "request", "pid", "tid"], rows: queries },
  ];
}

export async function topTrace(options: CommonOptions & { filter: TopFilter; limit: number }): Promise<number> {
  const color = options.colorEnabled ? chalk : new Chalk({ level: 0 });
  const trace = openForCommand(options);
  if (typeof trace === "number") return trace;
  try {
    const sections = topSections(trace.db, options.filter, options.limit);
    const out = new Output(options.stdout);
    if (options.format !== "table") {
      // One stream of rows, each naming its section.
      const columns = ["section", ...new Set(sections.flatMap((section) => section.columns))];
      const rows = sections.flatMap((section) => section.rows.map((row) => ({ section: section.key, ...row })));
      return finalStatus(trace, await writeRows(out, columns, rows, options.format, color));
    }
    let first = true;
    for (const section of sections) {
      out.add(`${first ? "" : "\n"}${color.bold(section.title)}\n`);
      first = false;
      if (section.rows.length === 0) {
        out.add(color.dim("  none\n"));
        continue;
      }
      if (!(await writeRows(out, section.columns, section.rows, "table", color))) return finalStatus(trace, false);
    }
    return finalStatus(trace, await out.flush());
  } finally {
    trace.close();
  }
}
