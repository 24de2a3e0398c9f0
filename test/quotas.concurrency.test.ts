import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { VERSIONED } from "./agents";
import { bearer, cp, dp, expectProblem, json, ledgered, newTenant, patch, run, upload } from "./helpers";
import { DISPATCHER_NO_QUOTA_HOST } from "./worker";

const SLOW = `export default { async fetch() { await new Promise((r) => setTimeout(r, 400)); return Response.json({ slow: true }); } };`;
const CHATTY = `export default { async fetch(request, env) { const r = await env.LLM.chat({ messages: [{ role: "user", content: "a fairly long question that costs tokens" }] }); return Response.json(r.usage); } };`;

const runCount = async (tenantId: string) => (await env.DB.prepare("SELECT COUNT(*) AS n FROM runs WHERE tenant_id = ?").bind(tenantId).first<number>("n"))!;

describe("quotas: exact under concurrency", () => {
  it("runsPerMonth: 5 with 40 concurrent requests runs exactly 5", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { runsPerMonth: 5 } }));
    const responses = await Promise.all(Array.from({ length: 40 }, () => dp("/v1/agents/agent/runs", json({ input: 1 }, bearer(t.key)))));
    const ok = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 429);
    expect(ok).toHaveLength(5);
    expect(refused).toHaveLength(35);
    for (const r of refused) {
      const problem = await expectProblem(r, 429, "quota-runs-per-month");
      expect(problem).toMatchObject({ quota: "runsPerMonth", limit: 5 });
      expect(r.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    }
    await ledgered(await Promise.all(ok.map(async (r) => (await r.json<{ id: string }>()).id)));
    expect(await runCount(t.id)).toBe(5);
  });

  it("concurrentRuns: 2 with slow agents never runs more than 2 at once, and frees slots after", async () => {
    const t = await newTenant();
    await upload(t, "slow", SLOW);
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { concurrentRuns: 2 } }));
    const responses = await Promise.all(Array.from({ length: 8 }, () => dp("/v1/agents/slow/runs", json({ input: 1 }, bearer(t.key)))));
    const admitted = responses.filter((r) => r.status === 200);
    expect(admitted).toHaveLength(2);
    const refused = responses.filter((r) => r.status === 429);
    expect(refused).toHaveLength(6);
    await ledgered(await Promise.all(admitted.map(async (r) => (await r.json<{ id: string }>()).id)));
    for (const r of refused) {
      await expectProblem(r, 429, "quota-concurrent-runs");
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    // Overlap of the recorded runs never exceeds the limit.
    const { results } = await env.DB.prepare("SELECT created_at, finished_at FROM runs WHERE tenant_id = ?").bind(t.id).all<{ created_at: number; finished_at: number }>();
    const points = results.flatMap((r) => [[r.created_at, 1] as const, [r.finished_at, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let open = 0;
    let most = 0;
    for (const [, delta] of points) most = Math.max(most, (open += delta));
    expect(most).toBeLessThanOrEqual(2);
    // The slots came back: two more run.
    const again = await Promise.all([run(t, "slow"), run(t, "slow")]);
    expect(again.map((r) => r.status)).toEqual(["succeeded", "succeeded"]);
  });

  it("requestsPerMinute counts every request and says when to retry", async () => {
    const t = await newTenant();
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { requestsPerMinute: 3 } }));
    for (let i = 0; i < 3; i++) expect((await dp("/v1/context?prefix=", { headers: bearer(t.key) })).status).toBe(200);
    const res = await dp("/v1/context?prefix=", { headers: bearer(t.key) });
    await expectProblem(res, 429, "quota-requests-per-minute");
    const retry = Number(res.headers.get("retry-after"));
    expect(Number.isInteger(retry) && retry >= 1 && retry <= 60).toBe(true);
    await expectProblem(await dp("/v1/agents/x/runs", json({ input: 1 }, bearer(t.key))), 429, "quota-requests-per-minute");
  });

  it("llmTokensPerMonth refuses new runs once the month's tokens are spent", async () => {
    const t = await newTenant();
    await upload(t, "chatty", CHATTY);
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { llmTokensPerMonth: 10 } }));
    const first = await run(t, "chatty");
    expect(first.usage.inputTokens! + first.usage.outputTokens!).toBeGreaterThan(10);
    await expectProblem(await dp("/v1/agents/chatty/runs", json({ input: 1 }, bearer(t.key))), 429, "quota-llm-tokens-per-month");
  });

  it("requests for an unknown agent do not use up runsPerMonth", async () => {
    const t = await newTenant();
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { runsPerMonth: 2 } }));
    for (let i = 0; i < 3; i++) await expectProblem(await dp("/v1/agents/typo/runs", json({ input: 1 }, bearer(t.key))), 404, "not-found");
    await upload(t, "agent", VERSIONED(1));
    expect((await run(t, "agent")).status).toBe("succeeded");
    expect((await run(t, "agent")).status).toBe("succeeded");
    await expectProblem(await dp("/v1/agents/agent/runs", json({ input: 1 }, bearer(t.key))), 429, "quota-runs-per-month");
  });

  it("a refused or missing agent gives its slot back", async () => {
    const t = await newTenant();
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { concurrentRuns: 1 } }));
    await expectProblem(await dp("/v1/agents/nothing/runs", json({ input: 1 }, bearer(t.key))), 404, "not-found");
    await upload(t, "agent", VERSIONED(1));
    expect((await run(t, "agent")).status).toBe("succeeded");
    expect((await run(t, "agent")).status).toBe("succeeded");
  });

  it("fails closed: with quota state unreachable nothing is dispatched (503 + Retry-After)", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { runsPerMonth: 100 } }));
    const res = await exports.default.fetch(
      new Request(`http://${DISPATCHER_NO_QUOTA_HOST}/v1/agents/agent/runs`, json({ input: 1 }, bearer(t.key))),
    );
    await expectProblem(res, 503, "unavailable");
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await runCount(t.id)).toBe(0);
  });

  it("runs of tenants without quotas fail closed too (the tenant's object holds the active version); other calls never wait on it", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    const res = await exports.default.fetch(new Request(`http://${DISPATCHER_NO_QUOTA_HOST}/v1/agents/agent/runs`, json({ input: 1 }, bearer(t.key))));
    await expectProblem(res, 503, "unavailable");
    expect((await exports.default.fetch(new Request(`http://${DISPATCHER_NO_QUOTA_HOST}/v1/context?prefix=`, { headers: bearer(t.key) }))).status).toBe(200);
  });

  it("a quota set mid-month counts the runs already made this month", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    for (let i = 0; i < 3; i++) expect((await run(t, "agent")).status).toBe("succeeded");
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { runsPerMonth: 4 } }));
    expect((await run(t, "agent")).status).toBe("succeeded");
    await expectProblem(await dp("/v1/agents/agent/runs", json({ input: 1 }, bearer(t.key))), 429, "quota-runs-per-month");
  });
});

describe("llmCallsPerRun", () => {
  it("refuses the model call past the run's limit; the run decides what to do with the error", async () => {
    const t = await newTenant();
    await upload(t, "caller", `export default { async fetch(request, env) { const out = []; for (let i = 0; i < 4; i++) { try { await env.LLM.chat({ messages: [{ role: "user", content: "hi" }] }); out.push("ok"); } catch (err) { out.push(err.message); } } return Response.json(out); } };`);
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { llmCallsPerRun: 2 } }));
    const result = await run(t, "caller");
    expect(result.output).toEqual(["ok", "ok", "LLM: the run has used its 2 model calls (llmCallsPerRun)", "LLM: the run has used its 2 model calls (llmCallsPerRun)"]);
    expect(result.usage.llmCalls).toBe(2);
    await expectProblem(await cp(`/admin/tenants/${t.id}`, patch({ quotas: { llmCallsPerRun: -1 } })), 400, "invalid-request");
  });
});
