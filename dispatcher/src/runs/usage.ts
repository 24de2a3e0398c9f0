import { and, eq, inArray, sql } from "drizzle-orm";
import { db } from "../../../core/db/client";
import { runs } from "../../../core/db/schema";

export interface UsageDelta {
  /** The model the tokens below were used with (kept per model for billing). */
  model?: string;
  llmCalls?: number;
  inputTokens?: number;
  outputTokens?: number;
  storageReads?: number;
  storageWrites?: number;
  bytesRead?: number;
  bytesWritten?: number;
}

/**
 * Adds to a run's counters in one atomic UPDATE. Scoped by tenant, so a script can never charge
 * another tenant's run; and by status — a cancelled or timed-out run's isolate may still be
 * working, and what it consumes is still counted, but a run that ended normally takes nothing more.
 */
export async function addUsage(d1: D1Database, tenantId: string, runId: string, delta: UsageDelta): Promise<void> {
  await db(d1)
    .update(runs)
    .set(increments(delta))
    .where(and(eq(runs.id, runId), eq(runs.tenantId, tenantId), inArray(runs.status, ["running", "cancelled", "timed_out"])));
}

/**
 * Charges the start of an operation to a run that is running now — or refuses the operation. A
 * binding handed to tenant code must not work outside a live run of its own tenant (after the run
 * ended, from a saved reference in a later run, or with a made-up run id): such use could never
 * be billed.
 */
export async function chargeRunning(d1: D1Database, tenantId: string, runId: string, delta: UsageDelta): Promise<void> {
  const row = await db(d1)
    .update(runs)
    .set(increments(delta))
    .where(and(eq(runs.id, runId), eq(runs.tenantId, tenantId), eq(runs.status, "running")))
    .returning({ id: runs.id })
    .get();
  if (!row) throw new Error("platform bindings only work during a run of this tenant (this run is not running)");
}

function increments(delta: UsageDelta) {
  return {
      llmCalls: sql`${runs.llmCalls} + ${delta.llmCalls ?? 0}`,
      inputTokens: sql`${runs.inputTokens} + ${delta.inputTokens ?? 0}`,
      outputTokens: sql`${runs.outputTokens} + ${delta.outputTokens ?? 0}`,
      storageReads: sql`${runs.storageReads} + ${delta.storageReads ?? 0}`,
      storageWrites: sql`${runs.storageWrites} + ${delta.storageWrites ?? 0}`,
      bytesRead: sql`${runs.bytesRead} + ${delta.bytesRead ?? 0}`,
      bytesWritten: sql`${runs.bytesWritten} + ${delta.bytesWritten ?? 0}`,
      ...(delta.model !== undefined ? { modelUsage: modelUsageSql(delta.model, delta.inputTokens ?? 0, delta.outputTokens ?? 0) } : {}),
  };
}

/** Adds tokens to one model's entry of the run's `model_usage` JSON, in SQL (atomic with the rest). */
function modelUsageSql(model: string, input: number, output: number) {
  const path = `$."${model.replace(/["\\]/g, "_").slice(0, 200)}"`;
  return sql`json_set(${runs.modelUsage}, ${path}, json_object(
    'input', COALESCE(json_extract(${runs.modelUsage}, ${path} || '.input'), 0) + ${input},
    'output', COALESCE(json_extract(${runs.modelUsage}, ${path} || '.output'), 0) + ${output}))`;
}
