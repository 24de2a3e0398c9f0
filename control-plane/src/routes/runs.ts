import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { auditStatement } from "../../../core/audit";
import { db } from "../../../core/db/client";
import { runs, type Run } from "../../../core/db/schema";
import { bearerSecurity, describe, problems } from "../../../core/http/openapi";
import { ProblemError } from "../../../core/http/problem";
import { idParam } from "../../../core/names";
import { eventsBody, eventsRange, logRoutes, RUN_ID_HEADER, RunIdParam, storedOutput, streamStart } from "../../../core/runs/read";
import { runView } from "../../../core/runs/record";
import { RunRecord } from "../../../core/runs/schemas";
import { runStub } from "../../../dispatcher/src/runs/stubs";
import { SSE_HEADERS } from "../../../dispatcher/src/runs/sse";
import type { ControlPlaneApp } from "../context";
import { requireAdmin } from "../middleware/admin";

/**
 * One run of any tenant, for the operator: its record, log, live stream and cancellation, from
 * the run's own object in the dispatcher (the same calls its tenant makes on `/v1/runs/…`). The
 * run is found through the run index, which names its tenant: a run shows there within about two
 * seconds of being queued or starting.
 */
export const adminRuns = new OpenAPIHono<ControlPlaneApp>();
adminRuns.use("*", requireAdmin);

/** The run's index row, or the 404 an unknown run gets. */
async function indexed(d1: D1Database, id: string | undefined): Promise<Run> {
  const runId = idParam(id, "run", "run");
  const row = await db(d1).select().from(runs).where(eq(runs.id, runId)).get();
  if (!row) throw new ProblemError("not-found", "No run with that id (a run is listed within about two seconds of starting).");
  return row;
}

/** The operator acts for the run's tenant: every run of it, whoever started it. */
const asTenant = (row: Run) => ({ tenantId: row.tenantId, endUser: null });

const AdminRun = RunRecord.extend({ tenantId: z.string(), output: z.unknown().openapi({ description: "The stored output of a succeeded run; null otherwise." }) }).openapi("AdminRun");

/** The live record from the run's object (after its retention, the index row), its tenant and its output. */
adminRuns.get("/:runId", async (c) => {
  const row = await indexed(c.env.DB, c.req.param("runId"));
  const view = (await runStub(c.env, row.tenantId, row.id).view(asTenant(row))) ?? runView(row);
  return c.json({ ...view, tenantId: row.tenantId, output: await storedOutput(c.env.BUCKET, row.tenantId, view) } satisfies z.infer<typeof AdminRun>);
});

adminRuns.get("/:runId/events", async (c) => {
  const row = await indexed(c.env.DB, c.req.param("runId"));
  const { after, limit } = eventsRange(c.req.query());
  const log = await runStub(c.env, row.tenantId, row.id).events(asTenant(row), after, limit);
  if (!log) throw new ProblemError("not-found", "The run's log is no longer kept (past its tenant's retention).");
  return c.json(eventsBody(log));
});

/** Server-sent events: replayed after `Last-Event-ID` (or `?after=`), then live until the run ends. */
adminRuns.get("/:runId/stream", async (c) => {
  const row = await indexed(c.env.DB, c.req.param("runId"));
  const after = streamStart(c.req.header("last-event-id"), c.req.query());
  const stream = await runStub(c.env, row.tenantId, row.id).follow(asTenant(row), after);
  if (!stream) throw new ProblemError("not-found", "The run's log is no longer kept (past its tenant's retention).");
  return new Response(stream, { headers: { ...SSE_HEADERS, [RUN_ID_HEADER]: row.id } });
});

/** Ends a queued or running run at once, as its tenant's own cancel does; recorded in the audit log. */
adminRuns.post("/:runId/cancel", async (c) => {
  const row = await indexed(c.env.DB, c.req.param("runId"));
  const result = await runStub(c.env, row.tenantId, row.id).cancel(asTenant(row));
  if (!result) throw new ProblemError("not-found", "The run is no longer kept (past its tenant's retention).");
  if (result === "ended") throw new ProblemError("conflict", "The run has already ended.");
  await c.env.DB.batch([auditStatement(c.env.DB, { actor: c.var.actor, tenantId: row.tenantId, action: "run.cancel", target: row.id, detail: { agent: row.agent } })]);
  return c.json({ ...result, tenantId: row.tenantId, output: null } satisfies z.infer<typeof AdminRun>);
});

export function describeAdminRuns(app: OpenAPIHono<ControlPlaneApp>): void {
  const run = { description: "The run", content: { "application/json": { schema: AdminRun } } };
  describe(
    app,
    createRoute({
      method: "get",
      path: "/admin/runs/{runId}",
      summary: "A run of any tenant: its live record, tenant and output",
      security: bearerSecurity,
      request: { params: RunIdParam },
      responses: { 200: run, ...problems(401, 403, 404) },
    }),
    ...logRoutes("/admin/runs"),
    createRoute({
      method: "post",
      path: "/admin/runs/{runId}/cancel",
      summary: "Cancel a queued or running run of any tenant (audited as run.cancel)",
      security: bearerSecurity,
      request: { params: RunIdParam },
      responses: { 200: run, ...problems(401, 403, 404, 409) },
    }),
  );
}
