import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireTenant } from "../../../core/auth/middleware";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import { ProblemError } from "../../../core/http/problem";
import { newId } from "../../../core/ids";
import { logEvent } from "../../../core/log";
import { resultKey } from "../../../core/storage/keys";
import type { DispatcherApp } from "../context";
import { askTenant, refusalProblem } from "../quota/admission";
import { executeRun } from "../runs/execute";
import { scopedIdempotency } from "../runs/idempotency";
import { limitsFor, runTimeoutMs } from "../runs/lease";
import { callerOf, RUN_ID_HEADER } from "../runs/records";
import { replay } from "../runs/replay";
import { cancelOnDisconnect, SSE_HEADERS } from "../runs/sse";
import { runStub, tenantStub } from "../runs/stubs";
import { checkWebhookUrl } from "../runs/webhooks";
import { AgentParam, IdempotencyHeader, RunQueued, RunRequest, RunResult } from "../schemas";

/** `/v1/agents/{agent}/runs`: starting a run (API keys and end-user tokens; admission is the tenant object's). */
export const agentRuns = new OpenAPIHono<DispatcherApp>();
agentRuns.use("*", requireTenant("runs", { endUsers: true }));

const startRun = createRoute({
  method: "post",
  path: "/{agent}/runs",
  operationId: "startRun",
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
});

/**
 * Admission, the run's record and the version it runs are one call to the tenant's object; then
 * the isolate runs and the run's object closes the record. `sync` answers when the run ends,
 * `stream` answers with the run's own event stream (resumable; a dropped connection does not stop
 * the run unless `cancelOnDisconnect`), `async` joins the tenant's lane and answers at once.
 */
openapi(agentRuns, startRun, async (c) => {
  const { agent } = c.req.valid("param");
  const body = c.req.valid("json");
  if (body.webhook && body.mode !== "async") throw new ProblemError("invalid-request", "webhook: only async runs call a webhook.");
  if (body.cancelOnDisconnect && body.mode !== "stream") throw new ProblemError("invalid-request", "cancelOnDisconnect: only stream runs have a connection to lose.");
  if (body.webhook) checkWebhookUrl(c.env, body.webhook.url);
  const principal = c.var.tenant;
  const runId = newId("run");
  const key = c.req.valid("header")["idempotency-key"];
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
    const stub = runStub(c.env, principal.tenantId, runId);
    const followed = await stub.follow(callerOf(principal), 0);
    c.executionCtx.waitUntil(work.catch((err) => logEvent("error", "run-failed", { runId, error: String(err) })));
    const stream = body.cancelOnDisconnect ? cancelOnDisconnect(followed!, () => stub.cancel(callerOf(principal))) : followed;
    return new Response(stream, { headers: { ...SSE_HEADERS, [RUN_ID_HEADER]: runId } });
  }
  const { view, output } = await work;
  return c.json({ ...view, output } satisfies z.infer<typeof RunResult>, 200);
});
