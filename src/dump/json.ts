/** `scope dump --json`: one JSON object per line, times in ns since the trace's start. */
import type { TraceEvent } from "../core/model";

export function eventToJson(event: TraceEvent, startNs: bigint): string {
  return JSON.stringify({
    index: event.index,
    timeNs: Number(event.timestampNs - startNs),
    kind: event.kind,
    pid: event.pid,
    tid: event.tid,
    ...event.fields,
    ...(event.linkedTo.length ? { linkedTo: event.linkedTo } : {}),
  });
}
