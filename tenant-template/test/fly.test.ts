// FlyMachinesRunner against the fake Fly Machines API (test/fakes/fly-machines.ts, reached through
// the test runtime's outbound service): create → wait → exec → destroy, and destroy on every path.
import { describe, expect, it } from "vitest";
import { FAKE_FLY } from "../../test/fakes/fly-machines";
import { FlyMachinesRunner, RemoteToolError } from "../src/index";

interface FakeMachine {
  id: string;
  state: string;
  region: string;
  config: { image: string; auto_destroy?: boolean; guest?: unknown; init?: { exec?: string[] }; env?: Record<string, string>; metadata?: Record<string, string> };
  execs: { command: string[]; exitCode: number }[];
}

async function fakeMachines(label: string): Promise<FakeMachine[]> {
  const res = await fetch("https://api.machines.dev/__fake/machines");
  const { machines } = await res.json<{ machines: FakeMachine[] }>();
  return machines.filter((m) => m.config.metadata?.test === label);
}

const runner = (overrides: Partial<ConstructorParameters<typeof FlyMachinesRunner>[0]> = {}) =>
  new FlyMachinesRunner({ app: FAKE_FLY.app, token: FAKE_FLY.token, image: "python:3.12-slim", ...overrides });

describe("FlyMachinesRunner", () => {
  it("creates a machine, waits for it, runs the command and destroys the machine", async () => {
    const result = await runner({ region: "fra" }).run({ command: ["python3", "-c", "print(1+1)"], timeoutSeconds: 10, env: { A: "1" }, labels: { test: "ok" } });
    expect(result).toEqual({ exitCode: 0, stdout: "2\n", stderr: "" });
    const [machine, ...others] = await fakeMachines("ok");
    expect(others).toEqual([]);
    expect(machine).toMatchObject({
      state: "destroyed",
      region: "fra",
      config: { image: "python:3.12-slim", auto_destroy: true, init: { exec: ["/bin/sleep", "inf"] }, env: { A: "1" }, guest: { cpu_kind: "shared", cpus: 1, memory_mb: 256 } },
      execs: [{ command: ["python3", "-c", "print(1+1)"], exitCode: 0 }],
    });
  });

  it("a command that exits non-zero is a result (the runner does not throw); the machine is destroyed", async () => {
    const result = await runner().run({ command: ["sh", "-c", "exit 3"], image: "alpine:3", labels: { test: "exit" } });
    expect(result).toEqual({ exitCode: 3, stdout: "", stderr: "" });
    const missing = await runner().run({ command: ["nonexistent-tool"], labels: { test: "exit" } });
    expect(missing.exitCode).toBe(127);
    expect(missing.stderr).toContain("executable file not found");
    const machines = await fakeMachines("exit");
    expect(machines.map((m) => [m.config.image, m.state])).toEqual([["alpine:3", "destroyed"], ["python:3.12-slim", "destroyed"]]);
  });

  it("an API refusal is a RemoteToolError with the HTTP status; a wrong token creates nothing", async () => {
    const error = await runner({ token: "wrong" })
      .run({ command: ["echo", "hi"], labels: { test: "auth" } })
      .then(() => null, (err: unknown) => err);
    expect(error).toBeInstanceOf(RemoteToolError);
    expect((error as RemoteToolError).status).toBe(401);
    expect((error as RemoteToolError).message).toBe("Fly Machines API POST /v1/apps/isoplane-sandbox/machines answered 401: unauthorized");
    expect(await fakeMachines("auth")).toEqual([]);
    await expect(runner({ app: "someone-elses" }).run({ command: ["echo"] })).rejects.toThrow("answered 404: app not found");
    expect(() => runner({ token: undefined })).toThrow(RemoteToolError);
    const offline: typeof fetch = () => Promise.reject(new TypeError("Network connection lost."));
    await expect(runner({ fetch: offline }).run({ command: ["echo"] })).rejects.toMatchObject({
      name: "RemoteToolError",
      message: "Fly Machines API POST /v1/apps/isoplane-sandbox/machines failed: Network connection lost.",
    });
  });

  it("destroys the machine when a step after create fails, and reports that step's error", async () => {
    const calls: string[] = [];
    const failingExec: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      calls.push(`${request.method} ${new URL(request.url).pathname.replace(/machines\/[0-9a-f]+/, "machines/:id")}`);
      if (request.url.includes("/exec")) return Response.json({ error: "internal error" }, { status: 500 });
      return fetch(request);
    };
    await expect(runner({ fetch: failingExec }).run({ command: ["echo", "x"], labels: { test: "exec-fails" } })).rejects.toMatchObject({
      name: "RemoteToolError",
      status: 500,
      message: expect.stringMatching(/^Fly Machines API POST \/v1\/apps\/isoplane-sandbox\/machines\/[0-9a-f]+\/exec answered 500: internal error$/),
    });
    expect(calls).toEqual([
      "POST /v1/apps/isoplane-sandbox/machines",
      "GET /v1/apps/isoplane-sandbox/machines/:id/wait",
      "POST /v1/apps/isoplane-sandbox/machines/:id/exec",
      "DELETE /v1/apps/isoplane-sandbox/machines/:id",
    ]);
    expect((await fakeMachines("exec-fails")).map((m) => m.state)).toEqual(["destroyed"]);
  });

  it("a machine that cannot be destroyed is an error, not a silent leak", async () => {
    const noDelete: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      if (request.method === "DELETE") return Response.json({ error: "service unavailable" }, { status: 503 });
      return fetch(request);
    };
    await expect(runner({ fetch: noDelete }).run({ command: ["echo", "x"], labels: { test: "leak" } })).rejects.toMatchObject({ name: "RemoteToolError", status: 503 });
    // (The fake still has it: clean up so other tests' "nothing left running" checks hold.)
    for (const m of await fakeMachines("leak")) {
      await fetch(`https://api.machines.dev/v1/apps/${FAKE_FLY.app}/machines/${m.id}?force=true`, { method: "DELETE", headers: { authorization: `Bearer ${FAKE_FLY.token}` } });
    }
    expect((await fakeMachines("leak")).map((m) => m.state)).toEqual(["destroyed"]);
  });
});
