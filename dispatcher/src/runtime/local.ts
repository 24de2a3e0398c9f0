import type { DispatcherEnv } from "../env";
import { agentCode, isolateId } from "./agent-code";
import type { AgentTarget, Invocation, TenantRuntime } from "./types";

/** The loopback entrypoints this runtime hands to tenant isolates as bindings. */
export interface RuntimeExports {
  TenantStorage(options: { props: { tenantId: string } }): Fetcher;
  TenantLlm(options: { props: { tenantId: string } }): Fetcher;
  TenantEgress(options: { props: { tenantId: string } }): Fetcher;
}

/**
 * Runs each agent version in its own isolate through the Worker Loader binding, inside the
 * dispatcher's own process (the tests' and the benchmark's runtime; `npm start` runs tenant code
 * in sandbox processes instead, see ./sandboxed.ts). The isolate id names the exact version and
 * content hash, so a warm agent costs no D1 or R2 read and a new upload can never be served stale.
 */
export class LocalRuntime implements TenantRuntime {
  constructor(
    private readonly env: DispatcherEnv,
    private readonly exports: RuntimeExports,
  ) {}

  fetch(target: AgentTarget, { request, limits }: Invocation): Promise<Response> {
    if (!this.env.LOADER) return Promise.reject(new Error("the local runtime needs the LOADER Worker Loader binding (wrangler.toml [[worker_loaders]])"));
    const worker = this.env.LOADER.get(isolateId(target), async () => {
      const { secrets, ...code } = await agentCode(this.env, target);
      const props = { tenantId: target.tenantId };
      return {
        ...code,
        // Secrets sit beside the two platform bindings, as secret bindings do on Workers for
        // Platforms; the harness gathers them into env.SECRETS.
        env: { ...secrets, STORAGE: this.exports.TenantStorage({ props }), LLM: this.exports.TenantLlm({ props }) },
        // Every outbound fetch() goes through the platform's egress policy for this tenant.
        globalOutbound: this.exports.TenantEgress({ props }),
      };
    });
    // Worker Loader takes the limits, but workerd does not enforce CPU time (see README).
    return worker.getEntrypoint(undefined, { limits }).fetch(request);
  }
}
