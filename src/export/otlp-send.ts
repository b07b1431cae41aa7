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
      const text = await response.text().catch(() => "");
      if (response.ok) return { ok: true, attempts: attempt };
      error = `HTTP ${response.status}${text ? `: ${text.split("\n")[0]!.slice(0, 200)}` : ""}`;
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
