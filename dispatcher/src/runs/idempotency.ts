import type { TenantPrincipal } from "../../../core/auth/tenant-auth";
import { sha256Hex } from "../../../core/crypto";
import { ProblemError } from "../../../core/http/problem";

/** A key holds its first run this long; after that the same key starts a new run. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** A claim whose request never produced a run (the request died) is given up after this long. */
const ORPHAN_CLAIM_MS = 60_000;

/** Keys are per tenant, and per end user for JWT callers; the encoding cannot make two pairs collide. */
function scopedKey(principal: TenantPrincipal, key: string): string {
  return principal.subject === null ? `k:${key}` : `u:${JSON.stringify([principal.subject, key])}`;
}

export type Claim = { kind: "new" } | { kind: "replay"; runId: string; mode: string };

/** The `Idempotency-Key` header, checked; null when absent. */
export function idempotencyKey(header: string | undefined): string | null {
  if (header === undefined) return null;
  if (!KEY_PATTERN.test(header)) throw new ProblemError("invalid-request", "Idempotency-Key: 1 to 255 visible ASCII characters.");
  return header;
}

/**
 * Claims `key` for `runId` in one statement: a fresh key (or one older than 24 h) is taken
 * atomically, so of 20 concurrent duplicates exactly one starts a run. Any other caller gets the
 * first run — or a 422 if its request differs from the first, or a 409 while that run is going.
 */
export async function claimKey(
  d1: D1Database,
  principal: TenantPrincipal,
  key: string,
  request: { agent: string; body: unknown; mode: string },
  runId: string,
): Promise<Claim> {
  const scoped = scopedKey(principal, key);
  const hash = await sha256Hex(`${request.agent}\n${JSON.stringify(request.body)}`);
  const now = Date.now();
  const claimed = await d1
    .prepare(
      `INSERT INTO idempotency_keys (tenant_id, key, request_hash, run_id, mode, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
       ON CONFLICT (tenant_id, key) DO UPDATE SET request_hash = excluded.request_hash, run_id = excluded.run_id, mode = excluded.mode, created_at = excluded.created_at
       WHERE idempotency_keys.created_at < ?7
          OR (idempotency_keys.created_at < ?8 AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = idempotency_keys.run_id))
       RETURNING run_id`,
    )
    .bind(principal.tenantId, scoped, hash, runId, request.mode, now, now - IDEMPOTENCY_TTL_MS, now - ORPHAN_CLAIM_MS)
    .first<string>("run_id");
  if (claimed === runId) return { kind: "new" };
  const first = await d1
    .prepare(
      `SELECT k.request_hash, k.run_id, k.mode, r.status FROM idempotency_keys k LEFT JOIN runs r ON r.id = k.run_id
       WHERE k.tenant_id = ? AND k.key = ?`,
    )
    .bind(principal.tenantId, scoped)
    .first<{ request_hash: string; run_id: string; mode: string; status: string | null }>();
  if (!first) throw new ProblemError("conflict", "The Idempotency-Key changed hands; retry.");
  if (first.request_hash !== hash) {
    throw new ProblemError("idempotency-key-reused", "This Idempotency-Key was first used with a different agent or body.", {
      extra: { runId: first.run_id },
    });
  }
  if (first.status === null || first.status === "running") {
    throw new ProblemError("idempotency-key-in-use", "The first request with this Idempotency-Key is still running.", {
      headers: { "retry-after": "1" },
      extra: { runId: first.run_id },
    });
  }
  return { kind: "replay", runId: first.run_id, mode: first.mode };
}

/** Gives a key back when its request never became a run (refused by a quota, unknown agent). */
export async function releaseKey(d1: D1Database, principal: TenantPrincipal, key: string, runId: string): Promise<void> {
  const scoped = scopedKey(principal, key);
  await d1.prepare("DELETE FROM idempotency_keys WHERE tenant_id = ? AND key = ? AND run_id = ?").bind(principal.tenantId, scoped, runId).run();
}
