import { exports } from "cloudflare:workers";
import { DISPATCHER_NO_QUOTA_HOST } from "./worker";
/**
 * Races and redeliveries in the data plane, each once a defect found by attacking it: a cancel as
 * a run's turn comes, a run message delivered twice, admission failing closed, duplicate
 * Idempotency-Keys while the spend figure loads, charges after a cancel, multi-byte event logs,
 * and the isolation of runs between tenants and end users.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { RunMessage } from "../dispatcher/src/env";
import { newId } from "../core/ids";
import dispatcher from "../dispatcher/src/index";
import { runStub, tenantStub } from "../dispatcher/src/runs/stubs";
import type { QuotaState } from "../dispatcher/src/quota/rules";
import { VERSIONED } from "./agents";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { bearer, cp, dp, expectProblem, getRun, json, ledgered, newTenant, patch, run, upload, type TestTenant } from "./helpers";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const POLICY = { egressAllow: [], subrequestsPerRun: null, llmCallsPerRun: null, spendCapped: false, retentionDays: 30 };

/** A queued run made directly in its object (not in the lane), so no queue consumer races the test. */
async function queuedRun(t: TestTenant, agent: string, version: number, sha256: string): Promise<string> {
  const id = newId("run");
  const target = { tenantId: t.id, agent, version, sha256, bundleKey: `scripts/${t.id}/${agent}/${sha256}.json`, scriptName: null, secretsRev: 0 };
  await runStub(env, t.id, id).create({ id, tenantId: t.id, target, endUser: null, status: "queued", timeoutMs: 3000, policy: POLICY, webhook: null });
  // In its tenant's lane, offered to the queue (this test delivers the message itself).
  await runInDurableObject(tenantStub(env, t.id), async (_instance, state) => {
    state.storage.sql.exec("INSERT INTO lane (run_id, dispatched_at) VALUES (?, ?)", id, Date.now());
  });
  return id;
}

function runBatch(runId: string, tenantId: string, attempts = 1) {
  return createMessageBatch<RunMessage>("isoplane-runs", [{ id: `m-${runId}-${attempts}`, timestamp: new Date(), attempts, body: { kind: "run", runId, tenantId } }]);
}

/** A property of a platform object, with methods bound to it (RPC stubs and bindings check \`this\`). */
function bound(target: object, prop: string | symbol): unknown {
  const value = Reflect.get(target, prop);
  return typeof value === "function" ? value.bind(target) : value;
}

async function tenantQuota(tenantId: string): Promise<QuotaState> {
  return runInDurableObject(tenantStub(env, tenantId), async (_instance, state) => (await state.storage.get<QuotaState>("quota"))!);
}

/** Delivers a run's message twice: the first time the run's object fails the start call after begin() admitted it. */
async function deliverWithFailedStart(t: TestTenant, runId: string): Promise<void> {
    // First delivery: begin() admits, then the run's object fails the start call (a transient fault).
    let failed = false;
    const flaky = {
      ...env,
      RUN_RECORDS: new Proxy(env.RUN_RECORDS, {
        get: (target, prop) =>
          prop === "get"
            ? (id: DurableObjectId) => {
                const stub = target.get(id) as unknown as Record<string, (...a: unknown[]) => unknown>;
                return new Proxy({}, {
                  get: (_, m: string) => {
                    if (m === "start" && !failed) return (failed = true), () => Promise.reject(new Error("object reset"));
                    return (...a: unknown[]) => stub[m]!(...a);
                  },
                });
              }
            : bound(target, prop),
      }),
    };
    const first = runBatch(runId, t.id, 1);
    const ctx1 = createExecutionContext();
    await dispatcher.queue(first, flaky, ctx1);
    expect((await getQueueResult(first, ctx1)).retryMessages.length).toBe(1);
    // The retry: the same run is still queued and must now run.
    const second = runBatch(runId, t.id, 2);
    const ctx2 = createExecutionContext();
    await dispatcher.queue(second, env, ctx2);
    await getQueueResult(second, ctx2);
}

