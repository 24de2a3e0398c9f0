import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MODEL_CALLER as CALLER } from "./agents";
import { FAKE_LLM_KEY } from "./fakes/openai";
import { ADMIN, audit, bearer, cp, expectProblem, json, ledgered, newTenant, patch, put, run, runEvents, upload, type TestTenant } from "./helpers";

// The model gateway through the real surface: an agent names models of several providers in one
// run (the fakes of each wire format answer, see TEST_LLM_PROVIDERS), with defaults, retries,
// fallbacks and the tenant's own keys.

type Answer = { model?: string; content?: string; error?: string; deltas?: number };

async function calls(t: TestTenant, list: { model?: string; q: string; stream?: boolean }[], agent = "caller"): Promise<{ id: string; answers: Answer[] }> {
  const r = await run(t, agent, { calls: list });
  expect(r.status, JSON.stringify(r)).toBe("succeeded");
  return { id: r.id, answers: r.output as Answer[] };
}

async function modelUsage(runId: string): Promise<Record<string, { input: number; output: number; tenantInput?: number; tenantOutput?: number }>> {
  await ledgered([runId]);
  const row = await env.DB.prepare("SELECT model_usage FROM usage WHERE run_id = ?").bind(runId).first<{ model_usage: string }>();
  return JSON.parse(row!.model_usage);
}

