/** `scope dump` text format: one line per event, time since start, process/thread, kind, details. */
import type { ChalkInstance } from "chalk";
import { UNPAIRED_CHANNELS, type FieldValue, type TraceEvent } from "../core/model";

export function formatTime(relativeNs: bigint): string {
  const ms = Number(relativeNs) / 1e6;
  return `${ms.toFixed(3).padStart(10)}ms`;
}

function quote(value: FieldValue): string {
  if (typeof value === "string") return JSON.stringify(value.length > 120 ? `${value.slice(0, 117)}...` : value);
  return String(value);
}

/** A query's, wait's or db_connection's database, server and user: ` db="app" server=127.0.0.1:5432 user="scope"`, what is known. */
function dbTarget(f: Record<string, FieldValue>): string {
  const server = typeof f.serverAddress === "string" ? (typeof f.serverPort === "number" && f.serverPort !== 0 ? `${f.serverAddress}:${f.serverPort}` : f.serverAddress) : "";
  return `${typeof f.database === "string" ? ` db=${quote(f.database)}` : ""}${server ? ` server=${server}` : ""}${typeof f.user === "string" ? ` user=${quote(f.user)}` : ""}`;
}

/** The trace's events by index, or a function giving where one ran (scope dump's streaming: stream.ts). */
export type EventsAt = readonly TraceEvent[] | ((index: number) => { pid: number; tid: number; index: number } | undefined);

