import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ADMIN, bearer, cp, dp, expectProblem, getRun, json, newTenant, run, runEvents, upload, waitFor, type TestTenant } from "./helpers";

const deep = (levels: number, leaf = "") => "[".repeat(levels) + leaf + "]".repeat(levels);
const DETAIL = "The body nests deeper than 64 levels.";
const post = (t: TestTenant, body: string, headers: Record<string, string> = {}) =>
  dp("/v1/agents/echo/runs", { method: "POST", headers: { ...bearer(t.key), "content-type": "application/json", ...headers }, body });

const ECHO = `export default { async fetch(request) { const { input } = await request.json(); return Response.json({ input }); } };`;

/** Nothing of a refused request is kept: no run in the index, no run object, no input or result in R2. */
async function expectNothingRecorded(t: TestTenant): Promise<void> {
  // The index is written in batches: give a run that should not exist the time it would need.
  await new Promise((r) => setTimeout(r, 1500));
  const listed = await (await dp("/v1/runs", { headers: bearer(t.key) })).json<{ runs: unknown[] }>();
  expect(listed.runs).toEqual([]);
  const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM runs WHERE tenant_id = ?").bind(t.id).first<number>("n");
  expect(rows).toBe(0);
  const objects = await env.BUCKET.list({ prefix: `tenants/${t.id}/results/` });
  expect(objects.objects).toEqual([]);
}

describe("JSON nesting is limited to 64 levels, checked on the text before it is parsed", () => {
  it("a run whose input nests 20,000 or 100,000 levels is 400 invalid-request in every mode, with and without Idempotency-Key, and nothing is recorded", async () => {
    const t = await newTenant();
    await upload(t, "echo", ECHO);
    for (const mode of ["sync", "stream", "async"]) {
      for (const levels of [65, 20_000, 100_000]) {
        for (const headers of [{}, { "idempotency-key": `deep-${mode}-${levels}` }] as Record<string, string>[]) {
          const body = `{"input":${deep(levels)},"mode":"${mode}"}`;
          if (levels > 65) expect(body.length).toBeLessThan(1024 * 1024);
          const res = await post(t, body, headers);
          expect(res.headers.get("x-isoplane-run-id")).toBeNull();
          const problem = await expectProblem(res, 400, "invalid-request");
          expect(problem.detail).toBe(DETAIL);
          expect(problem.maxDepth).toBe(64);
        }
      }
    }
    await expectNothingRecorded(t);
    // The refused requests took no Idempotency-Key: the same key with a good body runs.
    const ok = await post(t, `{"input":${deep(63)}}`, { "idempotency-key": "deep-sync-20000" });
    expect(ok.status).toBe(200);
    expect((await ok.json<{ output: { input: unknown } }>()).output.input).toEqual(JSON.parse(deep(63)));
  });

  it("the body's own level counts: input may nest 63 levels; brackets inside strings do not count", async () => {
    const t = await newTenant();
    await upload(t, "echo", ECHO);
    const result = await run(t, "echo", { text: "[".repeat(100_000) });
    expect(result.status).toBe("succeeded");
    await expectProblem(await post(t, `{"input":{"a":${deep(63)}}}`), 400, "invalid-request");
  });

  it("the control plane refuses deep bodies the same way", async () => {
    const res = await cp("/admin/tenants", { method: "POST", headers: { ...ADMIN, "content-type": "application/json" }, body: `{"name":"x","q":${deep(30_000)}}` });
    expect((await expectProblem(res, 400, "invalid-request")).detail).toBe(DETAIL);
  });
});

