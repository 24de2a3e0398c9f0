// The benchmark's baseline: the cheapest honest way to hand a run to a tenant isolate in the same
// runtime. It boots the agent with the dispatcher's own LocalRuntime (stored bundle from R2,
// platform harness and modules, isolate cached under the same stable id) and sends the same run
// request the dispatcher builds — but does no auth, no quota admission, no D1 lookup, no run
// record and no result write, and hands the isolate's answer back untouched (reading it into a run
// is platform work). Route: POST /<tenantId>/<agent>/<version>/<sha256>, body {"input": …}.
//
// A second route, POST /records/<tenantId>/<agent>/…, adds exactly the dispatcher's durable
// record-keeping around the same invocation — the run record and its version (startRun), the
// event log, the output in R2, the closing batch with the ledger row (executeRun) — and nothing
// else: no auth, no validation, no routing, no admission. The gap between it and the dispatcher
// is the dispatcher's own logic; the gap between it and the plain pass-through is the cost of
// the writes (which, locally, includes the D1 and R2 simulators running in the same process).
import { WorkerEntrypoint } from "cloudflare:workers";
import type { DispatcherEnv } from "../core/env";
import { bundleKey } from "../core/scripts/bundle";
import { RUN_HEADER } from "../core/scripts/harness";
import { runView } from "../core/runs/record";
import { executeRun, startRun } from "../dispatcher/src/runs/execute";
import { LocalRuntime, type RuntimeExports } from "../dispatcher/src/runtime/local";
import { newId } from "../core/ids";

interface Env {
  LOADER: WorkerLoader;
  BUCKET: R2Bucket;
  DB: D1Database;
  SECRETS_KEY: string;
}

/**
 * Stands in for every platform entrypoint the runtime hands the isolate (storage, model, egress…):
 * the benchmark agent calls none of them, and the baseline must not pay for what they would do.
 */
export class Unused extends WorkerEntrypoint {
  override async fetch(): Promise<Response> {
    return new Response("not available in the pass-through baseline", { status: 403 });
  }
}

export default {
  async fetch(request, env, ctx) {
    const parts = new URL(request.url).pathname.split("/");
    const records = parts[1] === "records";
    const [, tenantId = "", agent = "", version = "", sha256 = ""] = records ? parts.slice(1) : parts;
    const { input } = await request.json<{ input: unknown }>();
    const runId = crypto.randomUUID();
    // Whatever binding the runtime asks for (TenantStorage, TenantLlm, TenantEgress, …) gets the
    // stub, so the baseline keeps working as the dispatcher gains bindings.
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
    if (records) {
      const id = newId("run");
      const recorded = await startRun(env.DB, { id, tenantId, agent, endUser: null });
      if (!recorded) return new Response("no such agent", { status: 404 });
      const { run, output } = await executeRun(env as unknown as DispatcherEnv, runtime, recorded, id, input, {});
      return Response.json({ ...runView(run), output });
    }
    // The same request the dispatcher sends (dispatcher/src/runs/execute.ts).
    const run = new Request("https://agent.isoplane.internal/run", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [RUN_HEADER]: JSON.stringify({ id: runId, tenantId, agent, version: target.version }),
      },
      body: JSON.stringify({ runId, input }),
    });
    return runtime.fetch(target, { request: run, runId, limits: {} });
  },
} satisfies ExportedHandler<Env>;