function describe(event: TraceEvent, all: EventsAt): string {
  const f = event.fields;
  const where = (i: number) => {
    const other = typeof all === "function" ? all(i) : all[i];
    return other ? `${other.pid}/${other.tid} #${other.index}` : `#${i}`;
  };
  switch (event.kind) {
    case "message_send":
    case "message_receive": {
      // A send the runtime refused (it threw: an uncloneable value), and its marker after it.
      if (f.failed === true) return `${f.channel}#${f.ordinal} send refused by the runtime (it threw): the send before it on this channel was not sent`;
      if (f.refused === true) return `${f.channel}#${f.ordinal} ${f.sizeBytes}B ${quote(f.preview ?? "")} (refused by the runtime: not sent)`;
      const arrow = event.kind === "message_send" ? "→" : "←";
      // A WebSocket's two ends are never paired, nor a database server's pushed messages (zig/layout.zig ChannelKind): said so, not "lost".
      const unlinked =
        f.channel === "websocket"
          ? ` (${f.direction === 0 ? "client → server" : "server → client"}, ends not paired)`
          : UNPAIRED_CHANNELS.has(f.channel)
            ? ` (from the server, subscriber ${f.channelSubId})`
            : event.kind === "message_receive"
              ? " (no send)"
              : " (not received)";
      const links = event.linkedTo.length ? ` ${arrow} ${event.linkedTo.map(where).join(", ")}` : unlinked;
      return `${f.channel}#${f.ordinal} ${f.sizeBytes}B ${quote(f.preview ?? "")}${links}`;
    }
    case "channel_open":
    case "channel_close": {
      // A connection's open and close at one end (WebSocket): named by its channel and sub-id, as its messages' channel.
      const connection = `${f.channel} ${f.side ?? "connection"} ${f.channelSubId}`;
      if (event.kind === "channel_open") return `${connection} opened${f.where ? ` ${quote(f.where)}` : ""}${f.protocol ? ` protocol ${quote(f.protocol)}` : ""}`;
      const error = f.error ? ` error ${quote(f.error)}` : f.hadError ? " after an error" : "";
      return `${connection} closed${f.code !== null ? ` code ${f.code}` : ""}${f.reason ? ` ${quote(f.reason)}` : ""}${f.clean ? "" : " (no closing handshake)"}${error}`;
    }
    case "db_query":
    case "db_pool_wait": {
      const took = typeof f.durationNs === "number" ? `${(f.durationNs / 1e6).toFixed(3)}ms` : "(no end)";
      const outcome = f.failed ? ` failed ${f.errorCode ?? ""} ${quote(f.errorMessage ?? "")}` : event.kind === "db_query" && f.rows !== null && f.rows !== undefined ? ` rows=${f.rows}` : "";
      const request = f.request ? ` request=${f.request}` : "";
      const target = dbTarget(f);
      if (event.kind === "db_pool_wait") return `${f.system} pool wait ${took} open=${f.open} idle=${f.idle}${outcome}${target}${request}`;
      return `${f.system} ${quote(f.text ?? "")}${f.textCut ? " (cut)" : ""} params=${f.params} ${took}${outcome}${target}${request}`;
    }
    case "db_connection":
      return `${f.system} connection ${f.connection}${dbTarget(f)}`;
    case "db_query_end":
    case "db_pool_wait_end": {
      const begun = event.linkedTo.length ? ` of ${where(event.linkedTo[0]!)}` : " (no start)";
      return `${event.kind === "db_query_end" ? `query ${f.query}` : `wait ${f.wait}`}${begun}${f.failed ? ` failed ${f.errorCode ?? ""}` : ""}`;
    }
    case "http_server_request":
    case "http_client_request": {
      const peer = typeof f.peerIndex === "number" ? ` ${event.kind === "http_client_request" ? "→ server" : "← client"} ${where(f.peerIndex)}` : "";
      return `${describeRequest(event)}${peer}`;
    }
    case "http_step_start": {
      const took = typeof f.durationNs === "number" ? `${(f.durationNs / 1e6).toFixed(3)}ms` : "(no end)";
      const failed = f.failed ? ` failed ${f.errorType ?? ""} ${quote(f.errorMessage ?? "")}` : "";
      return `${f.stepKind} ${quote(f.name ?? "")}${f.route ? ` route ${quote(f.route)}` : ""} step ${f.step} ${took}${failed}`;
    }
    case "http_step_end": {
      // Its start (above it, with the step's kind, name and duration) is found by request and step.
      const failed = f.failed ? ` failed ${f.errorType ?? ""} ${quote(f.errorMessage ?? "")}` : "";
      const request = typeof f.requestIndex === "number" ? ` of request ${f.requestId} (${where(f.requestIndex)})` : ` of request ${f.requestId}`;
      return `step ${f.step} ended${request}${failed}`;
    }
    case "loop_sample": {
      const ms = (ns: FieldValue | undefined) => (Number(ns) / 1e6).toFixed(2);
      const busy = typeof f.utilisation === "number" ? ` busy ${(f.utilisation * 100).toFixed(1)}%` : " busy ?";
      return `delay min ${ms(f.delayMinNs)} p50 ${ms(f.delayP50Ns)} p99 ${ms(f.delayP99Ns)} max ${ms(f.delayMaxNs)} ms${busy}${f.atExit ? " (at exit)" : ""}`;
    }
    case "memory_sample": {
      const mib = (bytes: FieldValue | undefined) => (Number(bytes) / 2 ** 20).toFixed(1);
      return `heap ${mib(f.heapUsedBytes)}/${mib(f.heapTotalBytes)} MiB external ${mib(f.externalBytes)} MiB rss ${mib(f.rssBytes)} MiB${f.worker ? " (process)" : ""}${f.atExit ? " (at exit)" : ""}`;
    }
    case "long_task": {
      const what = f.function ? `${quote(f.function)} (${f.taskKind})` : `${f.taskKind}${f.origin ? ` ${quote(f.origin)}` : ""}`;
      const error = Number(f.errorNs) > 0 ? ` ±${(Number(f.errorNs) / 1e6).toFixed(1)}ms` : "";
      return `${(Number(f.durationNs) / 1e6).toFixed(3)}ms${error} ${what}`;
    }
    case "gc": {
      const mib = (bytes: FieldValue | undefined) => (Number(bytes) / 2 ** 20).toFixed(1);
      const heap = f.heapBeforeBytes !== null && f.heapAfterBytes !== null ? ` heap ${mib(f.heapBeforeBytes)} → ${mib(f.heapAfterBytes)} MiB` : "";
      return `${f.gcKind} ${(Number(f.durationNs) / 1e6).toFixed(3)}ms${f.gcFlags ? ` flags=${f.gcFlags}` : ""}${heap}`;
    }
    case "async_init":
      return `${f.type} ${f.asyncId} created ${Number(f.createdIn) > 1 ? `in ${f.createdIn}` : "at the top level"}${f.trigger !== f.createdIn ? ` (trigger ${f.trigger})` : ""}`;
    case "async_before":
      return `${f.type ?? "resource"} ${f.asyncId} runs${typeof f.durationNs === "number" ? ` ${(f.durationNs / 1e6).toFixed(3)}ms` : ""}${asyncWhere(f)}`;
    case "async_after":
      return `${f.asyncId} ended`;
    case "async_resolve":
      return `promise ${f.asyncId} resolved ${Number(f.resolvedIn) > 1 ? `in ${f.resolvedIn}` : "at the top level"}`;
    default:
      return Object.entries(f)
        .filter(([, value]) => value !== null && value !== "")
        .map(([key, value]) => `${key}=${quote(value)}`)
        .join(" ");
  }
}

/** Where an async record was written: inside which resource's callback (--async). */
function asyncWhere(f: TraceEvent["fields"]): string {
  return typeof f.async === "number" ? ` in ${f.async}` : "";
}

/** A body size; null: the runtime does not expose it. */
const size = (bytes: FieldValue | undefined) => (bytes === null || bytes === undefined ? "?B" : `${bytes}B`);

