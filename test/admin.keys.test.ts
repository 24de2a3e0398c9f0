import { describe, expect, it } from "vitest";
import { VERSIONED } from "./agents";
import { ADMIN, bearer, cp, dp, expectProblem, json, newTenant, upload } from "./helpers";

interface KeyBody {
  id: string;
  key?: string;
  prefix: string;
  scopes: string[];
  status: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

describe("admin: keys", () => {
  it("lists keys without their secrets", async () => {
    const t = await newTenant();
    const res = await cp(`/admin/tenants/${t.id}/keys`, { headers: ADMIN });
    const text = await res.text();
    expect(text).not.toContain(t.key);
    const { keys } = JSON.parse(text) as { keys: KeyBody[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ id: t.keyId, prefix: t.key.slice(0, 10), status: "active", scopes: ["runs", "context", "scripts", "usage"] });
    expect(keys[0]).not.toHaveProperty("key");
    expect(keys[0]).not.toHaveProperty("keyHash");
  });

  it("revocation takes effect at once; revoking twice is fine; other tenants' keys are 404", async () => {
    const t = await newTenant();
    const other = await newTenant();
    expect((await dp("/v1/context?prefix=", { headers: bearer(t.key) })).status).toBe(200);
    await expectProblem(await cp(`/admin/tenants/${other.id}/keys/${t.keyId}`, { method: "DELETE", headers: ADMIN }), 404, "not-found");
    expect((await cp(`/admin/tenants/${t.id}/keys/${t.keyId}`, { method: "DELETE", headers: ADMIN })).status).toBe(204);
    await expectProblem(await dp("/v1/context?prefix=", { headers: bearer(t.key) }), 401, "unauthorized");
    expect((await cp(`/admin/tenants/${t.id}/keys/${t.keyId}`, { method: "DELETE", headers: ADMIN })).status).toBe(204);
    const { keys } = await (await cp(`/admin/tenants/${t.id}/keys`, { headers: ADMIN })).json<{ keys: KeyBody[] }>();
    expect(keys[0]).toMatchObject({ status: "revoked" });
    expect(keys[0]!.revokedAt).not.toBeNull();
    await expectProblem(await cp(`/admin/tenants/${t.id}/keys/key_01jd0000000000000000`, { method: "DELETE", headers: ADMIN }), 404, "not-found");
  });

  it("scopes limit what a key can do", async () => {
    const t = await newTenant();
    const runsOnly = await (await cp(`/admin/tenants/${t.id}/keys`, json({ name: "ci", scopes: ["runs"] }, ADMIN))).json<KeyBody>();
    expect(runsOnly.scopes).toEqual(["runs"]);
    await upload(t, "ok", VERSIONED(1));
    expect((await dp("/v1/agents/ok/runs", json({ input: 1 }, bearer(runsOnly.key!)))).status).toBe(200);
    await expectProblem(await dp("/v1/context/a", { headers: bearer(runsOnly.key!) }), 403, "forbidden");
    await expectProblem(
      await cp("/v1/agents/ok/script", { method: "PUT", headers: { ...bearer(runsOnly.key!), "content-type": "text/javascript" }, body: VERSIONED(2) }),
      403,
      "forbidden",
    );
  });

  it("keys expire", async () => {
    const t = await newTenant();
    const soon = new Date(Date.now() + 1500).toISOString();
    const k = await (await cp(`/admin/tenants/${t.id}/keys`, json({ expiresAt: soon }, ADMIN))).json<KeyBody>();
    expect(k.expiresAt).toBe(soon);
    expect((await dp("/v1/context?prefix=", { headers: bearer(k.key!) })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2600));
    await expectProblem(await dp("/v1/context?prefix=", { headers: bearer(k.key!) }), 401, "unauthorized");
    await expectProblem(await cp(`/admin/tenants/${t.id}/keys`, json({ expiresAt: new Date(Date.now() - 1000).toISOString() }, ADMIN)), 400, "invalid-request");
    await expectProblem(await cp(`/admin/tenants/${t.id}/keys`, json({ expiresAt: "tomorrow" }, ADMIN)), 400, "invalid-request");
  });

  it("key creation refuses unknown fields (no tenant id or hash can be injected)", async () => {
    const t = await newTenant();
    await expectProblem(await cp(`/admin/tenants/${t.id}/keys`, json({ tenantId: "ten_01jd0000000000000000" }, ADMIN)), 400, "invalid-request");
    await expectProblem(await cp(`/admin/tenants/${t.id}/keys`, json({ keyHash: "00" }, ADMIN)), 400, "invalid-request");
  });
});
