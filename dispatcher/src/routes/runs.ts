import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { and, desc, eq, lt } from "drizzle-orm";
import { requireTenant } from "../../../core/auth/middleware";
import type { TenantPrincipal } from "../../../core/auth/tenant-auth";
import { db } from "../../../core/db/client";
import { runs } from "../../../core/db/schema";
import { bearerSecurity, describe, problems } from "../../../core/http/openapi";
import { ProblemError } from "../../../core/http/problem";
import { jsonBody, page, queryParams } from "../../../core/http/validate";
import { newId } from "../../../core/ids";
import { AgentName, agentNameParam, idParam } from "../../../core/names";
import { eventsBody, eventsRange, logRoutes, RUN_ID_HEADER, RunIdParam, storedOutput, streamStart } from "../../../core/runs/read";
import { runView } from "../../../core/runs/record";
import { resultKey } from "../../../core/storage/keys";
import type { DispatcherApp } from "../context";
import { admitRequest, askTenant, refusalProblem } from "../quota/admission";
import { executeRun } from "../runs/execute";
import { idempotencyKey, scopedIdempotency } from "../runs/idempotency";
import { limitsFor, runTimeoutMs } from "../runs/lease";
import type { Caller } from "../runs/run-object";
import { SSE_HEADERS } from "../runs/sse";
import { runStub, tenantStub } from "../runs/stubs";
import { checkWebhookUrl, webhookSecret } from "../runs/webhooks";
import { RunList, RunQueued, RunRecord, RunRequest, RunResult, RunStatus } from "../schemas";

type Ctx = Context<DispatcherApp>;

export const agentRuns = new OpenAPIHono<DispatcherApp>();
agentRuns.use("*", requireTenant("runs", { endUsers: true }));

const callerOf = (p: TenantPrincipal): Caller => ({ tenantId: p.tenantId, endUser: p.subject });

/**
 * Admission, the run's record and the version it runs are one call to the tenant's object; then
 * the isolate runs and the run's object closes the record. `sync` answers when the run ends,
 * `stream` answers with the run's own event stream (resumable; a dropped connection does not stop
 * the run unless `cancelOnDisconnect`), `async` joins the tenant's lane and answers at once.
 */
agentRuns.post("/:agent/runs", async (c) => {
  const agent = agentNameParam(c.req.param("agent"));
  const body = await jsonBody(c.req.raw, RunRequest);
  if (body.webhook && body.mode !== "async") throw new ProblemError("invalid-request", "webhook: only async runs call a webhook.");
  if (body.cancelOnDisconnect && body.mode !== "stream") throw new ProblemError("invalid-request", "cancelOnDisconnect: only stream runs have a connection to lose.");
  if (body.webhook) checkWebhookUrl(c.env, body.webhook.url);
  const principal = c.var.tenant;
  const runId = newId("run");
  const key = idempotencyKey(c.req.header("idempotency-key"));
  const timeoutMs = runTimeoutMs(c.env);
  const tenant = tenantStub(c.env, principal.tenantId);
  // An async run's input waits in R2 (under the run's results) for its turn.
  const inputKey = resultKey(principal.tenantId, runId, ["input.json"]);
  if (body.mode === "async") await c.env.BUCKET.put(inputKey, JSON.stringify(body.input ?? null), { httpMetadata: { contentType: "application/json" } });
  let started: Awaited<ReturnType<typeof tenant.start>> | null = null;
  try {
    started = await askTenant(principal.tenantId, async () =>
      tenant.start(principal.tenantId, {
        runId,
        agent,
        mode: body.mode,
        endUser: principal.subject,
        idempotency: key ? await scopedIdempotency(principal, key, { agent, body }) : null,
        webhook: body.webhook?.url ?? null,
        timeoutMs,
      }),
    );
  } finally {
    // Anything but a new run (a refusal, a replay, the tenant's object unreachable) leaves no input behind.
    if (started?.kind !== "run" && body.mode === "async") await c.env.BUCKET.delete(inputKey);
  }
  if (started.kind === "refused") throw refusalProblem(started);
  if (started.kind === "replay") return replay(c, principal, started.runId, started.mode);
  c.header(RUN_ID_HEADER, runId);
  if (body.mode === "async") return c.json({ id: runId, status: "queued" } satisfies z.infer<typeof RunQueued>, 202);
  const work = executeRun(c.env, c.var.runtime, started.target, runId, body.input, limitsFor(started.quotas), timeoutMs);
  if (body.mode === "stream") {
    const stub = runStub(c.env, c.var.tenant.tenantId, runId);
    const followed = await stub.follow(callerOf(principal), 0);
    c.executionCtx.waitUntil(work.catch((err) => console.error(JSON.stringify({ level: "error", event: "run-failed", runId, error: String(err) }))));
    const stream = body.cancelOnDisconnect ? cancelOnDisconnect(followed!, () => stub.cancel(callerOf(principal))) : followed;
    return new Response(stream, { headers: { ...SSE_HEADERS, [RUN_ID_HEADER]: runId } });
  }
  const { view, output } = await work;
  return c.json({ ...view, output }, 200);
});

