import { createLocalJWKSet, decodeJwt, errors, jwtVerify, type JSONWebKeySet } from "jose";
import { eq } from "drizzle-orm";
import { db } from "../db/client";
import { tenantIssuers, tenants } from "../db/schema";
import { parseQuotas } from "../quotas";
import { TtlCache } from "../cache";
import { AUTH_CACHE_TTL_MS, checkPrincipal, credentialCaches, unauthorized, type TenantPrincipal } from "./tenant-auth";

/**
 * Only asymmetric algorithms: a tenant registers public keys, so an HMAC token "signed" with a
 * public key (the HS/RS confusion) and `alg: none` can never verify.
 */
export const JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
/** Seconds of clock skew tolerated on `exp` and `nbf`. */
export const JWT_CLOCK_TOLERANCE_S = 30;
export const DEFAULT_JWT_AUDIENCE = "isoplane";

interface Issuer {
  tenantId: string;
  jwks: ReturnType<typeof createLocalJWKSet>;
  status: TenantPrincipal["tenantStatus"];
  quotas: TenantPrincipal["quotas"];
}

const issuerCache = new TtlCache<Issuer | null>(AUTH_CACHE_TTL_MS, credentialCaches);

function loadIssuer(d1: D1Database, issuer: string): Promise<Issuer | null> {
  return issuerCache.get(issuer, async () => {
    const row = await db(d1)
      .select({ tenantId: tenantIssuers.tenantId, jwks: tenantIssuers.jwks, status: tenants.status, quotas: tenants.quotas })
      .from(tenantIssuers)
      .innerJoin(tenants, eq(tenants.id, tenantIssuers.tenantId))
      .where(eq(tenantIssuers.issuer, issuer))
      .get();
    if (!row) return null;
    return {
      tenantId: row.tenantId,
      jwks: createLocalJWKSet(JSON.parse(row.jwks) as JSONWebKeySet),
      status: row.status,
      quotas: parseQuotas(row.quotas),
    };
  });
}

/** Three base64url segments: a compact JWS, as opposed to an `isk_` API key. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

/**
 * Verifies an end-user JWT signed by a tenant. The unverified `iss` only selects which tenant's
 * keys to try; the signature (pinned algorithms), `exp` (required), `nbf`, `iss` and `aud` decide.
 * The principal may only run agents, and `sub` is recorded on each run.
 */
export async function verifyTenantJwt(d1: D1Database, token: string, audience: string): Promise<TenantPrincipal> {
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch {
    throw unauthorized("The token is not a valid JWT.", "invalid_token");
  }
  const issuer = typeof iss === "string" ? await loadIssuer(d1, iss) : null;
  if (!issuer) throw unauthorized("The token's issuer is not registered with any tenant.", "invalid_token");
  let subject: string;
  try {
    const { payload } = await jwtVerify(token, issuer.jwks, {
      algorithms: JWT_ALGORITHMS,
      issuer: iss as string,
      audience,
      clockTolerance: JWT_CLOCK_TOLERANCE_S,
      requiredClaims: ["exp", "sub"],
    });
    subject = payload.sub!;
  } catch (err) {
    const reason = err instanceof errors.JOSEError ? err.code : "ERR_INVALID";
    throw unauthorized(`The token was refused (${reason}).`, "invalid_token");
  }
  return checkPrincipal(
    {
      kind: "jwt",
      tenantId: issuer.tenantId,
      keyId: `jwt:${subject}`,
      subject,
      scopes: ["runs"],
      tenantStatus: issuer.status,
      quotas: issuer.quotas,
      expiresAt: null,
      revoked: false,
    },
    "runs",
  );
}
