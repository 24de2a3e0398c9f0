import type { Admittee } from "./admission";
import { monthToDateMicros } from "../../../core/billing/spend";
import { MICRO, formatMicros } from "../../../core/billing/prices";
import { nextMonthStart } from "./rules";
import type { DispatcherEnv } from "../../../core/env";
import { ProblemError } from "../../../core/http/problem";

/** Micro-dollars a capped tenant may still spend this month, or null when it has no cap. */
export async function remainingMicros(env: DispatcherEnv, tenantId: string, capUsd: number | null): Promise<number | null> {
  if (capUsd === null) return null;
  return Math.round(capUsd * MICRO) - (await monthToDateMicros(env.DB, env, tenantId));
}

/**
 * Refuses a new run once the month's billed usage has reached the tenant's `monthlySpendCapUsd`.
 * Spend is known after the fact, so a run admitted just under the cap may cross it; a model stream
 * that would cross it is cut off (see the LLM binding).
 */
export async function checkSpendCap(env: DispatcherEnv, principal: Admittee): Promise<void> {
  const remaining = await remainingMicros(env, principal.tenantId, principal.quotas.monthlySpendCapUsd);
  if (remaining === null || remaining > 0) return;
  const retryAfter = Math.max(1, Math.ceil((nextMonthStart(Date.now()) - Date.now()) / 1000));
  throw new ProblemError("quota-spend-cap", `This month's usage has reached the spend cap of $${principal.quotas.monthlySpendCapUsd} (billed so far: $${formatMicros(Math.round(principal.quotas.monthlySpendCapUsd! * MICRO) - remaining)}).`, {
    headers: { "retry-after": String(retryAfter) },
    extra: { quota: "monthlySpendCapUsd", limit: principal.quotas.monthlySpendCapUsd, retryAfter },
  });
}
