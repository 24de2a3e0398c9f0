import { OpenAPIHono } from "@hono/zod-openapi";
import { openapi } from "../../../core/http/openapi";
import { ProblemError } from "../../../core/http/problem";
import { idParam } from "../../../core/names";
import { eventsBody, logRoutes, streamStart } from "../../../core/runs/read";
import type { DispatcherApp } from "../context";
import { callerOf, RUN_ID_HEADER } from "../runs/records";
import { SSE_HEADERS } from "../runs/sse";
import { runStub } from "../runs/stubs";

/** `/v1/runs/{runId}/events` and `/stream`: a run's event log, read as a page or followed live (mounted in routes/runs.ts, behind its authentication). */
export const runEvents = new OpenAPIHono<DispatcherApp>();

// The same two routes as the operator's /admin/runs/{runId}/… (core/runs/read.ts).
const log = logRoutes({ events: "listRunEvents", stream: "streamRunEvents" });

openapi(runEvents, log.events, async (c) => {
  const runId = idParam(c.req.valid("param").runId, "run", "run");
  const { after = 0, limit } = c.req.valid("query");
  const events = await runStub(c.env, c.var.tenant.tenantId, runId).events(callerOf(c.var.tenant), after, limit);
  if (!events) throw new ProblemError("not-found", "No run with that id.");
  return Response.json(eventsBody(events));
});

/**
 * The run's events as server-sent events: replayed from after `Last-Event-ID` (or `?after=`), then
 * live until the run ends — the same ids as the first stream, so EventSource clients resume on
 * their own.
 */
openapi(runEvents, log.stream, async (c) => {
  const runId = idParam(c.req.valid("param").runId, "run", "run");
  const after = streamStart(c.req.valid("header")["last-event-id"], c.req.valid("query").after);
  const stream = await runStub(c.env, c.var.tenant.tenantId, runId).follow(callerOf(c.var.tenant), after);
  if (!stream) throw new ProblemError("not-found", "No run with that id.");
  return new Response(stream, { headers: { ...SSE_HEADERS, [RUN_ID_HEADER]: runId } });
});
