import { logEvent } from "../log";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

import { PROBLEM_BASE, PROBLEMS, type ProblemSlug } from "../contract.js";

// The problem types, their statuses and titles are part of the wire contract (core/contract.js).
export { PROBLEM_BASE, PROBLEMS, type ProblemSlug };


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
  logEvent("error", "unhandled-error", { path: instance, error: String(err?.stack ?? err) });
  return problemResponse("internal-error", "An unexpected error occurred.", { instance });
}

/** `app.notFound`: unknown routes answer like unknown resources. */
export function onNotFound(c: Context): Response {
  const url = new URL(c.req.url);
  return problemResponse("not-found", `No route for ${c.req.method} ${url.pathname}.`, { instance: url.pathname });
}
