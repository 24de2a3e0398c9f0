import type { TenantPrincipal } from "../../../core/auth/tenant-auth";
import type { DispatcherEnv } from "../../../core/env";
import { ProblemError } from "../../../core/http/problem";
import { REFUSAL_SLUG, type Decision, type Limits } from "./rules";

/** How long admission may take before the dispatcher gives up and fails closed. */
const ADMISSION_TIMEOUT_MS = 3000;

/** Who is being admitted: the tenant and its quotas (from its key, its end user's token, or its record). */
export type Admittee = Pick<TenantPrincipal, "tenantId" | "quotas">;

function limitsOf(principal: Admittee): Limits {
  const { requestsPerMinute, concurrentRuns, runsPerMonth, llmTokensPerMonth } = principal.quotas;
  return { requestsPerMinute, concurrentRuns, runsPerMonth, llmTokensPerMonth };
}

const stub = (env: DispatcherEnv, tenantId: string) => env.QUOTA.get(env.QUOTA.idFromName(tenantId));

/** Asks the tenant's quota object; if it cannot answer, nothing is dispatched (503, fail closed). */
async function decide(env: DispatcherEnv, tenantId: string, ask: () => Promise<Decision>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let decision: Decision;
  try {
    decision = await Promise.race([
      ask(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("admission timed out")), ADMISSION_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    console.error(JSON.stringify({ level: "error", event: "quota-unreachable", tenantId, error: String(err) }));
    throw new ProblemError("unavailable", "Quota state cannot be reached; nothing was run. Retry shortly.", {
      headers: { "retry-after": "1" },
    });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
  if (!decision.ok) {
    throw new ProblemError(REFUSAL_SLUG[decision.quota], `The ${decision.quota} quota (${decision.limit}) is used up.`, {
      headers: { "retry-after": String(decision.retryAfter) },
      extra: { quota: decision.quota, limit: decision.limit, retryAfter: decision.retryAfter },
    });
  }
}

/** True when any admission quota applies: only then is the tenant's quota object consulted. */
export function hasAdmissionQuota(principal: Admittee): boolean {
  const l = limitsOf(principal);
  return l.requestsPerMinute != null || l.concurrentRuns != null || l.runsPerMonth != null || l.llmTokensPerMonth != null;
}

/**
 * Admits a run atomically against every run quota; the lease outlives the run's time budget.
 * Returns whether the run was tracked (and so must be released). Tenants without admission
 * quotas skip the round trip: the run record alone accounts for them.
 */
export async function admitRun(env: DispatcherEnv, principal: Admittee, runId: string, leaseMs: number): Promise<boolean> {
  if (!hasAdmissionQuota(principal)) return false;
  await decide(env, principal.tenantId, () => stub(env, principal.tenantId).admit(principal.tenantId, limitsOf(principal), { id: runId, leaseMs }));
  return true;
}

/** Counts a non-run request against `requestsPerMinute` — only tenants with that quota pay the call. */
export async function admitRequest(env: DispatcherEnv, principal: Admittee): Promise<void> {
  if (principal.quotas.requestsPerMinute === null) return;
  await decide(env, principal.tenantId, () => stub(env, principal.tenantId).admit(principal.tenantId, { requestsPerMinute: principal.quotas.requestsPerMinute }));
}

/** Frees the run's slot and charges its tokens (`uncount`: it never ran); if this fails the lease lapses on its own. */
export async function releaseRun(env: DispatcherEnv, tenantId: string, runId: string, tokens: number, uncount = false): Promise<void> {
  try {
    await stub(env, tenantId).release(tenantId, runId, tokens, uncount);
  } catch (err) {
    console.error(JSON.stringify({ level: "error", event: "quota-release-failed", tenantId, runId, error: String(err) }));
  }
}