describe("async lane and the concurrentRuns slot", () => {
  it("a run cancelled as its turn comes gives its concurrentRuns slot back", async () => {
    const t = await newTenant();
    const { version, sha256 } = await upload(t, "agent", VERSIONED(1));
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { concurrentRuns: 1 } }));
    const runId = await queuedRun(t, "agent", version, sha256);
    // The real consumer; the input read (between its state check and begin) is where the cancel lands.
    const racing = {
      ...env,
      BUCKET: new Proxy(env.BUCKET, {
        get: (target, prop) =>
          prop === "get"
            ? async (key: string) => {
                if (key.endsWith("/input.json")) expect((await dp(`/v1/runs/${runId}/cancel`, { method: "POST", headers: bearer(t.key) })).status).toBe(200);
                return target.get(key);
              }
            : bound(target, prop),
      }),
    };
    const batch = runBatch(runId, t.id);
    const ctx = createExecutionContext();
    await dispatcher.queue(batch, racing, ctx);
    await getQueueResult(batch, ctx);
    expect((await getRun(t, runId)).status).toBe("cancelled");
    // Nothing is running, so the tenant's one slot must be free.
    expect.soft(Object.keys((await tenantQuota(t.id)).active), "leases held").toEqual([]);
    const res = await dp("/v1/agents/agent/runs", json({ input: 1 }, bearer(t.key)));
    expect(res.status, await res.clone().text()).toBe(200);
  });

  it("a run message redelivered after admission runs the run: its own lease does not block it", async () => {
    const t = await newTenant();
    const { version, sha256 } = await upload(t, "agent", VERSIONED(1));
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { concurrentRuns: 1 } }));
    const runId = await queuedRun(t, "agent", version, sha256);
    await deliverWithFailedStart(t, runId);
    // The retry found the run still queued and must have run it.
    expect((await getRun(t, runId)).status).toBe("succeeded");
  });

  it("a redelivered run message counts the run once against runsPerMonth", async () => {
    const t = await newTenant();
    const { version, sha256 } = await upload(t, "agent", VERSIONED(1));
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { runsPerMonth: 2 } }));
    const runId = await queuedRun(t, "agent", version, sha256);
    await deliverWithFailedStart(t, runId);
    expect((await getRun(t, runId)).status).toBe("succeeded");
    expect.soft((await tenantQuota(t.id)).runs, "runs counted after ONE run").toBe(1);
    // One run so far: the second of the month's two is allowed.
    const res = await dp("/v1/agents/agent/runs", json({ input: 1 }, bearer(t.key)));
    expect(res.status, await res.clone().text()).toBe(200);
  });
});

describe("fail-closed admission", () => {
  it("a request that fails closed (503) leaves no async input behind in the tenant's R2 prefix", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    // The tenant's object cannot be reached (the dispatcher fails closed).
    const res = await exports.default.fetch(new Request(`http://${DISPATCHER_NO_QUOTA_HOST}/v1/agents/agent/runs`, json({ input: "x".repeat(1000), mode: "async" }, bearer(t.key))));
    await expectProblem(res, 503, "unavailable");
    // "nothing was run, no run recorded" — and nothing stored: the input of a run that never was
    // stays under tenants/<id>/results/ for ever (and is billed as the tenant's storage).
    const left = (await env.BUCKET.list({ prefix: `tenants/${t.id}/results/` })).objects.map((o) => o.key).filter((k) => k.endsWith("/input.json"));
    expect(left).toEqual([]);
  }, 20_000);
});

describe("idempotency under concurrency", () => {
  it("concurrent duplicates with a spend cap set (cold spend figure) get 200 or 409 and leak no admission", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { monthlySpendCapUsd: 10, concurrentRuns: 5 } }));
    const headers = { ...bearer(t.key), "idempotency-key": "same-key" };
    const answers = await Promise.all(Array.from({ length: 5 }, () => dp("/v1/agents/agent/runs", json({ input: 1 }, headers))));
    const statuses = answers.map((r) => r.status).sort();
    // Each duplicate either gets the first run (200) or is told it is still running (409); never a platform fault.
    expect.soft(statuses.every((s) => s === 200 || s === 409), JSON.stringify(statuses)).toBe(true);
    expect.soft((await tenantQuota(t.id)).runs, "runsPerMonth counter after ONE run").toBe(1);
    await sleep(200);
    // Nothing is running any more: every slot is free.
    expect(Object.keys((await tenantQuota(t.id)).active)).toEqual([]);
  });
});

describe("late charges and the tenant's counters", () => {
  /** Starts a model stream, pauses (the run is cancelled meanwhile), then reads it to its end. */
  const LATE_READER = `export default {
    async fetch(request, env) {
      const reader = (await env.LLM.stream({ messages: [{ role: "user", content: "word ".repeat(800) }] })).getReader();
      await reader.read();
      await env.EMIT("agent.event", { reading: true });
      await new Promise((r) => setTimeout(r, 800));
      while (!(await reader.read()).done) {}
      return Response.json("read");
    },
  };`;

  it("tokens charged late (after a cancel) reach the ledger, llmTokensPerMonth and the spend total", async () => {
    const t = await newTenant();
    await upload(t, "late", LATE_READER);
    await upload(t, "agent", VERSIONED(1));
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { llmTokensPerMonth: 100, monthlySpendCapUsd: 100 } }));
    const res = await dp("/v1/agents/late/runs", json({ input: 1, mode: "stream" }, bearer(t.key)));
    const runId = res.headers.get("x-isoplane-run-id")!;
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    for (let text = ""; !text.includes("agent.event"); ) text += decoder.decode((await reader.read()).value);
    expect((await dp(`/v1/runs/${runId}/cancel`, { method: "POST", headers: bearer(t.key) })).status).toBe(200);
    await reader.cancel();
    await ledgered([runId]);
    const row = await env.DB.prepare("SELECT status, input_tokens + output_tokens AS tokens FROM usage WHERE run_id = ?").bind(runId).first<{ status: string; tokens: number }>();
    expect(row!.status).toBe("cancelled");
    expect(row!.tokens).toBeGreaterThan(100); // the run really used them, and is billed for them
    // The tenant's object must count what the ledger bills.
    expect.soft((await tenantQuota(t.id)).tokens, "llmTokensPerMonth counter").toBe(row!.tokens);
    const spend = await runInDurableObject(tenantStub(env, t.id), async (_i, state) => (await state.storage.get<{ micros: number }>("spend"))!.micros);
    const { monthToDateMicros } = await import("../core/billing/spend");
    expect.soft(spend, "spend cap running total vs the ledger").toBe(await monthToDateMicros(env.DB, env, t.id));
    // The month's tokens are over the quota: the next run is refused.
    await expectProblem(await dp("/v1/agents/agent/runs", json({ input: 1 }, bearer(t.key))), 429, "quota-llm-tokens-per-month");
  });
});

