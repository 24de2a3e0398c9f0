import { createRoute, z } from "@hono/zod-openapi";
import { bearerSecurity, problems } from "../http/openapi";
import { pageLimit } from "../http/pagination";
import { isoTime } from "../log";

/**
 * A run's log, read the same way wherever it is read: by its tenant on the dispatcher
 * (`/v1/runs/…`) and by the operator on the control plane (`/admin/runs/…`).
 */

export const RunEvent = z
  .object({ seq: z.number().int(), at: z.string().datetime(), type: z.string(), data: z.unknown() })
  .openapi("RunEvent");

export const RunEvents = z
  .object({ events: z.array(RunEvent), next: z.number().int().nullable().openapi({ description: "Pass as `after` to read on; null at the end." }) })
  .openapi("RunEvents");

/** Run ids of the wrong shape are not refused here: they cannot exist, so they get the 404 of a missing run. */
export const RunIdParam = z.object({ runId: z.string().openapi({ param: { name: "runId", in: "path" }, example: "run_01jd0000000000000000" }) });

export const LastEventIdHeader = z.object({
  "last-event-id": z
    .string()
    .trim()
    .regex(/^\d{1,15}$/, "the id of an event of this run.")
    .optional()
    .openapi({ description: "Resume after this event id (what EventSource sends on reconnect)." }),
});

const After = z.coerce.number().int().min(0).optional();

/**
 * The two routes of a run's log, relative to the router they are mounted on (`/{runId}/events`,
 * `/{runId}/stream`), with each document's own operation ids.
 */
export function logRoutes<E extends string, S extends string>(operationIds: { events: E; stream: S }) {
  return {
    events: createRoute({
      method: "get",
      path: "/{runId}/events",
      operationId: operationIds.events,
      summary: "The run's event log, live or archived",
      security: bearerSecurity,
      request: {
        params: RunIdParam,
        query: z.object({ after: After.openapi({ description: "The `next` of the previous page (default 0: from the start)." }), limit: pageLimit(500, 1000) }),
      },
      responses: { 200: { description: "Events in order", content: { "application/json": { schema: RunEvents } } }, ...problems(400, 401, 403, 404) },
    }),
    stream: createRoute({
      method: "get",
      path: "/{runId}/stream",
      operationId: operationIds.stream,
      summary: "The run's events as server-sent events, resumable with Last-Event-ID, live until it ends",
      security: bearerSecurity,
      request: {
        params: RunIdParam,
        query: z.object({ after: After.openapi({ description: "Replay the events after this one (Last-Event-ID, when sent, wins)." }) }),
        headers: LastEventIdHeader,
      },
      responses: { 200: { description: "text/event-stream", content: { "text/event-stream": { schema: z.string() } } }, ...problems(400, 401, 403, 404) },
    }),
  };
}

/** Where a stream resumes: after `Last-Event-ID` (an EventSource reconnecting), else `?after=`, else the start. */
export const streamStart = (lastEventId: string | undefined, after: number | undefined): number => (lastEventId !== undefined ? Number(lastEventId) : (after ?? 0));

/** A page of the log as the API answers it: each event's stored JSON text parsed back. */
export function eventsBody(log: { events: { seq: number; at: number; type: string; data: string }[]; next: number | null }): z.infer<typeof RunEvents> {
  return {
    events: log.events.map((e) => ({ seq: e.seq, at: isoTime(e.at), type: e.type, data: JSON.parse(e.data) as unknown })),
    next: log.next,
  };
}
