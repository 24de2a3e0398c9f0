import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { createParser } from "eventsource-parser";
import { describe, expect, it } from "vitest";
import { SUMMARIZE, VERSIONED } from "./agents";
import { DISPATCHER_LONG_RUNS_HOST } from "./worker";
import { ADMIN, audit, bearer, cp, dp, expectProblem, json, ledgered, newTenant, readSse, run, upload, waitFor, type TestTenant } from "./helpers";

/**
 * What the dashboard asks of the admin API beyond the tenant's own calls: any tenant's run (record,
 * log, live stream, cancel), its agents and rollback, usage by model, and searches.
 */

/** Emits a tick every 100 ms for 8 s (run on the dispatcher with a 15 s budget). */
const TICKER = `export default { async fetch(request, env) {
  for (let i = 0; i < 80; i++) { await env.EMIT("agent.tick", { i }); await new Promise((r) => setTimeout(r, 100)); }
  return Response.json({ ticks: 80 });
} };`;

const today = () => new Date().toISOString().slice(0, 10);

async function adminRun(id: string) {
  const res = await cp(`/admin/runs/${id}`, { headers: ADMIN });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json<{ id: string; tenantId: string; status: string; output: unknown; usage: Record<string, number> }>();
}

async function summarized(t: TestTenant): Promise<string> {
  await upload(t, "summarize", SUMMARIZE);
  await dp("/v1/context/doc.md", { method: "PUT", headers: bearer(t.key), body: "Stateless agents boot, think and die." });
  const r = await run(t, "summarize", { doc: "doc.md" });
  expect(r.status).toBe("succeeded");
  await ledgered([r.id]);
  return r.id;
}

