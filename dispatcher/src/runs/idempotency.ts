import type { TenantPrincipal } from "../../../core/auth/tenant-auth";
import { sha256Hex } from "../../../core/crypto";
import { ProblemError } from "../../../core/http/problem";

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** The `Idempotency-Key` header, checked; null when absent. */
export function idempotencyKey(header: string | undefined): string | null {
  if (header === undefined) return null;
  if (!KEY_PATTERN.test(header)) throw new ProblemError("invalid-request", "Idempotency-Key: 1 to 255 visible ASCII characters.");
  return header;
}

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
