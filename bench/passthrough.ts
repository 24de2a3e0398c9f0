// The benchmark's baselines, two routes of one Worker in the same runtime as the dispatcher.
//
// POST /<tenantId>/<agent>/<version>/<sha256>, body {"input": …} — the bare pass-through: the
// cheapest honest way to hand a run to a tenant isolate. It boots the agent with the dispatcher's
// own LocalRuntime (stored bundle from R2, platform harness and modules, isolate cached under the
// same stable id) and sends the same run request the dispatcher builds — but does no auth, no
// admission, no run record and no result write, and hands the isolate's answer back untouched.
//
// POST /floor/<tenantId>/<agent>/<version>/<sha256> — the durability floor: the same invocation
// plus exactly the durable writes any run must make, and nothing else: one Durable Object SQLite
// write when the run starts and one when it ends (in one of the tenant's FloorRun objects, chosen by
// run id exactly as the dispatcher chooses a RunObject, so objects are reused as the dispatcher's
// are), and one R2 put of the output under tenants/<tenant>/results/<runId>/output.json.
// No auth, validation, admission, event log, usage or ledger. The gap between the dispatcher and
// the floor is what the platform adds beyond the writes it cannot avoid.
import { DurableObject, WorkerEntrypoint } from "cloudflare:workers";
import type { DispatcherEnv } from "../dispatcher/src/env";
import { newId } from "../core/ids";
import { bundleKey } from "../core/scripts/bundle";
import { RUN_HEADER, type HarnessFrame } from "../core/contract.js";
import { resultKey } from "../core/storage/keys";
import { LocalRuntime, type RuntimeExports } from "../dispatcher/src/runtime/local";
import { runObjectName } from "../dispatcher/src/runs/shards";

interface Env {
  LOADER: WorkerLoader;
  BUCKET: R2Bucket;
  DB: D1Database;
  FLOOR: DurableObjectNamespace<FloorRun>;
  SECRETS_KEY: string;
}

/**
 * Stands in for every platform entrypoint the runtime hands the isolate (storage, model, egress…):
 * the benchmark agent calls none of them, and the baselines must not pay for what they would do.
 */
export class Unused extends WorkerEntrypoint {
  override async fetch(): Promise<Response> {
    return new Response("not available in the pass-through baseline", { status: 403 });
  }
}

/** One run's durable record, reduced to what must be durable: started, then ended. */
export class FloorRun extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS run (id TEXT PRIMARY KEY, status TEXT NOT NULL, started_at INTEGER NOT NULL, finished_at INTEGER)");
  }

  /** One SQLite write; the answer leaves only once it is durable (the object's output gate). */
  async start(id: string, at: number): Promise<void> {
    this.ctx.storage.sql.exec("INSERT INTO run (id, status, started_at) VALUES (?, 'running', ?)", id, at);
  }

  async end(id: string, status: string, at: number): Promise<void> {
    this.ctx.storage.sql.exec("UPDATE run SET status = ?, finished_at = ? WHERE id = ?", status, at, id);
  }
}

/** The harness's output frame (the last line of its newline-delimited answer). */
function outputOf(text: string): string | null {
  for (const line of text.split("\n").reverse()) {
    if (!line) continue;
    const frame = JSON.parse(line) as HarnessFrame;
    if (frame.type === "output") return frame.text;
    if (frame.type === "error") return null;
  }
  return null;
}

export default {
  async fetch(request, env, ctx) {
    const parts = new URL(request.url).pathname.split("/");
    const floor = parts[1] === "floor";
    const [, tenantId = "", agent = "", version = "", sha256 = ""] = floor ? parts.slice(1) : parts;
    const { input } = await request.json<{ input: unknown }>();
    const runId = floor ? newId("run") : crypto.randomUUID();
    // Whatever binding the runtime asks for (TenantStorage, TenantLlm, TenantEgress, …) gets the
    // stub, so the baselines keep working as the dispatcher gains bindings.
    const unused = (ctx as unknown as { exports: { Unused(options: { props: unknown }): Fetcher } }).exports.Unused;
    const exports = new Proxy({}, { get: () => unused }) as RuntimeExports;
    const runtime = new LocalRuntime(env as unknown as DispatcherEnv, exports);
    const target = {
      tenantId,
      agent,
      version: Number(version),
      sha256,
      bundleKey: bundleKey(tenantId, agent, sha256),
      scriptName: null,
      secretsRev: 0,
    };
    // The same request the dispatcher sends (dispatcher/src/runs/execute.ts).
    const run = new Request("https://agent.isoplane.internal/run", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [RUN_HEADER]: JSON.stringify({ id: runId, tenantId, agent, version: target.version }),
      },
      body: JSON.stringify({ runId, input }),
    });
    if (!floor) return runtime.fetch(target, { request: run, runId, limits: {} });

    const record = env.FLOOR.get(env.FLOOR.idFromName(runObjectName(tenantId, runId)));
    await record.start(runId, Date.now());
    const answer = await runtime.fetch(target, { request: run, runId, limits: {} });
    const output = outputOf(await answer.text());
    if (output === null) {
      await record.end(runId, "failed", Date.now());
      return Response.json({ id: runId, status: "failed" }, { status: 500 });
    }
    await env.BUCKET.put(resultKey(tenantId, runId, ["output.json"]), output, { httpMetadata: { contentType: "application/json" } });
    await record.end(runId, "succeeded", Date.now());
    return new Response(`{"id":${JSON.stringify(runId)},"status":"succeeded","output":${output || "null"}}`, {
      headers: { "content-type": "application/json" },
    });
  },
} satisfies ExportedHandler<Env>;
