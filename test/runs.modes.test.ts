import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { VERSIONED } from "./agents";
import { bearer, dp, expectProblem, json, ledgered, newTenant, readSse, run, upload, type TestTenant, waitFor } from "./helpers";

/** Emits three events, streams a model answer, then returns. */
const EMITTER = `export default {
  async fetch(request, env) {
    const { input } = await request.json();
    await env.EMIT("agent.event", { step: 1 });
    const stream = await env.LLM.stream({ messages: [{ role: "user", content: input.q }] });
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "", text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffered += value;
      let i;
      while ((i = buffered.indexOf("\\n")) >= 0) {
        const chunk = JSON.parse(buffered.slice(0, i));
        buffered = buffered.slice(i + 1);
        if (chunk.type === "delta") { text += chunk.content; await env.EMIT("llm.delta", { content: chunk.content }); }
      }
    }
    await env.EMIT("agent.event", { step: 2 });
    return Response.json({ text });
  },
};`;

const SLOW = `export default { async fetch(request, env) { await env.EMIT("agent.event", { started: true }); await new Promise((r) => setTimeout(r, 2500)); return Response.json({ late: true }); } };`;


const record = async (t: TestTenant, id: string) => (await dp(`/v1/runs/${id}`, { headers: bearer(t.key) })).json<{ status: string; usage: Record<string, number> }>();

describe("runs: sync, stream and async", () => {
  it("stream: run.started, the agent's events and token deltas, then run.completed with usage", async () => {
    const t = await newTenant();
    await upload(t, "emitter", EMITTER);
    const res = await dp("/v1/agents/emitter/runs", json({ input: { q: "three little words" }, mode: "stream" }, bearer(t.key)));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = await readSse(res);
    expect(events.map((e) => e.event)).toEqual([
      "run.started",
      "agent.event",
      "llm.delta",
      "llm.delta",
      "llm.delta",
      "llm.delta",
      "agent.event",
      "run.completed",
    ]);
    expect(events.map((e) => Number(e.id))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const deltas = events.filter((e) => e.event === "llm.delta").map((e) => (e.data as { content: string }).content);
    expect(deltas.join("")).toBe("echo: three little words");
    const done = events.at(-1)!.data as { status: string; output: unknown; usage: { llmCalls: number } };
    expect(done).toMatchObject({ status: "succeeded", output: { text: "echo: three little words" }, usage: { llmCalls: 1 } });

    // The same events are in the stored log, for a client that lost its stream.
    const id = (events[0]!.data as { id: string }).id;
    const log = await (await dp(`/v1/runs/${id}/events`, { headers: bearer(t.key) })).json<{ events: { seq: number; type: string }[]; next: null }>();
    expect(log.events.map((e) => e.type)).toEqual([...events.slice(0, -1).map((e) => e.event), "run.completed"]);
    const tail = await (await dp(`/v1/runs/${id}/events?after=6&limit=1`, { headers: bearer(t.key) })).json<{ events: { seq: number }[]; next: number }>();
    expect(tail).toMatchObject({ events: [{ seq: 7 }], next: 7 });
  });

  it("stream: a failing agent ends with run.failed", async () => {
    const t = await newTenant();
    await upload(t, "boom", `export default { fetch() { throw new Error("nope"); } };`);
    const events = await readSse(await dp("/v1/agents/boom/runs", json({ input: 1, mode: "stream" }, bearer(t.key))));
    expect(events.map((e) => e.event)).toEqual(["run.started", "run.failed"]);
    expect(events[1]!.data).toMatchObject({ status: "failed", error: "nope" });
  });

  it("stream: closing the connection does not stop the run; with cancelOnDisconnect it does", async () => {
    const t = await newTenant();
    await upload(t, "slow", SLOW);
    const ended = async (cancelOnDisconnect: boolean) => {
      const res = await dp("/v1/agents/slow/runs", json({ input: 1, mode: "stream", ...(cancelOnDisconnect ? { cancelOnDisconnect } : {}) }, bearer(t.key)));
      const id = res.headers.get("x-isoplane-run-id")!;
      const reader = res.body!.getReader();
      await reader.read();
      await reader.cancel();
      return waitFor(async () => {
        const r = await record(t, id);
        return r.status !== "running" ? r : null;
      });
    };
    expect((await ended(false)).status).toBe("succeeded");
    expect((await ended(true)).status).toBe("cancelled");
    await expectProblem(await dp("/v1/agents/slow/runs", json({ input: 1, cancelOnDisconnect: true }, bearer(t.key))), 400, "invalid-request");
  });

  it("async: 202 queued, executed by the queue consumer", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(7));
    const res = await dp("/v1/agents/agent/runs", json({ input: 1, mode: "async" }, bearer(t.key)));
    expect(res.status).toBe(202);
    const { id, status } = await res.json<{ id: string; status: string }>();
    expect(status).toBe("queued");
    const done = await waitFor(async () => {
      const r = await record(t, id);
      return r.status === "succeeded" ? r : null;
    });
    expect(done.status).toBe("succeeded");
    expect(await (await dp(`/v1/runs/${id}/result`, { headers: bearer(t.key) })).json()).toEqual({ version: 7 });
    const log = await (await dp(`/v1/runs/${id}/events`, { headers: bearer(t.key) })).json<{ events: { type: string }[] }>();
    expect(log.events.map((e) => e.type)).toEqual(["run.queued", "run.started", "run.completed"]);
  });

  it("lists runs newest first, filtered by agent and status, with a cursor", async () => {
    const t = await newTenant();
    await upload(t, "a", VERSIONED(1));
    await upload(t, "b", `export default { fetch() { throw new Error("x"); } };`);
    const made = [await run(t, "a"), await run(t, "b"), await run(t, "a")];
    await ledgered(made.map((r) => r.id));
    const all = await (await dp("/v1/runs?limit=2", { headers: bearer(t.key) })).json<{ runs: { id: string }[]; cursor: string }>();
    expect(all.runs.map((r) => r.id)).toEqual([made[2]!.id, made[1]!.id]);
    const next = await (await dp(`/v1/runs?limit=2&cursor=${all.cursor}`, { headers: bearer(t.key) })).json<{ runs: { id: string }[]; cursor: null }>();
    expect(next).toEqual({ runs: [expect.objectContaining({ id: made[0]!.id })], cursor: null });
    const failed = await (await dp("/v1/runs?status=failed", { headers: bearer(t.key) })).json<{ runs: { id: string }[] }>();
    expect(failed.runs.map((r) => r.id)).toEqual([made[1]!.id]);
    const ofA = await (await dp("/v1/runs?agent=a", { headers: bearer(t.key) })).json<{ runs: { id: string }[] }>();
    expect(ofA.runs).toHaveLength(2);
    await expectProblem(await dp("/v1/runs?status=weird", { headers: bearer(t.key) }), 400, "invalid-request");
    const other = await newTenant();
    expect((await (await dp("/v1/runs", { headers: bearer(other.key) })).json<{ runs: unknown[] }>()).runs).toEqual([]);
  });

  it("refuses bad modes and webhooks outside async", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    await expectProblem(await dp("/v1/agents/agent/runs", json({ input: 1, mode: "later" }, bearer(t.key))), 400, "invalid-request");
    await expectProblem(await dp("/v1/agents/agent/runs", json({ input: 1, webhook: { url: "https://hooks.example.test/ok" } }, bearer(t.key))), 400, "invalid-request");
    await expectProblem(
      await dp("/v1/agents/agent/runs", json({ input: 1, mode: "async", webhook: { url: "http://127.0.0.1:9/" } }, bearer(t.key))),
      400,
      "invalid-request",
    );
  });
});

