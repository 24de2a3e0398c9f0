import { tenantPrefix } from "../../../core/storage/keys";

/** Tenants measured per cron tick: the cron runs every minute, so this covers 72,000 tenants a day. */
const TENANTS_PER_TICK = 50;

/**
 * Measures what tenants keep in R2 today (every object under `tenants/<id>/`), for the tenants not
 * yet measured today, a bounded number per call. Billing turns the daily figures into GB-months.
 */
export async function snapshotStorage(d1: D1Database, bucket: R2Bucket, now = new Date()): Promise<number> {
  const day = now.toISOString().slice(0, 10);
  const { results } = await d1
    .prepare(
      `SELECT id FROM tenants t WHERE status <> 'deleted'
       AND NOT EXISTS (SELECT 1 FROM storage_daily s WHERE s.tenant_id = t.id AND s.day = ?1)
       ORDER BY id LIMIT ${TENANTS_PER_TICK}`,
    )
    .bind(day)
    .all<{ id: string }>();
  for (const { id } of results) {
    let bytes = 0;
    let objects = 0;
    for (let cursor: string | undefined; ; ) {
      const listed = await bucket.list({ prefix: tenantPrefix(id), limit: 1000, ...(cursor ? { cursor } : {}) });
      for (const o of listed.objects) {
        bytes += o.size;
        objects += 1;
      }
      if (!listed.truncated) break;
      cursor = listed.cursor;
    }
    await d1
      .prepare("INSERT INTO storage_daily (tenant_id, day, bytes, objects, measured_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
      .bind(id, day, bytes, objects, now.getTime())
      .run();
  }
  return results.length;
}
