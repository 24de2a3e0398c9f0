import { ledgerStatements } from "../../../core/billing/ledger";
import { appendStatement } from "./events";

/**
 * Ends a run the platform gave up on — never started (queued) or lost mid-run — as `failed`, in one
 * transaction with its `run.failed` event and its usage row. Only a run still in `from` changes,
 * so a run that ended meanwhile keeps its outcome. A run that never started used no wall time.
 */
export function failRunStatements(
  d1: D1Database,
  run: { id: string; tenantId: string; from: "queued" | "running"; error: string },
  now = Date.now(),
): D1PreparedStatement[] {
  return [
    d1
      .prepare(
        "UPDATE runs SET status = 'failed', error = ?, finished_at = ?, wall_ms = CASE WHEN started_at IS NULL THEN 0 ELSE COALESCE(wall_ms, ? - started_at) END WHERE id = ? AND status = ?",
      )
      .bind(run.error, now, now, run.id, run.from),
    appendStatement(d1, run.tenantId, run.id, "run.failed", { id: run.id, status: "failed", error: run.error }, now),
    ...ledgerStatements(d1, run.id, now),
  ];
}
