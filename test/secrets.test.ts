import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { VERSIONED } from "./agents";
import { audit, bearer, cp, expectProblem, newTenant, put, run, upload } from "./helpers";

const READS_SECRETS = `export default { fetch(request, env) { return Response.json({ token: env.SECRETS.API_TOKEN ?? null, names: Object.keys(env.SECRETS).sort(), storage: typeof env.STORAGE.get }); } };`;

describe("agent secrets", () => {
  it("are given to the script as env.SECRETS, sealed at rest, listed by name only, never returned", async () => {
    const t = await newTenant();
    await upload(t, "sec", READS_SECRETS);
    const setRes = await cp("/v1/agents/sec/secrets/API_TOKEN", put({ value: "s3cr3t-value-1" }, bearer(t.key)));
    expect(setRes.status).toBe(200);
    const setText = await setRes.text();
    expect(setText).not.toContain("s3cr3t");
    await cp("/v1/agents/sec/secrets/OTHER", put({ value: "two" }, bearer(t.key)));

    expect((await run(t, "sec")).output).toEqual({ token: "s3cr3t-value-1", names: ["API_TOKEN", "OTHER"], storage: "function" });

    const list = await cp("/v1/agents/sec/secrets", { headers: bearer(t.key) });
    const listText = await list.text();
    expect(listText).not.toContain("s3cr3t");
    expect((JSON.parse(listText) as { secrets: { name: string }[] }).secrets.map((s) => s.name)).toEqual(["API_TOKEN", "OTHER"]);

    const row = await env.DB.prepare("SELECT sealed FROM agent_secrets WHERE tenant_id = ? AND name = 'API_TOKEN'").bind(t.id).first<string>("sealed");
    expect(row).not.toContain("s3cr3t");
    expect(atob(row!)).not.toContain("s3cr3t");
    const entries = await audit(t.id);
    expect(JSON.stringify(entries)).not.toContain("s3cr3t");
    expect(entries[0]).toMatchObject({ action: "secret.put", target: "sec/OTHER" });
  });

  it("a changed or deleted secret is what the next run sees (no stale isolate)", async () => {
    const t = await newTenant();
    await upload(t, "sec", READS_SECRETS);
    await cp("/v1/agents/sec/secrets/API_TOKEN", put({ value: "first" }, bearer(t.key)));
    expect((await run(t, "sec")).output).toMatchObject({ token: "first" });
    await cp("/v1/agents/sec/secrets/API_TOKEN", put({ value: "second" }, bearer(t.key)));
    expect((await run(t, "sec")).output).toMatchObject({ token: "second" });
    expect((await cp("/v1/agents/sec/secrets/API_TOKEN", { method: "DELETE", headers: bearer(t.key) })).status).toBe(204);
    expect((await run(t, "sec")).output).toMatchObject({ token: null, names: [] });
    await expectProblem(await cp("/v1/agents/sec/secrets/API_TOKEN", { method: "DELETE", headers: bearer(t.key) }), 404, "not-found");
  });

  it("a sealed value copied to another tenant's row does not open", async () => {
    const a = await newTenant();
    const b = await newTenant();
    await upload(a, "sec", READS_SECRETS);
    await upload(b, "sec", READS_SECRETS);
    await cp("/v1/agents/sec/secrets/API_TOKEN", put({ value: "a-only" }, bearer(a.key)));
    const sealed = await env.DB.prepare("SELECT sealed FROM agent_secrets WHERE tenant_id = ?").bind(a.id).first<string>("sealed");
    await env.DB.prepare("INSERT INTO agent_secrets (tenant_id, agent, name, sealed, updated_at) VALUES (?, 'sec', 'API_TOKEN', ?, 0)").bind(b.id, sealed).run();
    await env.DB.prepare("UPDATE agents SET secrets_rev = secrets_rev + 1 WHERE tenant_id = ?").bind(b.id).run();
    const result = await run(b, "sec");
    expect(result.status).toBe("failed");
    expect(JSON.stringify(result)).not.toContain("a-only");
  });

  it("refuses bad names and oversized values", async () => {
    const t = await newTenant();
    await upload(t, "sec", VERSIONED(1));
    for (const name of ["lower", "1STARTS_WITH_DIGIT", "HAS-DASH", "STORAGE", "LLM", "RUN", "SECRETS", "A".repeat(65)]) {
      await expectProblem(await cp(`/v1/agents/sec/secrets/${name}`, put({ value: "x" }, bearer(t.key))), 400, "invalid-name");
    }
    await expectProblem(await cp("/v1/agents/sec/secrets/BIG", put({ value: "x".repeat(5 * 1024 + 1) }, bearer(t.key))), 400, "invalid-request");
    await expectProblem(await cp("/v1/agents/sec/secrets/OK", put({ value: 42 }, bearer(t.key))), 400, "invalid-request");
    await expectProblem(await cp("/v1/agents/sec/secrets/OK", put({ value: "x", extra: 1 }, bearer(t.key))), 400, "invalid-request");
    await expectProblem(await cp("/v1/agents/nope/secrets/OK", put({ value: "x" }, bearer(t.key))), 404, "not-found");
  });
});
