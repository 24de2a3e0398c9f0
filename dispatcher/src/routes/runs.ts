import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { and, desc, eq, gt, lt } from "drizzle-orm";
import { requireTenant } from "../../../core/auth/middleware";
import { ledgerStatements } from "../../../core/billing/ledger";
import type { TenantPrincipal } from "../../../core/auth/tenant-auth";
import { db } from "../../../core/db/client";
import { runEvents, runs, type Run } from "../../../core/db/schema";
import { bearerSecurity, describe, problems } from "../../../core/http/openapi";
import { ProblemError } from "../../../core/http/problem";
import { jsonBody, page, queryParams } from "../../../core/http/validate";
import { newId } from "../../../core/ids";
import { AgentName, agentNameParam, idParam } from "../../../core/names";
import { resultKey } from "../../../core/storage/keys";
import type { DispatcherApp } from "../context";
import { admitRequest, admitRun, releaseRun } from "../quota/admission";
import { checkSpendCap } from "../quota/spend-cap";
import { appendRunEvent } from "../runs/events";
import { failRunStatements } from "../runs/fail";
import { startRun } from "../runs/execute";
import { claimKey, idempotencyKey, releaseKey } from "../runs/idempotency";
import { leaseMs, runAdmitted } from "../runs/lifecycle";
import { runView } from "../../../core/runs/record";
import { checkWebhookUrl, webhookSecret } from "../runs/webhooks";
import { RunEvents, RunList, RunQueued, RunRecord, RunRequest, RunResult, RunStatus } from "../schemas";

type Ctx = Context<DispatcherApp>;

export const agentRuns = new OpenAPIHono<DispatcherApp>();
agentRuns.use("*", requireTenant("runs", { endUsers: true }));

/** The stored output of a succeeded run (null otherwise). */
async function storedOutput(bucket: R2Bucket, run: Run): Promise<unknown> {
  if (run.status !== "succeeded") return null;
  const object = await bucket.get(resultKey(run.tenantId, run.id, ["output.json"]));
  return object ? object.json() : null;
}

/** What a repeated request with the same Idempotency-Key gets: the first run, as the first request got it. */
async function replay(c: Ctx, principal: TenantPrincipal, runId: string, mode: string): Promise<Response> {
  const run = await db(c.env.DB).select().from(runs).where(and(eq(runs.id, runId), visible(principal))).get();
  if (!run) throw new ProblemError("not-found", "No run with that id.");
  c.header("idempotent-replayed", "true");
  if (mode === "async") return c.json({ id: run.id, status: run.status }, 202);
  return c.json({ ...runView(run), output: await storedOutput(c.env.BUCKET, run) }, 200);
}

/**
 * Admission (atomic, per tenant) → the run record → the isolate → the closed record. Once
 * admitted, a run always gets a record and always gives its quota slot back. `sync` answers when
 * the run ends, `stream` relays its events as they happen, `async` queues it and answers at once.
 */
agentRuns.post("/:agent/runs", async (c) => {
  const agent = agentNameParam(c.req.param("agent"));
  const body = await jsonBody(c.req.raw, RunRequest);
  if (body.webhook && body.mode !== "async") throw new ProblemError("invalid-request", "webhook: only async runs call a webhook.");
  if (body.webhook) checkWebhookUrl(c.env, body.webhook.url);
  const principal = c.var.tenant;
  const runId = newId("run");
  const key = idempotencyKey(c.req.header("idempotency-key"));
  if (key) {
    const claim = await claimKey(c.env.DB, principal, key, { agent, body, mode: body.mode }, runId);
    if (claim.kind === "replay") return replay(c, principal, claim.runId, claim.mode);
  }
  try {
    if (body.mode === "async") return await enqueue(c, principal, agent, runId, body.input, body.webhook?.url ?? null);
    await checkSpendCap(c.env, principal);
    const tracked = await admitRun(c.env, principal, runId, leaseMs(c.env));
    const target = await startRun(c.env.DB, { id: runId, tenantId: principal.tenantId, agent, endUser: principal.subject });
    if (!target) {
      if (tracked) await releaseRun(c.env, principal.tenantId, runId, 0, true);
      throw new ProblemError("not-found", `No agent named "${agent}".`);
    }
    const admission = { quotas: principal.quotas, tracked };
    if (body.mode === "stream") return stream(c, admission, target, runId, body.input);
    const { run, output } = await runAdmitted(c.env, c.var.runtime, admission, target, runId, body.input);
    return c.json({ ...runView(run), output }, 200);
  } catch (err) {
    // A request that never became a run (refused, unknown agent, a platform error) gives its key
    // back, so a retry can start one.
    if (key && !(await c.env.DB.prepare("SELECT 1 AS x FROM runs WHERE id = ?").bind(runId).first("x"))) {
      await releaseKey(c.env.DB, principal, key, runId);
    }
    throw err;
  }
});

