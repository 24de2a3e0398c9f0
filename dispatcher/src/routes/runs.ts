import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireTenant } from "../../../core/auth/middleware";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import { PageQuery } from "../../../core/http/pagination";
import { ProblemError } from "../../../core/http/problem";
import { AgentName, idParam } from "../../../core/names";
import { resultKey } from "../../../core/storage/keys";
import type { DispatcherApp } from "../context";
import { admitRequest } from "../quota/admission";
import { callerOf, findRun, listRuns } from "../runs/records";
import { runStub } from "../runs/stubs";
import { RunIdParam, RunList, RunRecord, RunStatus } from "../schemas";
import { runEvents } from "./run-events";

/** `/v1/runs`: run records, their results, events and cancellation (each request counts against requestsPerMinute). */
export const runRecords = new OpenAPIHono<DispatcherApp>();
runRecords.use("*", requireTenant("runs", { endUsers: true }));
runRecords.use("*", async (c, next) => {
  await admitRequest(c.env, c.var.tenant);
  await next();
});
runRecords.route("/", runEvents);

const record = { description: "The run", content: { "application/json": { schema: RunRecord } } };

const listRunsRoute = createRoute({
  method: "get",
  path: "/",
  operationId: "listRuns",
  summary: "Runs, newest first (the run index)",
  security: bearerSecurity,
  request: { query: PageQuery({ limit: 20, max: 100 }).extend({ agent: AgentName.optional(), status: RunStatus.optional() }) },
  responses: { 200: { description: "A page", content: { "application/json": { schema: RunList } } }, ...problems(400, 401, 403) },
});

/** The run index (written in batches from the runs' objects, so a run appears within a second or two). */
openapi(runRecords, listRunsRoute, async (c) => c.json((await listRuns(c.env.DB, c.var.tenant, c.req.valid("query"))) satisfies z.infer<typeof RunList>));

const getRun = createRoute({
  method: "get",
  path: "/{runId}",
  operationId: "getRun",
  summary: "A run record",
  security: bearerSecurity,
  request: { params: RunIdParam },
  responses: { 200: record, ...problems(401, 403, 404) },
});

openapi(runRecords, getRun, async (c) => c.json(await findRun(c.env, c.var.tenant, c.req.valid("param").runId)));

const getRunResult = createRoute({
  method: "get",
  path: "/{runId}/result",
  operationId: "getRunResult",
  summary: "The stored output of a succeeded run",
  security: bearerSecurity,
  request: { params: RunIdParam },
  responses: {
    200: { description: "The output JSON, as stored at results/<runId>/output.json", content: { "application/json": { schema: z.unknown() } } },
    ...problems(401, 403, 404),
  },
});

openapi(runRecords, getRunResult, async (c) => {
  const run = await findRun(c.env, c.var.tenant, c.req.valid("param").runId);
  const object = run.status === "succeeded" ? await c.env.BUCKET.get(resultKey(c.var.tenant.tenantId, run.id, ["output.json"])) : null;
  if (!object) throw new ProblemError("not-found", `Run ${run.id} has no result (status: ${run.status}).`);
  return new Response(object.body, { headers: { "content-type": "application/json", etag: object.httpEtag } });
});

const cancelRun = createRoute({
  method: "post",
  path: "/{runId}/cancel",
  operationId: "cancelRun",
  summary: "Cancel a queued or running run",
  security: bearerSecurity,
  request: { params: RunIdParam },
  responses: { 200: record, ...problems(401, 403, 404, 409) },
});

/** Cancels a queued or running run: its object ends it and tells its executor at once. */
openapi(runRecords, cancelRun, async (c) => {
  const runId = idParam(c.req.valid("param").runId, "run", "run");
  const result = await runStub(c.env, c.var.tenant.tenantId, runId).cancel(callerOf(c.var.tenant));
  if (!result) throw new ProblemError("not-found", "No run with that id.");
  if (result === "ended") throw new ProblemError("conflict", "The run has already ended.");
  return c.json(result);
});
