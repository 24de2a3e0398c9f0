import { WorkerEntrypoint } from "cloudflare:workers";
import type { DispatcherEnv } from "../env";
import { problemResponse } from "../../../core/http/problem";
import { EGRESS_CREDENTIALS_HEADER, EGRESS_RUN_HEADER } from "../../../core/contract.js";
import { runStub } from "../runs/stubs";
import type { TenantProps } from "./storage";

/**
 * The egress policy's verdict on one outbound request of a tenant's run: the run's object decides
 * (with the allowlist and `subrequestsPerRun` the run was admitted with), counts what it lets
 * through and logs a denial on the run. `null` means allowed; otherwise the 403 problem to answer.
 * `credentials` is the harness's mark that the URL had `user:pass@` (the runtime drops it before
 * the policy sees the URL).
 */
export async function egressVerdict(
  env: Pick<DispatcherEnv, "RUN_RECORDS">,
  tenantId: string,
  runId: string | null,
  method: string,
  rawUrl: string,
  credentials: boolean,
): Promise<Response | null> {
  const url = redact(rawUrl);
  const deny = (reason: string) => problemResponse("egress-denied", `${method} ${url}: ${reason}.`, { extra: { reason } });
  if (!runId || !/^run_[0-9a-z]{20}$/.test(runId)) return deny("the request does not belong to a run");
  const run = runStub(env, tenantId, runId);
  if (credentials) {
    const reason = "credentials in the URL are not allowed";
    await run.platform(tenantId, "egress.denied", { method, url, reason });
    return deny(reason);
  }
  const verdict = await run.egress(tenantId, method, rawUrl, url);
  return verdict.ok ? null : deny(verdict.reason);
}

/** Applies the egress policy and forwards what it allows, without the platform's tagging headers. */
export async function egress(env: Pick<DispatcherEnv, "RUN_RECORDS">, tenantId: string, runId: string | null, request: Request): Promise<Response> {
  const denied = await egressVerdict(env, tenantId, runId, request.method, request.url, request.headers.has(EGRESS_CREDENTIALS_HEADER));
  if (denied) return denied;
  const outbound = new Request(request);
  outbound.headers.delete(EGRESS_RUN_HEADER);
  return fetch(outbound);
}

/** URLs are logged without query strings, which often carry tokens. */
export function redact(url: string): string {
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
