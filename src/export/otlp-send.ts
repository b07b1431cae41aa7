/**
 * OTLP/HTTP export requests: POST to the endpoint (http://host:4318/v1/traces), retried with
 * exponential backoff while the endpoint is unreachable or answers 429/502/503/504 (the
 * statuses OTLP/HTTP calls retryable), never longer than the caller's deadline.
 */
import type { OtlpFormat } from "./otlp";

export interface SendResult {
  ok: boolean;
  attempts: number;
  /** Why the last attempt failed ("HTTP 400: ...", "connection refused"). */
  error?: string;
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
  let backoffMs = options.firstBackoffMs ?? 200;
  let error = "";
  // No attempt outlives the caller's deadline (a time from Date.now(), read at each attempt).
  const left = () => (options.deadlineMs ? options.deadlineMs() - Date.now() : Number.POSITIVE_INFINITY);
  for (let attempt = 1; attempt <= attemptsMax; attempt++) {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": format === "json" ? "application/json" : "application/x-protobuf" },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(Math.max(1, Math.min(options.timeoutMs ?? 10_000, left()))), ...(options.signal ? [options.signal] : [])]),
      });
      const bytes = new Uint8Array(await response.arrayBuffer().catch(() => new ArrayBuffer(0)));
      if (response.ok) return { ok: true, attempts: attempt };
      const text = failureText(bytes, response.headers.get("content-type") ?? "");
      error = `HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ""}`;
      if (!retryable.has(response.status)) return { ok: false, attempts: attempt, error };
    } catch (caught) {
      const cause = (caught as { cause?: { code?: string } }).cause?.code;
      error = cause ?? (caught as Error).message ?? String(caught);
    }
    if (attempt === attemptsMax || left() <= backoffMs || options.signal?.aborted) return { ok: false, attempts: attempt, error };
    await new Promise((resolve) => setTimeout(resolve, backoffMs));
    backoffMs = Math.min(backoffMs * 2, 5_000);
  }
  return { ok: false, attempts: attemptsMax, error };
}
