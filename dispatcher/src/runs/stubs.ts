import type { DispatcherEnv } from "../env";
import type { RunObject } from "./run-object";
import { runObjectName } from "./shards";

/** The methods a caller may ask of one run; the run's id is bound by `runStub`. */
type RunMethods = Pick<
  RunObject,
  "create" | "start" | "waitForEnd" | "close" | "cancel" | "fail" | "charge" | "storageBegin" | "llmBegin" | "egress" | "meter" | "append" | "platform" | "recordNote" | "view" | "state" | "events" | "follow"
>;
export type RunHandle = { [K in keyof RunMethods]: RunMethods[K] extends (runId: string, ...args: infer A) => infer R ? (...args: A) => R : never };

/**
 * The object that owns one run, with the run's id bound to every call. A run id under another
 * tenant lands in an object that has no such run: the same "no such run" as a missing one.
 */
export function runStub(env: Pick<DispatcherEnv, "RUN_RECORDS">, tenantId: string, runId: string): RunHandle {
  const stub = env.RUN_RECORDS.get(env.RUN_RECORDS.idFromName(runObjectName(tenantId, runId))) as unknown as Record<string, (...args: unknown[]) => unknown>;
  return new Proxy({} as RunHandle, { get: (_, method: string) => (...args: unknown[]) => stub[method]!(runId, ...args) });
}

/** The Durable Object that owns one tenant's admission, active versions, idempotency keys and async lane. */
export const tenantStub = (env: Pick<DispatcherEnv, "TENANTS">, tenantId: string) => env.TENANTS.get(env.TENANTS.idFromName(tenantId));
