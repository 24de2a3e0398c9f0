import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { VERSIONED } from "./agents";
import { bearer, cp, expectProblem, json, newTenant, run, upload, getRun } from "./helpers";

interface AgentBody {
  name: string;
  activeVersion: number | null;
  versions: { version: number; sha256: string; size: number; active: boolean }[];
}

describe("tenant: agents and versions", () => {
  it("lists agents and shows versions with the active one marked", async () => {
    const t = await newTenant();
    await upload(t, "beta", VERSIONED(1));
    const v1 = await upload(t, "alpha", VERSIONED(1));
    const v2 = await upload(t, "alpha", VERSIONED(2));
    const list = await (await cp("/v1/agents", { headers: bearer(t.key) })).json<{ agents: { name: string; activeVersion: number }[]; cursor: null }>();
    expect(list.agents.map((a) => [a.name, a.activeVersion])).toEqual([
      ["alpha", 2],
      ["beta", 1],
    ]);
    const page = await (await cp("/v1/agents?limit=1", { headers: bearer(t.key) })).json<{ agents: { name: string }[]; cursor: string }>();
    expect(page.agents.map((a) => a.name)).toEqual(["alpha"]);
    const next = await (await cp(`/v1/agents?limit=1&cursor=${page.cursor}`, { headers: bearer(t.key) })).json<{ agents: { name: string }[] }>();
    expect(next.agents.map((a) => a.name)).toEqual(["beta"]);

    const detail = await (await cp("/v1/agents/alpha", { headers: bearer(t.key) })).json<AgentBody>();
    expect(detail.activeVersion).toBe(2);
    expect(detail.versions.map((v) => [v.version, v.sha256, v.active])).toEqual([
      [2, v2.sha256, true],
      [1, v1.sha256, false],
    ]);
  });

  it("rolls back in one switch; runs use the version it points at", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    await upload(t, "agent", VERSIONED(2));
    const res = await cp("/v1/agents/agent/rollback", json({ version: 1 }, bearer(t.key)));
    expect(res.status).toBe(200);
    expect((await res.json<AgentBody>()).activeVersion).toBe(1);
    const result = await run(t, "agent");
    expect(result).toMatchObject({ version: 1, output: { version: 1 } });
    await expectProblem(await cp("/v1/agents/agent/rollback", json({ version: 7 }, bearer(t.key))), 404, "not-found");
    await expectProblem(await cp("/v1/agents/agent/rollback", json({ version: 0 }, bearer(t.key))), 400, "invalid-request");
    await expectProblem(await cp("/v1/agents/agent/rollback", json({ version: 1, force: true }, bearer(t.key))), 400, "invalid-request");
  });

  it("deletes an agent, its versions and bundles; its runs stay; a new upload starts again", async () => {
    const t = await newTenant();
    const v = await upload(t, "gone", VERSIONED(1));
    const ran = await run(t, "gone");
    expect((await cp("/v1/agents/gone", { method: "DELETE", headers: bearer(t.key) })).status).toBe(204);
    await expectProblem(await cp("/v1/agents/gone", { headers: bearer(t.key) }), 404, "not-found");
    await expectProblem(await cp("/v1/agents/gone", { method: "DELETE", headers: bearer(t.key) }), 404, "not-found");
    expect(await env.BUCKET.head(`scripts/${t.id}/gone/${v.sha256}.json`)).toBeNull();
    expect((await getRun(t, ran.id)).status).toBe("succeeded");
    expect((await upload(t, "gone", VERSIONED(3))).version).toBe(1);
  });

  it("another tenant's agent is the same 404 as a missing one", async () => {
    const a = await newTenant();
    const b = await newTenant();
    await upload(a, "mine", VERSIONED(1));
    for (const [path, init] of [
      ["/v1/agents/mine", { headers: bearer(b.key) }],
      ["/v1/agents/mine/rollback", json({ version: 1 }, bearer(b.key))],
      ["/v1/agents/mine", { method: "DELETE", headers: bearer(b.key) }],
      ["/v1/agents/mine/secrets", { headers: bearer(b.key) }],
      ["/v1/agents/mine/secrets/TOKEN", { method: "PUT", headers: { ...bearer(b.key), "content-type": "application/json" }, body: '{"value":"x"}' }],
    ] as const) {
      const problem = await expectProblem(await cp(path, init), 404, "not-found");
      expect(problem.detail).toBe('No agent named "mine".');
    }
    expect((await cp("/v1/agents", { headers: bearer(b.key) }).then((r) => r.json<{ agents: unknown[] }>())).agents).toEqual([]);
  });
});
