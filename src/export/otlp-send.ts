/**
 * OTLP/HTTP export requests: POST to the endpoint (http://host:4318/v1/traces), retried with
 * exponential backoff while the endpoint is unreachable or answers 429/502/503/504 (the
 * statuses OTLP/HTTP calls retryable), never longer than the caller's deadline. A 429 or
 * 503 with Retry-After is retried no sooner than it asks (OTLP/HTTP: the client SHOULD
 * honour it); one asking longer than the time left (or than RETRY_AFTER_MAX_MS without a
 * deadline) ends the sending at once, saying so. A success may still be partial: the
 * response's partial_success.rejected_spans (decoded by otlp-transformer's own
 * deserializer) are spans the endpoint took and dropped, counted as not sent.
 */
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { OtlpFormat } from "./otlp";

export interface SendResult {
  ok: boolean;
  attempts: number;
  /** Why the last attempt failed ("HTTP 400: ...", "connection refused"). */
  error?: string;
  /** A success's partial_success: how many spans the endpoint rejected, and its message. */
  rejected?: number;
  rejectedMessage?: string;
}

/** The longest Retry-After honoured when the caller gives no deadline (`scope export`). */
export const RETRY_AFTER_MAX_MS = 30_000;

/** A Retry-After header in ms (delta-seconds, or an HTTP date), or null when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** A 2xx body's partial_success, by the response's encoding (the request's, unless it says otherwise). */
function partialSuccess(bytes: Uint8Array, contentType: string, format: OtlpFormat): { rejected: number; message?: string } {
  if (bytes.byteLength === 0) return { rejected: 0 };
  const json = /json/i.test(contentType) || (!/protobuf/i.test(contentType) && format === "json");
  try {
    const partial = (json ? JsonTraceSerializer : ProtobufTraceSerializer).deserializeResponse(bytes).partialSuccess;
    // OTLP/JSON writes the int64 as a number or a string.
    const rejected = Number(partial?.rejectedSpans ?? 0);
    return { rejected: Number.isSafeInteger(rejected) && rejected > 0 ? rejected : 0, ...(partial?.errorMessage ? { message: failureText(new TextEncoder().encode(partial.errorMessage), "text/plain").slice(0, 200) } : {}) };
  } catch {
    return { rejected: 0 }; // not an ExportTraceServiceResponse: a plain success
  }
}

const retryable = new Set([429, 502, 503, 504]);

export function isUrl(target: string): boolean {
  return /^https?:\/\//i.test(target);
}

/**
 * The usage error for an --otlp endpoint that is not an http(s) URL with a host fetch can
 * take ("http://[::1", "http://a b/"), or null: such a URL failed every attempt only after
 * the program had run.
 */
export function endpointError(target: string): string | null {
  if (/^https?:\/\/[^/]/i.test(target) && URL.canParse(target)) return null;
  return `--otlp: expected an OTLP/HTTP endpoint URL such as http://127.0.0.1:4318/v1/traces, got "${target}"`;
}

/**
 * What a failed request's body says, for one line: OTLP/HTTP answers a failure with a
 * google.rpc.Status in the request's encoding, so a protobuf one is decoded (field 2, its
 * message; its bytes printed raw put control characters on the terminal); other bodies
 * give their first line.
 */
function failureText(bytes: Uint8Array, contentType: string): string {
  let text = "";
  if (/protobuf/i.test(contentType)) {
    for (let at = 0; at < bytes.length; ) {
      const tag = bytes[at++]!; // Status's fields (1 code, 2 message, 3 details) have one-byte tags
      let value = 0;
      for (let shift = 0, byte = 0x80; byte & 0x80 && at < bytes.length; shift += 7) {
        byte = bytes[at++]!;
        value += (byte & 0x7f) * 2 ** shift;
      }
      if ((tag & 7) === 2) {
        if (tag >> 3 === 2) {
          text = new TextDecoder().decode(bytes.subarray(at, at + value));
          break;
        }
        at += value;
      } else if ((tag & 7) !== 0) break;
    }
  } else text = new TextDecoder().decode(bytes).split("\n")[0]!;
  return text.replace(/[\x00-\x1f\x7f]+/g, " ").trim();
}

export async function sendOtlp(
  url: string,
  body: Uint8Array,
  format: OtlpFormat,
  options: { attempts?: number; firstBackoffMs?: number; timeoutMs?: number; deadlineMs?: () => number; signal?: AbortSignal } = {},
): Promise<SendResult> {
  const attemptsMax = options.attempts ?? 5;
  const firstBackoffMs = options.firstBackoffMs ?? 200;
  let backoffMs = firstBackoffMs;
  let error = "";
  // No attempt outlives the caller's deadline (a time from Date.now(), read at each attempt).
  const left = () => (options.deadlineMs ? options.deadlineMs() - Date.now() : Number.POSITIVE_INFINITY);
  for (let attempt = 1; attempt <= attemptsMax; attempt++) {
    let waitMs = backoffMs;
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": format === "json" ? "application/json" : "application/x-protobuf" },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(Math.max(1, Math.min(options.timeoutMs ?? 10_000, left()))), ...(options.signal ? [options.signal] : [])]),
      });
      const bytes = new Uint8Array(await response.arrayBuffer().catch(() => new ArrayBuffer(0)));
      const contentType = response.headers.get("content-type") ?? "";
      if (response.ok) {
        const partial = partialSuccess(bytes, contentType, format);
        return { ok: true, attempts: attempt, ...(partial.rejected ? { rejected: partial.rejected } : {}), ...(partial.message ? { rejectedMessage: partial.message } : {}) };
      }
      const text = failureText(bytes, contentType);
      error = `HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ""}`;
      if (!retryable.has(response.status)) return { ok: false, attempts: attempt, error };
      const after = response.status === 429 || response.status === 503 ? retryAfterMs(response.headers.get("retry-after")) : null;
      if (after !== null) {
        // No sooner than asked (at least the first backoff: a "Retry-After: 0" loop would spin).
        waitMs = Math.max(after, firstBackoffMs);
        const bound = Math.min(left(), RETRY_AFTER_MAX_MS);
        if (attempt < attemptsMax && waitMs > bound) {
          const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
          return { ok: false, attempts: attempt, error: `${error} (Retry-After ${seconds(after)}: longer than ${bound === RETRY_AFTER_MAX_MS ? "scope waits" : "the time left"}, ${seconds(Math.max(0, bound))})` };
        }
      }
    } catch (caught) {
      const cause = (caught as { cause?: { code?: string } }).cause?.code;
      error = cause ?? (caught as Error).message ?? String(caught);
    }
    if (attempt === attemptsMax || left() <= waitMs || options.signal?.aborted) return { ok: false, attempts: attempt, error };
    await sleep(waitMs, options.signal);
    if (options.signal?.aborted) return { ok: false, attempts: attempt, error };
    backoffMs = Math.min(backoffMs * 2, 5_000);
  }
  return { ok: false, attempts: attemptsMax, error };
}

/** Waits `ms`, or less when `signal` aborts (the flush time over during a Retry-After wait). */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
