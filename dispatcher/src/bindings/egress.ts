import { WorkerEntrypoint } from "cloudflare:workers";
import { TtlCache } from "../../../core/auth/tenant-auth";
import type { DispatcherEnv } from "../../../core/env";
import { problemResponse } from "../../../core/http/problem";
import { parseQuotas } from "../../../core/quotas";
import { EGRESS_RUN_HEADER } from "../../../core/scripts/harness";
import { decideEgress, platformHosts } from "../../../core/egress";
import { appendRunEvent } from "../runs/events";
import type { TenantProps } from "./storage";

interface EgressSettings {
  allow: string[];
  subrequestsPerRun: number | null;
}

/** A tenant's allowlist changes take effect within a second, like its credentials. */
const settingsCache = new TtlCache<EgressSettings>(1000);

function settings(d1: D1Database, tenantId: string): Promise<EgressSettings> {
  return settingsCache.get(tenantId, async () => {
    const row = await d1.prepare("SELECT egress_allow, quotas FROM tenants WHERE id = ?").bind(tenantId).first<{ egress_allow: string; quotas: string }>();
    return { allow: row ? (JSON.parse(row.egress_allow) as string[]) : [], subrequestsPerRun: row ? parseQuotas(row.quotas).subrequestsPerRun : 0 };
  });
}

/**
 * Applies the egress policy to one outbound request of a tenant's run: decides, counts the
 * subrequest into the run's usage (refusing past `subrequestsPerRun`), logs a denial on the run,
 * and forwards what is allowed without the platform's tagging header.
 */
export async function egress(env: DispatcherEnv, tenantId: string, runId: string | null, request: Request): Promise<Response> {
  const deny = async (reason: string) => {
    if (runId) await appendRunEvent(env.DB, tenantId, runId, "egress.denied", { method: request.method, url: redact(request.url), reason });
    return problemResponse("egress-denied", `${request.method} ${redact(request.url)}: ${reason}.`, { extra: { reason } });
  };
  if (!runId) return deny("the request does not belong to a run");
  const policy = await settings(env.DB, tenantId);
  const decision = decideEgress(request.url, policy.allow, platformHosts(env));
  if (!decision.ok) return deny(decision.reason);
  const counted = await env.DB.prepare(
    "UPDATE runs SET subrequests = subrequests + 1 WHERE id = ? AND tenant_id = ? AND status = 'running' RETURNING subrequests",
  )
    .bind(runId, tenantId)
    .first<number>("subrequests");
  if (counted === null) return deny("the run is not running");
  if (policy.subrequestsPerRun !== null && counted > policy.subrequestsPerRun) {
    return deny(`the run has used its ${policy.subrequestsPerRun} subrequests`);
  }
  const outbound = new Request(request);
  outbound.headers.delete(EGRESS_RUN_HEADER);
  return fetch(outbound);
}

/** URLs are logged without query strings, which often carry tokens. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

/** The `globalOutbound` of tenant isolates started by the local runtime; the tenant is in props. */
export class TenantEgress extends WorkerEntrypoint<DispatcherEnv, TenantProps> {
  override fetch(request: Request): Promise<Response> {
    return egress(this.env, this.ctx.props.tenantId, request.headers.get(EGRESS_RUN_HEADER), request);
  }
}
