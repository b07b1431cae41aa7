/** `scope export`: read a trace, interpret it, and write it as Perfetto or OTLP. */
import { closeSync, openSync, writeSync } from "node:fs";
import type { Writable } from "node:stream";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { collectorsOf } from "../core/model";
import { Output } from "../core/output";
import { endingNotice, endingOf } from "../core/trace-ending";
import type { LoadedTrace } from "../dump/load";
import { LIGHT_CALLS, LIGHT_KINDS, LIGHT_NOT_ENDS, TraceStream } from "../dump/stream";
import { OtlpSpanMaker, serializeSpans, type OtlpFormat, type OtlpOptions } from "./otlp";
import { OtlpFile } from "./otlp-file";
import { isUrl, sendOtlp } from "./otlp-send";
import { OtlpAhead, OtlpWalk } from "./otlp-walk";
import { Ahead, writePerfetto } from "./perfetto";

export type { OtlpFormat };

export interface ExportOptions {
  path: string;
  /** Output file of --perfetto. */
  perfetto?: string;
  otlp?: { target: string; format?: OtlpFormat; functions: boolean; serviceName?: string };
  stdout: Writable;
  stderr: Writable;
  /** Records read at a time by --perfetto's and --otlp's walks (spec: small, so links cross reads). */
  batchRecords?: number;
}

/** Spans per OTLP/HTTP request. */
const SPANS_PER_REQUEST = 2048;

export function otlpOptionsOf(trace: Pick<LoadedTrace, "header">, functions: boolean, serviceName: string | undefined): OtlpOptions {
  const h = trace.header;
  return {
    functions,
    serviceName,
    hostName: h.hostName,
    seed: `${h.hostName}/${h.collectorPid}/${h.realtimeAnchorNs}`,
    monotonicAnchorNs: h.monotonicAnchorNs,
    realtimeAnchorNs: h.realtimeAnchorNs,
  };
}

export function formatOf(target: string, format: OtlpFormat | undefined): OtlpFormat {
  return format ?? (!isUrl(target) && target.toLowerCase().endsWith(".json") ? "json" : "protobuf");
}

/**
 * A new export file's mode: it holds what the trace holds (arguments, SQL, messages), and
 * scope run writes traces 0600. A file written over keeps its own mode.
 */
const PRIVATE_MODE = 0o600;

/** 0: done (also for a trace not closed, said in a line); 1: the endpoint refused or could not be reached; 2: the trace is damaged (all valid events exported). */
export async function exportTrace(options: ExportOptions): Promise<number> {
  const err = new Output(options.stderr);
  let trace: Pick<LoadedTrace, "end" | "error">;
  let eventCount: number;
  if (options.perfetto !== undefined) {
    // In bounded memory: the events are walked (src/dump/stream.ts), never held ("scope
    // export --perfetto, dump --chrome and --why in bounded memory", BENCHMARKS.md).
    const stream = new TraceStream(options.path, options.batchRecords);
    // Walk 1's figures gathered in the link pass: two walks after it, not three.
    const ahead = new Ahead(stream.trace.sources);
    stream.link(undefined, ahead.watch, LIGHT_CALLS);
    ahead.done();
    trace = stream.trace;
    eventCount = stream.trace.events;
    // Full walks: walk 1 unless gathered, and walk 3; walk 2 does not decode calls and returns (lightWalk).
    let walks = 0;
    const total = ahead.exact ? 1 : 2;
    const events = { walk: () => stream.events(++walks < total), lightWalk: () => stream.events(true, LIGHT_KINDS), sources: stream.trace.sources, ahead: ahead.exact ? ahead : undefined };
    const fd = openSync(options.perfetto, "w", PRIVATE_MODE);
    try {
      const counts = writePerfetto(events, (chunk) => {
        for (let at = 0; at < chunk.byteLength; ) at += writeSync(fd, chunk, at);
      }, collectorsOf(stream.header.collectorPid, stream.trace.sources));
      err.writeNow(`scope: ${options.perfetto}: ${counts.tracks} tracks, ${counts.slices} slices, ${counts.instants} instants, ${counts.flows} flows, ${counts.counterValues} counter values\n`);
    } finally {
      closeSync(fd);
    }
  } else {
    // In bounded memory too: spans made as the events go by (otlp-walk.ts) and written or
    // sent SPANS_PER_REQUEST at a time ("scope export --otlp in bounded memory", BENCHMARKS.md).
    const stream = new TraceStream(options.path, options.batchRecords);
    trace = stream.trace;
    eventCount = stream.trace.events;
    if ((await exportOtlp(options, stream, err)) !== 0) return 1;
  }
  // How the trace ended: the rule every reading command follows (core/trace-ending.ts).
  const ending = endingNotice(options.path, endingOf(trace), { count: eventCount, done: "exported" });
  if (ending.line) err.writeNow(`scope: ${ending.line}\n`);
  return ending.status;
}

