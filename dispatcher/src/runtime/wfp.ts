import type { AgentTarget, Invocation, TenantRuntime } from "./types";

/**
 * Production: each agent version is a script in a Workers for Platforms dispatch namespace
 * (published by the control plane's wfp publisher). Limits are passed per call, and the
 * namespace's outbound Worker receives the tenant and run as parameters, so egress is charged
 * to the right run without trusting anything the script sends.
 */
export class WfpRuntime implements TenantRuntime {
  constructor(private readonly namespace: DispatchNamespace) {}

  fetch(target: AgentTarget, { request, runId, limits }: Invocation): Promise<Response> {
    if (!target.scriptName) {
      return Promise.reject(new Error(`version ${target.version} of "${target.agent}" was never published to the dispatch namespace`));
    }
    const worker = this.namespace.get(
      target.scriptName,
      {},
      {
        limits: {
          ...(limits.cpuMs !== undefined ? { cpuMs: limits.cpuMs } : {}),
          ...(limits.subRequests !== undefined ? { subRequests: limits.subRequests } : {}),
        },
        outbound: { tenantId: target.tenantId, runId },
      },
    );
    return worker.fetch(request);
  }
}
