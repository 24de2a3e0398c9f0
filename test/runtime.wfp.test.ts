import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import outbound from "../dispatcher/outbound/index";
import { VERSIONED } from "./agents";
import { bearer, cp, json, newTenant, patch, upload } from "./helpers";
import { CONTROL_PLANE_WFP_HOST, DISPATCHER_WFP_HOST, fakeNamespace } from "./worker";

const at = (host: string, path: string, init: RequestInit) => exports.default.fetch(new Request(`http://${host}${path}`, init));

describe("the production runtime (Workers for Platforms), against a fake dispatch namespace", () => {
  it("dispatches to the version's script with the tenant's limits and outbound parameters", async () => {
    const t = await newTenant();
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { cpuMsPerRun: 30, subrequestsPerRun: 5 } }));
    const published = await at(CONTROL_PLANE_WFP_HOST, "/v1/agents/agent/script", {
      method: "PUT",
      headers: { ...bearer(t.key), "content-type": "application/javascript+module" },
      body: VERSIONED(1),
    });
    expect(published.status).toBe(201);
    const scriptName = await env.DB.prepare("SELECT script_name FROM agent_versions WHERE tenant_id = ?").bind(t.id).first<string>("script_name");

    const before = fakeNamespace.calls.length;
    const res = await at(DISPATCHER_WFP_HOST, "/v1/agents/agent/runs", json({ input: { q: 1 } }, bearer(t.key)));
    const body = await res.json<{ id: string; status: string; output: { script: string; run: unknown; body: unknown } }>();
    expect(body.status).toBe("succeeded");
    expect(fakeNamespace.calls.slice(before)).toEqual([
      { name: scriptName, args: {}, options: { limits: { cpuMs: 30, subRequests: 5 }, outbound: { tenantId: t.id, runId: body.id } } },
    ]);
    expect(body.output).toEqual({
      script: scriptName,
      run: { id: body.id, tenantId: t.id, agent: "agent", version: 1 },
      body: { runId: body.id, input: { q: 1 } },
    });
  });

  it("a version never published to the namespace fails its run instead of running elsewhere", async () => {
    const t = await newTenant();
    await upload(t, "local-only", VERSIONED(1));
    const res = await at(DISPATCHER_WFP_HOST, "/v1/agents/local-only/runs", json({ input: 1 }, bearer(t.key)));
    const body = await res.json<{ status: string; error: string }>();
    expect(body).toMatchObject({ status: "failed", error: expect.stringMatching(/never published/) });
  });

  it("the namespace's outbound Worker applies the egress policy with the parameters it is given", async () => {
    const t = await newTenant();
    await cp(`/admin/tenants/${t.id}`, patch({ egressAllow: ["api.example.test"] }));
    const noTenant = await outbound.fetch(new Request("https://api.example.test/"), { ...env });
    expect(noTenant.status).toBe(403);
    const noRun = await outbound.fetch(new Request("https://api.example.test/"), { ...env, tenantId: t.id });
    expect(noRun.status).toBe(403);
    const denied = await outbound.fetch(new Request("http://10.1.2.3/"), { ...env, tenantId: t.id, runId: "run_01jd0000000000000000" });
    expect(denied.status).toBe(403);
  });
});
