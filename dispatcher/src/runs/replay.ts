import type { Context } from "hono";
import type { TenantPrincipal } from "../../../core/auth/tenant-auth";
import { ProblemError } from "../../../core/http/problem";
import type { DispatcherApp } from "../context";
import { callerOf, RUN_ID_HEADER, storedOutput } from "./records";
import { runStub } from "./stubs";

/**
 * What a repeated request with the same Idempotency-Key gets: the first run, as the first request
 * got it (202 and its id for an async run, else the run and its output), marked as a replay.
 */
export async function replay(c: Context<DispatcherApp>, principal: TenantPrincipal, runId: string, mode: string): Promise<Response> {
  const view = await runStub(c.env, principal.tenantId, runId).view(callerOf(principal));
  if (!view) throw new ProblemError("not-found", "No run with that id.");
  c.header("idempotent-replayed", "true");
  c.header(RUN_ID_HEADER, runId);
  if (mode === "async") return c.json({ id: view.id, status: view.status }, 202);
  return c.json({ ...view, output: await storedOutput(c.env.BUCKET, principal.tenantId, view) }, 200);
}
