import { and, asc, eq, ne, notExists, sql } from "drizzle-orm";
import { db } from "../../../core/db/client";
import { storageDaily, tenants } from "../../../core/db/schema";
import { tenantPrefix } from "../../../core/storage/keys";

/** Tenants measured per cron tick: the cron runs every minute, so this covers 72,000 tenants a day. */
const TENANTS_PER_TICK = 50;

/**
 * Measures what tenants keep in R2 today (every object under `tenants/<id>/`), for the tenants not
 * yet measured today, a bounded number per call. Billing turns the daily figures into GB-months.
 */
export async function snapshotStorage(d1: D1Database, bucket: R2Bucket, now = new Date()): Promise<number> {
  const day = now.toISOString().slice(0, 10);
  const d = db(d1);
  const results = await d
    .select({ id: tenants.id })
    .from(tenants)
    .where(
      and(
        ne(tenants.status, "deleted"),
        notExists(d.select({ one: sql`1` }).from(storageDaily).where(and(eq(storageDaily.tenantId, tenants.id), eq(storageDaily.day, day)))),
      ),
    )
    .orderBy(asc(tenants.id))
    .limit(TENANTS_PER_TICK)
    .all();
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
    await d.insert(storageDaily).values({ tenantId: id, day, bytes, objects, measuredAt: now.getTime() }).onConflictDoNothing().run();
  }
  return results.length;
}