/** The stream as the client gets it; if the client goes away before the end, the run is cancelled. */
function cancelOnDisconnect(source: ReadableStream<Uint8Array>, cancel: () => Promise<unknown>): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await cancel().catch(() => {});
      await reader.cancel().catch(() => {});
    },
  });
}

/** What a repeated request with the same Idempotency-Key gets: the first run, as the first request got it. */
async function replay(c: Ctx, principal: TenantPrincipal, runId: string, mode: string): Promise<Response> {
  const view = await runStub(c.env, c.var.tenant.tenantId, runId).view(callerOf(principal));
  if (!view) throw new ProblemError("not-found", "No run with that id.");
  c.header("idempotent-replayed", "true");
  c.header(RUN_ID_HEADER, runId);
  if (mode === "async") return c.json({ id: view.id, status: view.status }, 202);
  return c.json({ ...view, output: await storedOutput(c.env.BUCKET, principal.tenantId, view) }, 200);
}

export const runRecords = new OpenAPIHono<DispatcherApp>();
runRecords.use("*", requireTenant("runs", { endUsers: true }));
runRecords.use("*", async (c, next) => {
  await admitRequest(c.env, c.var.tenant);
  await next();
});

/** Runs of this tenant — and, for an end user, only their own. */
const visible = (principal: TenantPrincipal) =>
  and(eq(runs.tenantId, principal.tenantId), principal.subject !== null ? eq(runs.endUser, principal.subject) : undefined);

/**
 * A run this caller may see, from its object (the live record) or, once its retention passed and
 * the object is gone, the run index; the same 404 for one it may not see.
 */
async function findRun(c: Ctx, id: string | undefined): Promise<z.infer<typeof RunRecord>> {
  const runId = idParam(id, "run", "run");
  const live = await runStub(c.env, c.var.tenant.tenantId, runId).view(callerOf(c.var.tenant));
  if (live) return live;
  const indexed = await db(c.env.DB).select().from(runs).where(and(eq(runs.id, runId), visible(c.var.tenant))).get();
  if (!indexed) throw new ProblemError("not-found", "No run with that id.");
  return runView(indexed);
}

