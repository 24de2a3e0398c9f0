import type { Bound } from "../../core/env";
import type { DispatcherEnv } from "../src/env";
import { egress } from "../src/bindings/egress";

/**
 * The dispatch namespace's outbound Worker (production). Workers for Platforms routes every
 * fetch() of a user Worker here, with the parameters the dispatcher passed to `get()` —
 * `tenantId` and `runId` — in env, so the same egress policy applies as locally.
 */
export interface OutboundEnv extends Omit<OutboundBindings, "RUN_RECORDS"> {
  RUN_RECORDS: Bound<OutboundBindings, "RUN_RECORDS", DispatcherEnv["RUN_RECORDS"]>;
  tenantId?: string;
  runId?: string;
}

export default {
  fetch(request: Request, env: OutboundEnv): Promise<Response> | Response {
    if (!env.tenantId) return new Response("outbound Worker called without a tenant", { status: 403 });
    return egress(env, env.tenantId, env.runId ?? null, request);
  },
} satisfies ExportedHandler<OutboundEnv>;
