import { createRoute, z, type RouteConfig } from "@hono/zod-openapi";
import { bearerSecurity, problems } from "../http/openapi";
import { ProblemError } from "../http/problem";
import { queryParams } from "../http/validate";
import { resultKey } from "../storage/keys";

/**
 * Reading a run's output and log the same way wherever it is read: by its tenant on the
 * dispatcher (`/v1/runs/…`) and by the operator on the control plane (`/admin/runs/…`).
 */

export const RunEvent = z
  .object({ seq: z.number().int(), at: z.string().datetime(), type: z.string(), data: z.unknown() })
  .openapi("RunEvent");

export const RunEvents = z
  .object({ events: z.array(RunEvent), next: z.number().int().nullable().openapi({ description: "Pass as `after` to read on; null at the end." }) })
  .openapi("RunEvents");

export const EventsQuery = z.object({
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

export const StreamQuery = z.object({ after: z.coerce.number().int().min(0).optional() });

export const LastEventIdHeader = z.object({
  "last-event-id": z.string().max(16).optional().openapi({ description: "Resume after this event id (what EventSource sends on reconnect)." }),
});

export const RUN_ID_HEADER = "x-isoplane-run-id";

export const RunIdParam = z.object({ runId: z.string().openapi({ param: { name: "runId", in: "path" }, example: "run_01jd0000000000000000" }) });

/** The OpenAPI entries of a run's log under `base` (`/v1/runs` for its tenant, `/admin/runs` for the operator). */
export function logRoutes(base: string): RouteConfig[] {
  return [
    createRoute({
      method: "get",
      path: `${base}/{runId}/events`,
      summary: "The run's event log, live or archived",
      security: bearerSecurity,
      request: { params: RunIdParam, query: EventsQuery },
      responses: { 200: { description: "Events in order", content: { "application/json": { schema: RunEvents } } }, ...problems(400, 401, 403, 404) },
    }),
    createRoute({
      method: "get",
      path: `${base}/{runId}/stream`,
      summary: "The run's events as server-sent events, resumable with Last-Event-ID, live until it ends",
      security: bearerSecurity,
      request: { params: RunIdParam, query: StreamQuery, headers: LastEventIdHeader },
      responses: { 200: { description: "text/event-stream", content: { "text/event-stream": { schema: z.string() } } }, ...problems(400, 401, 403, 404) },
    }),
  ];
}

/** The stored output of a succeeded run (null otherwise). */
export async function storedOutput(bucket: R2Bucket, tenantId: string, run: { id: string; status: string }): Promise<unknown> {
  if (run.status !== "succeeded") return null;
  const object = await bucket.get(resultKey(tenantId, run.id, ["output.json"]));
  return object ? object.json() : null;
}

/** `after` and `limit` of an events read (defaults: from the start, 500 events). */
export function eventsRange(query: Record<string, string>): { after: number; limit: number } {
  const { after = 0, limit = 500 } = queryParams(query, EventsQuery);
  return { after, limit };
}

/** A page of the log as the API answers it: each event's stored JSON text parsed back. */
export function eventsBody(log: { events: { seq: number; at: number; type: string; data: string }[]; next: number | null }): z.infer<typeof RunEvents> {
  return {
    events: log.events.map((e) => ({ seq: e.seq, at: new Date(e.at).toISOString(), type: e.type, data: JSON.parse(e.data) as unknown })),
    next: log.next,
  };
}

/** Where a stream resumes: after `Last-Event-ID` (an EventSource reconnecting), else `?after=`, else the start. */
export function streamStart(lastEventId: string | undefined, query: Record<string, string>): number {
  const { after } = queryParams(query, StreamQuery);
  if (lastEventId === undefined) return after ?? 0;
  if (!/^\d{1,15}$/.test(lastEventId.trim())) throw new ProblemError("invalid-request", "Last-Event-ID: the id of an event of this run.");
  return Number(lastEventId.trim());
}
