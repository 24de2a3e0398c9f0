import type { DispatcherEnv } from "../../../core/env";
import { loadBundle } from "../../../core/scripts/bundle";
import { agentSecretValues } from "../../../core/secrets";
import { HARNESS_MODULE, runtimeFlags, runtimeModules } from "../../../core/scripts/harness";
import type { AgentTarget, Invocation, TenantRuntime } from "./types";

/** The loopback entrypoints this runtime hands to tenant isolates as bindings. */
export interface RuntimeExports {
  TenantStorage(options: { props: { tenantId: string } }): Fetcher;
  TenantLlm(options: { props: { tenantId: string } }): Fetcher;
  TenantEgress(options: { props: { tenantId: string } }): Fetcher;
}

/**
 * Runs each agent version in its own isolate through the Worker Loader binding. The isolate id
 * names the exact version and content hash, so a warm agent costs no D1 or R2 read and a new
 * upload can never be served stale code.
 */
export class LocalRuntime implements TenantRuntime {
  constructor(
    private readonly env: DispatcherEnv,
    private readonly exports: RuntimeExports,
  ) {}

  fetch(target: AgentTarget, { request, limits }: Invocation): Promise<Response> {
    const id = `${target.tenantId}/${target.agent}/${target.version}/${target.sha256}/${target.secretsRev}`;
    const worker = this.env.LOADER.get(id, async () => {
      const [bundle, secrets] = await Promise.all([
        loadBundle(this.env.BUCKET, target.bundleKey),
        agentSecretValues(this.env.DB, this.env.SECRETS_KEY, target.tenantId, target.agent),
      ]);
      const props = { tenantId: target.tenantId };
      return {
        compatibilityDate: bundle.compatibilityDate,
        compatibilityFlags: runtimeFlags(bundle),
        mainModule: HARNESS_MODULE,
        modules: runtimeModules(bundle),
        // Secrets sit beside the two platform bindings, as secret bindings do on Workers for
        // Platforms; the harness gathers them into env.SECRETS.
        env: { ...secrets, STORAGE: this.exports.TenantStorage({ props }), LLM: this.exports.TenantLlm({ props }) },
        // Every outbound fetch() goes through the platform's egress policy for this tenant.
        globalOutbound: this.exports.TenantEgress({ props }),
      };
    });
    // Worker Loader takes the limits, but the local runtime does not enforce CPU time (see README).
    return worker.getEntrypoint(undefined, { limits }).fetch(request);
  }
}

