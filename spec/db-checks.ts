/**
 * What the database specs (db, mysql, redis) check of every traced run: the program saw
 * what it sees untraced, and each query's start has its end.
 */
import { expect } from "bun:test";
import type { TraceEvent } from "../src/core/model";
import { runTraced, runUntraced, type Traced } from "./agent-harness";

/** Each query as [system, text, params, rows, failed, errorCode], in start order; `skip`: texts left out. */
export function queryRows(events: TraceEvent[], skip?: RegExp): unknown[][] {
  return events
    .filter((e) => e.kind === "db_query" && (skip === undefined || !skip.test(String(e.fields.text))))
    .map((e) => [e.fields.system, e.fields.text, e.fields.params, e.fields.rows, e.fields.failed, e.fields.errorCode ?? null]);
}

/** Every start (query or pool wait) has its end, linked both ways. */
export function expectAllEnded(events: TraceEvent[]): void {
  const starts = events.filter((e) => e.kind === "db_query" || e.kind === "db_pool_wait");
  const ends = events.filter((e) => e.kind === "db_query_end" || e.kind === "db_pool_wait_end");
  expect(ends.length).toBe(starts.length);
  for (const start of starts) {
    expect(start.linkedTo.length).toBe(1);
    expect(typeof start.fields.durationNs).toBe("number");
  }
}

/**
 * Runs `argv` untraced and traced, `reset` (fresh tables or keys) before each: both succeed,
 * with the same output, and the agent reported no error. The traced run.
 */
export async function untracedThenTraced(argv: string[], reset: () => void, env: Record<string, string>, scopeArgs: string[] = []): Promise<Traced> {
  reset();
  const untraced = await runUntraced(argv, { env });
  reset();
  const traced = await runTraced(argv, { env, scopeArgs });
  expect(untraced.status, untraced.stderr).toBe(0);
  expect(traced.status, traced.stderr).toBe(0);
  expect(traced.stdout).toBe(untraced.stdout);
  expect(traced.stderr).toBe(untraced.stderr);
  expect(traced.events.filter((e) => e.kind === "agent_error")).toEqual([]);
  return traced;
}

/** The target of the HTTP server request an event names (its requestIndex), or null: which request caused a query. */
export function requestTargetOf(events: TraceEvent[]): (event: TraceEvent) => unknown {
  const byIndex = new Map(events.map((e) => [e.index, e]));
  return (event) => {
    const start = typeof event.fields.requestIndex === "number" ? byIndex.get(event.fields.requestIndex) : undefined;
    return start?.kind === "http_server_request" ? start.fields.target : null;
  };
}
