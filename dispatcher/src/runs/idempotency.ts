import type { TenantPrincipal } from "../../../core/auth/tenant-auth";
import { sha256Hex } from "../../../core/crypto";

/** What an `Idempotency-Key` header may be (the run route's header schema checks it). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * The key as the tenant's object stores it: per tenant (the object is the tenant's), and per end
 * user for JWT callers — the encoding cannot make two pairs collide — with the hash of the request
 * it came with, so the same key with another agent or body is refused.
 */
export async function scopedIdempotency(principal: TenantPrincipal, key: string, request: { agent: string; body: unknown }): Promise<{ key: string; hash: string }> {
  return {
    key: principal.subject === null ? `k:${key}` : `u:${JSON.stringify([principal.subject, key])}`,
    hash: await sha256Hex(`${request.agent}\n${JSON.stringify(request.body)}`),
  };
}
