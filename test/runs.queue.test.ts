import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { RunMessage } from "../core/env";
import dispatcher from "../dispatcher/src/index";
import { backoff } from "../dispatcher/src/runs/queue";
import { VERSIONED } from "./agents";
import { bearer, cp, json, newTenant, dp, upload, waitFor } from "./helpers";

describe("the async runs consumer", () => {
  it("retries a run with backoff when the platform fails, and puts it back in the queue", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    // Let the real consumer finish this run, then hand the consumer the same run again, queued, over a broken R2.
    const runId = (await (await dp("/v1/agents/agent/runs", json({ input: 1, mode: "async" }, bearer(t.key)))).json<{ id: string }>()).id;
    for (let i = 0; i < 100 && (await env.DB.prepare("SELECT status FROM runs WHERE id = ?").bind(runId).first("status")) !== "succeeded"; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await env.DB.prepare("UPDATE runs SET status = 'queued' WHERE id = ?").bind(runId).run();
    const broken = {
      ...env,
      BUCKET: new Proxy(env.BUCKET, {
        get: (target, prop) => (prop === "get" ? () => Promise.reject(new Error("R2 is down")) : Reflect.get(target, prop)),
      }),
    };
    const batch = createMessageBatch<RunMessage>("isoplane-runs", [
      { id: "m1", timestamp: new Date(), attempts: 3, body: { kind: "run", runId, tenantId: t.id, webhook: null } },
    ]);
    const ctx = createExecutionContext();
    await dispatcher.queue(batch, broken, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["m1"]);
    expect(result.explicitAcks).toEqual([]);
    expect(await env.DB.prepare("SELECT status FROM runs WHERE id = ?").bind(runId).first("status")).toBe("queued");
  });

  it("acknowledges a message whose run was cancelled or already handled, without running it", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    const runId = (await (await dp("/v1/agents/agent/runs", json({ input: 1, mode: "async" }, bearer(t.key)))).json<{ id: string }>()).id;
    await dp(`/v1/runs/${runId}/cancel`, { method: "POST", headers: bearer(t.key) });
    const batch = createMessageBatch<RunMessage>("isoplane-runs", [{ id: "m2", timestamp: new Date(), attempts: 1, body: { kind: "run", runId, tenantId: t.id, webhook: null } }]);
    const ctx = createExecutionContext();
    await dispatcher.queue(batch, env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m2"]);
    expect(await env.DB.prepare("SELECT status FROM runs WHERE id = ?").bind(runId).first("status")).toBe("cancelled");
  });

  it("a run whose agent is deleted while it waits is closed as failed, with its usage row", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    const runId = (await (await dp("/v1/agents/agent/runs", json({ input: 1, mode: "async" }, bearer(t.key)))).json<{ id: string }>()).id;
    await cp("/v1/agents/agent", { method: "DELETE", headers: bearer(t.key) });
    const closed = await waitFor(async () => (await env.DB.prepare("SELECT status, error FROM runs WHERE id = ? AND status <> 'queued'").bind(runId).first<{ status: string; error: string }>()) ?? null);
    expect(closed).toEqual({ status: "failed", error: "The agent was deleted before the run could start." });
    expect(await env.DB.prepare("SELECT status FROM usage WHERE run_id = ?").bind(runId).first("status")).toBe("failed");
  });

  it("backs off exponentially, capped at five minutes", () => {
    expect([1, 2, 3, 8, 20].map(backoff)).toEqual([2, 4, 8, 256, 300]);
  });
});
