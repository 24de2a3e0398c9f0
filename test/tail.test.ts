import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runStub } from "../dispatcher/src/runs/stubs";
import tailWorker, { consumeMeasurements, meterMessage, type MeterMessage, type TailEnv } from "../dispatcher/tail/index";
import { WORKERS } from "../scripts/deploy/workers.ts";
import { VERSIONED } from "./agents";
import { FAKE_CF } from "./fakes/cloudflare-api";
import { bearer, dp, json, newTenant, run, upload, type TestTenant, waitFor } from "./helpers";
import { CONTROL_PLANE_WFP_HOST, DISPATCHER_WFP_HOST } from "./worker";

// CPU metering in production: the tail Worker gets the trace of every agent invocation, enqueues
// what belongs to a run, and its queue consumer hands CPU time, wall time and outcome to the run's object.
// Trace items here have the shape Workers delivers (TraceItem in @cloudflare/workers-types).

const NAMESPACE = FAKE_CF.namespace;
const at = (host: string, path: string, init: RequestInit) => exports.default.fetch(new Request(`http://${host}${path}`, init));

interface RunRef {
  id: string;
  tenantId: string;
  agent: string;
  version: number;
  script: string;
}

/** A trace item as Workers hands it to tail(): a fetch invocation of an agent script. */
function trace(ref: RunRef, over: Partial<Omit<TraceItem, "event">> & { headers?: Record<string, string> | null; event?: TraceItem["event"] } = {}): TraceItem {
  const { headers, ...rest } = over;
  const runHeader = JSON.stringify({ id: ref.id, tenantId: ref.tenantId, agent: ref.agent, version: ref.version });
  const request: TraceItemFetchEventInfoRequest = {
    url: "https://agent.isoplane.internal/run",
    method: "POST",
    headers: headers === null ? { "content-type": "application/json" } : (headers ?? { "content-type": "application/json", "x-isoplane-run": runHeader }),
    getUnredacted() {
      return this;
    },
  };
  return {
    event: { request, response: { status: 200 } },
    eventTimestamp: 1_790_000_000_000,
    logs: [],
    exceptions: [],
    diagnosticsChannelEvents: [],
    scriptName: ref.script,
    scriptVersion: { id: "5a1c3b2e-0000-4000-8000-000000000000" },
    dispatchNamespace: NAMESPACE,
    scriptTags: [`tenant-${ref.tenantId}`, `agent-${ref.agent}`],
    outcome: "ok",
    executionModel: "stateless",
    truncated: false,
    cpuTime: 7,
    wallTime: 41,
    ...rest,
  };
}

/** A queue binding that keeps what the tail handler sends. */
function recordingQueue() {
  const sent: MeterMessage[] = [];
  const queue = {
    send: async (body: MeterMessage) => void sent.push(body),
    sendBatch: async (messages: Iterable<MessageSendRequest<MeterMessage>>) => {
      for (const m of messages) sent.push(m.body);
    },
  } as unknown as Queue<MeterMessage>;
  return { sent, env: { RUN_RECORDS: env.RUN_RECORDS, METERING: queue, DISPATCH_NAMESPACE: NAMESPACE } satisfies TailEnv };
}