describe("the model gateway", () => {
  it("routes one run's calls to several providers by name, aliases included, streamed or not", async () => {
    const t = await newTenant();
    await upload(t, "caller", CALLER);
    const { id, answers } = await calls(t, [
      { model: "azure/gpt-test", q: "header" },
      { model: "openai/gpt-test", q: "hi" },
      { model: "claude", q: "yo" },
      { q: "plain" },
      { model: "modal/vllm-model", q: "m", stream: true },
      { model: "anthropic/claude-test", q: "s", stream: true },
    ]);
    // A provider authenticated by a header secret (Azure's api-key).
    expect(answers.shift()).toMatchObject({ model: "azure/gpt-test", content: "fake:gpt-test:HEADER" });
    expect(answers[0]).toMatchObject({ model: "openai/gpt-test", content: "fake:gpt-test:HI" });
    expect(answers[1]).toMatchObject({ model: "anthropic/claude-test" });
    expect(answers[1]!.content).toMatch(/^claude:\d+:YO$/);
    expect(answers[2]).toMatchObject({ model: "builtin/isoplane-echo", content: "echo: plain" });
    expect(answers[3]).toMatchObject({ model: "modal/vllm-model", content: "fake:vllm-model:M" });
    expect(answers[4]!.content).toMatch(/^claude:\d+:S$/);
    const usage = await modelUsage(id);
    expect(Object.keys(usage).sort()).toEqual(["anthropic/claude-test", "azure/gpt-test", "builtin/isoplane-echo", "modal/vllm-model", "openai/gpt-test"]);
    expect(usage["openai/gpt-test"]).toEqual({ input: 7, output: 16 });
  });

  it("refuses an unknown model with a clear error, never another model", async () => {
    const t = await newTenant();
    await upload(t, "caller", CALLER);
    const { id, answers } = await calls(t, [{ model: "gpt-4o", q: "x" }, { model: "nope/x", q: "x" }, { model: "builtin/other", q: "x" }, { model: "gpt-4o", q: "x", stream: true }]);
    expect(answers[0]!.error).toMatch(/^LLM\.chat: unknown model "gpt-4o": name it as provider\/model \(providers: builtin, openai, modal, anthropic, byok, azure\) or by an alias \(fast, claude\)/);
    expect(answers[1]!.error).toMatch(/unknown model "nope\/x": no provider named "nope" is configured/);
    expect(answers[2]!.error).toMatch(/the built-in provider has one model, builtin\/isoplane-echo/);
    expect(answers[3]!.error).toMatch(/^LLM\.stream: unknown model "gpt-4o"/);
    expect(await modelUsage(id)).toEqual({});
  });

  it("retries a 429 after its Retry-After, falls over to the fallback after 5xx, and charges only what answered", async () => {
    const t = await newTenant();
    await upload(t, "caller", CALLER);
    const { id, answers } = await calls(t, [
      { model: "openai/rate-limited-ms", q: "x" },
      { model: "openai/unavailable", q: "fb" },
      { model: "openai/unavailable", q: "fs", stream: true },
    ]);
    // Two attempts (the configuration's), 250 ms apart as retry-after-ms asked; no fallback configured.
    expect(answers[0]!.error).toMatch(/^LLM\.chat: openai\/rate-limited-ms: .*429.* \(after 2 attempts\)$/);
    expect(answers[1]).toMatchObject({ model: "anthropic/claude-test" });
    expect(answers[1]!.content).toMatch(/^claude:\d+:FB$/);
    expect(answers[2]).toMatchObject({ model: "anthropic/claude-test" });
    const events = await runEvents(t, id);
    const retries = events.filter((e) => e.type === "llm.retry").map((e) => e.data);
    expect(retries[0]).toMatchObject({ model: "openai/rate-limited-ms", attempt: 1, status: 429, waitMs: 250 });
    expect(retries.filter((r) => r!.model === "openai/unavailable")).toHaveLength(2);
    expect(retries[1]).toMatchObject({ status: 503, attempt: 1 });
    const fallbacks = events.filter((e) => e.type === "llm.fallback").map((e) => e.data);
    expect(fallbacks).toEqual([
      { from: "openai/unavailable", to: "anthropic/claude-test", status: 503, error: expect.stringMatching(/503/) },
      { from: "openai/unavailable", to: "anthropic/claude-test", status: 503, error: expect.stringMatching(/503/) },
    ]);
    expect(Object.keys(await modelUsage(id))).toEqual(["anthropic/claude-test"]);
  });

  it("a stream the agent reads a little of and drops as it returns is still charged, and a run with calls open waits for their charges", async () => {
    const t = await newTenant();
    await upload(
      t,
      "dropper",
      `export default { async fetch(request, env) {
        const reader = (await env.LLM.stream({ model: "openai/stall-stream", messages: [{ role: "user", content: "tell me a long story" }] })).getReader();
        const first = new TextDecoder().decode((await reader.read()).value);
        reader.cancel();
        return Response.json(first);
      } };`,
    );
    const r = await run(t, "dropper");
    expect(r.status).toBe("succeeded");
    expect(JSON.parse(r.output as string)).toEqual({ type: "delta", content: "first " });
    // The estimate: the request's tokens and the one delta read ("first " is 2).
    expect((await modelUsage(r.id))["openai/stall-stream"]).toEqual({ input: 5, output: 2 });
  });

  it("uses the agent's default model, else the tenant's, else the platform's; names are checked when set", async () => {
    const t = await newTenant();
    await upload(t, "caller", CALLER);
    expect((await calls(t, [{ q: "a" }])).answers[0]).toMatchObject({ model: "builtin/isoplane-echo" });

    const tenantSet = await cp(`/admin/tenants/${t.id}`, patch({ defaultModel: "claude" }));
    expect(tenantSet.status).toBe(200);
    expect(await tenantSet.json()).toMatchObject({ defaultModel: "claude" });
    expect((await calls(t, [{ q: "b" }])).answers[0]).toMatchObject({ model: "anthropic/claude-test" });

    const agentSet = await cp("/v1/agents/caller", { method: "PATCH", headers: { ...bearer(t.key), "content-type": "application/json" }, body: JSON.stringify({ defaultModel: "openai/gpt-test" }) });
    expect(agentSet.status, await agentSet.clone().text()).toBe(200);
    expect(await agentSet.json()).toMatchObject({ name: "caller", defaultModel: "openai/gpt-test" });
    const answers = (await calls(t, [{ q: "c" }, { model: "builtin/isoplane-echo", q: "d" }])).answers;
    expect(answers[0]).toMatchObject({ model: "openai/gpt-test", content: "fake:gpt-test:C" });
    // A call that names its model gets that model.
    expect(answers[1]).toMatchObject({ model: "builtin/isoplane-echo" });
    expect((await audit(t.id)).map((a) => a.action)).toContain("agent.update");

    const cleared = await cp("/v1/agents/caller", { method: "PATCH", headers: { ...bearer(t.key), "content-type": "application/json" }, body: JSON.stringify({ defaultModel: null }) });
    expect(cleared.status).toBe(200);
    expect((await calls(t, [{ q: "e" }])).answers[0]).toMatchObject({ model: "anthropic/claude-test" });
  });

  it("refuses default models no provider serves, and bad bodies, with the exact problem", async () => {
    const t = await newTenant();
    await upload(t, "caller", CALLER);
    const agentPatch = (body: unknown) => cp("/v1/agents/caller", { method: "PATCH", headers: { ...bearer(t.key), "content-type": "application/json" }, body: JSON.stringify(body) });
    const unknown = await expectProblem(await agentPatch({ defaultModel: "gpt-4o" }), 400, "unknown-model");
    expect(unknown.detail).toMatch(/^defaultModel: unknown model "gpt-4o"/);
    await expectProblem(await agentPatch({ defaultModel: "nope/x" }), 400, "unknown-model");
    await expectProblem(await agentPatch({ defaultModel: 7 }), 400, "invalid-request");
    await expectProblem(await agentPatch({ defaultModel: "" }), 400, "invalid-request");
    await expectProblem(await agentPatch({ model: "fast" }), 400, "invalid-request");
    await expectProblem(await agentPatch({ defaultModel: "openai/gpt\n" }), 400, "invalid-request");
    await expectProblem(await agentPatch({ defaultModel: "openai/gpt test" }), 400, "invalid-request");
    await expectProblem(await cp("/v1/agents/missing", { method: "PATCH", headers: { ...bearer(t.key), "content-type": "application/json" }, body: JSON.stringify({ defaultModel: "fast" }) }), 404, "not-found");
    await expectProblem(await cp(`/admin/tenants/${t.id}`, patch({ defaultModel: "mystery" })), 400, "unknown-model");
    await expectProblem(await cp(`/admin/tenants/${t.id}`, patch({ defaultModel: "x".repeat(201) })), 400, "invalid-request");
    // Another tenant's agent is not found, not changed.
    const other = await newTenant();
    await expectProblem(await cp("/v1/agents/caller", { method: "PATCH", headers: { ...bearer(other.key), "content-type": "application/json" }, body: JSON.stringify({ defaultModel: "fast" }) }), 404, "not-found");
  });
});

