import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FAKE_FLY } from "../../test/fakes/fly-machines";
import { bearer, cp, newTenant, patch, put, run, runEvents, upload, type TestTenant } from "../../test/helpers";

interface FakeMachine {
  id: string;
  state: string;
  config: { image: string; auto_destroy?: boolean; metadata?: Record<string, string> };
  execs: { command: string[]; exitCode: number }[];
}

/** The fake Fly Machines API's machines created for one run (it labels them with the run id). */
async function machinesOf(runId: string): Promise<FakeMachine[]> {
  const { machines } = await (await fetch("https://api.machines.dev/__fake/machines")).json<{ machines: FakeMachine[] }>();
  return machines.filter((m) => m.config.metadata?.isoplane_run === runId);
}

async function setUp(options: { allow?: boolean; token?: string | null } = {}): Promise<TestTenant> {
  const t = await newTenant();
  if (options.allow !== false) expect((await cp(`/admin/tenants/${t.id}`, patch({ egressAllow: ["api.machines.dev"] }))).status).toBe(200);
  await upload(t, "sandbox", env.SANDBOX_AGENT);
  if (options.token !== null) {
    expect((await cp("/v1/agents/sandbox/secrets/FLY_API_TOKEN", put({ value: options.token ?? FAKE_FLY.token }, bearer(t.key)))).status).toBe(200);
  }
  return t;
}

describe("the sandbox example: a remote tool on Fly Machines, through the platform's egress", () => {
  it("runs the code in a fresh machine, returns its stdout and destroys the machine", async () => {
    const t = await setUp();
    const result = await run(t, "sandbox", { code: "print(1+1)" });
    expect(result.status, result.error).toBe("succeeded");
    expect(result.output).toEqual({ stdout: "2\n", stderr: "" });
    // create, wait, exec, destroy: four requests through the egress policy.
    expect(result.usage.subrequests).toBe(4);
    const machines = await machinesOf(result.id);
    expect(machines).toHaveLength(1);
    expect(machines[0]).toMatchObject({
      state: "destroyed",
      config: { image: "python:3.12-slim", auto_destroy: true, metadata: { isoplane_run: result.id, isoplane_tool: "python" } },
      execs: [{ command: ["python3", "-c", "print(1+1)"], exitCode: 0 }],
    });
    const results = (await runEvents(t, result.id)).filter((e) => e.type.startsWith("tool."));
    expect(results.map((e) => [e.type, e.data])).toEqual([
      ["tool.call", { id: "remote_1", name: "python", arguments: '{"code":"print(1+1)"}' }],
      ["tool.result", { id: "remote_1", name: "python", result: "2\n" }],
    ]);
  });

  it("a failing command fails the run with a RemoteToolError (exit code and stderr), and the machine is still destroyed", async () => {
    const t = await setUp();
    const result = await run(t, "sandbox", { code: "print(1/0)" });
    expect(result.status).toBe("failed");
    expect(result.error).toBe("RemoteToolError: python exited with code 1: ZeroDivisionError: division by zero");
    const machines = await machinesOf(result.id);
    expect(machines.map((m) => [m.state, m.execs[0]?.exitCode])).toEqual([["destroyed", 1]]);
  });

  it("without api.machines.dev on the tenant's allowlist the egress policy refuses, and nothing is created", async () => {
    const t = await setUp({ allow: false });
    const result = await run(t, "sandbox", { code: "print(1+1)" });
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/^RemoteToolError: Fly Machines API POST \/v1\/apps\/isoplane-sandbox\/machines answered 403: /);
    expect(await machinesOf(result.id)).toEqual([]);
    const denied = (await runEvents(t, result.id)).find((e) => e.type === "egress.denied")?.data;
    expect(denied).toMatchObject({ url: `https://api.machines.dev/v1/apps/${FAKE_FLY.app}/machines` });
  });

  it("a wrong or missing FLY_API_TOKEN secret is a RemoteToolError, never a leaked machine", async () => {
    const wrong = await setUp({ token: "not-the-token" });
    const refused = await run(wrong, "sandbox", { code: "print(1+1)" });
    expect(refused.error).toBe("RemoteToolError: Fly Machines API POST /v1/apps/isoplane-sandbox/machines answered 401: unauthorized");
    expect(await machinesOf(refused.id)).toEqual([]);
    const none = await setUp({ token: null });
    const missing = await run(none, "sandbox", { code: "print(1+1)" });
    expect(missing.error).toBe("RemoteToolError: FlyMachinesRunner: no Fly API token (set the FLY_API_TOKEN secret)");
  });
});
