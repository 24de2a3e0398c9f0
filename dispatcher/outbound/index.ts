import { egress } from "../src/bindings/egress";
import type { OutboundEnv } from "./env";

export type { OutboundEnv } from "./env";

/**
 * The dispatch namespace's outbound Worker (production). Workers for Platforms routes every
 * fetch() of a user Worker here, with the parameters the dispatcher passed to `get()` —
 * `tenantId` and `runId` — in env, so the same egress policy applies as locally.
 */
export default {
  fetch(request: Request, env: OutboundEnv): Promise<Response> | Response {
    if (!env.tenantId) return new Response("outbound Worker called without a tenant", { status: 403 });
    return egress(env, env.tenantId, env.runId ?? null, request);
  },
} satisfies ExportedHandler<OutboundEnv>;
