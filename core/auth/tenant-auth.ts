import { TtlCache } from "../cache";
import { eq } from "drizzle-orm";
import { db } from "../db/client";
import { apiKeys, tenants } from "../db/schema";
import { ProblemError } from "../http/problem";
import { parseQuotas, type QuotaName } from "../quotas";
import { hashApiKey, isWellFormedApiKey } from "./api-key";
import type { Scope } from "./scopes";

export interface TenantPrincipal {
  kind: "key" | "jwt";
  tenantId: string;
  /** The API key's id, or `jwt:<sub>` for an end user. */
  keyId: string;
  /** The end user (`sub`) when authenticated by a tenant-signed JWT. */
  subject: string | null;
  scopes: readonly Scope[];
  tenantStatus: "active" | "suspended" | "deleted";
  quotas: Record<QuotaName, number | null>;
  expiresAt: number | null;
  revoked: boolean;
}

/**
 * Resolved credentials are cached in the isolate for at most this long, so revocation and
 * suspension take effect everywhere within one second while the hot path mostly skips D1.
 */
export const AUTH_CACHE_TTL_MS = 1000;
/** Every credential cache in this isolate, so a revocation here clears them all at once. */
export const credentialCaches = new Set<{ clear(): void }>();

const keyCache = new TtlCache<TenantPrincipal | null>(AUTH_CACHE_TTL_MS, credentialCaches);
const hex = new TextEncoder();

async function lookup(d1: D1Database, keyHash: string): Promise<TenantPrincipal | null> {
  return keyCache.get(keyHash, async () => {
    const row = await db(d1)
      .select({
        keyId: apiKeys.id,
        keyHash: apiKeys.keyHash,
        tenantId: apiKeys.tenantId,
        scopes: apiKeys.scopes,
        expiresAt: apiKeys.expiresAt,
        revokedAt: apiKeys.revokedAt,
        tenantStatus: tenants.status,
        quotas: tenants.quotas,
      })
      .from(apiKeys)
      .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
      .where(eq(apiKeys.keyHash, keyHash))
      .get();
    // The index found the row; the comparison that decides is constant-time all the same.
    if (!row || !crypto.subtle.timingSafeEqual(hex.encode(row.keyHash), hex.encode(keyHash))) return null;
    return {
      kind: "key",
      tenantId: row.tenantId,
      keyId: row.keyId,
      subject: null,
      scopes: JSON.parse(row.scopes) as Scope[],
      tenantStatus: row.tenantStatus,
      quotas: parseQuotas(row.quotas),
      expiresAt: row.expiresAt,
      revoked: row.revokedAt !== null,
    };
  });
}

/** Looks up a tenant key without judging it; null when the token is not a known key. */
export async function findTenantKey(d1: D1Database, token: string): Promise<TenantPrincipal | null> {
  if (!isWellFormedApiKey(token)) return null;
  return lookup(d1, await hashApiKey(token));
}

export function unauthorized(detail: string, error?: string): ProblemError {
  return new ProblemError("unauthorized", detail, {
    headers: { "www-authenticate": `Bearer realm="isoplane"${error ? `, error="${error}"` : ""}` },
  });
}

/** Refuses a principal that may not act: gone (401), suspended (403) or lacking the scope (403). */
export function checkPrincipal(principal: TenantPrincipal | null, scope: Scope): TenantPrincipal {
  const usable =
    principal &&
    !principal.revoked &&
    principal.tenantStatus !== "deleted" &&
    (principal.expiresAt === null || principal.expiresAt > Date.now());
  if (!principal || !usable) throw unauthorized("The API key is unknown, revoked or expired.", "invalid_token");
  if (principal.tenantStatus === "suspended") throw new ProblemError("forbidden", "The tenant is suspended.");
  if (!principal.scopes.includes(scope)) throw new ProblemError("forbidden", `The credential lacks the \`${scope}\` scope.`);
  return principal;
}

/** Forgets every cached credential in this isolate (after a revocation or suspension here). */
export function clearAuthCache(): void {
  for (const cache of credentialCaches) cache.clear();
}