describe("tenant keys (BYOK)", () => {
  const putKey = (t: TestTenant, provider: string, body: unknown) => cp(`/v1/provider-keys/${provider}`, put(body, bearer(t.key)));

  it("a tenant's own key serves its runs on that provider, is never returned, and its tokens are exported as tenant-paid", async () => {
    const t = await newTenant();
    await upload(t, "caller", CALLER);
    const before = (await calls(t, [{ model: "byok/gpt-test", q: "x" }])).answers[0]!;
    expect(before.error).toMatch(/provider "byok" takes tenants' own keys only, and this tenant stored none \(PUT \/v1\/provider-keys\/byok\)/);

    const stored = await putKey(t, "byok", { key: FAKE_LLM_KEY });
    expect(stored.status, await stored.clone().text()).toBe(200);
    const body = await stored.text();
    expect(body).not.toContain(FAKE_LLM_KEY);
    expect(JSON.parse(body)).toEqual({ provider: "byok", updatedAt: expect.any(String) });
    const listed = await (await cp("/v1/provider-keys", { headers: bearer(t.key) })).text();
    expect(JSON.parse(listed)).toEqual({ keys: [{ provider: "byok", updatedAt: expect.any(String) }] });
    expect(listed).not.toContain(FAKE_LLM_KEY);
    const sealed = await env.DB.prepare("SELECT sealed FROM provider_keys WHERE tenant_id = ?").bind(t.id).first<{ sealed: string }>();
    expect(sealed!.sealed).not.toContain(FAKE_LLM_KEY);
    expect((await audit(t.id)).find((a) => a.action === "provider-key.put")).toMatchObject({ target: "byok" });

    const { id, answers } = await calls(t, [{ model: "byok/gpt-test", q: "mine" }, { model: "byok/gpt-test", q: "s", stream: true }, { model: "openai/gpt-test", q: "platform" }]);
    expect(answers[0]).toMatchObject({ model: "byok/gpt-test", content: "fake:gpt-test:MINE" });
    expect(answers[1]).toMatchObject({ model: "byok/gpt-test", content: "fake:gpt-test:S" });
    const usage = await modelUsage(id);
    expect(usage["byok/gpt-test"]).toEqual({ input: 7 + 9, output: 18 + 4, tenantInput: 16, tenantOutput: 22 });
    expect(usage["openai/gpt-test"]).toEqual({ input: 7, output: 22 });

    const month = new Date().toISOString().slice(0, 7);
    const exported = await (await cp(`/admin/billing/export?period=${month}&format=json`, { headers: ADMIN })).json<{ lines: Record<string, string>[] }>();
    const mine = exported.lines.filter((l) => l.SubAccountId === t.id);
    expect(mine.map((l) => l.SkuId)).toContain("input-tokens:byok/gpt-test:tenant-key");
    for (const sku of ["input-tokens:byok/gpt-test:tenant-key", "output-tokens:byok/gpt-test:tenant-key"]) {
      const line = mine.find((l) => l.SkuId === sku)!;
      expect(line).toMatchObject({ BilledCost: "0.000000", x_PlatformCost: "0.000000", ListUnitPrice: "0" });
    }
    // Only the platform-paid model has priced token lines; byok has none on the platform's keys.
    expect(mine.some((l) => l.SkuId === "input-tokens:byok/gpt-test")).toBe(false);
    expect(Number(mine.find((l) => l.SkuId === "output-tokens:openai/gpt-test")!.BilledCost)).toBeGreaterThan(0);
    expect(mine.find((l) => l.SkuId === "output-tokens:byok/gpt-test:tenant-key")!.ConsumedQuantity).toBe("22");

    // Deleted: the next run has no key again.
    expect((await cp("/v1/provider-keys/byok", { method: "DELETE", headers: bearer(t.key) })).status).toBe(204);
    expect((await calls(t, [{ model: "byok/gpt-test", q: "x" }])).answers[0]!.error).toMatch(/stored none/);
    await expectProblem(await cp("/v1/provider-keys/byok", { method: "DELETE", headers: bearer(t.key) }), 404, "not-found");
  });

  it("past the spend cap, calls on the tenant's own key still go through; the platform's are refused", async () => {
    const t = await newTenant();
    await upload(t, "caller", CALLER);
    expect((await putKey(t, "byok", { key: FAKE_LLM_KEY })).status).toBe(200);
    // The run (20 µ$) fits; its first platform call (42 µ$ of tokens) takes it past the cap.
    expect((await cp(`/admin/tenants/${t.id}`, patch({ quotas: { monthlySpendCapUsd: 0.00003 } }))).status).toBe(200);
    const { answers } = await calls(t, [{ model: "openai/gpt-test", q: "hi" }, { model: "openai/gpt-test", q: "again" }, { model: "byok/gpt-test", q: "mine" }, { model: "byok/gpt-test", q: "s", stream: true }]);
    expect(answers[0]).toMatchObject({ model: "openai/gpt-test" });
    expect(answers[1]!.error).toMatch(/spend cap is reached/);
    expect(answers[2]).toMatchObject({ model: "byok/gpt-test", content: "fake:gpt-test:MINE" });
    expect(answers[3]).toMatchObject({ model: "byok/gpt-test", content: "fake:gpt-test:S" });
  });

  it("a tenant key replaces the platform's for its runs only, and its value never reaches an error", async () => {
    const t = await newTenant();
    const bystander = await newTenant();
    await upload(t, "caller", CALLER);
    await upload(bystander, "caller", CALLER);
    expect((await putKey(t, "openai", { key: "sk-tenant-wrong-key" })).status).toBe(200);
    const answer = (await calls(t, [{ model: "openai/gpt-test", q: "x" }])).answers[0]!;
    expect(answer.error).toMatch(/^LLM\.chat: openai\/gpt-test: .*401/);
    expect(answer.error).not.toContain("sk-tenant-wrong-key");
    // Not retried: a 401 will not change.
    expect((await calls(bystander, [{ model: "openai/gpt-test", q: "x" }])).answers[0]).toMatchObject({ content: "fake:gpt-test:X" });
  });

  it("refuses keys for providers that do not take them, unknown providers and bad bodies", async () => {
    const t = await newTenant();
    await expectProblem(await putKey(t, "modal", { key: "k" }), 400, "invalid-request");
    // It would send the platform's api-key header beside the tenant's key.
    const azure = await expectProblem(await putKey(t, "azure", { key: "k" }), 400, "invalid-request");
    expect(azure.detail).toMatch(/does not take tenants' own keys/);
    await expectProblem(await putKey(t, "builtin", { key: "k" }), 404, "not-found");
    await expectProblem(await putKey(t, "nope", { key: "k" }), 404, "not-found");
    await expectProblem(await putKey(t, "Bad_Name", { key: "k" }), 400, "invalid-request");
    await expectProblem(await putKey(t, "openai", { key: "" }), 400, "invalid-request");
    await expectProblem(await putKey(t, "openai", { key: "a\nb" }), 400, "invalid-request");
    await expectProblem(await putKey(t, "openai", { key: "sk key" }), 400, "invalid-request");
    await expectProblem(await putKey(t, "openai", { key: "sk-ключ" }), 400, "invalid-request");
    await expectProblem(await putKey(t, "openai", { key: "k".repeat(5 * 1024 + 1) }), 400, "invalid-request");
    await expectProblem(await putKey(t, "openai", { key: "k", extra: 1 }), 400, "invalid-request");
    await expectProblem(await putKey(t, "openai", [1]), 400, "invalid-request");
    await expectProblem(await cp("/v1/provider-keys/openai", { method: "PUT", headers: { ...bearer(t.key), "content-type": "application/json" }, body: "{" }), 400, "malformed-json");
    await expectProblem(await cp("/v1/provider-keys", { headers: { authorization: "Bearer nope" } }), 401, "unauthorized");
    await expectProblem(await cp("/v1/provider-keys/openai", { method: "PUT", headers: { "content-type": "application/json" }, body: json({ key: "k" }).body as string }), 401, "unauthorized");
  });
});
