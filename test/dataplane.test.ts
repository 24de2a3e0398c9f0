import { createExecutionContext, env, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import dispatcher from "../dispatcher/src/index";
import { archiveKey, RunObject } from "../dispatcher/src/runs/run-object";
import { runObjectName } from "../dispatcher/src/runs/shards";
import { runStub } from "../dispatcher/src/runs/stubs";
import type { RunState } from "../dispatcher/src/runs/state";
import { newId } from "../core/ids";
import { VERSIONED } from "./agents";
import { ADMIN, bearer, cp, dp, expectProblem, getRun, json, ledgered, newTenant, patch, run, runEvents, upload, waitFor } from "./helpers";

const POLICY = { egressAllow: [], subrequestsPerRun: null, llmCallsPerRun: null, spendCapped: false, retentionDays: 30 };
/** The object that holds a run (for runInDurableObject and its alarm). */
const objectOf = (tenantId: string, runId: string) => env.RUN_RECORDS.get(env.RUN_RECORDS.idFromName(runObjectName(tenantId, runId)));

/** Rewrites a run's stored state inside its object (to move its clock), then runs its next step now. */
async function shift(tenantId: string, runId: string, change: (s: RunState) => void = () => {}): Promise<void> {
  await runInDurableObject(objectOf(tenantId, runId), async (instance: RunObject, state) => {
    const s = (await state.storage.get<RunState>(`run:${runId}`))!;
    change(s);
    await state.storage.put(`run:${runId}`, s);
    // The object keeps open runs in memory too, and its next step per run in a table.
    (instance as unknown as { runs: Map<string, RunState> }).runs.delete(runId);
    state.storage.sql.exec("UPDATE due SET at = 0 WHERE run_id = ?", runId);
  });
  await runDurableObjectAlarm(objectOf(tenantId, runId));
}

/** D1 statements the dispatcher's own request handling makes (objects and queues aside). */
function countingEnv() {
  let statements = 0;
  const db = new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "prepare" || prop === "batch" || prop === "exec") {
        return (...args: unknown[]) => {
          statements += prop === "batch" ? (args[0] as unknown[]).length : 1;
          return (Reflect.get(target, prop) as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return Reflect.get(target, prop);
    },
  });
  return { env: { ...env, DB: db }, count: () => statements };
}

describe("the data plane: a run's path touches no shared database", () => {
  it("a warm sync run makes no D1 statement on the request path", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    expect((await run(t, "agent")).status).toBe("succeeded"); // warms the key cache and the tenant's object
    const counted = countingEnv();
    const ctx = createExecutionContext();
    const res = await dispatcher.fetch(new Request("http://dispatcher.test/v1/agents/agent/runs", json({ input: 1 }, bearer(t.key))), counted.env, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(200);
    expect(counted.count()).toBe(0);
  });

  it("a new upload is what the next run runs, at once (the tenant's object is told before the upload answers)", async () => {
    const t = await newTenant();
    for (let v = 1; v <= 5; v++) {
      await upload(t, "agent", VERSIONED(v));
      expect((await run(t, "agent")).output).toEqual({ version: v });
    }
    await cp("/v1/agents/agent/rollback", json({ version: 2 }, bearer(t.key)));
    expect((await run(t, "agent")).output).toEqual({ version: 2 });
    await cp(`/admin/tenants/${t.id}`, patch({ status: "suspended" }));
    // Credentials are cached for up to a second, the tenant's settings are not: no run starts.
    await expectProblem(await dp("/v1/agents/agent/runs", json({ input: 1 }, bearer(t.key))), 403, "forbidden");
  });
});

describe("event logs: with the run while it runs, in R2 after", () => {
  it("a finished run's log moves to a platform-only R2 object and reads the same", async () => {
    const t = await newTenant();
    await upload(t, "chatty", `export default { async fetch(r, env) { for (let i = 0; i < 5; i++) await env.EMIT("agent.event", { i }); return Response.json(1); } };`);
    const done = await run(t, "chatty");
    const live = await runEvents(t, done.id);
    expect(live.map((e) => e.type)).toEqual(["run.started", ...Array(5).fill("agent.event"), "run.completed"]);
    // Archived once the run ended (EVENT_ARCHIVE_AFTER_MS is 0 in tests).
    const archived = await waitFor(() => env.BUCKET.get(archiveKey(t.id, done.id)));
    expect((await archived.text()).trim().split("\n")).toHaveLength(7);
    expect(archiveKey(t.id, done.id).startsWith("tenants/")).toBe(false);
    expect(await runEvents(t, done.id)).toEqual(live);
    // Resuming a finished run's stream replays from the archive, then ends.
    const res = await dp(`/v1/runs/${done.id}/stream`, { headers: { ...bearer(t.key), "last-event-id": "5" } });
    const text = await res.text();
    expect([...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))).toEqual([6, 7]);
    expect(text).toContain('"output":1');
  });

  it("a run's own code cannot add to its log or usage after it ended", async () => {
    const t = await newTenant();
    await upload(t, "lingers", `let saved; export default { async fetch(r, env, ctx) { saved = env; ctx.waitUntil((async () => { await new Promise((r) => setTimeout(r, 300)); for (let i = 0; i < 30; i++) await saved.EMIT("agent.event", { late: i }).catch(() => {}); await saved.STORAGE.put("late.txt", "x").catch(() => {}); })()); return Response.json(1); } };`);
    const done = await run(t, "lingers");
    await new Promise((r) => setTimeout(r, 800));
    const log = await runEvents(t, done.id);
    expect(log.filter((e) => (e.data as { late?: number } | null)?.late !== undefined)).toEqual([]);
    expect((await getRun(t, done.id)).usage.storageWrites).toBe(0);
  });
});