/** `async`: the run is recorded as queued on the active version, its input kept in R2, and queued. */
async function enqueue(c: Ctx, principal: TenantPrincipal, agent: string, runId: string, input: unknown, webhook: string | null) {
  await admitRequest(c.env, principal);
  await checkSpendCap(c.env, principal);
  await c.env.BUCKET.put(resultKey(principal.tenantId, runId, ["input.json"]), JSON.stringify(input ?? null), {
    httpMetadata: { contentType: "application/json" },
  });
  const target = await startRun(c.env.DB, { id: runId, tenantId: principal.tenantId, agent, endUser: principal.subject, status: "queued" });
  if (!target) throw new ProblemError("not-found", `No agent named "${agent}".`);
  try {
    await c.env.RUNS.send({ kind: "run", runId, tenantId: principal.tenantId, webhook });
  } catch (err) {
    // Never leave a queued run nobody will run: close it (with its usage row) and say so.
    await c.env.DB.batch(failRunStatements(c.env.DB, { id: runId, tenantId: principal.tenantId, from: "queued", error: "The run could not be queued." }));
    console.error(JSON.stringify({ level: "error", event: "enqueue-failed", runId, error: String(err) }));
    throw new ProblemError("unavailable", "The run could not be queued; nothing will run. Retry shortly.", { headers: { "retry-after": "1" } });
  }
  return c.json({ id: runId, status: "queued" } satisfies z.infer<typeof RunQueued>, 202);
}

