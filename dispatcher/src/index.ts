import type { DispatcherEnv, RunMessage } from "../../core/env";
import { consumeRuns } from "./runs/queue";
import { sweepLostRuns } from "./runs/sweeper";
import { snapshotStorage } from "../../core/billing/storage";
import { createApp } from "./app";
import { LocalRuntime, type RuntimeExports } from "./runtime/local";
import type { TenantRuntime } from "./runtime/types";
import { WfpRuntime } from "./runtime/wfp";

export { TenantEgress } from "./bindings/egress";
export { TenantLlm } from "./bindings/llm";
export { TenantStorage } from "./bindings/storage";
export { TenantQuota } from "./quota/tenant-quota";

/** `RUNTIME=wfp` dispatches to the Workers for Platforms namespace; otherwise the Worker Loader runs agents. */
export function runtimeFor(env: DispatcherEnv, ctx: ExecutionContext): TenantRuntime {
  if (env.RUNTIME === "wfp") {
    if (!env.DISPATCHER) throw new Error("RUNTIME=wfp needs the DISPATCHER dispatch_namespaces binding");
    return new WfpRuntime(env.DISPATCHER);
  }
  return new LocalRuntime(env, ctx.exports as unknown as RuntimeExports);
}

const app = createApp(runtimeFor);

export default {
  fetch: app.fetch,
  queue: (batch, env, ctx) => consumeRuns(batch, env, runtimeFor(env, ctx)),
  // Every minute: close lost runs, and measure some tenants' stored bytes for today.
  scheduled: (_controller, env, ctx) => ctx.waitUntil(Promise.all([sweepLostRuns(env), snapshotStorage(env.DB, env.BUCKET)])),
} satisfies ExportedHandler<DispatcherEnv, RunMessage>;
