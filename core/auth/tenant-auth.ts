import { eq } from "drizzle-orm";
import { db } from "../db/client";
import { apiKeys, tenants } from "../db/schema";
import { ProblemError } from "../http/problem";
import { bearerToken, hashApiKey, isWellFormedApiKey } from "./api-key";
import type { Scope } from "./scopes";

export interface TenantPrincipal {
  tenantId: string;
  keyId: string;
  scopes: readonly Scope[];
  tenantStatus: "active" | "suspended" | "deleted";
  expiresAt: number | null;
  revoked: boolean;
}

/**
 * Resolved keys are cached in the isolate for at most this long, so revocation and suspension
 * take effect everywhere within one second while the hot path mostly skips D1.
 */
export const AUTH_CACHE_TTL_MS = 1000;
const CACHE_MAX = 10_000;
const cache = new Map<string, { principal: TenantPrincipal | null; until: number }>();

async function lookup(d1: D1Database, keyHash: string): Promise<TenantPrincipal | null> {
  const now = Date.now();
  const hit = cache.get(keyHash);
  if (hit && hit.until > now) return hit.principal;
  const row = await db(d1)
    .select({
      keyId: apiKeys.id,
      tenantId: apiKeys.tenantId,
      scopes: apiKeys.scopes,
      expiresAt: apiKeys.expiresAt,
      revokedAt: apiKeys.revokedAt,
      tenantStatus: tenants.status,
    })
    .from(apiKeys)
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(eq(apiKeys.keyHash, keyHash))
    .get();
  const principal: TenantPrincipal | null = row
    ? {
        tenantId: row.tenantId,
        keyId: row.keyId,
        scopes: JSON.parse(row.scopes) as Scope[],
        tenantStatus: row.tenantStatus,
        expiresAt: row.expiresAt,
        revoked: row.revokedAt !== null,
      }
    : null;
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(keyHash, { principal, until: now + AUTH_CACHE_TTL_MS });
  return principal;
}

/** Looks up a tenant key without judging it; null when the token is not a known key. */
export async function findTenantKey(d1: D1Database, token: string): Promise<TenantPrincipal | null> {
  if (!isWellFormedApiKey(token)) return null;
  return lookup(d1, await hashApiKey(token));
}

/**
 * Authenticates a tenant request from its `Authorization` header. The tenant comes from the
 * credential alone; nothing the caller sends elsewhere can change it.
 */
export async function authenticateTenant(
  d1: D1Database,
  authorization: string | null | undefined,
  scope: Scope,
): Promise<TenantPrincipal> {
  const token = bearerToken(authorization);
  if (!token) {
    throw new ProblemError("unauthorized", "Send a tenant API key as `Authorization: Bearer <key>`.", {
      headers: { "www-authenticate": 'Bearer realm="isoplane"' },
    });
  }
  const principal = await findTenantKey(d1, token);
  const usable =
    principal &&
    !principal.revoked &&
    principal.tenantStatus !== "deleted" &&
    (principal.expiresAt === null || principal.expiresAt > Date.now());
  if (!principal || !usable) {
    throw new ProblemError("unauthorized", "The API key is unknown, revoked or expired.", {
      headers: { "www-authenticate": 'Bearer realm="isoplane", error="invalid_token"' },
    });
  }
  if (principal.tenantStatus === "suspended") {
    throw new ProblemError("forbidden", "The tenant is suspended.");
  }
  if (!principal.scopes.includes(scope)) {
    throw new ProblemError("forbidden", `The API key lacks the \`${scope}\` scope.`);
  }
  return principal;
}

/** Tests and the control plane call this after a revocation so the change is visible at once here. */
export function clearAuthCache(): void {
  cache.clear();
}