/** Builds values nested `n` levels deep in the isolate and hands them to the platform. */
const DEEP_AGENT = `export default {
  async fetch(request, env) {
    const { input } = await request.json();
    let value = null;
    for (let i = 0; i < input.levels; i++) value = [value];
    const attempt = async (f) => { try { await f(); return "ok"; } catch (err) { return err.name + ": " + err.message; } };
    if (input.tamper) {
      // Tenant code shares the harness's globals: make its depth checks see no children and no brackets.
      const real = [String.prototype.charCodeAt, Object.values, Array.isArray];
      String.prototype.charCodeAt = function () { return 97; };
      Object.values = () => [];
      Array.isArray = () => false;
      const result = await attempt(() =>
        input.tamper === "chat"
          ? env.LLM.chat({ messages: [{ role: "user", content: "hi" }], tools: [{ name: "t", parameters: { x: value } }] })
          : env.EMIT("agent.deep", value),
      );
      [String.prototype.charCodeAt, Object.values, Array.isArray] = real;
      return Response.json({ result });
    }
    if (input.what === "output") return new Response("[".repeat(input.levels) + "null" + "]".repeat(input.levels));
    const emit = await attempt(() => env.EMIT("agent.deep", value));
    // The request's own levels: { tools: [ { parameters: { x: value } } ] } adds four.
    let schema = null;
    for (let i = 0; i < input.levels - 4; i++) schema = [schema];
    const chatRequest = { messages: [{ role: "user", content: "hi" }], tools: [{ name: "t", parameters: { x: schema } }] };
    const chat = await attempt(() => env.LLM.chat(chatRequest));
    const stream = await attempt(async () => { const s = await env.LLM.stream(chatRequest); await new Response(s).text(); });
    await env.EMIT("agent.after", { fine: true });
    return Response.json({ emit, chat, stream });
  },
};`;

describe("JSON that tenant code hands the platform is held to the same depth", () => {
  it("EMIT and LLM calls with over-deep values fail that call; the run goes on and ends with its record", async () => {
    const t = await newTenant();
    await upload(t, "deep", DEEP_AGENT);
    for (const levels of [65, 69, 5_000, 30_000]) {
      const result = await run(t, "deep", { levels });
      expect(result.status).toBe("succeeded");
      expect(result.output).toEqual({
        emit: "RangeError: EMIT: data nests deeper than 64 levels",
        chat: "TypeError: LLM.chat: the request nests deeper than 64 levels",
        stream: "TypeError: LLM.stream: the request nests deeper than 64 levels",
      });
      expect(result.usage.llmCalls).toBe(0);
      const events = await runEvents(t, result.id);
      expect(events.map((e) => e.type)).toEqual(["run.started", "agent.after", "run.completed"]);
    }
    // At the limit everything goes through: event data of 64 levels, a model request of 64.
    const limit = await run(t, "deep", { levels: 64 });
    expect(limit.output).toEqual({ emit: "ok", chat: "ok", stream: "ok" });
    expect(limit.usage.llmCalls).toBe(2);
    const stored = (await runEvents(t, limit.id)).find((e) => e.type === "agent.deep")!;
    expect(JSON.stringify(stored.data)).toBe(deep(64, "null"));
  });

  it("an output nested deeper than 64 levels fails the run with a precise error, in sync and stream mode", async () => {
    const t = await newTenant();
    await upload(t, "deep", DEEP_AGENT);
    for (const levels of [65, 5_000, 100_000]) {
      const result = await run(t, "deep", { what: "output", levels });
      expect(result.status).toBe("failed");
      expect(result.error).toBe("The agent's output nests deeper than 64 levels.");
      expect((await getRun(t, result.id)).status).toBe("failed");
    }
    const res = await dp("/v1/agents/deep/runs", json({ input: { what: "output", levels: 20_000 }, mode: "stream" }, bearer(t.key)));
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain("event: run.failed");
    expect(text).toContain("The agent's output nests deeper than 64 levels.");
    const id = res.headers.get("x-isoplane-run-id")!;
    expect((await getRun(t, id)).status).toBe("failed");
    expect((await run(t, "deep", { what: "output", levels: 64 })).output).toEqual(JSON.parse(deep(64, "null")));
  });

  it("a harness whose globals the agent tampered with still cannot pass deep values: the dispatcher's own checks refuse the call and fail the run", async () => {
    const t = await newTenant();
    await upload(t, "deep", DEEP_AGENT);
    // The model call reaches the platform, which refuses it itself; the run goes on.
    const refused = await run(t, "deep", { tamper: "chat", levels: 100 });
    expect(refused.status).toBe("succeeded");
    expect(refused.output).toEqual({ result: "TypeError: LLM.chat: the request nests deeper than 64 levels" });
    expect(refused.usage.llmCalls).toBe(0);
    const res = await dp("/v1/agents/deep/runs", json({ input: { tamper: "emit", levels: 20_000 } }, bearer(t.key)));
    expect(res.status).toBe(200);
    const result = await res.json<{ id: string; status: string; error: string }>();
    expect(result.status).toBe("failed");
    expect(result.error).toBe("The agent sent an event that nests deeper than 64 levels.");
    const ended = await waitFor(async () => {
      const r = await getRun(t, result.id);
      return r.finishedAt ? r : null;
    });
    expect(ended.status).toBe("failed");
  });
});
