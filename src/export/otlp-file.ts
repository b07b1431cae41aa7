/**
 * An OTLP file written batch by batch (`scope export --otlp FILE`): one
 * ExportTraceServiceRequest, as one request would carry it, without holding its spans.
 *
 * - protobuf: the batches' requests one after the other. A message's repeated field
 *   (resource_spans) read from concatenated messages is their lists end to end, so the file
 *   is one request holding every batch's ResourceSpans (a process's spans may be in several).
 * - JSON: `{"resourceSpans":[` + each batch's list, comma-separated + `]}`.
 * - No span: the empty request, as the whole-trace writer wrote it.
 */
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { serializeSpans, type OtlpFormat } from "./otlp";

const encoder = new TextEncoder();
const JSON_OPEN = '{"resourceSpans":[';
const JSON_CLOSE = "]}";

export class OtlpFile {
  private batches = 0;

  constructor(
    private readonly format: OtlpFormat,
    private readonly write: (bytes: Uint8Array) => void,
  ) {}

  add(spans: ReadableSpan[]): void {
    if (spans.length === 0) return;
    const bytes = serializeSpans(spans, this.format);
    if (this.format === "protobuf") this.write(bytes);
    else {
      const text = new TextDecoder().decode(bytes);
      if (!text.startsWith(JSON_OPEN) || !text.endsWith(JSON_CLOSE)) throw new Error(`the OTLP JSON serializer wrote an unexpected document: ${text.slice(0, 40)}`);
      this.write(encoder.encode(`${this.batches ? "," : JSON_OPEN}${text.slice(JSON_OPEN.length, -JSON_CLOSE.length)}`));
    }
    this.batches++;
  }

  end(): void {
    if (this.batches === 0) this.write(serializeSpans([], this.format));
    else if (this.format === "json") this.write(encoder.encode(JSON_CLOSE));
  }
}
