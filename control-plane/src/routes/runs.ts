import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, gte, lt, lte } from "drizzle-orm";
import { db } from "../../../core/db/client";
import { runs, type Run } from "../../../core/db/schema";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import { NextCursor, page, PageQuery } from "../../../core/http/pagination";
import { ProblemError } from "../../../core/http/problem";
import { AgentName, idParam } from "../../../core/names";
import { eventsBody, logRoutes, RunIdParam, streamStart } from "../../../core/runs/read";
import { runView } from "../../../core/runs/record";
import { RunRecord, RunStatus } from "../../../core/runs/schemas";
import { RUN_ID_HEADER, storedOutput } from "../../../dispatcher/src/runs/records";
import { SSE_HEADERS } from "../../../dispatcher/src/runs/sse";
import { runStub } from "../../../dispatcher/src/runs/stubs";
import { auditStatement } from "../audit";
import type { ControlPlaneApp } from "../context";

/**
 * `/admin/runs` (the admin token, checked in app.ts): every tenant's runs, for support — the list,
 * and one run's record, log, live stream and cancellation, from the run's own object in the
 * dispatcher (the same calls its tenant makes on `/v1/runs/…`). A run is found through the run
 * index, which names its tenant: a run shows there within about two seconds of being queued or
 * starting.
 */
export const adminRuns = new OpenAPIHono<ControlPlaneApp>();

const AdminRunList = z.object({ runs: z.array(RunRecord.extend({ tenantId: z.string() })), cursor: NextCursor }).openapi("AdminRunList");

const listAllRuns = createRoute({
  method: "get",
  path: "/",
  operationId: "listAllRuns",
  summary: "Runs of every tenant, newest first, by tenant, agent, status and creation time",
  security: bearerSecurity,
  request: {
    query: PageQuery({ limit: 50, max: 100 }).extend({
      tenant: z.string().max(64).optional(),
      agent: AgentName.optional(),
      status: RunStatus.optional(),
      from: z.string().datetime().optional().openapi({ description: "Only runs created at or after this time." }),
      to: z.string().datetime().optional().openapi({ description: "Only runs created at or before this time." }),
    }),
  },
  responses: { 200: { description: "A page", content: { "application/json": { schema: AdminRunList } } }, ...problems(400, 401, 403) },
});

/** Every tenant's runs, newest first, for support. */
openapi(adminRuns, listAllRuns, async (c) => {
  const q = c.req.valid("query");
  const rows = await db(c.env.DB)
    .select()
    .from(runs)
    .where(
      and(
        q.tenant ? eq(runs.tenantId, q.tenant) : undefined,
        q.agent ? eq(runs.agent, q.agent) : undefined,
        q.status ? eq(runs.status, q.status) : undefined,
        q.from ? gte(runs.createdAt, Date.parse(q.from)) : undefined,
        q.to ? lte(runs.createdAt, Date.parse(q.to)) : undefined,
        q.cursor ? lt(runs.id, q.cursor) : undefined,
      ),
    )
    .orderBy(desc(runs.id))
    .limit(q.limit + 1)
    .all();
  const { items, cursor } = page(rows, q.limit, (r) => r.id);
  return c.json({ runs: items.map((r) => ({ ...runView(r), tenantId: r.tenantId })), cursor } satisfies z.infer<typeof AdminRunList>);
});

/** The run's index row, or the 404 an unknown run gets. */
async function indexed(d1: D1Database, id: string): Promise<Run> {
  const runId = idParam(id, "run", "run");
  const row = await db(d1).select().from(runs).where(eq(runs.id, runId)).get();
  if (!row) throw new ProblemError("not-found", "No run with that id (a run is listed within about two seconds of starting).");
  return row;
}

/** The operator acts for the run's tenant: every run of it, whoever started it. */
const asTenant = (row: Run) => ({ tenantId: row.tenantId, endUser: null });

const AdminRun = RunRecord.extend({ tenantId: z.string(), output: z.unknown().openapi({ description: "The stored output of a succeeded run; null otherwise." }) }).openapi("AdminRun");
const adminRun = { description: "The run", content: { "application/json": { schema: AdminRun } } };

const getAnyRun = createRoute({
  method: "get",
  path: "/{runId}",
  operationId: "getAnyRun",
  summary: "A run of any tenant: its live record, tenant and output",
  security: bearerSecurity,
  request: { params: RunIdParam },
  responses: { 200: adminRun, ...problems(401, 403, 404) },
});

/** The live record from the run's object (after its retention, the index row), its tenant and its output. */
openapi(adminRuns, getAnyRun, async (c) => {
  const row = await indexed(c.env.DB, c.req.valid("param").runId);
  const view = (await runStub(c.env, row.tenantId, row.id).view(asTenant(row))) ?? runView(row);
  return c.json({ ...view, tenantId: row.tenantId, output: await storedOutput(c.env.BUCKET, row.tenantId, view) } satisfies z.infer<typeof AdminRun>);
});

// The same two routes as the tenant's /v1/runs/{runId}/… (core/runs/read.ts).
const log = logRoutes({ events: "listAnyRunEvents", stream: "streamAnyRunEvents" });

openapi(adminRuns, log.events, async (c) => {
  const row = await indexed(c.env.DB, c.req.valid("param").runId);
  const { after = 0, limit } = c.req.valid("query");
  const events = await runStub(c.env, row.tenantId, row.id).events(asTenant(row), after, limit);
  if (!events) throw new ProblemError("not-found", "The run's log is no longer kept (past its tenant's retention).");
  return c.json(eventsBody(events));
});

/** Server-sent events: replayed after `Last-Event-ID` (or `?after=`), then live until the run ends. */
openapi(adminRuns, log.stream, async (c) => {
  const row = await indexed(c.env.DB, c.req.valid("param").runId);
  const after = streamStart(c.req.valid("header")["last-event-id"], c.req.valid("query").after);
  const stream = await runStub(c.env, row.tenantId, row.id).follow(asTenant(row), after);
  if (!stream) throw new ProblemError("not-found", "The run's log is no longer kept (past its tenant's retention).");
  return new Response(stream, { headers: { ...SSE_HEADERS, [RUN_ID_HEADER]: row.id } });
});

const cancelAnyRun = createRoute({
  method: "post",
  path: "/{runId}/cancel",
  operationId: "cancelAnyRun",
  summary: "Cancel a queued or running run of any tenant (audited as run.cancel)",
  security: bearerSecurity,
  request: { params: RunIdParam },
  responses: { 200: adminRun, ...problems(401, 403, 404, 409) },
});

/** Ends a queued or running run at once, as its tenant's own cancel does; recorded in the audit log. */
openapi(adminRuns, cancelAnyRun, async (c) => {
  const row = await indexed(c.env.DB, c.req.valid("param").runId);
  const result = await runStub(c.env, row.tenantId, row.id).cancel(asTenant(row));
  if (!result) throw new ProblemError("not-found", "The run is no longer kept (past its tenant's retention).");
  if (result === "ended") throw new ProblemError("conflict", "The run has already ended.");
  await c.env.DB.batch([auditStatement(c.env.DB, { actor: c.var.actor, tenantId: row.tenantId, action: "run.cancel", target: row.id, detail: { agent: row.agent } })]);
  return c.json({ ...result, tenantId: row.tenantId, output: null } satisfies z.infer<typeof AdminRun>);
});
