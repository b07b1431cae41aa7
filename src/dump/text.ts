/** `scope dump` text format: one line per event, time since start, process/thread, kind, details. */
import type { ChalkInstance } from "chalk";
import type { FieldValue, TraceEvent } from "../core/model";

export function formatTime(relativeNs: bigint): string {
  const ms = Number(relativeNs) / 1e6;
  return `${ms.toFixed(3).padStart(10)}ms`;
}

function quote(value: FieldValue): string {
  if (typeof value === "string") return JSON.stringify(value.length > 120 ? `${value.slice(0, 117)}...` : value);
  return String(value);
}

function describe(event: TraceEvent, all: TraceEvent[]): string {
  const f = event.fields;
  const where = (i: number) => {
    const other = all[i];
    return other ? `${other.pid}/${other.tid} #${other.index}` : `#${i}`;
  };
  switch (event.kind) {
    case "message_send":
    case "message_receive": {
      const arrow = event.kind === "message_send" ? "→" : "←";
      const links = event.linkedTo.length ? ` ${arrow} ${event.linkedTo.map(where).join(", ")}` : event.kind === "message_receive" ? " (no send)" : " (not received)";
      return `${f.channel}#${f.ordinal} ${f.sizeBytes}B ${quote(f.preview ?? "")}${links}`;
    }
    case "db_query":
    case "db_pool_wait": {
      const took = typeof f.durationNs === "number" ? `${(f.durationNs / 1e6).toFixed(3)}ms` : "(no end)";
      const outcome = f.failed ? ` failed ${f.errorCode ?? ""} ${quote(f.errorMessage ?? "")}` : event.kind === "db_query" && f.rows !== null && f.rows !== undefined ? ` rows=${f.rows}` : "";
      const request = f.request ? ` request=${f.request}` : "";
      if (event.kind === "db_pool_wait") return `${f.system} pool wait ${took} open=${f.open} idle=${f.idle}${outcome}${request}`;
      return `${f.system} ${quote(f.text ?? "")}${f.textCut ? " (cut)" : ""} params=${f.params} ${took}${outcome}${request}`;
    }
    case "db_query_end":
    case "db_pool_wait_end": {
      const begun = event.linkedTo.length ? ` of ${where(event.linkedTo[0]!)}` : " (no start)";
      return `${event.kind === "db_query_end" ? `query ${f.query}` : `wait ${f.wait}`}${begun}${f.failed ? ` failed ${f.errorCode ?? ""}` : ""}`;
    }
    default:
      return Object.entries(f)
        .filter(([, value]) => value !== null && value !== "")
        .map(([key, value]) => `${key}=${quote(value)}`)
        .join(" ");
  }
}

export function formatEventLine(event: TraceEvent, startNs: bigint, all: TraceEvent[], color: ChalkInstance): string {
  const kindColor = event.kind.includes("exit") ? color.yellow : event.kind.startsWith("message") ? color.cyan : event.kind.startsWith("db_") ? color.magenta : event.kind === "drop" || event.kind === "agent_error" || event.kind === "recording_stop" ? color.red : color.green;
  const thread = `${event.pid}/${event.tid}`.padEnd(12);
  const index = `#${event.index}`.padStart(6);
  return `${color.dim(formatTime(event.timestampNs - startNs))} ${color.dim(index)} ${color.bold(thread)} ${kindColor(event.kind.padEnd(16))} ${describe(event, all)}`;
}
