import { logEvent } from "../../../core/log";
import type { Run } from "../../../core/db/schema";
import type { LedgerMessage } from "../env";

// Raw SQL on purpose, the one place besides the billing reads: the whole batch is one D1 round trip
// of set-based statements (json_each over the batch, upserts that add to the rollups, newest-wins
// by status rank), which drizzle's builder cannot express as one statement each.

const RUN_COLUMNS = [
  ["id", "id"], ["tenant_id", "tenantId"], ["agent", "agent"], ["version", "version"], ["status", "status"], ["error", "error"],
  ["created_at", "createdAt"], ["started_at", "startedAt"], ["finished_at", "finishedAt"], ["wall_ms", "wallMs"], ["cpu_ms", "cpuMs"],
  ["llm_calls", "llmCalls"], ["input_tokens", "inputTokens"], ["output_tokens", "outputTokens"], ["storage_reads", "storageReads"],
  ["storage_writes", "storageWrites"], ["bytes_read", "bytesRead"], ["bytes_written", "bytesWritten"], ["output_bytes", "outputBytes"],
  ["subrequests", "subrequests"], ["end_user", "endUser"], ["model_usage", "modelUsage"],
] as const satisfies readonly (readonly [string, keyof Run])[];

const cols = RUN_COLUMNS.map(([c]) => c).join(", ");
const picks = RUN_COLUMNS.map(([, k]) => `json_extract(e.value, '$.${k}')`).join(", ");
const updates = RUN_COLUMNS.filter(([c]) => c !== "id").map(([c]) => `${c} = excluded.${c}`).join(", ");

/**
 * Writes a batch of runs to D1 in one round trip, whatever its size: the run index (one row per
 * run, a later state replacing an earlier one, an ended run never replaced by an open one), and for
 * ended runs the usage ledger row and the daily rollups (and CPU time measured later). Rows travel
 * as one JSON parameter (`json_each`), so a batch needs six statements, not six per run. Each run's usage row is
 * written once (its key is the run id); the rollups add only the rows this batch wrote, so a
 * redelivered message is never billed twice.
 */
