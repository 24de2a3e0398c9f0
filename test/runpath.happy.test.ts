import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LISTS, SUMMARIZE, VERSIONED } from "./agents";
import { bearer, cp, dp, newTenant, run, upload } from "./helpers";

describe("the run path, end to end", () => {
  it("creates a tenant and key, uploads an agent, stores context, runs it and keeps the result", async () => {
    const t = await newTenant("acme");
    const published = await upload(t, "summarize", SUMMARIZE);
    expect(published.version).toBe(1);
    expect(published.size).toBe(new TextEncoder().encode(SUMMARIZE).byteLength);
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(SUMMARIZE));
    expect(published.sha256).toBe([...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join(""));

    const put = await dp("/v1/context/docs/brief.md", {
      method: "PUT",
      headers: { ...bearer(t.key), "content-type": "text/markdown" },
      body: "Isoplane runs stateless agents.",
    });
    expect(put.status).toBe(200);
    expect(await env.BUCKET.head(`tenants/${t.id}/context/docs/brief.md`)).not.toBeNull();
    const got = await dp("/v1/context/docs/brief.md", { headers: bearer(t.key) });
    expect(got.headers.get("content-type")).toBe("text/markdown");
    expect(await got.text()).toBe("Isoplane runs stateless agents.");

    const result = await run(t, "summarize", { doc: "docs/brief.md" });
    expect(result.status).toBe("succeeded");
    expect(result.version).toBe(1);
    expect(result.output).toEqual({
      summary: "echo: Isoplane runs stateless agents.",
      run: { id: result.id, tenantId: t.id, agent: "summarize", version: 1 },
      tokens: { inputTokens: 14, outputTokens: 10 },
    });
    // Usage is charged to the run by the platform's bindings, not reported by the agent.
    expect(result.usage).toMatchObject({
      llmCalls: 1,
      inputTokens: 14,
      outputTokens: 10,
      storageReads: 1,
      storageWrites: 1,
      bytesRead: 31,
      bytesWritten: 37,
      cpuMs: null,
    });
    expect(result.usage.wallMs).toBeGreaterThanOrEqual(0);

    // The platform stored the output; the agent wrote its own file beside it.
    const stored = await env.BUCKET.get(`tenants/${t.id}/results/${result.id}/output.json`);
    expect(await stored!.json()).toEqual(result.output);
    const notes = await env.BUCKET.get(`tenants/${t.id}/results/${result.id}/summary.txt`);
    expect(await notes!.text()).toBe("echo: Isoplane runs stateless agents.");

    const record = await dp(`/v1/runs/${result.id}`, { headers: bearer(t.key) });
    expect(record.status).toBe(200);
    const body = await record.json<Record<string, unknown>>();
    expect(body).toMatchObject({ id: result.id, agent: "summarize", version: 1, status: "succeeded", usage: result.usage });
    expect(body).not.toHaveProperty("tenantId");

    const output = await dp(`/v1/runs/${result.id}/result`, { headers: bearer(t.key) });
    expect(output.headers.get("content-type")).toBe("application/json");
    expect(await output.json()).toEqual(result.output);
  });

  it("makes each upload a new immutable version that becomes the active one", async () => {
    const t = await newTenant();
    expect((await upload(t, "ver", VERSIONED(1))).version).toBe(1);
    expect((await run(t, "ver")).output).toEqual({ version: 1 });
    expect((await upload(t, "ver", VERSIONED(2))).version).toBe(2);
    const second = await run(t, "ver");
    expect(second.output).toEqual({ version: 2 });
    expect(second.version).toBe(2);
    const rows = await env.DB.prepare("SELECT version FROM agent_versions WHERE tenant_id = ? ORDER BY version").bind(t.id).all();
    expect(rows.results.map((r) => r.version)).toEqual([1, 2]);
  });

  it("numbers concurrent uploads without gaps or duplicates", async () => {
    const t = await newTenant();
    const versions = await Promise.all(Array.from({ length: 8 }, (_, i) => upload(t, "race", VERSIONED(i))));
    expect(versions.map((v) => v.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const active = await env.DB.prepare("SELECT active_version FROM agents WHERE tenant_id = ?").bind(t.id).first("active_version");
    expect(active).toBe(8);
  });

  it("lets an agent list its own keys, relative to its prefix", async () => {
    const t = await newTenant();
    for (const key of ["a/1.txt", "a/2.txt", "b/3.txt"]) {
      await dp(`/v1/context/${key}`, { method: "PUT", headers: bearer(t.key), body: key });
    }
    await upload(t, "lister", LISTS);
    expect((await run(t, "lister", { prefix: "context/a/" })).output).toEqual(["context/a/1.txt", "context/a/2.txt"]);
    expect((await run(t, "lister", { prefix: "context/" })).output).toHaveLength(3);

    const listing = await dp("/v1/context?prefix=a/", { headers: bearer(t.key) });
    const page = await listing.json<{ objects: { key: string }[]; cursor: string | null }>();
    expect(page.objects.map((o) => o.key)).toEqual(["a/1.txt", "a/2.txt"]);
    expect(page.cursor).toBeNull();
  });

  it("deletes a context object", async () => {
    const t = await newTenant();
    await dp("/v1/context/gone.txt", { method: "PUT", headers: bearer(t.key), body: "x" });
    expect((await dp("/v1/context/gone.txt", { method: "DELETE", headers: bearer(t.key) })).status).toBe(204);
    expect((await dp("/v1/context/gone.txt", { headers: bearer(t.key) })).status).toBe(404);
  });

  it("describes both Workers in OpenAPI 3.1", async () => {
    const d = await (await dp("/openapi.json")).json<{ openapi: string; paths: Record<string, unknown> }>();
    expect(d.openapi).toBe("3.1.0");
    expect(Object.keys(d.paths)).toEqual(
      expect.arrayContaining(["/v1/context/{key}", "/v1/context", "/v1/agents/{agent}/runs", "/v1/runs/{runId}", "/v1/runs/{runId}/result"]),
    );
    const c = await (await cp("/openapi.json")).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(c.paths)).toEqual(
      expect.arrayContaining([
        "/admin/tenants",
        "/admin/tenants/{tenantId}",
        "/admin/tenants/{tenantId}/keys",
        "/admin/tenants/{tenantId}/keys/{keyId}",
        "/admin/audit",
        "/v1/agents",
        "/v1/agents/{agent}",
        "/v1/agents/{agent}/script",
        "/v1/agents/{agent}/rollback",
        "/v1/agents/{agent}/secrets",
        "/v1/agents/{agent}/secrets/{name}",
      ]),
    );
  });
});
