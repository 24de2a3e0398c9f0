import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import { pageLimit } from "../../../core/http/pagination";
import { ProblemError } from "../../../core/http/problem";
import { isoTime } from "../../../core/log";
import { idParam } from "../../../core/names";
import type { DispatcherApp } from "../context";
import { callerOf, RUN_ID_HEADER } from "../runs/records";
import { SSE_HEADERS } from "../runs/sse";
import { runStub } from "../runs/stubs";
import { LastEventIdHeader, RunEvents, RunIdParam } from "../schemas";

/** `/v1/runs/{runId}/events` and `/stream`: a run's event log, read as a page or followed live (mounted in routes/runs.ts, behind its authentication). */
export const runEvents = new OpenAPIHono<DispatcherApp>();

const After = z.coerce.number().int().min(0).optional();

const listRunEvents = createRoute({
  method: "get",
  path: "/{runId}/events",
  operationId: "listRunEvents",
  summary: "The run's event log, live or archived",
  security: bearerSecurity,
  request: { params: RunIdParam, query: z.object({ after: After.openapi({ description: "The `next` of the previous page (default 0: from the start)." }), limit: pageLimit(500, 1000) }) },
  responses: { 200: { description: "Events in order", content: { "application/json": { schema: RunEvents } } }, ...problems(400, 401, 403, 404) },
});

openapi(runEvents, listRunEvents, async (c) => {
  const runId = idParam(c.req.valid("param").runId, "run", "run");
  const { after = 0, limit } = c.req.valid("query");
  const log = await runStub(c.env, c.var.tenant.tenantId, runId).events(callerOf(c.var.tenant), after, limit);
  if (!log) throw new ProblemError("not-found", "No run with that id.");
  const body: z.infer<typeof RunEvents> = {
    events: log.events.map((e) => ({ seq: e.seq, at: isoTime(e.at), type: e.type, data: JSON.parse(e.data) as unknown })),
    next: log.next,
  };
  return Response.json(body);
});

const streamRunEvents = createRoute({
  method: "get",
  path: "/{runId}/stream",
  operationId: "streamRunEvents",
  summary: "The run's events as server-sent events, resumable with Last-Event-ID, live until it ends",
  security: bearerSecurity,
  request: { params: RunIdParam, query: z.object({ after: After.openapi({ description: "Replay the events after this one (Last-Event-ID, when sent, wins)." }) }), headers: LastEventIdHeader },
  responses: { 200: { description: "text/event-stream", content: { "text/event-stream": { schema: z.string() } } }, ...problems(400, 401, 403, 404) },
});

/**
 * The run's events as server-sent events: replayed from after `Last-Event-ID` (or `?after=`), then
 * live until the run ends — the same ids as the first stream, so EventSource clients resume on
 * their own.
 */
openapi(runEvents, streamRunEvents, async (c) => {
  const runId = idParam(c.req.valid("param").runId, "run", "run");
  const header = c.req.valid("header")["last-event-id"];
  const after = header !== undefined ? Number(header) : (c.req.valid("query").after ?? 0);
  const stream = await runStub(c.env, c.var.tenant.tenantId, runId).follow(callerOf(c.var.tenant), after);
  if (!stream) throw new ProblemError("not-found", "No run with that id.");
  return new Response(stream, { headers: { ...SSE_HEADERS, [RUN_ID_HEADER]: runId } });
});
