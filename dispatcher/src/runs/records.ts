import type { z } from "@hono/zod-openapi";
import { and, desc, eq, lt } from "drizzle-orm";
import type { TenantPrincipal } from "../../../core/auth/tenant-auth";
import { db } from "../../../core/db/client";
import { runs } from "../../../core/db/schema";
import { page } from "../../../core/http/pagination";
import { ProblemError } from "../../../core/http/problem";
import { idParam } from "../../../core/names";
import { runView } from "../../../core/runs/record";
import type { RunRecord, RunStatus } from "../../../core/runs/schemas";
import { resultKey } from "../../../core/storage/keys";
import type { DispatcherApp } from "../context";
import type { Caller } from "./run-object";
import { runStub } from "./stubs";

/** The header that names the run an answer is about (a new run's id, a replay's first run). */
export const RUN_ID_HEADER = "x-isoplane-run-id";

/** Who asks a run's object: the tenant, and the end user when the caller holds an end-user token. */
export const callerOf = (p: TenantPrincipal): Caller => ({ tenantId: p.tenantId, endUser: p.subject });

/** Runs of this tenant — and, for an end user, only their own. */
const visible = (principal: TenantPrincipal) =>
  and(eq(runs.tenantId, principal.tenantId), principal.subject !== null ? eq(runs.endUser, principal.subject) : undefined);

/**
 * A run this caller may see, from its object (the live record) or, once its retention passed and
 * the object is gone, the run index; the same 404 for one it may not see or whose id cannot exist.
 */
export async function findRun(env: DispatcherApp["Bindings"], principal: TenantPrincipal, id: string): Promise<z.infer<typeof RunRecord>> {
  const runId = idParam(id, "run", "run");
  const live = await runStub(env, principal.tenantId, runId).view(callerOf(principal));
  if (live) return live;
  const indexed = await db(env.DB).select().from(runs).where(and(eq(runs.id, runId), visible(principal))).get();
  if (!indexed) throw new ProblemError("not-found", "No run with that id.");
  return runView(indexed);
}

/** A page of the run index, newest first (written in batches from the runs' objects, so a run appears within a second or two). */
export async function listRuns(
  d1: D1Database,
  principal: TenantPrincipal,
  q: { agent?: string; status?: z.infer<typeof RunStatus>; cursor?: string; limit: number },
): Promise<{ runs: z.infer<typeof RunRecord>[]; cursor: string | null }> {
  const rows = await db(d1)
    .select()
    .from(runs)
    .where(and(visible(principal), q.agent ? eq(runs.agent, q.agent) : undefined, q.status ? eq(runs.status, q.status) : undefined, q.cursor ? lt(runs.id, q.cursor) : undefined))
    .orderBy(desc(runs.id))
    .limit(q.limit + 1)
    .all();
  const { items, cursor } = page(rows, q.limit, (r) => r.id);
  return { runs: items.map(runView), cursor };
}

/** The stored output of a succeeded run (null otherwise). */
export async function storedOutput(bucket: R2Bucket, tenantId: string, run: { id: string; status: string }): Promise<unknown> {
  if (run.status !== "succeeded") return null;
  const object = await bucket.get(resultKey(tenantId, run.id, ["output.json"]));
  return object ? object.json() : null;
}
