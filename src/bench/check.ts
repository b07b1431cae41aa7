/**
 * Every traced run checks its own trace: decoded from the file, the events the
 * workload caused are there in the numbers it reports, every receive is linked to
 * its send, and the totals add up. A trace that recorded nothing, or lost events
 * without counting them, fails the run: it is an error, not a fast result.
 */
import { interpret } from "../core/model";
import type { RunSummary } from "../run/collector";
import { loadTrace } from "../dump/load";

/** What a workload did, as it reports it: the trace must show exactly this. */
export interface Expectation {
  /** Messages sent (each must be received once). */
  messages: number;
  /** Worker threads started. */
  threads: number;
  /** Child processes started (besides the program's own process). */
  processes: number;
  /**
   * Instrumented functions (`scope run --functions`): function_call events expected per
   * function name, exactly (with counted losses, up to the number lost may be missing).
   */
  functions?: Record<string, number>;
  /** At least this many function_table records (instrumented functions registered). */
  minFunctionTables?: number;
  /**
   * HTTP: server requests handled (each must be in the trace with its end), of which
   * `finished` ended with a complete response of status 200; with `functions`, every call of
   * the functions in `linked` must name a request that is in the trace.
   */
  http?: { serverRequests: number; finished: number; linked?: string[]; routes?: number; queries?: number; steps?: number };
  /** With --async: at least this many async_init records per resource type (the runtime adds its own). */
  asyncInits?: Record<string, number>;
}

export interface TraceCheck {
  ok: boolean;
  problems: string[];
  /** Events by kind, as decoded from the file (string records excluded). */
  counts: Record<string, number>;
  /** Records in the file, strings included. */
  records: number;
  /** Lost events the ring counted (dropped or overwritten). */
  lost: number;
}

/** The event counts one run must produce, by kind. */
export function expectedCounts(expect: Expectation): Record<string, number> {
  const processes = expect.processes + 1;
  return {
    trace_start: processes + expect.threads,
    process_spawn: expect.processes,
    process_exit: processes,
    child_exit: processes, // the parent's view of each child, the collector's of the program
    thread_spawn: expect.threads,
    thread_exit: expect.threads,
    thread_exited: expect.threads,
    message_send: expect.messages,
    message_receive: expect.messages,
    agent_error: 0,
  };
}

/** Checks a trace written by a collector running in process `collectorPid` (this one, in scope bench). */
export function checkTrace(path: string, expect: Expectation, summary: RunSummary, collectorPid = process.pid): TraceCheck {
  const problems: string[] = [];
  const trace = loadTrace(path);
  if (trace.error) problems.push(`trace damaged: ${trace.error.reason} at byte ${trace.error.offset}`);
  const lost = summary.dropped + summary.overwritten;
  // The collector adds its own records (the program's child_exit, drop markers) next to
  // the ones it drained from the ring; they carry this process's pid.
  const own = trace.records.filter((record) => record.pid === collectorPid).length;
  if (trace.records.length - own !== summary.recorded) {
    problems.push(`file holds ${trace.records.length - own} records from the ring, the collector drained ${summary.recorded}`);
  }
  if (!trace.end) problems.push("trace has no end chunk");
  else {
    const end = trace.end as typeof trace.end & { recorded?: bigint | number; recordsInFile?: bigint | number };
    // Totals add up: every record the ring accepted was drained into the file, and the
    // file's own count of its records and of lost events agrees with what was read.
    if (Number(end.written) !== summary.recorded) problems.push(`the ring accepted ${end.written} records, the collector drained ${summary.recorded}`);
    if (end.recordsInFile !== undefined && Number(end.recordsInFile) !== trace.records.length) {
      problems.push(`end chunk says ${end.recordsInFile} records, the file holds ${trace.records.length}`);
    }
    if (Number(end.dropped) + Number(end.overwritten) !== lost) {
      problems.push(`end chunk counts ${Number(end.dropped) + Number(end.overwritten)} lost events, the summary ${lost}`);
    }
  }
  const events = interpret(trace.records, trace.strings);
  if (events.length === 0 || summary.recorded === 0) problems.push("the trace recorded nothing");
  const markedLost = events.filter((event) => event.kind === "drop").reduce((sum, event) => sum + Number(event.fields.count), 0);
  if (markedLost !== lost) problems.push(`drop markers count ${markedLost} lost events, the ring ${lost}`);
  const counts: Record<string, number> = {};
  for (const event of events) counts[event.kind] = (counts[event.kind] ?? 0) + 1;

  for (const [kind, expected] of Object.entries(expectedCounts(expect))) {
    const found = counts[kind] ?? 0;
    // With counted losses an event may be missing, up to the number lost; never extra.
    const fits = lost === 0 ? found === expected : found <= expected && found + lost >= expected;
    if (!fits) problems.push(`${kind}: ${found} in the trace, expected ${expected}${lost ? ` (${lost} lost)` : ""}`);
  }
  if (expect.minFunctionTables !== undefined && lost === 0 && (counts.function_table ?? 0) < expect.minFunctionTables) {
    problems.push(`function_table: ${counts.function_table ?? 0} in the trace, expected at least ${expect.minFunctionTables}`);
  }
  if (expect.functions) problems.push(...checkFunctions(events, expect.functions, lost));
  if (expect.asyncInits && lost === 0) {
    const inits: Record<string, number> = {};
    for (const event of events) if (event.kind === "async_init") inits[String(event.fields.type)] = (inits[String(event.fields.type)] ?? 0) + 1;
    for (const [type, least] of Object.entries(expect.asyncInits)) {
      if ((inits[type] ?? 0) < least) problems.push(`async_init of ${type}: ${inits[type] ?? 0} in the trace, expected at least ${least}`);
    }
  }
  if (expect.http) problems.push(...checkRequests(events, expect.http, expect.functions !== undefined, lost));
  let unlinked = 0;
  let unanswered = 0;
  for (const event of events) {
    if (event.kind === "message_receive" && event.linkedTo.length !== 1) unlinked++;
    if (event.kind === "message_send" && event.linkedTo.length !== 1) unanswered++;
  }
  if (lost === 0 && unlinked > 0) problems.push(`${unlinked} receives not linked to exactly one send`);
  if (lost === 0 && unanswered > 0) problems.push(`${unanswered} sends not received exactly once`);
  return { ok: problems.length === 0, problems, counts, records: trace.records.length, lost };
}

