import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { RunMessage } from "../dispatcher/src/env";
import dispatcher from "../dispatcher/src/index";
import { backoffSeconds as backoff } from "../core/log";
import { newId } from "../core/ids";
import { runStub } from "../dispatcher/src/runs/stubs";
import { VERSIONED } from "./agents";
import { bearer, cp, dp, getRun, json, ledgered, newTenant, patch, upload, waitFor } from "./helpers";


describe("the async runs consumer", () => {
  it("retries a run with backoff when the platform fails, and leaves it queued", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    // A queued run the lane has not offered yet (made directly in its object).
    const runId = newId("run");
    const run = runStub(env, t.id, runId);
    await run.create({
      id: runId,
      tenantId: t.id,
      target: { tenantId: t.id, agent: "agent", version: 1, sha256: "x", bundleKey: "scripts/x", scriptName: null, secretsRev: 0 },
      endUser: null,
      status: "queued",
      timeoutMs: 3000,
      policy: { egressAllow: [], subrequestsPerRun: null, llmCallsPerRun: null, spendCapped: false, retentionDays: 30 },
      webhook: null,
    });
    const broken = {
      ...env,
      BUCKET: new Proxy(env.BUCKET, {
        get: (target, prop) => (prop === "get" ? () => Promise.reject(new Error("R2 is down")) : Reflect.get(target, prop)),
      }),
    };
    const batch = createMessageBatch<RunMessage>("isoplane-runs", [{ id: "m1", timestamp: new Date(), attempts: 3, body: { kind: "run", runId, tenantId: t.id } }]);
    const ctx = createExecutionContext();
    await dispatcher.queue(batch, broken, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["m1"]);
    expect(result.explicitAcks).toEqual([]);
    expect((await run.state())!.status).toBe("queued");
    await run.cancel(null);
  });

  it("acknowledges a message whose run was cancelled or already handled, without running it", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    const runId = (await (await dp("/v1/agents/agent/runs", json({ input: 1, mode: "async" }, bearer(t.key)))).json<{ id: string }>()).id;
    await dp(`/v1/runs/${runId}/cancel`, { method: "POST", headers: bearer(t.key) });
    const batch = createMessageBatch<RunMessage>("isoplane-runs", [{ id: "m2", timestamp: new Date(), attempts: 1, body: { kind: "run", runId, tenantId: t.id } }]);
    const ctx = createExecutionContext();
    await dispatcher.queue(batch, env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m2"]);
    expect((await getRun(t, runId)).status).toBe("cancelled");
  });

  it("a run whose agent is deleted while it waits is closed as failed, with its usage row", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    // One lane slot, taken by a slow run, so the second waits in the lane.
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { concurrentRuns: 1 } }));
    await upload(t, "slow", `export default { async fetch() { await new Promise((r) => setTimeout(r, 1500)); return Response.json(1); } };`);
    await dp("/v1/agents/slow/runs", json({ input: 1, mode: "async" }, bearer(t.key)));
    const runId = (await (await dp("/v1/agents/agent/runs", json({ input: 1, mode: "async" }, bearer(t.key)))).json<{ id: string }>()).id;
    await cp("/v1/agents/agent", { method: "DELETE", headers: bearer(t.key) });
    const closed = await waitFor(async () => {
      const r = await getRun(t, runId);
      return r.status !== "queued" ? r : null;
    });
    expect(closed).toMatchObject({ status: "failed", error: "The agent was deleted before the run could start." });
    await ledgered([runId]);
    expect(await env.DB.prepare("SELECT status FROM usage WHERE run_id = ?").bind(runId).first("status")).toBe("failed");
  });

  it("backs off exponentially, capped at five minutes", () => {
    expect([1, 2, 3, 8, 20].map((n) => backoff(n))).toEqual([2, 4, 8, 256, 300]);
  });
});
