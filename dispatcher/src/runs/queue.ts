import { backoffSeconds, logEvent } from "../../../core/log";
import type { DispatcherEnv, RunMessage } from "../env";
import { resultKey } from "../../../core/storage/keys";
import type { TenantRuntime } from "../runtime/types";
import { executeRun } from "./execute";
import { limitsFor } from "./lease";
import { runView } from "../../../core/runs/record";
import { toRow } from "./state";
import { runStub, tenantStub } from "./stubs";
import { deliver } from "./webhooks";

/** Deliveries are retried with backoff this many times (the queue's max_retries bounds it too). */
export const WEBHOOK_ATTEMPTS = 6;
/** Webhook bodies carry the output when it is at most this big; otherwise fetch `/v1/runs/{id}/result`. */
const WEBHOOK_OUTPUT_LIMIT = 64 * 1024;


/**
 * The consumer of the runs queue: async runs whose turn in their tenant's lane has come, and
 * webhook deliveries. A platform failure retries the message with backoff; an agent failure is the
 * run's outcome and is not retried.
 */
export async function consumeRuns(batch: MessageBatch<RunMessage>, env: DispatcherEnv, runtime: TenantRuntime): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        const body = message.body;
        if (body.kind === "run") await consumeRun(env, runtime, body);
        else if (!(await consumeWebhook(env, body, message.attempts))) return message.retry({ delaySeconds: backoffSeconds(message.attempts) });
        message.ack();
      } catch (err) {
        logEvent("error", "queue-message-failed", { body: message.body, error: String(err) });
        message.retry({ delaySeconds: backoffSeconds(message.attempts) });
      }
    }),
  );
}

async function consumeRun(env: DispatcherEnv, runtime: TenantRuntime, { runId, tenantId }: Extract<RunMessage, { kind: "run" }>): Promise<void> {
  const run = runStub(env, tenantId, runId);
  const state = await run.state();
  // Cancelled while it waited, or a duplicate message for a run already started.
  if (!state || state.tenantId !== tenantId || state.status !== "queued") return;
  // Read first: a storage failure here retries the message with nothing admitted or started.
  const stored = await env.BUCKET.get(resultKey(tenantId, runId, ["input.json"]));
  const input = stored ? await stored.json() : null;
  const turn = await tenantStub(env, tenantId).begin(tenantId, runId, state.target.agent);
  if (turn.kind === "wait") return; // back at the head of its lane until a slot frees
  if (turn.kind === "refused") return turn.slug === "conflict" ? undefined : run.fail(turn.detail);
  const started = await run.start();
  // Cancelled in the moment between: the admission is given back.
  if (!started) return tenantStub(env, tenantId).release(runId, { tokens: 0, micros: 0, started: false });
  await executeRun(env, runtime, started.target, runId, input, limitsFor(turn.quotas), started.timeoutMs);
}

/** One delivery attempt; false asks for a retry. */
async function consumeWebhook(env: DispatcherEnv, { runId, tenantId, url }: Extract<RunMessage, { kind: "webhook" }>, attempts: number): Promise<boolean> {
  const run = runStub(env, tenantId, runId);
  const state = await run.state();
  if (!state || state.tenantId !== tenantId) return true;
  const payload: Record<string, unknown> & { id: string; status: string } = { ...runView(toRow(state)) };
  if (state.status === "succeeded" && state.outputBytes !== null && state.outputBytes <= WEBHOOK_OUTPUT_LIMIT) {
    const object = await env.BUCKET.get(resultKey(tenantId, runId, ["output.json"]));
    payload.output = object ? await object.json() : null;
  }
  const result = await deliver(env, tenantId, url, payload);
  if (result.ok) {
    await run.recordNote(tenantId, "webhook.delivered", { status: result.status, attempt: attempts });
    return true;
  }
  if (attempts >= WEBHOOK_ATTEMPTS) {
    await run.recordNote(tenantId, "webhook.failed", { status: result.status, attempts });
    return true;
  }
  return false;
}
