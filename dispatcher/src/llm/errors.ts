/**
 * A model provider's failure, in the terms the gateway decides on: the HTTP status the provider
 * answered (null: no answer — the connection failed or timed out) and how long it asked the
 * caller to wait (`Retry-After`, `retry-after-ms`), if it said. Every provider throws only these,
 * so retries and fallbacks do not depend on which SDK is underneath.
 */
export class ProviderError extends Error {
  override readonly name = "ProviderError";

  constructor(
    message: string,
    readonly status: number | null,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }

  /** Worth another attempt: rate limited, overloaded, a server error, or no answer at all. */
  get retryable(): boolean {
    return this.status === null || this.status === 408 || this.status === 409 || this.status === 429 || this.status >= 500;
  }
}

type HeaderSource = Headers | Record<string, string | null | undefined> | null | undefined;

function header(headers: HeaderSource, name: string): string | null {
  if (!headers) return null;
  if (headers instanceof Headers) return headers.get(name);
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name && typeof v === "string") return v;
  return null;
}

/**
 * How long a response asks to be left alone, in ms: `retry-after-ms` (OpenAI's), else
 * `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3). Null when absent or unreadable.
 */
export function retryAfterMs(headers: HeaderSource, now = Date.now()): number | null {
  const ms = header(headers, "retry-after-ms");
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const value = header(headers, "retry-after")?.trim();
  if (!value) return null;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  // Every HTTP-date form starts with the day's name; Date.parse alone would take "-1" for a year.
  const at = /^[A-Za-z]{3}/.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
