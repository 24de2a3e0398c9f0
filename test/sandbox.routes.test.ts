// The routes `npm start`'s sandbox processes call back (dispatcher/src/routes/sandbox.ts): absent
// without SANDBOX_TOKEN, refused without the token, and acting only for the tenant named.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bundleKey } from "../core/scripts/bundle";
import { SANDBOX_TENANT_HEADER, SANDBOX_TOKEN_HEADER, type SandboxTarget } from "../dispatcher/src/runtime/sandbox-protocol";
import { bearer, dp, expectProblem, json, newTenant, upload, waitFor, getRun } from "./helpers";
import { DISPATCHER_SANDBOX_HOST, TEST_SANDBOX_TOKEN } from "./worker";

const sandbox = (path: string, tenantId: string, body: unknown, token: string | null = TEST_SANDBOX_TOKEN) =>
  exports.default.fetch(
    new Request(`http://${DISPATCHER_SANDBOX_HOST}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", [SANDBOX_TENANT_HEADER]: tenantId, ...(token ? { [SANDBOX_TOKEN_HEADER]: token } : {}) },
      body: JSON.stringify(body),
    }),
  );

const SLOW = `export default { async fetch(request, env) { await new Promise((r) => setTimeout(r, 1500)); return Response.json({ stored: await env.STORAGE.get("notes/a.md") }); } };`;

describe("the sandbox routes", () => {
  it("do not exist without SANDBOX_TOKEN, and answer 404 to a missing or wrong token", async () => {
    const t = await newTenant();
    for (const path of ["/_sandbox/code", "/_sandbox/egress", "/_sandbox/rpc/storage/get"]) {
      await expectProblem(await dp(path, json({}, { [SANDBOX_TOKEN_HEADER]: TEST_SANDBOX_TOKEN, [SANDBOX_TENANT_HEADER]: t.id })), 404, "not-found");
      await expectProblem(await sandbox(path, t.id, {}, null), 404, "not-found");
      await expectProblem(await sandbox(path, t.id, {}, "wrong-token"), 404, "not-found");
    }
  });

  it("give an agent version's code, with its harness and secrets, only to its own tenant", async () => {
    const a = await newTenant();
    const b = await newTenant();
    const { version, sha256 } = await upload(a, "coded", `export default { fetch: () => new Response("x") };`);
    const target: SandboxTarget = { id: "x", tenantId: a.id, agent: "coded", version, sha256, bundleKey: bundleKey(a.id, "coded", sha256), secretsRev: 0, limits: {} };
    const res = await sandbox("/_sandbox/code", a.id, target);
    expect(res.status).toBe(200);
    const code = await res.json<{ mainModule: string; modules: Record<string, string>; secrets: Record<string, string> }>();
    expect(code.modules[code.mainModule]).toMatch(/export \{\s*\w+ as default\s*\}/);
    expect(Object.keys(code.modules).length).toBeGreaterThanOrEqual(3);
    await expectProblem(await sandbox("/_sandbox/code", b.id, target), 403, "forbidden");
  });

  it("call STORAGE for the tenant named, only while that tenant's run is running", async () => {
    const a = await newTenant();
    const b = await newTenant();
    await upload(a, "slow", SLOW);
    const started = await dp("/v1/agents/slow/runs", json({ input: null, mode: "async" }, bearer(a.key)));
    expect(started.status).toBe(202);
    const { id } = await started.json<{ id: string }>();
    await waitFor(async () => ((await getRun(a, id)).status === "running" ? true : null));

    const put = await sandbox("/_sandbox/rpc/storage/put", a.id, { args: ["notes/a.md", "from the sandbox", id] });
    expect(put.status, await put.clone().text()).toBe(200);
    // Another tenant naming a's run: refused as if no run were going, and nothing is written.
    const other = await sandbox("/_sandbox/rpc/storage/put", b.id, { args: ["notes/a.md", "overwritten", id] });
    expect(other.status).toBe(422);
    expect((await other.json<{ error: { message: string } }>()).error.message).toMatch(/only work during a run of this tenant/);
    const badKey = await sandbox("/_sandbox/rpc/storage/get", a.id, { args: ["../escape", id] });
    expect(badKey.status).toBe(422);
    expect(await badKey.json()).toMatchObject({ error: { name: "TypeError" } });
    // The platform's own files in a run's results cannot be overwritten (a forged output, or a shrink the quota never counted).
    for (const name of ["output.json", "input.json"]) {
      const forged = await sandbox("/_sandbox/rpc/storage/put", a.id, { args: [`results/${id}/${name}`, "{}", id] });
      expect(forged.status).toBe(422);
      expect(await forged.json()).toMatchObject({ error: { name: "TypeError", message: expect.stringMatching(/written by the platform/) } });
    }
    for (const name of ["__proto__", "constructor", "toString"]) await expectProblem(await sandbox(`/_sandbox/rpc/${name}/get`, a.id, { args: [] }), 404, "not-found");
    await expectProblem(await sandbox("/_sandbox/code", a.id, { tenantId: a.id }), 400, "invalid-request");
    await expectProblem(await sandbox("/_sandbox/code", a.id, { tenantId: a.id, agent: "x", bundleKey: `scripts/${b.id}/x/0.json`, version: 1, sha256: "0", secretsRev: 0 }), 400, "invalid-request");
    await expectProblem(await sandbox("/_sandbox/code", a.id, { tenantId: a.id, agent: "x", bundleKey: `scripts/${a.id}/x/0.json`, version: 1, sha256: "0", secretsRev: 0 }), 404, "not-found");
    await expectProblem(await sandbox("/_sandbox/rpc/storage/delete", a.id, { args: [] }), 404, "not-found");
    await expectProblem(await sandbox("/_sandbox/rpc/secrets/get", a.id, { args: [] }), 404, "not-found");

    await waitFor(async () => ((await getRun(a, id)).status === "succeeded" ? true : null));
    const result = await dp(`/v1/runs/${id}/result`, { headers: bearer(a.key) });
    expect(await result.json()).toEqual({ stored: "from the sandbox" });
  });

  it("give egress verdicts: a request outside a run or off the allowlist is the agent's 403", async () => {
    const t = await newTenant();
    const outside = await sandbox("/_sandbox/egress", t.id, { method: "GET", url: "https://api.example.com/", runId: null, credentials: false });
    const body = await expectProblem(outside, 403, "egress-denied");
    expect(body.reason).toBe("the request does not belong to a run");
  });
});