/** Runs the tail handler on the events, then the queue consumer on what it enqueued. */
async function meter(events: TraceItem[], runRecords: TailEnv["RUN_RECORDS"] = env.RUN_RECORDS) {
  const { sent, env: tailEnv } = recordingQueue();
  await tailWorker.tail(events, tailEnv);
  const batch = createMessageBatch<MeterMessage>(
    "isoplane-metering",
    sent.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await consumeMeasurements(batch, { ...tailEnv, RUN_RECORDS: runRecords });
  return { sent, result: await getQueueResult(batch, ctx) };
}

let seq = 0;
/** Seeded runs' tenants, by run id (a run's object is one of its tenant's). */
const tenantOf = new Map<string, string>();
const runObject = (runId: string) => runStub(env, tenantOf.get(runId) ?? "", runId);

/** A run (in its own object) on an agent version published as `script`, ended with the status and error given. */
async function seedRun(status: string, error: string | null = null): Promise<RunRef> {
  const n = `${Date.now().toString(36)}${(++seq).toString(36)}`;
  const ref = { id: `run_seed${n}`, tenantId: `ten_seed${n}`, agent: "seeded", version: 1, script: `ip-seed${n}` };
  tenantOf.set(ref.id, ref.tenantId);
  const stub = runObject(ref.id);
  await stub.create({
    id: ref.id,
    tenantId: ref.tenantId,
    target: { tenantId: ref.tenantId, agent: ref.agent, version: 1, sha256: "sha", bundleKey: "scripts/x", scriptName: ref.script, secretsRev: 0 },
    endUser: null,
    status: "running",
    timeoutMs: 3000,
    policy: { egressAllow: [], subrequestsPerRun: null, llmCallsPerRun: null, spendCapped: false, retentionDays: 30 },
    webhook: null,
  });
  if (status !== "running") await stub.close({ status: status as "succeeded", ...(error ? { error } : {}), wallMs: 40 });
  return ref;
}

const cpuOf = async (runId: string) => (await runObject(runId).state())?.cpuMs ?? null;
async function runRow(runId: string) {
  const s = (await runObject(runId).state())!;
  return { status: s.status, error: s.error, cpu_ms: s.cpuMs, wall_ms: s.wallMs };
}
async function metered(runId: string) {
  const log = await runObject(runId).events(null, 0, 1000);
  return log!.events.filter((e) => e.type === "run.metered").map((e) => JSON.parse(e.data) as Record<string, unknown>);
}

/** A tenant's agent published to the (fake) dispatch namespace and run through the production runtime. */
async function productionRun(): Promise<{ t: TestTenant; ref: RunRef }> {
  const t = await newTenant();
  const published = await at(CONTROL_PLANE_WFP_HOST, "/v1/agents/metered/script", {
    method: "PUT",
    headers: { ...bearer(t.key), "content-type": "application/javascript+module" },
    body: VERSIONED(1),
  });
  expect(published.status).toBe(201);
  const res = await at(DISPATCHER_WFP_HOST, "/v1/agents/metered/runs", json({ input: { q: 1 } }, bearer(t.key)));
  const body = await res.json<{ id: string; status: string; usage: { cpuMs: number | null } }>();
  expect(body.status).toBe("succeeded");
  // What the dispatcher knows when the run ends: CPU time is not measured (yet).
  expect(body.usage.cpuMs).toBeNull();
  const script = await env.DB.prepare("SELECT script_name FROM agent_versions WHERE tenant_id = ?").bind(t.id).first<string>("script_name");
  tenantOf.set(body.id, t.id);
  return { t, ref: { id: body.id, tenantId: t.id, agent: "metered", version: 1, script: script! } };
}

describe("CPU metering from tail events", () => {
  it("attaches CPU time, wall time and the outcome to the run, its log and its usage row", async () => {
    const { t, ref } = await productionRun();
    const { sent, result } = await meter([trace(ref, { cpuTime: 7, wallTime: 41 })]);
    expect(sent).toEqual([
      { runId: ref.id, tenantId: t.id, script: ref.script, outcome: "ok", cpuMs: 7, wallMs: 41, exceptions: [] },
    ]);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(result.retryMessages).toEqual([]);

    expect(await cpuOf(ref.id)).toBe(7);
    expect(await metered(ref.id)).toEqual([{ cpuMs: 7, wallMs: 41, outcome: "ok" }]);
    // The ledger row gets it too (through the ledger queue).
    const usage = await waitFor(() => env.DB.prepare("SELECT cpu_ms FROM usage WHERE run_id = ? AND cpu_ms IS NOT NULL").bind(ref.id).first<number>("cpu_ms"));
    expect(usage).toBe(7);
    const rollup = await env.DB.prepare("SELECT cpu_measured_runs FROM usage_daily WHERE tenant_id = ?").bind(t.id).first<number>("cpu_measured_runs");
    expect(rollup).toBe(1);
    // The tenant sees it on the run record.
    const record = await dp(`/v1/runs/${ref.id}`, { headers: bearer(t.key) });
    expect((await record.json<{ usage: { cpuMs: number | null } }>()).usage.cpuMs).toBe(7);
  });

  it("a measurement delivered twice is recorded once", async () => {
    const ref = await seedRun("succeeded");
    await meter([trace(ref, { cpuTime: 12 })]);
    const again = await meter([trace(ref, { cpuTime: 99 })]);
    expect(again.result.explicitAcks).toEqual(["m0"]);
    expect(await cpuOf(ref.id)).toBe(12);
    expect(await metered(ref.id)).toEqual([{ cpuMs: 12, wallMs: 41, outcome: "ok" }]);
  });

  it("exceededCpu and exceededMemory: the failed run gets the real reason, with its CPU time", async () => {
    const cpu = await seedRun("failed", "The agent's response ended without an output.");
    const memory = await seedRun("failed", "The agent's response ended without an output.");
    await meter([trace(cpu, { outcome: "exceededCpu", cpuTime: 52, wallTime: 60 }), trace(memory, { outcome: "exceededMemory", cpuTime: 30 })]);
    expect(await runRow(cpu.id)).toMatchObject({ status: "failed", error: "The agent exceeded its CPU time limit (52 ms of CPU used).", cpu_ms: 52 });
    expect(await runRow(memory.id)).toMatchObject({ status: "failed", error: "The agent exceeded its memory limit.", cpu_ms: 30 });
    expect(await metered(cpu.id)).toEqual([{ cpuMs: 52, wallMs: 60, outcome: "exceededCpu" }]);
    expect(await metered(memory.id)).toEqual([{ cpuMs: 30, wallMs: 41, outcome: "exceededMemory" }]);
  });

  it("a run that ended otherwise keeps its status and error; the outcome is on its log", async () => {
    const timedOut = await seedRun("timed_out", "The run did not finish within 3000 ms.");
    await meter([trace(timedOut, { outcome: "exceededCpu", cpuTime: 50 })]);
    expect(await runRow(timedOut.id)).toMatchObject({ status: "timed_out", error: "The run did not finish within 3000 ms.", cpu_ms: 50 });

    // The client went away: Workers cancels the invocation, and what it used is still counted.
    const cancelled = await seedRun("cancelled", "The run was cancelled: the client went away.");
    await meter([trace(cancelled, { outcome: "canceled", cpuTime: 3, wallTime: 900 })]);
    expect(await runRow(cancelled.id)).toMatchObject({ status: "cancelled", error: "The run was cancelled: the client went away.", cpu_ms: 3 });
    expect(await metered(cancelled.id)).toEqual([{ cpuMs: 3, wallMs: 900, outcome: "canceled" }]);
  });

  it("an uncaught exception is logged by name and first line, never its stack", async () => {
    const ref = await seedRun("failed", "TypeError: boom");
    const exceptions = [{ timestamp: 1, name: "TypeError", message: "boom\n    at secret (agent.js:1:1)", stack: "TypeError: boom\n    at secret (agent.js:1:1)" }];
    await meter([trace(ref, { outcome: "exception", cpuTime: 4, exceptions })]);
    expect(await runRow(ref.id)).toMatchObject({ status: "failed", error: "TypeError: boom", cpu_ms: 4 });
    expect(await metered(ref.id)).toEqual([{ cpuMs: 4, wallMs: 41, outcome: "exception", exceptions: [{ name: "TypeError", message: "boom" }] }]);
  });

  it("scriptNotFound: nothing ran, so nothing is metered (the run stays not measured)", async () => {
    const ref = await seedRun("failed", "Worker not found.");
    const { sent } = await meter([trace(ref, { outcome: "scriptNotFound", scriptTags: [], cpuTime: 0, wallTime: 0 })]);
    expect(sent).toEqual([]);
    expect(await cpuOf(ref.id)).toBeNull();
  });

  it("trusts a run only for the tenant the script is tagged with", async () => {
    const victim = await seedRun("succeeded");
    const attacker = await seedRun("succeeded");
    // The attacker's script claims the victim's run in the header: its tag names another tenant.
    const forged = { ...victim, script: attacker.script };
    const cases: [string, TraceItem][] = [
      ["header tenant differs from the tag", trace(forged, { scriptTags: [`tenant-${attacker.tenantId}`] })],
      ["two tenant tags", trace(victim, { scriptTags: [`tenant-${victim.tenantId}`, `tenant-${attacker.tenantId}`] })],
      ["no tags", trace(victim, { scriptTags: undefined })],
      ["another namespace", trace(victim, { dispatchNamespace: "someone-else" })],
      ["not in a namespace (the dispatcher, the outbound Worker)", trace(victim, { dispatchNamespace: undefined })],
      ["no run header", trace(victim, { headers: null })],
      ["a malformed run header", trace(victim, { headers: { "x-isoplane-run": "{not json" } })],
      ["not a fetch invocation", trace(victim, { event: { rpcMethod: "get" } })],
    ];
    for (const [why, item] of cases) {
      expect(meterMessage(item, NAMESPACE), why).toBeTypeOf("string");
    }
    const { sent } = await meter(cases.map(([, item]) => item));
    expect(sent).toEqual([]);
    expect(await cpuOf(victim.id)).toBeNull();
  });

  it("ignores events for scripts that are not the run's version", async () => {
    const ref = await seedRun("succeeded");
    const other = await seedRun("succeeded");
    const { sent, result } = await meter([
      // Correctly tagged, but no agent version has this script.
      trace({ ...ref, script: "ip-unknown-script" }),
      // Another of the tenant's runs' script: a real script, but not the one this run ran on.
      trace({ ...ref, script: other.script }),
      // A run id that does not exist.
      trace({ ...ref, id: "run_doesnotexist" }),
    ]);
    expect(sent).toHaveLength(3);
    expect(result.explicitAcks).toEqual(["m0", "m1", "m2"]);
    expect(await cpuOf(ref.id)).toBeNull();
    expect(await metered(ref.id)).toEqual([]);
  });

  it("when the run's object cannot be reached, the message is retried with backoff instead of lost", async () => {
    const ref = await seedRun("succeeded");
    const failing = {
      idFromName: (name: string) => ({ name }),
      get: () => ({ meter: () => Promise.reject(new Error("Durable Object unreachable")) }),
    } as unknown as TailEnv["RUN_RECORDS"];
    const { sent, result } = await meter([trace(ref)], failing);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["m0"]);
    expect(await cpuOf(ref.id)).toBeNull();

    // The delay doubles with each attempt, up to five minutes.
    const delays: (number | undefined)[] = [];
    const messages = [1, 3, 12].map((attempts) => ({
      id: `a${attempts}`,
      timestamp: new Date(),
      attempts,
      body: sent[0]!,
      ack() {},
      retry(options?: QueueRetryOptions) {
        delays.push(options?.delaySeconds);
      },
    }));
    await consumeMeasurements({ queue: "isoplane-metering", messages } as unknown as MessageBatch<MeterMessage>, { ...recordingQueue().env, RUN_RECORDS: failing });
    expect(delays).toEqual([2, 8, 300]);
  });

  it("every published agent version names the tail Worker as its tail consumer", async () => {
    const t = await newTenant();
    const res = await at(CONTROL_PLANE_WFP_HOST, "/v1/agents/tailed/script", {
      method: "PUT",
      headers: { ...bearer(t.key), "content-type": "application/javascript+module" },
      body: VERSIONED(1),
    });
    expect(res.status).toBe(201);
    const script = await env.DB.prepare("SELECT script_name FROM agent_versions WHERE tenant_id = ?").bind(t.id).first<string>("script_name");
    const state = await (await fetch("https://api.cloudflare.com/__fake/state")).json<{ scripts: Record<string, { metadata: { tail_consumers?: unknown } }> }>();
    expect(state.scripts[script!]?.metadata.tail_consumers).toEqual([{ service: WORKERS.tail.name }]);
  });

  it("locally nothing measures CPU: runs say not measured", async () => {
    const t = await newTenant();
    await upload(t, "local", VERSIONED(1));
    const body = await run(t, "local", 1);
    expect(body.status).toBe("succeeded");
    expect(body.usage.cpuMs).toBeNull();
  });
});
