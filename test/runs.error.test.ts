import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { NO_FETCH, NOT_JSON, SLEEPS, STATUS_503, THROWS, THROWS_AT_START } from "./agents";
import { bearer, dp, expectProblem, newTenant, run, upload, ledgered } from "./helpers";

describe("runs that fail still leave a record", () => {
  const cases: [string, string, RegExp][] = [
    ["throws", THROWS, /^RangeError: the agent gave up$/],
    ["status-503", STATUS_503, /^The agent responded with HTTP 503\.$/],
    ["not-json", NOT_JSON, /^The agent's response is not JSON\.$/],
    ["no-fetch", NO_FETCH, /no fetch\(request, env\) handler/],
    ["throws-at-start", THROWS_AT_START, /^Failed to start Worker: Uncaught Error: no config at start$/],
  ];

  for (const [agent, code, error] of cases) {
    it(`${agent}: the run is failed with a short message, its record and usage kept`, async () => {
      const t = await newTenant();
      await upload(t, agent, code);
      const result = await run(t, agent, { any: "thing" });
      expect(result.status).toBe("failed");
      expect(result.error).toMatch(error);
      // A short message only: never a stack trace.
      expect(result.error).not.toMatch(/\n|\bat .*:\d+:\d+/);
      expect(result.output).toBeNull();
      const record = await dp(`/v1/runs/${result.id}`, { headers: bearer(t.key) });
      expect(await record.json()).toMatchObject({ id: result.id, status: "failed", error: result.error });
      await expectProblem(await dp(`/v1/runs/${result.id}/result`, { headers: bearer(t.key) }), 404, "not-found");
      await ledgered([result.id]);
      const row = await env.DB.prepare("SELECT finished_at, wall_ms FROM runs WHERE id = ?").bind(result.id).first();
      expect(row!.finished_at).not.toBeNull();
      expect(row!.wall_ms).not.toBeNull();
    });
  }

  it("a run over its time budget ends timed_out", async () => {
    const t = await newTenant();
    await upload(t, "sleeps", SLEEPS);
    const result = await run(t, "sleeps");
    expect(result.status).toBe("timed_out");
    expect(result.error).toMatch(/did not finish within 3000 ms/);
  });
});
