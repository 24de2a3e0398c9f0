/**
 * Appends an event to a run's log. The sequence number is taken inside the statement, which D1
 * runs atomically, so concurrent appends to one run never collide. Scoped by tenant.
 */
export async function appendRunEvent(d1: D1Database, tenantId: string, runId: string, type: string, data: unknown): Promise<void> {
  await d1
    .prepare(
      `INSERT INTO run_events (run_id, seq, at, type, data)
       SELECT ?1, COALESCE((SELECT MAX(seq) FROM run_events WHERE run_id = ?1), 0) + 1, ?2, ?3, ?4
       WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?1 AND tenant_id = ?5)`,
    )
    .bind(runId, Date.now(), type, JSON.stringify(data ?? null), tenantId)
    .run();
}
