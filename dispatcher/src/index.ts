import type { DispatcherEnv, LedgerMessage, RunMessage } from "./env";
import { consumeLedger } from "./ledger/flush";
import { consumeRuns } from "./runs/queue";
import { snapshotStorage } from "./billing/storage";
import { createApp } from "./app";
import { LocalRuntime, type RuntimeExports } from "./runtime/local";
import { SandboxedRuntime } from "./runtime/sandboxed";
import type { TenantRuntime } from "./runtime/types";
import { WfpRuntime } from "./runtime/wfp";

export { TenantEgress } from "./bindings/egress";
export { TenantLlm } from "./bindings/llm";
export { TenantStorage } from "./bindings/storage";
export { RunObject } from "./runs/run-object";
export { TenantObject } from "./tenant/tenant-object";

/** `RUNTIME=wfp` dispatches to the Workers for Platforms namespace; otherwise the Worker Loader runs agents (in sandboxes under `npm start`). */
export function runtimeFor(env: DispatcherEnv, ctx: ExecutionContext): TenantRuntime {
  if (env.RUNTIME === "wfp") {
    if (!env.DISPATCHER) throw new Error("RUNTIME=wfp needs the DISPATCHER dispatch_namespaces binding");
    return new WfpRuntime(env.DISPATCHER);
  }
  // `npm start` runs tenant code in sandbox processes; tests and the benchmark in this process.
  if (env.SANDBOXES && env.SANDBOX_TOKEN) return new SandboxedRuntime(env.SANDBOXES, env.SANDBOX_TOKEN);
  return new LocalRuntime(env, ctx.exports as unknown as RuntimeExports);
}

const app = createApp(runtimeFor);

/** The ledger queue carries run index and usage rows; the runs queue carries async runs and webhooks. */
const isLedger = (batch: MessageBatch<RunMessage | LedgerMessage>): batch is MessageBatch<LedgerMessage> => batch.queue.endsWith("-ledger") || batch.queue === "isoplane-ledger";

export default {
  fetch: app.fetch,
  queue: (batch, env, ctx) => (isLedger(batch) ? consumeLedger(batch, env.DB) : consumeRuns(batch as MessageBatch<RunMessage>, env, runtimeFor(env, ctx))),
  // Every minute: measure some tenants' stored bytes for today.
  scheduled: (_controller, env, ctx) => ctx.waitUntil(snapshotStorage(env.DB, env.BUCKET).then(() => undefined)),
} satisfies ExportedHandler<DispatcherEnv, RunMessage | LedgerMessage>;