/** A request on one line: what it was, how it ended, its sizes, connection and what else is known. */
function describeRequest(event: TraceEvent): string {
  const f = event.fields;
  const server = event.kind === "http_server_request";
  const what = server ? (f.method === null && f.target === null ? "(unparsed request)" : `${f.method} ${quote(f.target ?? "")}`) : `${f.method} ${quote(f.url ?? "")}`;
  const parts = [what];
  if (f.end === undefined) parts.push("→ (no end in the trace)");
  else parts.push(`→ ${f.status || "-"} ${f.end} in ${(Number(f.durationNs) / 1e6).toFixed(3)}ms, sent ${size(server ? f.responseBytes : f.requestBytes)} received ${size(server ? f.requestBytes : f.responseBytes)}`);
  if (f.route) parts.push(`route ${quote(f.route)}`);
  if (f.errorCode) parts.push(`error ${f.errorCode}${f.errorMessage ? ` ${quote(f.errorMessage)}` : ""}`);
  if (f.connection) parts.push(`conn ${f.connection}#${server ? f.ordinal : f.connectionOrdinal}${f.remoteAddress ? ` ${server ? "from" : "to"} ${f.remoteAddress}:${f.remotePort}` : ""}`);
  if (server && f.protocol !== "HTTP/1.1" && f.protocol !== "unknown") parts.push(String(f.protocol));
  if (f.tls) parts.push("tls");
  if (f.traceparent) parts.push(`traceparent ${f.traceparent}`);
  if (f.api) parts.push(`(${f.api})`);
  parts.push(`request ${f.requestId}`);
  return parts.join(" ");
}

/**
 * Events in time order, except that what a request caused or says about it (`requestIndex`)
 * follows its request, one level deeper (a client request made while handling a server
 * request, and what that client request caused, nest further). An event whose request is
 * not among `events` (filtered out) stays where it is.
 */
export function nestByRequest(events: TraceEvent[]): { event: TraceEvent; depth: number }[] {
  const byIndex = new Map<number, TraceEvent>();
  for (const event of events) byIndex.set(event.index, event);
  const { order, depth } = nestOrder(
    events.map((event) => event.index),
    (index) => {
      const parent = byIndex.get(index)!.fields.requestIndex;
      return typeof parent === "number" ? parent : undefined;
    },
    (index) => byIndex.has(index),
  );
  return Array.from(order, (index, i) => ({ event: byIndex.get(index)!, depth: depth[i]! }));
}

/**
 * nestByRequest over indexes (scope dump's streaming keeps no events): `indexes`, the events
 * shown in index order; `parentOf`, an event's requestIndex; `present`, whether an index is
 * shown. Gives the indexes in the order shown and each one's depth.
 */
export function nestOrder(indexes: readonly number[], parentOf: (index: number) => number | undefined, present: (index: number) => boolean): { order: Uint32Array; depth: Uint32Array } {
  const parent = (index: number): number | undefined => {
    const request = parentOf(index);
    return request !== undefined && request !== index && present(request) ? request : undefined;
  };
  const children = new Map<number, number[]>();
  for (const index of indexes) {
    const request = parent(index);
    if (request === undefined) continue;
    let list = children.get(request);
    if (!list) children.set(request, (list = []));
    list.push(index);
  }
  const order = new Uint32Array(indexes.length);
  const depth = new Uint32Array(indexes.length);
  let out = 0;
  const placed = new Uint8Array(indexes.reduce((size, index) => Math.max(size, index + 1), 0));
  // Depth first, each request's events after it in their order (a stack, not recursion: requests nest deep).
  const place = (root: number) => {
    if (placed[root]) return;
    if (!children.has(root)) {
      // A root with nothing under it (most events): placed without a stack (2.2 M of them were 400 MB of garbage).
      placed[root] = 1;
      order[out] = root;
      depth[out++] = 0;
      return;
    }
    const stack: [number, number][] = [[root, 0]];
    while (stack.length) {
      const [index, level] = stack.pop()!;
      if (placed[index]) continue;
      placed[index] = 1;
      order[out] = index;
      depth[out++] = level;
      const list = children.get(index);
      if (list) for (let i = list.length - 1; i >= 0; i--) stack.push([list[i]!, level + 1]);
    }
  };
  for (const index of indexes) if (parent(index) === undefined) place(index);
  // Anything left (a cycle cannot happen in a well-formed trace, but never drop an event).
  for (const index of indexes) place(index);
  return { order, depth };
}

export function formatEventLine(event: TraceEvent, startNs: bigint, all: EventsAt, color: ChalkInstance, depth = 0): string {
  const kindColor = event.kind.includes("exit") ? color.yellow : event.kind.startsWith("message") ? color.cyan : event.kind.startsWith("db_") ? color.magenta : event.kind.startsWith("http_") ? color.blue : event.kind === "drop" || event.kind === "agent_error" || event.kind === "recording_stop" ? color.red : color.green;
  const thread = `${event.pid}/${event.tid}`.padEnd(12);
  const index = `#${event.index}`.padStart(6);
  const indent = depth > 0 ? "  ".repeat(depth) : "";
  return `${color.dim(formatTime(event.timestampNs - startNs))} ${color.dim(index)} ${color.bold(thread)} ${indent}${kindColor(event.kind.padEnd(16))} ${describe(event, all)}`;
}