const encoder = new TextEncoder();
/** How much a stream may hold for a slow client before the run is cancelled. */
const MAX_SSE_BACKLOG_BYTES = 8 * 1024 * 1024;
const sse = (event: string, data: unknown, id?: number) =>
  encoder.encode(`${id !== undefined ? `id: ${id}\n` : ""}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

/**
 * `stream`: a text/event-stream of `run.started`, the agent's events (`agent.event`, `llm.delta`,
 * `tool.call`, `tool.result`, …) and finally `run.completed` or `run.failed` with the whole run.
 * The run lives as long as the connection: closing it cancels the run.
 */
function stream(c: Ctx, admission: Parameters<typeof runAdmitted>[2], target: Parameters<typeof runAdmitted>[3], runId: string, input: unknown): Response {
  const closed = new AbortController();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let seq = 0;
  const send = (event: string, data: unknown) => {
    if (closed.signal.aborted) return;
    try {
      controller.enqueue(sse(event, data, ++seq));
      // A client that reads far slower than the run writes would make the dispatcher buffer
      // without bound: past a few MiB it is treated as gone, which cancels the run.
      if ((controller.desiredSize ?? 0) < -MAX_SSE_BACKLOG_BYTES) closed.abort();
    } catch {
      closed.abort();
    }
  };
  const body = new ReadableStream<Uint8Array>(
    {
      start(ctrl) {
        controller = ctrl;
      },
      cancel() {
        closed.abort();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
  );
  const work = runAdmitted(c.env, c.var.runtime, admission, target, runId, input, { onEvent: send, signal: closed.signal })
    .then(({ run, output }) => send(run.status === "succeeded" ? "run.completed" : "run.failed", { ...runView(run), output }))
    .catch((err) => send("run.failed", { id: runId, status: "failed", error: String(err) }))
    .finally(() => {
      if (!closed.signal.aborted) controller.close();
    });
  c.executionCtx.waitUntil(work);
  return new Response(body, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-isoplane-run-id": runId },
  });
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

/** A run this caller may see, or the same 404 for one it may not. */
async function findRun(d1: D1Database, principal: TenantPrincipal, id: string | undefined): Promise<Run> {
  const runId = idParam(id, "run", "run");
  const run = await db(d1).select().from(runs).where(and(eq(runs.id, runId), visible(principal))).get();
  if (!run) throw new ProblemError("not-found", "No run with that id.");
  return run;
}

const ListQuery = z.object({
  agent: AgentName.optional(),
  status: RunStatus.optional(),
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

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

runRecords.get("/:runId", async (c) => c.json(runView(await findRun(c.env.DB, c.var.tenant, c.req.param("runId")))));

runRecords.get("/:runId/result", async (c) => {
  const run = await findRun(c.env.DB, c.var.tenant, c.req.param("runId"));
  const object = run.status === "succeeded" ? await c.env.BUCKET.get(resultKey(run.tenantId, run.id, ["output.json"])) : null;
  if (!object) throw new ProblemError("not-found", `Run ${run.id} has no result (status: ${run.status}).`);
  return new Response(object.body, { headers: { "content-type": "application/json", etag: object.httpEtag } });
});

const EventsQuery = z.object({
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

/** The stored event log, so a client that lost its stream can catch up from the last `seq` it saw. */
runRecords.get("/:runId/events", async (c) => {
  const run = await findRun(c.env.DB, c.var.tenant, c.req.param("runId"));
  const { after = 0, limit = 500 } = queryParams(c.req.query(), EventsQuery);
  const rows = await db(c.env.DB)
    .select()
    .from(runEvents)
    .where(and(eq(runEvents.runId, run.id), gt(runEvents.seq, after)))
    .orderBy(runEvents.seq)
    .limit(limit + 1)
    .all();
  const { items, cursor } = page(rows, limit, (e) => e.seq);
  return c.json({
    events: items.map((e) => ({ seq: e.seq, at: new Date(e.at).toISOString(), type: e.type, data: e.data === null ? null : JSON.parse(e.data) })),
    next: cursor,
  } satisfies z.infer<typeof RunEvents>);
});

/** Cancels a queued or running run; a running one stops within about a second. */
runRecords.post("/:runId/cancel", async (c) => {
  const run = await findRun(c.env.DB, c.var.tenant, c.req.param("runId"));
  const now = Date.now();
  const cancel = (status: "queued" | "running") =>
    c.env.DB.prepare(
      "UPDATE runs SET status = 'cancelled', error = 'The run was cancelled.', finished_at = ?, wall_ms = COALESCE(wall_ms, 0) WHERE id = ? AND status = ? RETURNING id",
    ).bind(now, run.id, status);
  // A queued run never reaches an executor: it is closed with its (empty) usage row in one
  // transaction, so it cannot start in between. A running one gets its row from its executor.
  const [queued] = await c.env.DB.batch<{ id: string }>([cancel("queued"), ...ledgerStatements(c.env.DB, run.id, now)]);
  const cancelled = queued?.results[0] ?? (await cancel("running").first<{ id: string }>());
  if (!cancelled) throw new ProblemError("conflict", `Run ${run.id} has already ended (status: ${run.status}).`);
  await appendRunEvent(c.env.DB, run.tenantId, run.id, "run.cancelled", { by: c.var.tenant.keyId });
  return c.json(runView((await db(c.env.DB).select().from(runs).where(eq(runs.id, run.id)).get())!));
});

export const webhookRoutes = new OpenAPIHono<DispatcherApp>();
webhookRoutes.use("*", requireTenant("runs"));
webhookRoutes.get("/", async (c) => c.json({ secret: await webhookSecret(c.env, c.var.tenant.tenantId) }));

const AgentParam = z.object({ agent: AgentName.openapi({ param: { name: "agent", in: "path" } }) });
const RunIdParam = z.object({ runId: z.string().openapi({ param: { name: "runId", in: "path" }, example: "run_01jd0000000000000000" }) });
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
      summary: "Runs, newest first",
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
    createRoute({
      method: "get",
      path: "/v1/runs/{runId}/events",
      summary: "The run's stored event log (catch up after a lost stream)",
      security: bearerSecurity,
      request: { params: RunIdParam, query: EventsQuery },
      responses: { 200: { description: "Events in order", content: { "application/json": { schema: RunEvents } } }, ...problems(400, 401, 403, 404) },
    }),
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