const ListQuery = z.object({
  agent: AgentName.optional(),
  status: RunStatus.optional(),
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

/** The run index (written in batches from the runs' objects, so a run appears within a second or two). */
runRecords.get("/", async (c) => {
  const { agent, status, cursor, limit = 20 } = queryParams(c.req.query(), ListQuery);
  const rows = await db(c.env.DB)
    .select()
    .from(runs)
    .where(and(visible(c.var.tenant), agent ? eq(runs.agent, agent) : undefined, status ? eq(runs.status, status) : undefined, cursor ? lt(runs.id, cursor) : undefined))
    .orderBy(desc(runs.id))
    .limit(limit + 1)
    .all();
  const { items, cursor: next } = page(rows, limit, (r) => r.id);
  return c.json({ runs: items.map(runView), cursor: next } satisfies z.infer<typeof RunList>);
});

runRecords.get("/:runId", async (c) => c.json(await findRun(c, c.req.param("runId"))));

runRecords.get("/:runId/result", async (c) => {
  const run = await findRun(c, c.req.param("runId"));
  const object = run.status === "succeeded" ? await c.env.BUCKET.get(resultKey(c.var.tenant.tenantId, run.id, ["output.json"])) : null;
  if (!object) throw new ProblemError("not-found", `Run ${run.id} has no result (status: ${run.status}).`);
  return new Response(object.body, { headers: { "content-type": "application/json", etag: object.httpEtag } });
});

/** The run's event log, live or archived. */
runRecords.get("/:runId/events", async (c) => {
  const runId = idParam(c.req.param("runId"), "run", "run");
  const { after, limit } = eventsRange(c.req.query());
  const log = await runStub(c.env, c.var.tenant.tenantId, runId).events(callerOf(c.var.tenant), after, limit);
  if (!log) throw new ProblemError("not-found", "No run with that id.");
  return Response.json(eventsBody(log));
});

/**
 * The run's events as server-sent events: replayed from after `Last-Event-ID` (or `?after=`), then
 * live until the run ends — the same ids as the first stream, so EventSource clients resume on
 * their own.
 */
runRecords.get("/:runId/stream", async (c) => {
  const runId = idParam(c.req.param("runId"), "run", "run");
  const after = streamStart(c.req.header("last-event-id"), c.req.query());
  const stream = await runStub(c.env, c.var.tenant.tenantId, runId).follow(callerOf(c.var.tenant), after);
  if (!stream) throw new ProblemError("not-found", "No run with that id.");
  return new Response(stream, { headers: { ...SSE_HEADERS, [RUN_ID_HEADER]: runId } });
});

/** Cancels a queued or running run: its object ends it and tells its executor at once. */
runRecords.post("/:runId/cancel", async (c) => {
  const runId = idParam(c.req.param("runId"), "run", "run");
  const result = await runStub(c.env, c.var.tenant.tenantId, runId).cancel(callerOf(c.var.tenant));
  if (!result) throw new ProblemError("not-found", "No run with that id.");
  if (result === "ended") throw new ProblemError("conflict", "The run has already ended.");
  return c.json(result);
});

export const webhookRoutes = new OpenAPIHono<DispatcherApp>();
webhookRoutes.use("*", requireTenant("runs"));
webhookRoutes.get("/", async (c) => c.json({ secret: await webhookSecret(c.env, c.var.tenant.tenantId) }));

const AgentParam = z.object({ agent: AgentName.openapi({ param: { name: "agent", in: "path" } }) });
const IdempotencyHeader = z.object({
  "idempotency-key": z.string().max(255).optional().openapi({ description: "Repeats within 24 h return the first run instead of starting another." }),
});

export function describeRuns(app: OpenAPIHono<DispatcherApp>): void {
  const record = { description: "The run", content: { "application/json": { schema: RunRecord } } };
  describe(
    app,
    createRoute({
      method: "post",
      path: "/v1/agents/{agent}/runs",
      summary: "Run the agent's active version (sync, stream or async)",
      security: bearerSecurity,
      request: { params: AgentParam, headers: IdempotencyHeader, body: { required: true, content: { "application/json": { schema: RunRequest } } } },
      responses: {
        200: {
          description: "sync: the finished run. stream: text/event-stream of its events.",
          content: { "application/json": { schema: RunResult }, "text/event-stream": { schema: z.string() } },
        },
        202: { description: "async: queued", content: { "application/json": { schema: RunQueued } } },
        ...problems(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
      },
    }),
    createRoute({
      method: "get",
      path: "/v1/runs",
      summary: "Runs, newest first (the run index)",
      security: bearerSecurity,
      request: { query: ListQuery },
      responses: { 200: { description: "A page", content: { "application/json": { schema: RunList } } }, ...problems(400, 401, 403) },
    }),
    createRoute({ method: "get", path: "/v1/runs/{runId}", summary: "A run record", security: bearerSecurity, request: { params: RunIdParam }, responses: { 200: record, ...problems(401, 403, 404) } }),
    createRoute({
      method: "get",
      path: "/v1/runs/{runId}/result",
      summary: "The stored output of a succeeded run",
      security: bearerSecurity,
      request: { params: RunIdParam },
      responses: { 200: { description: "The output JSON, as stored at results/<runId>/output.json" }, ...problems(401, 403, 404) },
    }),
    ...logRoutes("/v1/runs"),
    createRoute({
      method: "post",
      path: "/v1/runs/{runId}/cancel",
      summary: "Cancel a queued or running run",
      security: bearerSecurity,
      request: { params: RunIdParam },
      responses: { 200: record, ...problems(401, 403, 404, 409) },
    }),
    createRoute({
      method: "get",
      path: "/v1/webhook-secret",
      summary: "The secret that signs this tenant's webhooks (HMAC-SHA256)",
      security: bearerSecurity,
      responses: { 200: { description: "The secret", content: { "application/json": { schema: z.object({ secret: z.string() }) } } }, ...problems(401, 403) },
    }),
  );
}
