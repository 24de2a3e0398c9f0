import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { db } from "../../../core/db/client";
import { runs } from "../../../core/db/schema";
import { bearerSecurity, describe, problems } from "../../../core/http/openapi";
import { ProblemError } from "../../../core/http/problem";
import { jsonBody } from "../../../core/http/validate";
import { agentNameParam, AgentName, idParam } from "../../../core/names";
import { resultKey } from "../../../core/storage/keys";
import type { DispatcherApp } from "../context";
import { requireTenant } from "../../../core/auth/middleware";
import { executeRun, runTimeoutMs, startRun } from "../runs/execute";
import { admitRequest, admitRun, releaseRun } from "../quota/admission";
import { newId } from "../../../core/ids";
import type { TenantPrincipal } from "../../../core/auth/tenant-auth";

/** A run's quota lease outlives its time budget by this much, then lapses if never released. */
const LEASE_MARGIN_MS = 30_000;
import { runView } from "../runs/record";
import { RunRecord, RunRequest, RunResult } from "../schemas";

export const agentRuns = new OpenAPIHono<DispatcherApp>();
agentRuns.use("*", requireTenant("runs", { endUsers: true }));

/**
 * Admission (atomic, per tenant) → the run record → the isolate → the closed record. Once
 * admitted, a run always gets a record and always gives its quota slot back.
 */
agentRuns.post("/:agent/runs", async (c) => {
  const agent = agentNameParam(c.req.param("agent"));
  const { input } = await jsonBody(c.req.raw, RunRequest);
  const principal = c.var.tenant;
  const runId = newId("run");
  await admitRun(c.env, principal, runId, runTimeoutMs(c.env) + LEASE_MARGIN_MS);
  let tokens = 0;
  try {
    const target = await startRun(c.env.DB, { id: runId, tenantId: principal.tenantId, agent, endUser: principal.subject });
    if (!target) throw new ProblemError("not-found", `No agent named "${agent}".`);
    const { cpuMsPerRun, subrequestsPerRun } = principal.quotas;
    const limits = { ...(cpuMsPerRun !== null ? { cpuMs: cpuMsPerRun } : {}), ...(subrequestsPerRun !== null ? { subRequests: subrequestsPerRun } : {}) };
    const { run, output } = await executeRun(c.env, c.var.runtime, target, runId, input, limits);
    tokens = run.inputTokens + run.outputTokens;
    return c.json({ ...runView(run), output }, 200);
  } finally {
    await releaseRun(c.env, principal.tenantId, runId, tokens);
  }
});

export const runRecords = new OpenAPIHono<DispatcherApp>();
runRecords.use("*", requireTenant("runs", { endUsers: true }));
runRecords.use("*", async (c, next) => {
  await admitRequest(c.env, c.var.tenant);
  await next();
});

/** A run of this tenant — and, for an end user, one of their own runs — or the same 404. */
async function findRun(d1: D1Database, principal: TenantPrincipal, id: string | undefined) {
  const runId = idParam(id, "run", "run");
  const run = await db(d1)
    .select()
    .from(runs)
    .where(and(eq(runs.id, runId), eq(runs.tenantId, principal.tenantId), principal.subject !== null ? eq(runs.endUser, principal.subject) : undefined))
    .get();
  if (!run) throw new ProblemError("not-found", "No run with that id.");
  return run;
}

runRecords.get("/:runId", async (c) => {
  return c.json(runView(await findRun(c.env.DB, c.var.tenant, c.req.param("runId"))));
});

runRecords.get("/:runId/result", async (c) => {
  const run = await findRun(c.env.DB, c.var.tenant, c.req.param("runId"));
  const object = run.status === "succeeded" ? await c.env.BUCKET.get(resultKey(run.tenantId, run.id, ["output.json"])) : null;
  if (!object) throw new ProblemError("not-found", `Run ${run.id} has no result (status: ${run.status}).`);
  return new Response(object.body, { headers: { "content-type": "application/json", etag: object.httpEtag } });
});

const AgentParam = z.object({ agent: AgentName.openapi({ param: { name: "agent", in: "path" } }) });
const RunIdParam = z.object({ runId: z.string().openapi({ param: { name: "runId", in: "path" }, example: "run_01jd0000000000000000" }) });

export function describeRuns(app: OpenAPIHono<DispatcherApp>): void {
  describe(
    app,
    createRoute({
      method: "post",
      path: "/v1/agents/{agent}/runs",
      summary: "Run the agent's active version and wait for its output",
      security: bearerSecurity,
      request: { params: AgentParam, body: { required: true, content: { "application/json": { schema: RunRequest } } } },
      responses: {
        200: { description: "The finished run (succeeded, failed or timed_out)", content: { "application/json": { schema: RunResult } } },
        ...problems(400, 401, 403, 404, 413, 415, 429, 503),
      },
    }),
    createRoute({
      method: "get",
      path: "/v1/runs/{runId}",
      summary: "A run record",
      security: bearerSecurity,
      request: { params: RunIdParam },
      responses: { 200: { description: "The run", content: { "application/json": { schema: RunRecord } } }, ...problems(401, 403, 404) },
    }),
    createRoute({
      method: "get",
      path: "/v1/runs/{runId}/result",
      summary: "The stored output of a succeeded run",
      security: bearerSecurity,
      request: { params: RunIdParam },
      responses: { 200: { description: "The output JSON, as stored at results/<runId>/output.json" }, ...problems(401, 403, 404) },
    }),
  );
}