describe("admin: one run of any tenant", () => {
  it("its record with tenant and output, and its log, the same as the tenant reads them", async () => {
    const t = await newTenant();
    const id = await summarized(t);
    const view = await adminRun(id);
    expect(view.tenantId).toBe(t.id);
    expect(view.status).toBe("succeeded");
    expect(view.output).toEqual(expect.objectContaining({ summary: expect.any(String) }));
    const own = await (await dp(`/v1/runs/${id}/events`, { headers: bearer(t.key) })).json();
    expect(await (await cp(`/admin/runs/${id}/events`, { headers: ADMIN })).json()).toEqual(own);
    const page = await (await cp(`/admin/runs/${id}/events?after=0&limit=1`, { headers: ADMIN })).json<{ events: { seq: number }[]; next: number | null }>();
    expect(page.events.map((e) => e.seq)).toEqual([1]);
    expect(page.next).toBe(1);
  });

  it("its stream replays an ended run and closes; Last-Event-ID resumes after that event", async () => {
    const t = await newTenant();
    const id = await summarized(t);
    const all = await readSse(await cp(`/admin/runs/${id}/stream`, { headers: ADMIN }));
    expect(all.at(-1)!.event).toBe("run.completed");
    expect((all.at(-1)!.data as { output: unknown }).output).toEqual(expect.objectContaining({ summary: expect.any(String) }));
    const resumed = await readSse(await cp(`/admin/runs/${id}/stream`, { headers: { ...ADMIN, "last-event-id": all[0]!.id! } }));
    expect(resumed.map((e) => e.id)).toEqual(all.slice(1).map((e) => e.id));
    await expectProblem(await cp(`/admin/runs/${id}/stream`, { headers: { ...ADMIN, "last-event-id": "x1" } }), 400, "invalid-request");
    await expectProblem(await cp(`/admin/runs/${id}/stream?after=-1`, { headers: ADMIN }), 400, "invalid-request");
  });

  it("a running run's events arrive live, and the operator's cancel ends it (audited)", async () => {
    const t = await newTenant();
    await upload(t, "ticker", TICKER);
    const pending = exports.default.fetch(new Request(`http://${DISPATCHER_LONG_RUNS_HOST}/v1/agents/ticker/runs`, json({ input: null }, bearer(t.key))));
    // Listed in the run index within about two seconds of starting.
    const id = await waitFor(async () => (await env.DB.prepare("SELECT id FROM runs WHERE tenant_id = ? AND status = 'running'").bind(t.id).first<string>("id")) ?? null);
    expect((await adminRun(id)).status).toBe("running");

    const res = await cp(`/admin/runs/${id}/stream`, { headers: ADMIN });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const seen: { event: string; data: unknown }[] = [];
    const parser = createParser({ onEvent: (e) => seen.push({ event: e.event ?? "message", data: JSON.parse(e.data) }) });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const ticks = () => seen.filter((e) => e.event === "agent.tick").length;
    // Read until two more ticks than the replay held have come in, live.
    let replayed = -1;
    while (replayed < 0 || ticks() < replayed + 2) {
      const chunk = await reader.read();
      expect(chunk.done).toBe(false);
      parser.feed(chunk.value!);
      if (replayed < 0) replayed = ticks();
    }
    const cancelled = await cp(`/admin/runs/${id}/cancel`, { method: "POST", headers: ADMIN });
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toMatchObject({ id, tenantId: t.id, status: "cancelled" });
    // The stream ends with the run's last event.
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      parser.feed(chunk.value);
    }
    expect(seen.at(-1)).toMatchObject({ event: "run.failed", data: { status: "cancelled" } });
    expect((await (await pending).json<{ status: string }>()).status).toBe("cancelled");
    await expectProblem(await cp(`/admin/runs/${id}/cancel`, { method: "POST", headers: ADMIN }), 409, "conflict");
    expect((await audit(t.id)).filter((e) => e.action === "run.cancel")).toEqual([{ actor: "admin", tenantId: t.id, action: "run.cancel", target: id, detail: { agent: "ticker" }, at: expect.any(String), id: expect.any(String) }]);
  });

  it("an async run is listed as queued, then as running once it has run a quarter second", async () => {
    const t = await newTenant();
    await upload(t, "ticker", TICKER);
    const queued = await exports.default.fetch(new Request(`http://${DISPATCHER_LONG_RUNS_HOST}/v1/agents/ticker/runs`, json({ input: null, mode: "async" }, bearer(t.key))));
    const { id } = await queued.json<{ id: string }>();
    const listed = async () => (await (await cp(`/admin/runs?tenant=${t.id}`, { headers: ADMIN })).json<{ runs: { id: string; status: string }[] }>()).runs;
    await waitFor(async () => (await listed()).find((r) => r.id === id && r.status === "running"));
    expect((await (await cp(`/admin/runs?tenant=${t.id}&status=running`, { headers: ADMIN })).json<{ runs: { id: string }[] }>()).runs.map((r) => r.id)).toEqual([id]);
    expect((await cp(`/admin/runs/${id}/cancel`, { method: "POST", headers: ADMIN })).status).toBe(200);
    // The index ends with the run's last state, never an earlier one.
    await waitFor(async () => (await listed()).find((r) => r.id === id && r.status === "cancelled"));
  });

  it("unknown, malformed and tenant-key requests get their problems", async () => {
    const t = await newTenant();
    for (const path of ["/admin/runs/run_01jd0000000000000000", "/admin/runs/nope", "/admin/runs/run_01jd0000000000000000/events", "/admin/runs/run_01jd0000000000000000/stream"]) {
      await expectProblem(await cp(path, { headers: ADMIN }), 404, "not-found");
    }
    await expectProblem(await cp("/admin/runs/run_01jd0000000000000000/cancel", { method: "POST", headers: ADMIN }), 404, "not-found");
    await expectProblem(await cp("/admin/runs/run_01jd0000000000000000", { headers: bearer(t.key) }), 403, "forbidden");
    await expectProblem(await cp("/admin/runs/run_01jd0000000000000000"), 401, "unauthorized");
  });
});

