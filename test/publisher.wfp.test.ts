import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { createClient } from "cloudflare/tree-shakable";
import { Scripts } from "cloudflare/resources/workers-for-platforms/dispatch/namespaces/scripts/scripts";
import { FAKE_CF } from "./fakes/cloudflare-api";
import { VERSIONED } from "./agents";
import { ADMIN, bearer, cp, expectProblem, json, newTenant, patch, put, type TestTenant } from "./helpers";
import { CONTROL_PLANE_WFP_HOST } from "./worker";

/** The control plane with PUBLISHER=wfp, publishing to the fake Cloudflare API. */
function wfp(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(new Request(`http://${CONTROL_PLANE_WFP_HOST}${path}`, init));
}

interface FakeState {
  scripts: Record<
    string,
    {
      metadata: {
        main_module: string;
        bindings: Record<string, unknown>[];
        tags: string[];
        compatibility_date: string;
        compatibility_flags: string[];
        limits?: Record<string, number>;
      };
      modules: Record<string, { type: string; content: string }>;
      secrets: Record<string, string>;
    }
  >;
  rejected: { method: string; path: string; reason: string }[];
}

async function fake(): Promise<FakeState> {
  return (await fetch("https://api.cloudflare.com/__fake/state")).json();
}

async function publish(t: TestTenant, agent: string, code: string) {
  return wfp(`/v1/agents/${agent}/script`, { method: "PUT", headers: { ...bearer(t.key), "content-type": "application/javascript+module" }, body: code });
}

const scriptsOf = (state: FakeState, tenantId: string) =>
  Object.entries(state.scripts).filter(([, s]) => s.metadata.tags.includes(`tenant-${tenantId}`));

