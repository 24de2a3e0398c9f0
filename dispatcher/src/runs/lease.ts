import type { QuotaName } from "../../../core/quotas";
import { intSetting } from "../../../core/env";
import { type DispatcherEnv } from "../env";
import type { RunLimits } from "../runtime/types";

const DEFAULT_RUN_TIMEOUT_MS = 300_000;

/** A run's quota lease outlives its time budget by this much, then lapses if never released. */
export const LEASE_MARGIN_MS = 30_000;

/** The one place a run's `concurrentRuns` lease is computed: its time budget plus the margin. */
export const leaseFor = (runId: string, timeoutMs: number) => ({ id: runId, leaseMs: timeoutMs + LEASE_MARGIN_MS });

/** The wall-clock budget of one run. */
export function runTimeoutMs(env: Pick<DispatcherEnv, "RUN_TIMEOUT_MS">): number {
  return intSetting(env.RUN_TIMEOUT_MS, DEFAULT_RUN_TIMEOUT_MS);
}

/** The runtime limits a tenant's quotas ask for. */
export function limitsFor(quotas: Record<QuotaName, number | null>): RunLimits {
  return {
    ...(quotas.cpuMsPerRun !== null ? { cpuMs: quotas.cpuMsPerRun } : {}),
    ...(quotas.subrequestsPerRun !== null ? { subRequests: quotas.subrequestsPerRun } : {}),
  };
}
