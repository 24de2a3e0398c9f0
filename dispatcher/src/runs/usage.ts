import { sql } from "drizzle-orm";
import { db } from "../../../core/db/client";
import { runs } from "../../../core/db/schema";
import { and, eq } from "drizzle-orm";

export interface UsageDelta {
  llmCalls?: number;
  inputTokens?: number;
  outputTokens?: number;
  storageReads?: number;
  storageWrites?: number;
  bytesRead?: number;
  bytesWritten?: number;
}

/**
 * Adds to a running run's counters in one atomic UPDATE. Scoped by tenant and by status, so a
 * script can neither charge another tenant's run nor change a run that has already ended.
 */
export async function addUsage(d1: D1Database, tenantId: string, runId: string, delta: UsageDelta): Promise<void> {
  await db(d1)
    .update(runs)
    .set({
      llmCalls: sql`${runs.llmCalls} + ${delta.llmCalls ?? 0}`,
      inputTokens: sql`${runs.inputTokens} + ${delta.inputTokens ?? 0}`,
      outputTokens: sql`${runs.outputTokens} + ${delta.outputTokens ?? 0}`,
      storageReads: sql`${runs.storageReads} + ${delta.storageReads ?? 0}`,
      storageWrites: sql`${runs.storageWrites} + ${delta.storageWrites ?? 0}`,
      bytesRead: sql`${runs.bytesRead} + ${delta.bytesRead ?? 0}`,
      bytesWritten: sql`${runs.bytesWritten} + ${delta.bytesWritten ?? 0}`,
    })
    .where(and(eq(runs.id, runId), eq(runs.tenantId, tenantId), eq(runs.status, "running")));
}