describe("cancellation", () => {
  it("cancels a running run within 500 ms; the record and usage stay", async () => {
    const t = await newTenant();
    await upload(t, "slow", SLOW);
    const pending = dp("/v1/agents/slow/runs", json({ input: 1 }, bearer(t.key)));
    const id = await waitFor(async () => (await env.DB.prepare("SELECT id FROM runs WHERE tenant_id = ? AND status = 'running'").bind(t.id).first<string>("id")) ?? null);
    const res = await dp(`/v1/runs/${id}/cancel`, { method: "POST", headers: bearer(t.key) });
    expect(res.status).toBe(200);
    expect((await res.json<{ status: string }>()).status).toBe("cancelled");
    const started = Date.now();
    const answer = await (await pending).json<{ status: string; usage: { wallMs: number } }>();
    expect(answer.status).toBe("cancelled");
    // Pushed to the executor by the run's object: no polling interval to wait out.
    expect(Date.now() - started).toBeLessThan(500);
    expect(answer.usage.wallMs).toBeGreaterThan(0);
    await expectProblem(await dp(`/v1/runs/${id}/cancel`, { method: "POST", headers: bearer(t.key) }), 409, "conflict");
    const log = await (await dp(`/v1/runs/${id}/events`, { headers: bearer(t.key) })).json<{ events: { type: string }[] }>();
    expect(log.events.map((e) => e.type)).toContain("run.cancelled");
  });

  it("another tenant cannot cancel a run (same 404)", async () => {
    const t = await newTenant();
    const other = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    const r = await run(t, "agent");
    await expectProblem(await dp(`/v1/runs/${r.id}/cancel`, { method: "POST", headers: bearer(other.key) }), 404, "not-found");
  });
});
