import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { VERSIONED } from "./agents";
import { bearer, dp, expectProblem, json, ledgered, newTenant, upload } from "./helpers";

const COUNTS = `export default { async fetch(request, env) { const { runId } = await request.json(); await env.STORAGE.put("results/" + runId + "/ran", "1"); await new Promise((r) => setTimeout(r, 300)); return Response.json({ runId }); } };`;

const withKey = (key: string, body: unknown, auth: Record<string, string>) => json(body, { ...auth, "idempotency-key": key });
const runRows = async (tenantId: string) => (await env.DB.prepare("SELECT COUNT(*) AS n FROM runs WHERE tenant_id = ?").bind(tenantId).first<number>("n"))!;

describe("Idempotency-Key", () => {
  it("20 concurrent duplicates execute once; the rest get 409 while it runs, then the first run", async () => {
    const t = await newTenant();
    await upload(t, "counts", COUNTS);
    const responses = await Promise.all(Array.from({ length: 20 }, () => dp("/v1/agents/counts/runs", withKey("order-1", { input: { a: 1 } }, bearer(t.key)))));
    const ok = responses.filter((r) => r.status === 200);
    const busy = responses.filter((r) => r.status === 409);
    expect(ok).toHaveLength(1);
    expect(busy).toHaveLength(19);
    for (const r of busy) {
      await expectProblem(r, 409, "idempotency-key-in-use");
      expect(r.headers.get("retry-after")).toBe("1");
    }
    const first = await ok[0]!.json<{ id: string; output: unknown }>();
    await ledgered([first.id]);
    expect(await runRows(t.id)).toBe(1);

    // After it finished: the same key and body return the first run, without running again.
    const again = await dp("/v1/agents/counts/runs", withKey("order-1", { input: { a: 1 } }, bearer(t.key)));
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.json()).toMatchObject({ id: first.id, status: "succeeded", output: first.output });
    // Whitespace and key order do not make a different body.
    const reordered = await dp("/v1/agents/counts/runs", {
      method: "POST",
      headers: { ...bearer(t.key), "content-type": "application/json", "idempotency-key": "order-1" },
      body: '{ "mode": "sync",   "input": {"a":1} }',
    });
    expect((await reordered.json<{ id: string }>()).id).toBe(first.id);
    expect(await runRows(t.id)).toBe(1);
  });

  it("the same key with a different body is 422; another agent too", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    await upload(t, "other", VERSIONED(2));
    expect((await dp("/v1/agents/agent/runs", withKey("k", { input: 1 }, bearer(t.key)))).status).toBe(200);
    await expectProblem(await dp("/v1/agents/agent/runs", withKey("k", { input: 2 }, bearer(t.key))), 422, "idempotency-key-reused");
    await expectProblem(await dp("/v1/agents/other/runs", withKey("k", { input: 1 }, bearer(t.key))), 422, "idempotency-key-reused");
  });

  it("keys are per tenant, and a request that never became a run frees its key", async () => {
    const a = await newTenant();
    const b = await newTenant();
    await upload(a, "agent", VERSIONED(1));
    await upload(b, "agent", VERSIONED(2));
    const ra = await (await dp("/v1/agents/agent/runs", withKey("same", { input: 1 }, bearer(a.key)))).json<{ id: string; output: unknown }>();
    const rb = await (await dp("/v1/agents/agent/runs", withKey("same", { input: 1 }, bearer(b.key)))).json<{ id: string; output: unknown }>();
    expect(ra.id).not.toBe(rb.id);
    expect(rb.output).toEqual({ version: 2 });

    await expectProblem(await dp("/v1/agents/missing/runs", withKey("retry-me", { input: 1 }, bearer(a.key))), 404, "not-found");
    await upload(a, "missing", VERSIONED(3));
    expect((await dp("/v1/agents/missing/runs", withKey("retry-me", { input: 1 }, bearer(a.key)))).status).toBe(200);
  });

  it("keys expire after 24 hours", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    const first = await (await dp("/v1/agents/agent/runs", withKey("daily", { input: 1 }, bearer(t.key)))).json<{ id: string }>();
    // A day later (the tenant's object keeps its keys in its own SQLite).
    await runInDurableObject(env.TENANTS.get(env.TENANTS.idFromName(t.id)), (_, state) => {
      state.storage.sql.exec("UPDATE idem SET created_at = created_at - ?", 24 * 3600 * 1000 + 1);
    });
    const second = await (await dp("/v1/agents/agent/runs", withKey("daily", { input: 1 }, bearer(t.key)))).json<{ id: string }>();
    expect(second.id).not.toBe(first.id);
  });

  it("an async duplicate answers 202 with the first run", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    const first = await (await dp("/v1/agents/agent/runs", withKey("q", { input: 1, mode: "async" }, bearer(t.key)))).json<{ id: string }>();
    const again = await dp("/v1/agents/agent/runs", withKey("q", { input: 1, mode: "async" }, bearer(t.key)));
    expect(again.status).toBe(202);
    expect((await again.json<{ id: string }>()).id).toBe(first.id);
    await expectProblem(await dp("/v1/agents/agent/runs", withKey(" bad key", { input: 1 }, bearer(t.key))), 400, "invalid-request");
  });
});
