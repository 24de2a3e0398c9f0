import { logEvent } from "../../../core/log";
import type { ControlPlaneEnv } from "../env";
import { ProblemError } from "../../../core/http/problem";

/**
 * Tells the tenant's object in the dispatcher that an agent (upload, rollback, deletion, secrets)
 * or the tenant's settings changed, before the change answers: that object caches both, so from
 * this moment every new run sees the change. If it cannot be told, the change stands in D1 but
 * the caller is told to retry, never told it is done.
 */
export async function notifyDispatcher(env: ControlPlaneEnv, tenantId: string, change: { agent?: string; config?: boolean }): Promise<void> {
  try {
    const stub = () => env.TENANTS.get(env.TENANTS.idFromName(tenantId));
    // One retry: a transient failure to reach the object (a deploy, a restart) is common and short.
    await stub()
      .invalidate(change)
      .catch(async () => {
        await new Promise((r) => setTimeout(r, 250));
        await stub().invalidate(change);
      });
  } catch (err) {
    logEvent("error", "dispatcher-notify-failed", { tenantId, error: String(err) });
    throw new ProblemError("unavailable", "The change was saved, but the dispatcher could not be told of it yet; retry the request.", { headers: { "retry-after": "1" } });
  }
}

/** Whether the dispatcher's objects answer (the control plane's `GET /healthz`). */
export async function dispatcherReachable(env: ControlPlaneEnv): Promise<boolean> {
  try {
    return (await env.TENANTS.get(env.TENANTS.idFromName("healthz")).ping()) === "pong";
  } catch {
    return false;
  }
}
