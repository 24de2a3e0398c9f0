import { ledgerStatements } from "../../../core/billing/ledger";
import type { DispatcherEnv } from "../../../core/env";
import { LEASE_MARGIN_MS } from "./lifecycle";
import { runTimeoutMs } from "./execute";

/**
 * Closes runs whose executor vanished (an isolate evicted or crashed mid-run): a run still
 * `running` well past its time budget can no longer end on its own. Each is marked `failed`,
 * logged, and given its usage row, so admissions, run records and usage rows stay equal.
 * Runs from the cron trigger every minute.
 */
export async function sweepLostRuns(env: DispatcherEnv, now = Date.now()): Promise<number> {
  const cutoff = now - runTimeoutMs(env) - LEASE_MARGIN_MS;
  const { results } = await env.DB.prepare("SELECT id, tenant_id FROM runs WHERE status = 'running' AND COALESCE(started_at, created_at) < ? LIMIT 100")
    .bind(cutoff)
    .all<{ id: string; tenant_id: string }>();
  for (const run of results) {
    const error = "The platform lost this run (its executor stopped before it ended).";
    await env.DB.batch([
      env.DB.prepare("UPDATE runs SET status = 'failed', error = ?, finished_at = ?, wall_ms = COALESCE(wall_ms, ? - COALESCE(started_at, created_at)) WHERE id = ? AND status = 'running'").bind(
        error,
        now,
        now,
        run.id,
      ),
      env.DB.prepare(
        `INSERT INTO run_events (run_id, seq, at, type, data)
         SELECT ?1, COALESCE((SELECT MAX(seq) FROM run_events WHERE run_id = ?1), 0) + 1, ?2, 'run.failed', json_object('id', ?1, 'status', 'failed', 'error', ?3)`,
      ).bind(run.id, now, error),
      ...ledgerStatements(env.DB, run.id, now),
    ]);
  }
  return results.length;
}
