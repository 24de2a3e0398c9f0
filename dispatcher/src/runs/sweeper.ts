import { ledgerStatements } from "../../../core/billing/ledger";
import type { DispatcherEnv } from "../../../core/env";
import { LEASE_MARGIN_MS } from "./lifecycle";
import { runTimeoutMs } from "./execute";
import { failRunStatements } from "./fail";

/** A queued run older than this lost its queue message (retries exhausted); it is closed. */
export const QUEUED_MAX_MS = 60 * 60 * 1000;

/**
 * Closes runs whose executor vanished (an isolate evicted or crashed mid-run): a run still
 * `running` well past its time budget can no longer end on its own. Each is marked `failed`,
 * logged, and given its usage row, so admissions, run records and usage rows stay equal.
 * Runs from the cron trigger every minute.
 */
export async function sweepLostRuns(env: DispatcherEnv, now = Date.now()): Promise<number> {
  const cutoff = now - runTimeoutMs(env) - LEASE_MARGIN_MS;
  // Also: runs queued for over an hour (their message was lost), and cancelled runs whose
  // executor vanished before writing their usage row.
  const { results } = await env.DB.prepare(
    `SELECT id, tenant_id, status FROM runs WHERE
       (status = 'running' AND COALESCE(started_at, created_at) < ?1)
       OR (status = 'queued' AND created_at < ?2)
       OR (status = 'cancelled' AND COALESCE(finished_at, created_at) < ?1 AND NOT EXISTS (SELECT 1 FROM usage u WHERE u.run_id = runs.id))
     LIMIT 100`,
  )
    .bind(cutoff, now - QUEUED_MAX_MS)
    .all<{ id: string; tenant_id: string; status: string }>();
  for (const run of results) {
    if (run.status === "cancelled") {
      await env.DB.batch([
        env.DB.prepare("UPDATE runs SET wall_ms = COALESCE(wall_ms, finished_at - COALESCE(started_at, created_at)) WHERE id = ?").bind(run.id),
        ...ledgerStatements(env.DB, run.id, now),
      ]);
      continue;
    }
    const error = run.status === "queued" ? "The run waited in the queue too long and was never started." : "The platform lost this run (its executor stopped before it ended).";
    await env.DB.batch(failRunStatements(env.DB, { id: run.id, tenantId: run.tenant_id, from: run.status as "queued" | "running", error }, now));
  }
  return results.length;
}