describe("the event log's byte bound", () => {
  it("the 8 MiB bound counts bytes: a log of multi-byte text stores no more than 8 MiB", async () => {
    const t = await newTenant();
    await upload(t, "wide", `export default { async fetch(request, env) { const big = "\u20ac".repeat(60000); for (let i = 0; i < 200; i++) await env.EMIT("agent.event", { big }); return Response.json("done"); } };`);
    const result = await run(t, "wide");
    expect(result.status).toBe("succeeded");
    const bytes = await runInDurableObject(env.RUN_RECORDS.get(env.RUN_RECORDS.idFromName((await import("../dispatcher/src/runs/shards")).runObjectName(t.id, result.id))), async (_i, state) => {
      const rows = state.storage.sql.exec<{ n: number }>("SELECT COALESCE(SUM(LENGTH(CAST(data AS BLOB))), 0) AS n FROM events WHERE run_id = ?", result.id).one();
      return Number(rows.n);
    });
    const archived = await env.BUCKET.get(`runs/${t.id}/${result.id}/events.ndjson`);
    const total = Math.max(bytes, archived ? archived.size : 0);
    expect(total).toBeLessThanOrEqual(8 * 1024 * 1024 + 64 * 1024);
  }, 30_000);
});

describe("isolation of runs between tenants and between end users", () => {
  it("another tenant, or another end user, gets 404 on every run path; keys are per end user", async () => {
    const a = await newTenant();
    const b = await newTenant();
    await upload(a, "slow", `export default { async fetch(r, env) { await env.EMIT("agent.event", { secret: 1 }); await new Promise((r) => setTimeout(r, 800)); return Response.json("mine"); } };`);
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const issuer = `https://auth.review-${crypto.randomUUID()}.example`;
    expect((await cp("/v1/auth/jwks", { method: "PUT", headers: { ...bearer(a.key), "content-type": "application/json" }, body: JSON.stringify({ issuer, jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" }] } }) })).status).toBe(200);
    const jwt = (sub: string) => new SignJWT({ iss: issuer, aud: "isoplane", sub, exp: Math.floor(Date.now() / 1000) + 300 }).setProtectedHeader({ alg: "ES256", kid: "k1" }).sign(privateKey);
    const alice = bearer(await jwt("alice"));
    const bob = bearer(await jwt("bob"));
    const started = await dp("/v1/agents/slow/runs", json({ input: 1, mode: "stream" }, { ...alice, "idempotency-key": "k" }));
    const runId = started.headers.get("x-isoplane-run-id")!;
    const paths = (h: Record<string, string>) => [
      dp(`/v1/runs/${runId}`, { headers: h }),
      dp(`/v1/runs/${runId}/events`, { headers: h }),
      dp(`/v1/runs/${runId}/stream`, { headers: h }),
      dp(`/v1/runs/${runId}/result`, { headers: h }),
      dp(`/v1/runs/${runId}/cancel`, { method: "POST", headers: h }),
    ];
    for (const who of [bearer(b.key), bob]) for (const res of await Promise.all(paths(who))) await expectProblem(res, 404, "not-found");
    // Bob's identical request with Alice's key is his own run, not a replay of hers.
    const bobs = await dp("/v1/agents/slow/runs", json({ input: 1, mode: "stream" }, { ...bob, "idempotency-key": "k" }));
    expect(bobs.status).toBe(200);
    expect(bobs.headers.get("idempotent-replayed")).toBeNull();
    expect(bobs.headers.get("x-isoplane-run-id")).not.toBe(runId);
    await bobs.text();
    expect(await started.text()).toContain('"output":"mine"');
    await ledgered([runId]);
    const listed = await (await dp("/v1/runs", { headers: bob })).json<{ runs: { id: string }[] }>();
    expect(listed.runs.map((r) => r.id)).not.toContain(runId);
    const other = await (await dp("/v1/runs", { headers: bearer(b.key) })).json<{ runs: { id: string }[] }>();
    expect(other.runs).toEqual([]);
    expect((await getRun(a, runId)).status).toBe("succeeded");
  });
});