/** --otlp (to a file or an endpoint): the whole trace's spans. 0, or 1 when the endpoint refused or could not be reached. */
async function exportOtlp(options: ExportOptions, stream: TraceStream, err: Output): Promise<number> {
  if (!options.otlp) return 0;
  const { target, functions, serviceName } = options.otlp;
  const format = formatOf(target, options.otlp.format);
  const ahead = new OtlpAhead(stream.trace.sources, functions);
  // Its watch reads of calls, returns, ... only their thread and time, and with --otlp-functions
  // the ends' fields (CallEnds): the rest is read from their bytes (stream.ts linkEvents).
  stream.link(undefined, ahead.watch, functions ? LIGHT_NOT_ENDS : LIGHT_KINDS);
  let pending: ReadableSpan[] = [];
  let made = 0;
  const walk = new OtlpWalk(new OtlpSpanMaker(otlpOptionsOf(stream, functions, serviceName)), ahead, (span) => {
    pending.push(span);
    made++;
  });
  /** The spans made so far, SPANS_PER_REQUEST at a time (all of them: `last`). */
  async function batches(out: (batch: ReadableSpan[]) => Promise<void> | void): Promise<void> {
    // Without --otlp-functions the walk reads of calls, returns, ... only their time (OtlpWalk.add: a new time flushes).
    for (const event of stream.events(false, functions ? undefined : LIGHT_KINDS)) {
      walk.add(event);
      while (pending.length >= SPANS_PER_REQUEST) await out(pending.splice(0, SPANS_PER_REQUEST));
    }
    walk.finish();
    for (let at = 0; at < pending.length; at += SPANS_PER_REQUEST) await out(pending.slice(at, at + SPANS_PER_REQUEST));
    pending = [];
  }
  if (isUrl(target)) {
    // Sent: what the endpoint took; a success's partial_success.rejected_spans are not.
    let sent = 0;
    let rejected = 0;
    let rejectedMessage: string | undefined;
    let failure: string | undefined;
    let requests = 0;
    const send = async (batch: ReadableSpan[]) => {
      requests++;
      // After a failure the rest is only counted (the line says how many of all were sent).
      if (failure !== undefined) return;
      const result = await sendOtlp(target, serializeSpans(batch, format), format);
      if (!result.ok) {
        failure = `${result.error} after ${result.attempts} attempts`;
        return;
      }
      const refused = Math.min(result.rejected ?? 0, batch.length);
      sent += batch.length - refused;
      rejected += refused;
      rejectedMessage = result.rejectedMessage ?? rejectedMessage;
    };
    await batches(send);
    if (requests === 0) await send([]); // an empty trace: one empty request, as the endpoint's check
    const rejectedText = () => (rejected ? `; ${rejected} rejected by the endpoint${rejectedMessage ? ` (${rejectedMessage})` : ""}` : "");
    if (failure !== undefined) {
      err.writeNow(`scope: ${target}: ${failure}; ${sent} of ${made} spans sent${rejectedText()}\n`);
      return 1;
    }
    err.writeNow(rejected ? `scope: ${target}: ${sent} of ${made} spans sent${rejectedText()} (OTLP/HTTP ${format})\n` : `scope: ${target}: ${sent} spans sent (OTLP/HTTP ${format})\n`);
  } else {
    const fd = openSync(target, "w", PRIVATE_MODE);
    try {
      const file = new OtlpFile(format, (bytes) => {
        for (let at = 0; at < bytes.byteLength; ) at += writeSync(fd, bytes, at);
      });
      await batches((batch) => file.add(batch));
      file.end();
    } finally {
      closeSync(fd);
    }
    err.writeNow(`scope: ${target}: ${made} spans (OTLP ${format})\n`);
  }
  return 0;
}
