import { logEvent } from "../../../core/log";
import type { TenantPrincipal } from "../../../core/auth/tenant-auth";
import type { DispatcherEnv } from "../env";
import { ProblemError } from "../../../core/http/problem";
import type { Refusal } from "../tenant/tenant-object";
import { tenantStub } from "../runs/stubs";

/** How long the tenant's object may take before the dispatcher gives up and fails closed. */
const ADMISSION_TIMEOUT_MS = 3000;

/** A refusal from the tenant's object, as the problem the caller gets. */
export function refusalProblem(r: Refusal): ProblemError {
  return new ProblemError(r.slug, r.detail, {
    ...(r.retryAfter !== undefined ? { headers: { "retry-after": String(r.retryAfter) } } : {}),
    ...(r.extra ? { extra: r.extra } : {}),
  });
}

/**
 * Asks the tenant's object; if it cannot answer, nothing is dispatched (503, fail closed).
 * `undone` says what did not happen, for the detail.
 */
export async function askTenant<T>(tenantId: string, ask: () => Promise<T>, undone = "nothing was run"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      ask(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("the tenant's object did not answer in time")), ADMISSION_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    logEvent("error", "tenant-unreachable", { tenantId, error: String(err) });
    throw new ProblemError("unavailable", `Quota state cannot be reached; ${undone}. Retry shortly.`, { headers: { "retry-after": "1" } });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** Counts a non-run request against `requestsPerMinute` — only tenants with that quota pay the call. */
export async function admitRequest(env: DispatcherEnv, principal: Pick<TenantPrincipal, "tenantId" | "quotas">): Promise<void> {
  if (principal.quotas.requestsPerMinute === null) return;
  const refused = await askTenant(principal.tenantId, () => tenantStub(env, principal.tenantId).request(principal.tenantId));
  if (refused) throw refusalProblem(refused);
}
