import { z } from "@hono/zod-openapi";

// Raw SQL on purpose: hour buckets are aggregated from the ledger's per-model JSON with json_each,
// which drizzle's builder cannot express.

const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "a date as YYYY-MM-DD");
/** `from`/`to` (UTC days, inclusive) and the bucket size, for tenants' and operators' usage reads alike. */
export const UsageQuery = z.object({ from: Day, to: Day, granularity: z.enum(["hour", "day"]).default("day") });

export const UsageBucket = z
  .object({
    start: z.string(),
    runs: z.number().int(),
    failures: z.number().int(),
    wallMs: z.number().int(),
    cpuMs: z.number().int().nullable().openapi({ description: "Null: not measured." }),
    inputTokens: z.number().int(),
    outputTokens: z.number().int(),
    subrequests: z.number().int(),
  })
  .openapi("UsageBucket");

/** A tenant's ledger totals per day (from the rollups) or per hour (from the rows), `from`..`to` inclusive, UTC. */
export async function usageBuckets(d1: D1Database, tenantId: string, from: string, to: string, granularity: "hour" | "day") {
  const sql =
    granularity === "day"
      ? `SELECT day AS bucket, runs, failures, wall_ms, cpu_ms, cpu_measured_runs, input_tokens, output_tokens, subrequests
         FROM usage_daily WHERE tenant_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day`
      : `SELECT day || 'T' || printf('%02d', hour) || ':00:00Z' AS bucket, COUNT(*) AS runs, SUM(status <> 'succeeded') AS failures,
                SUM(wall_ms) AS wall_ms, COALESCE(SUM(cpu_ms), 0) AS cpu_ms, SUM(cpu_ms IS NOT NULL) AS cpu_measured_runs,
                SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens, SUM(subrequests) AS subrequests
         FROM usage WHERE tenant_id = ?1 AND day >= ?2 AND day <= ?3 GROUP BY day, hour ORDER BY day, hour`;
  const rows = (await d1.prepare(sql).bind(tenantId, from, to).all<Record<string, string | number>>()).results;
  return rows.map((r) => ({
    start: String(r.bucket),
    runs: Number(r.runs),
    failures: Number(r.failures),
    wallMs: Number(r.wall_ms),
    cpuMs: Number(r.cpu_measured_runs) > 0 ? Number(r.cpu_ms) : null,
    inputTokens: Number(r.input_tokens),
    outputTokens: Number(r.output_tokens),
    subrequests: Number(r.subrequests),
  }));
}


export const ModelBucket = z
  .object({ start: z.string(), model: z.string(), inputTokens: z.number().int(), outputTokens: z.number().int() })
  .openapi("ModelBucket");

/** A tenant's model tokens per bucket and model (the same buckets as `usageBuckets`). */
export async function modelBuckets(d1: D1Database, tenantId: string, from: string, to: string, granularity: "hour" | "day"): Promise<z.infer<typeof ModelBucket>[]> {
  const sql =
    granularity === "day"
      ? `SELECT day AS bucket, model, input_tokens, output_tokens
         FROM usage_daily_models WHERE tenant_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day, model`
      : `SELECT u.day || 'T' || printf('%02d', u.hour) || ':00:00Z' AS bucket, j.key AS model,
                SUM(COALESCE(json_extract(j.value, '$.input'), 0)) AS input_tokens, SUM(COALESCE(json_extract(j.value, '$.output'), 0)) AS output_tokens
         FROM usage u, json_each(u.model_usage) j WHERE u.tenant_id = ?1 AND u.day >= ?2 AND u.day <= ?3
         GROUP BY u.day, u.hour, j.key ORDER BY u.day, u.hour, j.key`;
  const rows = (await d1.prepare(sql).bind(tenantId, from, to).all<Record<string, string | number>>()).results;
  return rows.map((r) => ({ start: String(r.bucket), model: String(r.model), inputTokens: Number(r.input_tokens), outputTokens: Number(r.output_tokens) }));
}
