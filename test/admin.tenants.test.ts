import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { VERSIONED } from "./agents";
import { ADMIN, audit, bearer, cp, dp, expectProblem, json, newTenant, patch, run, upload, ledgered } from "./helpers";

interface TenantBody {
  id: string;
  name: string;
  status: string;
  quotas: Record<string, number | null>;
}

describe("admin: tenants", () => {
  it("lists tenants newest first with cursor pagination and a status filter", async () => {
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await newTenant(`page-${i}`));
    await cp(`/admin/tenants/${made[1]!.id}`, patch({ status: "suspended" }));

    const first = await (await cp("/admin/tenants?limit=2", { headers: ADMIN })).json<{ tenants: TenantBody[]; cursor: string }>();
    expect(first.tenants).toHaveLength(2);
    expect(first.tenants[0]!.id > first.tenants[1]!.id).toBe(true);
    const second = await (await cp(`/admin/tenants?limit=2&cursor=${first.cursor}`, { headers: ADMIN })).json<{ tenants: TenantBody[] }>();
    expect(second.tenants[0]!.id < first.tenants[1]!.id).toBe(true);

    const suspended = await (await cp("/admin/tenants?status=suspended&limit=100", { headers: ADMIN })).json<{ tenants: TenantBody[] }>();
    expect(suspended.tenants.map((t) => t.id)).toContain(made[1]!.id);
    expect(suspended.tenants.every((t) => t.status === "suspended")).toBe(true);
    await expectProblem(await cp("/admin/tenants?status=gone", { headers: ADMIN }), 400, "invalid-request");
    await expectProblem(await cp("/admin/tenants?limit=0", { headers: ADMIN }), 400, "invalid-request");
  });

  it("shows every quota, null meaning the platform default, and PATCH merges them", async () => {
    const t = await newTenant();
    const got = await (await cp(`/admin/tenants/${t.id}`, { headers: ADMIN })).json<TenantBody>();
    expect(Object.keys(got.quotas).sort()).toEqual(
      ["concurrentRuns", "cpuMsPerRun", "llmCallsPerRun", "llmTokensPerMonth", "monthlySpendCapUsd", "requestsPerMinute", "runsPerMonth", "scriptBytes", "storageBytes", "subrequestsPerRun"],
    );
    expect(Object.values(got.quotas).every((v) => v === null)).toBe(true);

    const a = await (await cp(`/admin/tenants/${t.id}`, patch({ quotas: { runsPerMonth: 1000, scriptBytes: 200 } }))).json<TenantBody>();
    expect(a.quotas).toMatchObject({ runsPerMonth: 1000, scriptBytes: 200, concurrentRuns: null });
    const b = await (await cp(`/admin/tenants/${t.id}`, patch({ name: "renamed", quotas: { runsPerMonth: null } }))).json<TenantBody>();
    expect(b).toMatchObject({ name: "renamed", quotas: { runsPerMonth: null, scriptBytes: 200 } });
  });

  it("refuses unknown fields, bad values and statuses PATCH may not set", async () => {
    const t = await newTenant();
    for (const body of [
      { id: "ten_other" },
      { quotas: { runsPerMonth: -1 } },
      { quotas: { runsPerMonth: 1.5 } },
      { quotas: { unknownQuota: 1 } },
      { status: "deleted" },
      { name: "" },
    ]) {
      await expectProblem(await cp(`/admin/tenants/${t.id}`, patch(body)), 400, "invalid-request");
    }
  });

  it("a tenant can never set its own quotas or status", async () => {
    const t = await newTenant();
    await expectProblem(await cp(`/admin/tenants/${t.id}`, patch({ quotas: { runsPerMonth: 1e9 } }, bearer(t.key))), 403, "forbidden");
    await expectProblem(await cp(`/admin/tenants/${t.id}`, patch({ status: "active" }, bearer(t.key))), 403, "forbidden");
    // No tenant-facing route accepts them either.
    await expectProblem(await dp("/v1/agents/x/runs", json({ input: 1, quotas: {} }, bearer(t.key))), 400, "invalid-request");
  });

  it("a suspended tenant's keys get 403 on every call, runs included; resuming restores them", async () => {
    const t = await newTenant();
    await upload(t, "ok", VERSIONED(1));
    await cp(`/admin/tenants/${t.id}`, patch({ status: "suspended" }));
    await expectProblem(await dp("/v1/agents/ok/runs", json({ input: 1 }, bearer(t.key))), 403, "forbidden");
    await expectProblem(await dp("/v1/context/a", { headers: bearer(t.key) }), 403, "forbidden");
    await expectProblem(await dp("/v1/runs/run_01jd0000000000000000", { headers: bearer(t.key) }), 403, "forbidden");
    await expectProblem(
      await cp("/v1/agents/ok/script", { method: "PUT", headers: { ...bearer(t.key), "content-type": "text/javascript" }, body: VERSIONED(2) }),
      403,
      "forbidden",
    );
    await expectProblem(await cp("/v1/agents", { headers: bearer(t.key) }), 403, "forbidden");
    await cp(`/admin/tenants/${t.id}`, patch({ status: "active" }));
    expect((await run(t, "ok")).status).toBe("succeeded");
  });

  it("soft delete: keys stop at once, the tenant disappears, its runs are kept", async () => {
    const t = await newTenant();
    await upload(t, "ok", VERSIONED(1));
    const ran = await run(t, "ok");
    expect((await cp(`/admin/tenants/${t.id}`, { method: "DELETE", headers: ADMIN })).status).toBe(204);
    await expectProblem(await dp("/v1/agents/ok/runs", json({ input: 1 }, bearer(t.key))), 401, "unauthorized");
    await expectProblem(await cp(`/admin/tenants/${t.id}`, { headers: ADMIN }), 404, "not-found");
    await expectProblem(await cp(`/admin/tenants/${t.id}`, { method: "DELETE", headers: ADMIN }), 404, "not-found");
    await expectProblem(await cp(`/admin/tenants/${t.id}/keys`, json({}, ADMIN)), 404, "not-found");
    await ledgered([ran.id]);
    const kept = await env.DB.prepare("SELECT status FROM runs WHERE id = ?").bind(ran.id).first("status");
    expect(kept).toBe("succeeded");
    const deleted = await (await cp("/admin/tenants?status=deleted&limit=100", { headers: ADMIN })).json<{ tenants: TenantBody[] }>();
    expect(deleted.tenants.map((x) => x.id)).toContain(t.id);
    const normal = await (await cp("/admin/tenants?limit=100", { headers: ADMIN })).json<{ tenants: TenantBody[] }>();
    expect(normal.tenants.map((x) => x.id)).not.toContain(t.id);
  });

  it("unknown tenants are 404 on every admin route", async () => {
    const id = "ten_01jd0000000000000000";
    await expectProblem(await cp(`/admin/tenants/${id}`, { headers: ADMIN }), 404, "not-found");
    await expectProblem(await cp(`/admin/tenants/${id}`, patch({ name: "x" })), 404, "not-found");
    await expectProblem(await cp(`/admin/tenants/${id}`, { method: "DELETE", headers: ADMIN }), 404, "not-found");
    await expectProblem(await cp(`/admin/tenants/${id}/keys`, { headers: ADMIN }), 404, "not-found");
  });

  it("records who did what in the audit log", async () => {
    const t = await newTenant("audited");
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { runsPerMonth: 10 } }));
    await upload(t, "ok", VERSIONED(1));
    const entries = await audit(t.id);
    expect(entries.map((e) => [e.actor, e.action])).toEqual([
      [t.keyId, "agent.publish"],
      ["admin", "tenant.update"],
      ["admin", "key.create"],
      ["admin", "tenant.create"],
    ]);
    expect(entries[1]!.detail).toEqual({ quotas: { runsPerMonth: 10 } });
    expect(entries[2]!.target).toBe(t.keyId);
    await expectProblem(await cp("/admin/audit", { headers: bearer(t.key) }), 403, "forbidden");
  });
});