describe("every run ends, also when its executor is lost", () => {
  it("a running run whose executor vanished is failed at its deadline, with its usage row, and frees its slot", async () => {
    const t = await newTenant();
    await upload(t, "slow", `export default { async fetch() { await new Promise((r) => setTimeout(r, 2000)); return Response.json(1); } };`);
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { concurrentRuns: 1 } }));
    const res = await dp("/v1/agents/slow/runs", json({ input: 1, mode: "stream" }, bearer(t.key)));
    const runId = res.headers.get("x-isoplane-run-id")!;
    await res.body!.cancel();
    // The executor is gone (as if the process died): its deadline passed long ago.
    await shift(t.id, runId, (s) => void (s.startedAt = Date.now() - 60 * 60 * 1000));
    const lost = await getRun(t, runId);
    expect(lost).toMatchObject({ status: "failed", error: "The platform lost this run (its executor stopped before it ended)." });
    await ledgered([runId]);
    expect(await env.DB.prepare("SELECT status FROM usage WHERE run_id = ?").bind(runId).first("status")).toBe("failed");
    // The slot is free at once.
    expect((await run(t, "slow")).status).toBe("succeeded");
  });

  it("a queued run whose message was lost is offered again; one left an hour is failed", async () => {
    const t = await newTenant();
    const { version, sha256 } = await upload(t, "agent", VERSIONED(3));
    const target = { tenantId: t.id, agent: "agent", version, sha256, bundleKey: `scripts/${t.id}/agent/${sha256}.json`, scriptName: null, secretsRev: 0 };
    const queued = async () => {
      const id = newId("run");
      await runStub(env, t.id, id).create({ id, tenantId: t.id, target, endUser: null, status: "queued", timeoutMs: 3000, policy: POLICY, webhook: null });
      return id;
    };
    // Its lane never heard of it (the message and the lane entry are lost): its own check offers it again.
    const lost = await queued();
    await shift(t.id, lost);
    const ran = await waitFor(async () => {
      const r = await getRun(t, lost);
      return r.status === "succeeded" ? r : null;
    });
    expect(ran.output ?? (await (await dp(`/v1/runs/${lost}/result`, { headers: bearer(t.key) })).json())).toEqual({ version: 3 });
    const stale = await queued();
    await shift(t.id, stale, (s) => void (s.createdAt = Date.now() - 2 * 60 * 60 * 1000));
    expect(await getRun(t, stale)).toMatchObject({ status: "failed", error: "The run waited in the queue too long and was never started." });
    await ledgered([lost, stale]);
  });
});

describe("retention", () => {
  it("a finished run's record and log are deleted after the tenant's retentionDays; the index and ledger stay", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    const bad = await cp(`/admin/tenants/${t.id}`, patch({ retentionDays: 0 }));
    await expectProblem(bad, 400, "invalid-request");
    const set = await (await cp(`/admin/tenants/${t.id}`, patch({ retentionDays: 2 }))).json<{ retentionDays: number }>();
    expect(set.retentionDays).toBe(2);
    const done = await run(t, "agent");
    await ledgered([done.id]);
    await waitFor(() => env.BUCKET.head(archiveKey(t.id, done.id)));
    await shift(t.id, done.id, (s) => void (s.finishedAt = Date.now() - 3 * 86_400_000));
    expect(await env.BUCKET.head(archiveKey(t.id, done.id))).toBeNull();
    expect(await runStub(env, t.id, done.id).state()).toBeNull();
    // The compact record stays in the run index; the log is gone.
    expect((await getRun(t, done.id)).status).toBe("succeeded");
    await expectProblem(await dp(`/v1/runs/${done.id}/events`, { headers: bearer(t.key) }), 404, "not-found");
    expect(await env.DB.prepare("SELECT status FROM usage WHERE run_id = ?").bind(done.id).first("status")).toBe("succeeded");
    const tenant = await (await cp(`/admin/tenants/${t.id}`, { headers: ADMIN })).json<{ retentionDays: number }>();
    expect(tenant.retentionDays).toBe(2);
  });
});

describe("fair scheduling of async runs", () => {
  it("one tenant's backlog does not hold up another tenant's run", async () => {
    const a = await newTenant();
    const b = await newTenant();
    const slow = `export default { async fetch() { await new Promise((r) => setTimeout(r, 150)); return Response.json(1); } };`;
    await upload(a, "work", slow);
    await upload(b, "work", VERSIONED(1));
    const backlog = await Promise.all(Array.from({ length: 60 }, (_, i) => dp("/v1/agents/work/runs", json({ input: i, mode: "async" }, bearer(a.key)))));
    expect(backlog.every((r) => r.status === 202)).toBe(true);
    const mine = await (await dp("/v1/agents/work/runs", json({ input: 1, mode: "async" }, bearer(b.key)))).json<{ id: string }>();
    const done = await waitFor(async () => {
      const r = await getRun(b, mine.id);
      return r.status === "succeeded" ? r : null;
    });
    const waited = Date.parse(done.startedAt!) - Date.parse((done as unknown as { createdAt: string }).createdAt);
    // A's 60 runs take over 2 s at its lane's width of 4; B waits only for its own delivery.
    expect(waited).toBeLessThan(1000);
    // A's backlog was still waiting when B's run was done.
    const last = await backlog.at(-1)!.json<{ id: string }>();
    expect((await getRun(a, last.id)).status).toBe("queued");
  });
});