describe("admin: searching runs and tenants", () => {
  it("runs by tenant, agent, status and creation time", async () => {
    const t = await newTenant();
    await upload(t, "one", VERSIONED(1));
    await upload(t, "two", VERSIONED(2));
    const a = await run(t, "one");
    const b = await run(t, "two");
    await ledgered([a.id, b.id]);
    const ids = async (query: string) => (await (await cp(`/admin/runs?tenant=${t.id}&${query}`, { headers: ADMIN })).json<{ runs: { id: string }[] }>()).runs.map((r) => r.id);
    expect(await ids("")).toEqual([b.id, a.id]);
    expect(await ids("agent=one")).toEqual([a.id]);
    expect(await ids("agent=two&status=succeeded")).toEqual([b.id]);
    expect(await ids("status=failed")).toEqual([]);
    const created = (await (await cp(`/admin/runs/${b.id}`, { headers: ADMIN })).json<{ createdAt: string }>()).createdAt;
    expect(await ids(`from=${created}`)).toEqual([b.id]);
    expect(await ids(`to=${new Date(Date.parse(created) - 1).toISOString()}`)).toEqual([a.id]);
    expect(await ids(`from=${new Date(Date.now() + 60_000).toISOString()}`)).toEqual([]);
    for (const bad of ["agent=Bad_Name", "from=yesterday", "to=2026-13-01T00:00:00Z", "status=done", "limit=0"]) {
      await expectProblem(await cp(`/admin/runs?${bad}`, { headers: ADMIN }), 400, "invalid-request");
    }
  });

  it("tenants by name (any case, % and _ as themselves) or by id", async () => {
    const stamp = Date.now().toString(36);
    const make = async (name: string) => (await (await cp("/admin/tenants", json({ name }, ADMIN))).json<{ id: string }>()).id;
    const acme = await make(`Acme ${stamp}`);
    const pct = await make(`100% ${stamp}`);
    await make(`100x ${stamp}`);
    const names = async (q: string) => (await (await cp(`/admin/tenants?q=${encodeURIComponent(q)}`, { headers: ADMIN })).json<{ tenants: { id: string }[] }>()).tenants.map((t) => t.id);
    expect(await names(`acme ${stamp}`)).toEqual([acme]);
    expect(await names(`100% ${stamp}`)).toEqual([pct]);
    expect(await names(acme)).toEqual([acme]);
    expect(await names(`nothing-${stamp}`)).toEqual([]);
    await expectProblem(await cp(`/admin/tenants?q=${"x".repeat(201)}`, { headers: ADMIN }), 400, "invalid-request");
  });
});

describe("admin: a tenant's agents, rollback and usage by model", () => {
  it("lists agents with versions; the operator rolls one back (audited as admin)", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    await upload(t, "agent", VERSIONED(2));
    const list = await (await cp(`/admin/tenants/${t.id}/agents`, { headers: ADMIN })).json<{ agents: { name: string; activeVersion: number; versions: { version: number; active: boolean }[] }[]; cursor: null }>();
    expect(list.agents).toHaveLength(1);
    expect(list.agents[0]).toMatchObject({ name: "agent", activeVersion: 2 });
    expect(list.agents[0]!.versions.map((v) => [v.version, v.active])).toEqual([
      [2, true],
      [1, false],
    ]);
    const rolled = await cp(`/admin/tenants/${t.id}/agents/agent/rollback`, json({ version: 1 }, ADMIN));
    expect(rolled.status).toBe(200);
    expect((await rolled.json<{ activeVersion: number }>()).activeVersion).toBe(1);
    expect((await run(t, "agent")).output).toEqual({ version: 1 });
    expect((await audit(t.id)).find((e) => e.action === "agent.rollback")).toMatchObject({ actor: "admin", target: "agent", detail: { from: 2, to: 1 } });
    await expectProblem(await cp(`/admin/tenants/${t.id}/agents/agent/rollback`, json({ version: 9 }, ADMIN)), 404, "not-found");
    await expectProblem(await cp(`/admin/tenants/${t.id}/agents/agent/rollback`, json({ version: "1" }, ADMIN)), 400, "invalid-request");
    await expectProblem(await cp(`/admin/tenants/${t.id}/agents/Bad/rollback`, json({ version: 1 }, ADMIN)), 400, "invalid-name");
    await expectProblem(await cp(`/admin/tenants/ten_01jd0000000000000000/agents`, { headers: ADMIN }), 404, "not-found");
    await expectProblem(await cp(`/admin/tenants/${t.id}/agents?limit=500`, { headers: ADMIN }), 400, "invalid-request");
  });

  it("usage has the model tokens of each bucket, per day and per hour", async () => {
    const t = await newTenant();
    await summarized(t);
    for (const granularity of ["day", "hour"]) {
      const usage = await (await cp(`/admin/tenants/${t.id}/usage?from=${today()}&to=${today()}&granularity=${granularity}`, { headers: ADMIN })).json<{
        buckets: { start: string; inputTokens: number; outputTokens: number }[];
        models: { start: string; model: string; inputTokens: number; outputTokens: number }[];
      }>();
      expect(usage.models).toHaveLength(1);
      const [bucket] = usage.buckets;
      expect(usage.models[0]).toEqual({ start: bucket!.start, model: "builtin/isoplane-echo", inputTokens: bucket!.inputTokens, outputTokens: bucket!.outputTokens });
      expect(bucket!.inputTokens).toBeGreaterThan(0);
    }
  });
});
