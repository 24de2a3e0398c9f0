import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * Every problem type the platform can answer with. The slug is the stable part of the
 * RFC 9457 `type` URI; clients switch on it, so entries are only ever added.
 */
export const PROBLEMS = {
  "invalid-request": { status: 400, title: "The request is not valid" },
  "malformed-json": { status: 400, title: "The body is not valid JSON" },
  "invalid-name": { status: 400, title: "The name is not valid" },
  "invalid-key": { status: 400, title: "The storage key is not valid" },
  "invalid-script": { status: 400, title: "The script is not valid" },
  "script-quota-exceeded": { status: 400, title: "The script is larger than the tenant's scriptBytes quota" },
  unauthorized: { status: 401, title: "Missing or unknown credentials" },
  forbidden: { status: 403, title: "The credentials do not allow this" },
  "egress-denied": { status: 403, title: "The platform's egress policy denied this request" },
  "not-found": { status: 404, title: "Not found" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  conflict: { status: 409, title: "The request conflicts with the current state" },
  "idempotency-key-in-use": { status: 409, title: "A request with this Idempotency-Key is still running" },
  "idempotency-key-reused": { status: 422, title: "This Idempotency-Key was used with a different request" },
  "payload-too-large": { status: 413, title: "The body is too large" },
  "quota-storage-bytes": { status: 413, title: "The tenant's storageBytes quota would be exceeded" },
  "quota-requests-per-minute": { status: 429, title: "The tenant's requestsPerMinute quota is used up" },
  "quota-concurrent-runs": { status: 429, title: "The tenant's concurrentRuns quota is used up" },
  "quota-runs-per-month": { status: 429, title: "The tenant's runsPerMonth quota is used up" },
  "quota-llm-tokens-per-month": { status: 429, title: "The tenant's llmTokensPerMonth quota is used up" },
  "quota-spend-cap": { status: 429, title: "The tenant's monthly spend cap is reached" },
  "unsupported-media-type": { status: 415, title: "Unsupported content type" },
  "internal-error": { status: 500, title: "Internal error" },
  "publish-failed": { status: 502, title: "Publishing to the runtime failed" },
  unavailable: { status: 503, title: "Temporarily unavailable" },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ProblemSlug = keyof typeof PROBLEMS;

export const PROBLEM_BASE = "https://isoplane.dev/problems/";

/** A typed error that the shared error handler turns into `application/problem+json`. */
export class ProblemError extends Error {
  readonly slug: ProblemSlug;
  readonly status: ContentfulStatusCode;
  readonly headers: Record<string, string>;
  readonly extra: Record<string, unknown>;

  constructor(
    slug: ProblemSlug,
    detail?: string,
    options: { headers?: Record<string, string>; extra?: Record<string, unknown> } = {},
  ) {
    super(detail ?? PROBLEMS[slug].title);
    this.slug = slug;
    this.status = PROBLEMS[slug].status;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }
}

export function problemBody(slug: ProblemSlug, detail: string, instance?: string, extra: Record<string, unknown> = {}) {
  return {
    type: PROBLEM_BASE + slug,
    title: PROBLEMS[slug].title,
    status: PROBLEMS[slug].status,
    detail,
    ...(instance ? { instance } : {}),
    ...extra,
  };
}

export function problemResponse(
  slug: ProblemSlug,
  detail: string,
  init: { instance?: string; headers?: Record<string, string>; extra?: Record<string, unknown> } = {},
): Response {
  return new Response(JSON.stringify(problemBody(slug, detail, init.instance, init.extra)), {
    status: PROBLEMS[slug].status,
    headers: { "content-type": "application/problem+json", ...init.headers },
  });
}

/** `app.onError`: typed errors keep their problem; anything else is a 500 that is logged, never echoed. */
export function onError(err: Error, c: Context): Response {
  const instance = new URL(c.req.url).pathname;
  if (err instanceof ProblemError) {
    return problemResponse(err.slug, err.message, { instance, headers: err.headers, extra: err.extra });
  }
  console.error(JSON.stringify({ level: "error", path: instance, error: String(err?.stack ?? err) }));
  return problemResponse("internal-error", "An unexpected error occurred.", { instance });
}

/** `app.notFound`: unknown routes answer like unknown resources. */
export function onNotFound(c: Context): Response {
  const url = new URL(c.req.url);
  return problemResponse("not-found", `No route for ${c.req.method} ${url.pathname}.`, { instance: url.pathname });
}
