import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import outbound from "../dispatcher/outbound/index";
import { VERSIONED } from "./agents";
import { bearer, cp, json, newTenant, patch, PROBLEM, runEvents, upload } from "./helpers";
import { CONTROL_PLANE_WFP_HOST, DISPATCHER_WFP_HOST, fakeNamespace } from "./worker";

/** What the fake namespace's script got back: a problem, the echo of an allowed host, or plain text. */
type FetchedBody = { type?: string; reason?: string; host?: string; path?: string };

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
    // Private addresses are on the allowlist on purpose: only the platform's private-address rule keeps them out.
    const egressAllow = ["api.example.test", "10.1.2.3", "127.0.0.1", "169.254.169.254", "192.168.1.1", "8.8.8.8"];
    await cp(`/admin/tenants/${t.id}`, patch({ egressAllow }));
    const noTenant = await outbound.fetch(new Request("https://api.example.test/"), { ...env });
    expect(noTenant.status).toBe(403);
    const noRun = await outbound.fetch(new Request("https://api.example.test/"), { ...env, tenantId: t.id });
    expect(noRun.status).toBe(403);
    const notRunning = await outbound.fetch(new Request("https://api.example.test/"), { ...env, tenantId: t.id, runId: "run_01jd0000000000000000" });
    expect(notRunning.status).toBe(403);
    expect(await notRunning.json()).toMatchObject({ type: `${PROBLEM}egress-denied`, reason: "the run is not running" });

    // A published script's fetch() during a real run, routed to the outbound Worker with the run's parameters.
    const published = await at(CONTROL_PLANE_WFP_HOST, "/v1/agents/fetcher/script", {
      method: "PUT",
      headers: { ...bearer(t.key), "content-type": "application/javascript+module" },
      body: VERSIONED(1),
    });
    expect(published.status).toBe(201);
    const privateUrls = ["http://10.1.2.3/", "http://127.0.0.1/v1/runs", "http://169.254.169.254/latest/meta-data/", "https://192.168.1.1/"];
    const urls = ["https://api.example.test/v1/things?token=secret", ...privateUrls, "http://8.8.8.8/", "https://other.example.test/"];
    const res = await at(DISPATCHER_WFP_HOST, "/v1/agents/fetcher/runs", json({ input: { fetch: urls } }, bearer(t.key)));
    const body = await res.json<{ id: string; status: string; usage: { subrequests: number }; output: { fetched: { url: string; status: number; body: FetchedBody }[] } }>();
    expect(body.status).toBe("succeeded");
    const [allowed, ...rest] = body.output.fetched;
    const denied = rest.slice(0, privateUrls.length);
    const [publicIp, notAllowed] = rest.slice(privateUrls.length);

    // The allowed request goes through to the host (which echoes what reached it).
    expect(allowed).toMatchObject({ status: 200, body: { host: "api.example.test", path: "/v1/things" } });
    // Allowlisted private addresses are refused by the private-address rule, not by the allowlist.
    expect(denied.map((d) => [d.url, d.status, d.body.reason])).toEqual(
      privateUrls.map((url) => [url, 403, "loopback, link-local and private addresses are never reachable"]),
    );
    for (const d of denied) expect(d.body.type).toBe(`${PROBLEM}egress-denied`);
    // An allowlisted public address is let through (the test runtime has no network: its fake answers 502).
    expect(publicIp).toMatchObject({ status: 502, body: "no network in tests (8.8.8.8)" });
    // A host off the allowlist is refused by the allowlist.
    expect(notAllowed).toMatchObject({ status: 403, body: { reason: "other.example.test is not on the tenant's egress allowlist" } });
    // Only what was let through is counted on the run; each refusal is logged on it.
    expect(body.usage.subrequests).toBe(2);
    const logged = (await runEvents(t, body.id)).filter((e) => e.type === "egress.denied").map((e) => e.data as { url: string; reason: string });
    expect(logged.map((e) => e.reason)).toEqual([
      ...privateUrls.map(() => "loopback, link-local and private addresses are never reachable"),
      "other.example.test is not on the tenant's egress allowlist",
    ]);
  });
});
