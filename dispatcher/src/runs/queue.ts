import { eq } from "drizzle-orm";
import { db } from "../../../core/db/client";
import { runs, type Run } from "../../../core/db/schema";
import type { DispatcherEnv, RunMessage } from "../../../core/env";
import { ProblemError } from "../../../core/http/problem";
import { parseQuotas } from "../../../core/quotas";
import { resultKey } from "../../../core/storage/keys";
import { admitRun, releaseRun } from "../quota/admission";
import { checkSpendCap } from "../quota/spend-cap";
import type { AgentTarget, TenantRuntime } from "../runtime/types";
import { appendRunEvent } from "./events";
import { failRunStatements } from "./fail";
import { leaseMs, runAdmitted } from "./lifecycle";
import { runView } from "../../../core/runs/record";
import { deliver } from "./webhooks";

/** Deliveries are retried with backoff this many times (the queue's max_retries bounds it too). */
export const WEBHOOK_ATTEMPTS = 6;
/** Webhook bodies carry the output when it is at most this big; otherwise fetch `/v1/runs/{id}/result`. */
const WEBHOOK_OUTPUT_LIMIT = 64 * 1024;

/** Exponential backoff in seconds: 2, 4, 8, … capped at 5 minutes. */
export const backoff = (attempts: number) => Math.min(300, 2 ** Math.max(1, attempts));

/**
 * The consumer of the runs queue: executes async runs and delivers webhooks. A platform failure
 * (D1, R2, the runtime refusing to start) retries the message with backoff; an agent failure is
 * the run's outcome and is not retried.
 */
export async function consumeRuns(batch: MessageBatch<RunMessage>, env: DispatcherEnv, runtime: TenantRuntime): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        if (message.body.kind === "run") await consumeRun(env, runtime, message as Message<Extract<RunMessage, { kind: "run" }>>);
        else await consumeWebhook(env, message as Message<Extract<RunMessage, { kind: "webhook" }>>);
      } catch (err) {
        console.error(JSON.stringify({ level: "error", event: "queue-message-failed", body: message.body, error: String(err) }));
        message.retry({ delaySeconds: backoff(message.attempts) });
      }
    }),
  );
}

async function close(env: DispatcherEnv, run: Run, error: string): Promise<void> {
  await env.DB.batch(failRunStatements(env.DB, { id: run.id, tenantId: run.tenantId, from: "queued", error }));
}

async function consumeRun(env: DispatcherEnv, runtime: TenantRuntime, message: Message<Extract<RunMessage, { kind: "run" }>>): Promise<void> {
  const { runId, webhook } = message.body;
  const row = await env.DB.prepare(
    `SELECT r.*, t.status AS tenant_status, t.quotas AS tenant_quotas, v.sha256, v.bundle_key, v.script_name, a.secrets_rev
     FROM runs r JOIN tenants t ON t.id = r.tenant_id
     JOIN agent_versions v ON v.tenant_id = r.tenant_id AND v.agent = r.agent AND v.version = r.version
     LEFT JOIN agents a ON a.tenant_id = r.tenant_id AND a.name = r.agent
     WHERE r.id = ?`,
  )
    .bind(runId)
    .first<{ tenant_id: string; agent: string; version: number; status: string; tenant_status: string; tenant_quotas: string; sha256: string; bundle_key: string; script_name: string | null; secrets_rev: number | null }>();
  const run = await db(env.DB).select().from(runs).where(eq(runs.id, runId)).get();
  if (!run || run.status !== "queued") return message.ack(); // cancelled, or already handled
  const notify = () => (webhook ? env.RUNS.send({ kind: "webhook", runId, tenantId: run.tenantId, url: webhook }) : Promise.resolve());
  if (!row) {
    // Its version is gone (the agent was deleted while the run waited): it can never run.
    await close(env, run, "The agent was deleted before the run could start.");
    await notify();
    return message.ack();
  }
  if (row.tenant_status !== "active") {
    await close(env, run, `The tenant is ${row.tenant_status}.`);
    await notify();
    return message.ack();
  }
  const quotas = parseQuotas(row.tenant_quotas);
  let tracked: boolean;
  try {
    await checkSpendCap(env, { tenantId: row.tenant_id, quotas });
    tracked = await admitRun(env, { tenantId: row.tenant_id, quotas: { ...quotas, requestsPerMinute: null } }, runId, leaseMs(env));
  } catch (err) {
    if (err instanceof ProblemError && err.slug === "quota-concurrent-runs") {
      // Waiting for a free slot is the queue's job, not a failure: a fresh delayed message, so
      // waiting does not use up the retries kept for platform failures.
      await env.RUNS.send(message.body, { delaySeconds: Number(err.headers["retry-after"] ?? 1) });
      return message.ack();
    }
    if (err instanceof ProblemError && err.status === 429) {
      await close(env, run, err.message);
      await notify();
      return message.ack();
    }
    throw err;
  }
  const started = await env.DB.prepare("UPDATE runs SET status = 'running', started_at = ? WHERE id = ? AND status = 'queued' RETURNING id").bind(Date.now(), runId).first("id");
  if (!started) {
    if (tracked) await releaseRun(env, row.tenant_id, runId, 0, true);
    return message.ack();
  }
  await appendRunEvent(env.DB, row.tenant_id, runId, "run.started", { id: runId, agent: row.agent, version: row.version });
  const target: AgentTarget = {
    tenantId: row.tenant_id,
    agent: row.agent,
    version: row.version,
    sha256: row.sha256,
    bundleKey: row.bundle_key,
    scriptName: row.script_name,
    secretsRev: row.secrets_rev ?? 0,
  };
  let input: unknown;
  try {
    const stored = await env.BUCKET.get(resultKey(row.tenant_id, runId, ["input.json"]));
    input = stored ? await stored.json() : null;
    await runAdmitted(env, runtime, { quotas, tracked }, target, runId, input);
  } catch (err) {
    // The platform failed before the run could end: put it back in the queue and try again.
    await env.DB.prepare("UPDATE runs SET status = 'queued' WHERE id = ? AND status = 'running'").bind(runId).run();
    throw err;
  }
  await notify();
  message.ack();
}

async function consumeWebhook(env: DispatcherEnv, message: Message<Extract<RunMessage, { kind: "webhook" }>>): Promise<void> {
  const { runId, tenantId, url } = message.body;
  const run = await db(env.DB).select().from(runs).where(eq(runs.id, runId)).get();
  if (!run || run.tenantId !== tenantId) return message.ack();
  const payload: Record<string, unknown> & { id: string; status: string } = { ...runView(run) };
  if (run.status === "succeeded" && run.outputBytes !== null && run.outputBytes <= WEBHOOK_OUTPUT_LIMIT) {
    const object = await env.BUCKET.get(resultKey(tenantId, runId, ["output.json"]));
    payload.output = object ? await object.json() : null;
  }
  const result = await deliver(env, tenantId, url, payload);
  if (result.ok) {
    await appendRunEvent(env.DB, tenantId, runId, "webhook.delivered", { status: result.status, attempt: message.attempts });
    return message.ack();
  }
  if (message.attempts >= WEBHOOK_ATTEMPTS) {
    await appendRunEvent(env.DB, tenantId, runId, "webhook.failed", { status: result.status, attempts: message.attempts });
    return message.ack();
  }
  message.retry({ delaySeconds: backoff(message.attempts) });
}
