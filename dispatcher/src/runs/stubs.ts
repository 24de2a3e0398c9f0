import type { DispatcherEnv } from "../../../core/env";

/** The Durable Object that owns one run (named by the run id). */
export const runStub = (env: Pick<DispatcherEnv, "RUN_RECORDS">, runId: string) => env.RUN_RECORDS.get(env.RUN_RECORDS.idFromName(runId));

/** The Durable Object that owns one tenant's admission, active versions, idempotency keys and async lane. */
export const tenantStub = (env: Pick<DispatcherEnv, "TENANTS">, tenantId: string) => env.TENANTS.get(env.TENANTS.idFromName(tenantId));