/**
 * function_call events per function name against what the program counted. A function
 * the hot-function guard sampled has an exit summary (function_sampled, at exit) with
 * the exact calls seen and recorded: then seen must be the expected count and the
 * function_call events the recorded ones.
 */
function checkFunctions(events: ReturnType<typeof interpret>, expected: Record<string, number>, lost: number): string[] {
  const problems: string[] = [];
  // "name (file:line:column)" as the model resolves it through the function table; a
  // name that does not resolve means its table record is missing.
  const nameOf = (value: unknown) => String(value).replace(/ \(.*\)$/, "");
  const calls: Record<string, number> = {};
  const summary: Record<string, { seen: number; recorded: number }> = {};
  for (const event of events) {
    if (event.kind === "function_call") {
      const name = nameOf(event.fields.function);
      calls[name] = (calls[name] ?? 0) + 1;
    } else if (event.kind === "function_sampled" && event.fields.atExit) {
      const entry = (summary[nameOf(event.fields.function)] ??= { seen: 0, recorded: 0 });
      entry.seen += Number(event.fields.seen);
      entry.recorded += Number(event.fields.recorded);
    }
  }
  const fits = (found: number, wanted: number) => (lost === 0 ? found === wanted : found <= wanted && found + lost >= wanted);
  for (const [name, count] of Object.entries(expected)) {
    const found = calls[name] ?? 0;
    const sampled = summary[name];
    const note = lost ? ` (${lost} lost)` : "";
    if (sampled) {
      if (sampled.seen !== count) problems.push(`function_sampled ${name}: ${sampled.seen} calls seen, expected ${count}`);
      if (!fits(found, sampled.recorded)) problems.push(`function_call ${name}: ${found} in the trace, ${sampled.recorded} recorded of ${count} (sampled)${note}`);
    } else if (!fits(found, count)) problems.push(`function_call ${name}: ${found} in the trace, expected ${count}${note}`);
  }
  const unresolved = Object.keys(calls).filter((name) => name.startsWith("<function "));
  if (lost === 0 && unresolved.length > 0) problems.push(`${unresolved.length} function ids without a function_table record`);
  return problems;
}

/**
 * Every request the service handled is in the trace with its end; the completed ones
 * ended "finished" with status 200; traced calls of the handler's functions are each
 * linked to a request of the trace (the request context held across the handler).
 */
function checkRequests(events: ReturnType<typeof interpret>, expected: NonNullable<Expectation["http"]>, functions: boolean, lost: number): string[] {
  const problems: string[] = [];
  const starts = events.filter((event) => event.kind === "http_server_request");
  const fits = (found: number, wanted: number) => (lost === 0 ? found === wanted : found <= wanted && found + lost >= wanted);
  if (!fits(starts.length, expected.serverRequests)) problems.push(`http_server_request: ${starts.length} in the trace, expected ${expected.serverRequests}`);
  const unended = starts.filter((event) => event.fields.end === undefined).length;
  if (lost === 0 && unended > 0) problems.push(`${unended} server requests without their end`);
  const finished = starts.filter((event) => event.fields.end === "finished" && event.fields.status === 200).length;
  if (!fits(finished, expected.finished) && finished !== expected.serverRequests) problems.push(`${finished} server requests finished with 200, expected ${expected.finished}`);
  // The web workload: a route and its steps per request served, every query, each linked to its request.
  const linked = (kind: string, wanted: number | undefined, what: string) => {
    if (wanted === undefined) return;
    const found = events.filter((event) => event.kind === kind);
    if (!fits(found.length, wanted)) problems.push(`${kind}: ${found.length} in the trace, expected ${wanted} (${what})`);
    const unlinked = found.filter((event) => typeof event.fields.requestIndex !== "number").length;
    if (lost === 0 && unlinked > 0) problems.push(`${unlinked} of ${found.length} ${kind} not linked to a request`);
  };
  linked("http_route", expected.routes, "one per request served");
  linked("db_query", expected.queries, "the queries the service made");
  linked("http_step_start", expected.steps, "middleware and handler of each request served");
  if (functions && expected.linked) {
    const names = new Set(expected.linked);
    const calls = events.filter((event) => event.kind === "function_call" && names.has(String(event.fields.function).replace(/ \(.*\)$/, "")));
    const unlinked = calls.filter((event) => typeof event.fields.requestIndex !== "number").length;
    if (lost === 0 && unlinked > 0) problems.push(`${unlinked} of ${calls.length} calls of ${expected.linked.join(", ")} not linked to a request`);
  }
  return problems;
}