export async function flushRuns(d1: D1Database, messages: LedgerMessage[], now = Date.now()): Promise<number> {
  const latest = new Map<string, { run: Run; final: boolean }>();
  for (const m of messages) {
    const seen = latest.get(m.run.id);
    if (!seen || m.final || !seen.final) latest.set(m.run.id, { run: m.run, final: m.final });
  }
  if (latest.size === 0) return 0;
  const rows = JSON.stringify([...latest.values()].map(({ run, final }) => ({ ...run, final: final ? 1 : 0 })));
  const batch = `${now}-${crypto.randomUUID()}`;
  await d1.batch([
    d1
      .prepare(
        `INSERT INTO runs (${cols}) SELECT ${picks} FROM json_each(?1) AS e WHERE true
         ON CONFLICT (id) DO UPDATE SET ${updates}
         WHERE runs.status IN ('queued', 'running') OR (runs.cpu_ms IS NULL AND excluded.cpu_ms IS NOT NULL AND excluded.status = runs.status)`,
      )
      .bind(rows),
    // CPU time measured after a run's usage row was written (production tail events): added to
    // the day's rollup, then to the row, once — only rows still unmeasured change.
    d1
      .prepare(
        `UPDATE usage_daily SET
           cpu_ms = cpu_ms + (SELECT COALESCE(SUM(r.cpu_ms), 0) FROM usage u JOIN runs r ON r.id = u.run_id
                              WHERE u.tenant_id = usage_daily.tenant_id AND u.day = usage_daily.day AND u.cpu_ms IS NULL AND r.cpu_ms IS NOT NULL
                                AND u.run_id IN (SELECT json_extract(value, '$.id') FROM json_each(?1))),
           cpu_measured_runs = cpu_measured_runs + (SELECT COUNT(*) FROM usage u JOIN runs r ON r.id = u.run_id
                              WHERE u.tenant_id = usage_daily.tenant_id AND u.day = usage_daily.day AND u.cpu_ms IS NULL AND r.cpu_ms IS NOT NULL
                                AND u.run_id IN (SELECT json_extract(value, '$.id') FROM json_each(?1)))
         WHERE (tenant_id, day) IN (SELECT u.tenant_id, u.day FROM usage u JOIN runs r ON r.id = u.run_id
                                    WHERE u.cpu_ms IS NULL AND r.cpu_ms IS NOT NULL AND u.run_id IN (SELECT json_extract(value, '$.id') FROM json_each(?1)))`,
      )
      .bind(rows),
    d1
      .prepare(
        `UPDATE usage SET cpu_ms = (SELECT r.cpu_ms FROM runs r WHERE r.id = usage.run_id)
         WHERE cpu_ms IS NULL AND run_id IN (SELECT json_extract(value, '$.id') FROM json_each(?1))
           AND (SELECT r.cpu_ms FROM runs r WHERE r.id = usage.run_id) IS NOT NULL`,
      )
      .bind(rows),
    d1
      .prepare(
        `INSERT INTO usage (run_id, tenant_id, agent, version, status, day, hour, requests, wall_ms, cpu_ms, subrequests,
                            input_tokens, output_tokens, model_usage, storage_reads, storage_writes, bytes_read, bytes_written, recorded_at, batch_id)
         SELECT r.id, r.tenant_id, r.agent, r.version, r.status,
                strftime('%Y-%m-%d', r.created_at / 1000, 'unixepoch'), CAST(strftime('%H', r.created_at / 1000, 'unixepoch') AS INTEGER),
                1, COALESCE(r.wall_ms, 0), r.cpu_ms, r.subrequests, r.input_tokens, r.output_tokens, r.model_usage,
                r.storage_reads, r.storage_writes, r.bytes_read, r.bytes_written, ?2, ?3
         FROM runs r JOIN json_each(?1) AS e ON r.id = json_extract(e.value, '$.id')
         WHERE json_extract(e.value, '$.final') = 1 AND r.status NOT IN ('queued', 'running')
         ON CONFLICT (run_id) DO NOTHING`,
      )
      .bind(rows, now, batch),
    d1
      .prepare(
        `INSERT INTO usage_daily (tenant_id, day, runs, failures, wall_ms, cpu_ms, cpu_measured_runs, subrequests, input_tokens, output_tokens,
                                  storage_reads, storage_writes, bytes_read, bytes_written)
         SELECT tenant_id, day, COUNT(*), SUM(status <> 'succeeded'), SUM(wall_ms), COALESCE(SUM(cpu_ms), 0), SUM(cpu_ms IS NOT NULL), SUM(subrequests),
                SUM(input_tokens), SUM(output_tokens), SUM(storage_reads), SUM(storage_writes), SUM(bytes_read), SUM(bytes_written)
         FROM usage WHERE batch_id = ?1 GROUP BY tenant_id, day
         ON CONFLICT (tenant_id, day) DO UPDATE SET
           runs = runs + excluded.runs, failures = failures + excluded.failures, wall_ms = wall_ms + excluded.wall_ms,
           cpu_ms = cpu_ms + excluded.cpu_ms, cpu_measured_runs = cpu_measured_runs + excluded.cpu_measured_runs,
           subrequests = subrequests + excluded.subrequests, input_tokens = input_tokens + excluded.input_tokens,
           output_tokens = output_tokens + excluded.output_tokens, storage_reads = storage_reads + excluded.storage_reads,
           storage_writes = storage_writes + excluded.storage_writes, bytes_read = bytes_read + excluded.bytes_read,
           bytes_written = bytes_written + excluded.bytes_written`,
      )
      .bind(batch),
    d1
      .prepare(
        `INSERT INTO usage_daily_models (tenant_id, day, model, input_tokens, output_tokens, tenant_input_tokens, tenant_output_tokens)
         SELECT u.tenant_id, u.day, j.key, SUM(COALESCE(json_extract(j.value, '$.input'), 0)), SUM(COALESCE(json_extract(j.value, '$.output'), 0)),
                SUM(COALESCE(json_extract(j.value, '$.tenantInput'), 0)), SUM(COALESCE(json_extract(j.value, '$.tenantOutput'), 0))
         FROM usage u, json_each(u.model_usage) j WHERE u.batch_id = ?1 GROUP BY u.tenant_id, u.day, j.key
         ON CONFLICT (tenant_id, day, model) DO UPDATE SET
           input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
           tenant_input_tokens = tenant_input_tokens + excluded.tenant_input_tokens, tenant_output_tokens = tenant_output_tokens + excluded.tenant_output_tokens`,
      )
      .bind(batch),
  ]);
  return latest.size;
}

/** The ledger queue's consumer: the whole batch in one D1 round trip, retried whole on failure. */
export async function consumeLedger(batch: MessageBatch<LedgerMessage>, d1: D1Database): Promise<void> {
  try {
    await flushRuns(d1, batch.messages.map((m) => m.body));
    batch.ackAll();
  } catch (err) {
    logEvent("error", "ledger-flush-failed", { messages: batch.messages.length, error: String(err) });
    batch.retryAll({ delaySeconds: 2 });
  }
}
