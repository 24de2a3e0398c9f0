/**
 * The usage ledger's writes, as statements to run in the same D1 batch as the change that ends a
 * run — so a run can never end without its usage row, nor be billed twice (the row's key is the
 * run id; the daily rollup only adds a row this batch wrote).
 */
export function ledgerStatements(d1: D1Database, runId: string, now = Date.now()): D1PreparedStatement[] {
  return [
    d1
      .prepare(
        `INSERT INTO usage (run_id, tenant_id, agent, version, status, day, hour, requests, wall_ms, cpu_ms, subrequests,
                            input_tokens, output_tokens, model_usage, storage_reads, storage_writes, bytes_read, bytes_written, recorded_at)
         SELECT id, tenant_id, agent, version, status,
                strftime('%Y-%m-%d', created_at / 1000, 'unixepoch'), CAST(strftime('%H', created_at / 1000, 'unixepoch') AS INTEGER),
                1, COALESCE(wall_ms, 0), cpu_ms, subrequests, input_tokens, output_tokens, model_usage,
                storage_reads, storage_writes, bytes_read, bytes_written, ?2
         FROM runs WHERE id = ?1 AND status NOT IN ('queued', 'running')
         ON CONFLICT (run_id) DO NOTHING`,
      )
      .bind(runId, now),
    d1
      .prepare(
        `INSERT INTO usage_daily (tenant_id, day, runs, failures, wall_ms, cpu_ms, cpu_measured_runs, subrequests, input_tokens, output_tokens,
                                  storage_reads, storage_writes, bytes_read, bytes_written)
         SELECT tenant_id, day, 1, status <> 'succeeded', wall_ms, COALESCE(cpu_ms, 0), cpu_ms IS NOT NULL, subrequests, input_tokens, output_tokens,
                storage_reads, storage_writes, bytes_read, bytes_written
         FROM usage WHERE run_id = ?1 AND recorded_at = ?2
         ON CONFLICT (tenant_id, day) DO UPDATE SET
           runs = runs + excluded.runs, failures = failures + excluded.failures, wall_ms = wall_ms + excluded.wall_ms,
           cpu_ms = cpu_ms + excluded.cpu_ms, cpu_measured_runs = cpu_measured_runs + excluded.cpu_measured_runs,
           subrequests = subrequests + excluded.subrequests, input_tokens = input_tokens + excluded.input_tokens,
           output_tokens = output_tokens + excluded.output_tokens, storage_reads = storage_reads + excluded.storage_reads,
           storage_writes = storage_writes + excluded.storage_writes, bytes_read = bytes_read + excluded.bytes_read,
           bytes_written = bytes_written + excluded.bytes_written`,
      )
      .bind(runId, now),
    d1
      .prepare(
        `INSERT INTO usage_daily_models (tenant_id, day, model, input_tokens, output_tokens)
         SELECT u.tenant_id, u.day, j.key, COALESCE(json_extract(j.value, '$.input'), 0), COALESCE(json_extract(j.value, '$.output'), 0)
         FROM usage u, json_each(u.model_usage) j WHERE u.run_id = ?1 AND u.recorded_at = ?2
         ON CONFLICT (tenant_id, day, model) DO UPDATE SET
           input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens`,
      )
      .bind(runId, now),
  ];
}

/**
 * CPU time measured after the run ended (production tail events): set once on the run, its
 * ledger row and its day's rollup. A second report for the same run changes nothing.
 */
export function cpuStatements(d1: D1Database, runId: string, tenantId: string, cpuMs: number): D1PreparedStatement[] {
  return [
    d1
      .prepare(
        `UPDATE usage_daily SET cpu_ms = cpu_ms + ?3, cpu_measured_runs = cpu_measured_runs + 1
         WHERE (tenant_id, day) = (SELECT tenant_id, day FROM usage WHERE run_id = ?1 AND tenant_id = ?2 AND cpu_ms IS NULL)`,
      )
      .bind(runId, tenantId, cpuMs),
    d1.prepare("UPDATE usage SET cpu_ms = ?3 WHERE run_id = ?1 AND tenant_id = ?2 AND cpu_ms IS NULL").bind(runId, tenantId, cpuMs),
    d1.prepare("UPDATE runs SET cpu_ms = ?3 WHERE id = ?1 AND tenant_id = ?2 AND cpu_ms IS NULL").bind(runId, tenantId, cpuMs),
  ];
}
