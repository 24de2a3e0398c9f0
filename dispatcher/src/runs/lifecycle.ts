import type { TenantPrincipal } from "../../../core/auth/tenant-auth";
import type { Run } from "../../../core/db/schema";
import type { DispatcherEnv } from "../../../core/env";
import { releaseRun } from "../quota/admission";
import type { AgentTarget, RunLimits, TenantRuntime } from "../runtime/types";
import { executeRun, runTimeoutMs, type RunObserver } from "./execute";

/** A run's quota lease outlives its time budget by this much, then lapses if never released. */
export const LEASE_MARGIN_MS = 30_000;

export const leaseMs = (env: DispatcherEnv) => runTimeoutMs(env) + LEASE_MARGIN_MS;

/** The runtime limits a tenant's quotas ask for. */
export function limitsFor(quotas: TenantPrincipal["quotas"]): RunLimits {
  return {
    ...(quotas.cpuMsPerRun !== null ? { cpuMs: quotas.cpuMsPerRun } : {}),
    ...(quotas.subrequestsPerRun !== null ? { subRequests: quotas.subrequestsPerRun } : {}),
  };
}

/** Executes an admitted, recorded run and, if admission tracked it, gives its slot back with the tokens it used. */
export async function runAdmitted(
  env: DispatcherEnv,
  runtime: TenantRuntime,
  admission: { quotas: TenantPrincipal["quotas"]; tracked: boolean },
  target: AgentTarget,
  runId: string,
  input: unknown,
  observer?: RunObserver,
): Promise<{ run: Run; output: unknown }> {
  let tokens = 0;
  try {
    const result = await executeRun(env, runtime, target, runId, input, limitsFor(admission.quotas), observer);
    tokens = result.run.inputTokens + result.run.outputTokens;
    return result;
  } finally {
    if (admission.tracked) await releaseRun(env, target.tenantId, runId, tokens);
  }
}