describe("the Workers for Platforms publisher, against a fake Cloudflare API", () => {
  beforeEach(async () => {
    await fetch("https://api.cloudflare.com/__fake/reset", { method: "POST" });
  });

  it("uploads each version as a tagged script with the platform's bindings, limits and harness", async () => {
    const t = await newTenant();
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { cpuMsPerRun: 50, subrequestsPerRun: 20 } }));
    const res = await publish(t, "summarize", VERSIONED(1));
    expect(res.status, await res.clone().text()).toBe(201);
    const state = await fake();
    expect(state.rejected).toEqual([]);
    const [[name, script]] = scriptsOf(state, t.id) as [[string, FakeState["scripts"][string]]];
    expect(name).toMatch(/^ip-[0-9a-z]{20}-[0-9a-f]{8}-[0-9a-f]{16}$/);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(script.metadata.main_module).toBe("__isoplane_harness.js");
    expect(Object.keys(script.modules).sort()).toEqual(["__isoplane_agent.js", "__isoplane_harness.js", "__isoplane_setup.js", "agent.js"]);
    expect(script.metadata.compatibility_flags).toEqual(["nodejs_als"]);
    expect(script.modules["agent.js"]).toEqual({ type: "application/javascript+module", content: VERSIONED(1) });
    expect(script.metadata.bindings).toEqual([
      { type: "service", name: "STORAGE", service: "isoplane-dispatcher", entrypoint: "TenantStorage", props: { tenantId: t.id } },
      { type: "service", name: "LLM", service: "isoplane-dispatcher", entrypoint: "TenantLlm", props: { tenantId: t.id } },
    ]);
    expect(script.metadata.tags).toEqual([`tenant-${t.id}`, "agent-summarize"]);
    expect(script.metadata.limits).toEqual({ cpu_ms: 50, subrequests: 20 });
    const row = await env.DB.prepare("SELECT script_name FROM agent_versions WHERE tenant_id = ?").bind(t.id).first("script_name");
    expect(row).toBe(name);
  });

  it("sets secrets through the secrets API, re-syncs them on rollback and removes them everywhere", async () => {
    const t = await newTenant();
    await publish(t, "agent", VERSIONED(1));
    expect((await wfp("/v1/agents/agent/secrets/TOKEN", put({ value: "one" }, bearer(t.key)))).status).toBe(200);
    await publish(t, "agent", VERSIONED(2));
    let state = await fake();
    const byContent = (n: number) => scriptsOf(state, t.id).find(([, s]) => s.modules["agent.js"]!.content === VERSIONED(n))!;
    expect(byContent(1)[1].secrets).toEqual({ TOKEN: "one" });
    expect(byContent(2)[1].secrets).toEqual({ TOKEN: "one" });

    await wfp("/v1/agents/agent/secrets/TOKEN", put({ value: "two" }, bearer(t.key)));
    state = await fake();
    expect(byContent(2)[1].secrets).toEqual({ TOKEN: "two" });
    expect(byContent(1)[1].secrets).toEqual({ TOKEN: "one" });

    expect((await wfp("/v1/agents/agent/rollback", json({ version: 1 }, bearer(t.key)))).status).toBe(200);
    state = await fake();
    expect(byContent(1)[1].secrets).toEqual({ TOKEN: "two" });

    expect((await wfp("/v1/agents/agent/secrets/TOKEN", { method: "DELETE", headers: bearer(t.key) })).status).toBe(204);
    state = await fake();
    expect(byContent(1)[1].secrets).toEqual({});
    expect(byContent(2)[1].secrets).toEqual({});
    expect(state.rejected).toEqual([]);
  });

  it("an upload the runtime refuses leaves the previous version active and no orphan version", async () => {
    const t = await newTenant();
    await publish(t, "agent", VERSIONED(1));
    const res = await publish(t, "agent", `${VERSIONED(2)} // __FAKE_CF_REJECT__`);
    await expectProblem(res, 502, "publish-failed");
    const detail = await (await wfp("/v1/agents/agent", { headers: bearer(t.key) })).json<{ activeVersion: number; versions: unknown[] }>();
    expect(detail.activeVersion).toBe(1);
    expect(detail.versions).toHaveLength(1);
  });

  it("deletes an agent's scripts, and a tenant's scripts by tag", async () => {
    const a = await newTenant();
    const b = await newTenant();
    await publish(a, "one", VERSIONED(1));
    await publish(a, "one", VERSIONED(2));
    await publish(a, "two", VERSIONED(3));
    await publish(b, "one", VERSIONED(4));
    expect((await wfp("/v1/agents/one", { method: "DELETE", headers: bearer(a.key) })).status).toBe(204);
    let state = await fake();
    expect(scriptsOf(state, a.id).map(([, s]) => s.metadata.tags[1])).toEqual(["agent-two"]);

    expect((await wfp(`/admin/tenants/${a.id}`, { method: "DELETE", headers: ADMIN })).status).toBe(204);
    state = await fake();
    expect(scriptsOf(state, a.id)).toEqual([]);
    expect(scriptsOf(state, b.id)).toHaveLength(1);
    expect(state.rejected).toEqual([]);
  });

  it("the fake refuses what Cloudflare refuses: the SDK's flattened multipart encoding, a wrong token", async () => {
    const client = createClient({ apiToken: FAKE_CF.token, maxRetries: 0, resources: [Scripts] });
    const scope = { account_id: FAKE_CF.accountId, dispatch_namespace: FAKE_CF.namespace };
    // The documented v7 params shape, as the SDK sends it: Content-Type forced to
    // application/javascript over a multipart body, metadata[...] and files[] parts.
    const naive = {
      ...scope,
      metadata: { main_module: "worker.js" },
      files: [new File(["export default {}"], "worker.js", { type: "application/javascript+module" })],
    };
    const scripts = client.workersForPlatforms.dispatch.namespaces.scripts;
    await expect(scripts.update("naive", naive)).rejects.toThrow(/400/);
    await expect(scripts.update("naive", naive, { headers: { "Content-Type": null } })).rejects.toThrow(/400/);
    const wrong = createClient({ apiToken: "nope", maxRetries: 0, resources: [Scripts] });
    await expect(wrong.workersForPlatforms.dispatch.namespaces.scripts.delete("x", scope)).rejects.toThrow(/403/);
    const state = await fake();
    expect(state.rejected.map((r) => r.reason)).toEqual([
      "Expected a multipart/form-data body",
      "could not read content for part metadata",
      "Authentication error",
    ]);
  });
});
