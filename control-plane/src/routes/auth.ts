import { createRoute, OpenAPIHono, type z } from "@hono/zod-openapi";
import { eq, sql } from "drizzle-orm";
import { importJWK, type JWK } from "jose";
import { requireTenant } from "../../../core/auth/middleware";
import { DEFAULT_JWT_AUDIENCE, JWT_ALGORITHMS } from "../../../core/auth/jwt";
import { clearAuthCache } from "../../../core/auth/tenant-auth";
import { auditInsert } from "../audit";
import { db } from "../../../core/db/client";
import { tenantIssuers } from "../../../core/db/schema";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import { ProblemError } from "../../../core/http/problem";
import { isoTime } from "../../../core/log";
import type { ControlPlaneApp } from "../context";
import { JwksView, PutJwks } from "../schemas";

/** `/v1/auth/jwks`: a tenant registers the issuer and public keys of the JWTs its end users carry. */
export const authRoutes = new OpenAPIHono<ControlPlaneApp>();
authRoutes.use("*", requireTenant("scripts"));

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];

/** Each key must be a usable public signing key: no private or symmetric material, a pinned algorithm. */
async function checkKey(jwk: Record<string, unknown>, index: number): Promise<void> {
  const bad = (why: string) => new ProblemError("invalid-request", `jwks.keys.${index}: ${why}`);
  if (PRIVATE_MEMBERS.some((m) => m in jwk)) throw bad("private or symmetric key material is not accepted; send the public key");
  const alg = typeof jwk.alg === "string" ? jwk.alg : jwk.kty === "RSA" ? "RS256" : jwk.kty === "OKP" ? "EdDSA" : jwk.crv === "P-384" ? "ES384" : jwk.crv === "P-521" ? "ES512" : "ES256";
  if (!JWT_ALGORITHMS.includes(alg)) throw bad(`algorithm ${alg} is not accepted (use one of ${JWT_ALGORITHMS.join(", ")})`);
  try {
    await importJWK(jwk as JWK, alg);
  } catch (err) {
    throw bad(`not a valid ${alg} public key (${(err as Error).message})`);
  }
}

function view(row: typeof tenantIssuers.$inferSelect, audience: string): z.infer<typeof JwksView> {
  return { issuer: row.issuer, jwks: JSON.parse(row.jwks), audience, updatedAt: isoTime(row.updatedAt) };
}

const registered = { description: "The registered issuer", content: { "application/json": { schema: JwksView } } };

const putJwks = createRoute({
  method: "put",
  path: "/jwks",
  operationId: "putJwks",
  summary: "Register the issuer and public JWKS of your end users' tokens (replaces any previous one)",
  security: bearerSecurity,
  request: { body: { required: true, content: { "application/json": { schema: PutJwks } } } },
  responses: { 200: registered, ...problems(400, 401, 403, 409, 413, 415) },
});

openapi(authRoutes, putJwks, async (c) => {
  const { tenantId, keyId } = c.var.tenant;
  const body = c.req.valid("json");
  await Promise.all(body.jwks.keys.map((k, i) => checkKey(k, i)));
  const taken = await db(c.env.DB).select({ tenantId: tenantIssuers.tenantId }).from(tenantIssuers).where(eq(tenantIssuers.issuer, body.issuer)).get();
  if (taken && taken.tenantId !== tenantId) throw new ProblemError("conflict", "That issuer is registered by another tenant; use an issuer of your own.");
  const now = Date.now();
  const d = db(c.env.DB);
  await d.batch([
    d
      .insert(tenantIssuers)
      .values({ tenantId, issuer: body.issuer, jwks: JSON.stringify(body.jwks), updatedAt: now })
      .onConflictDoUpdate({
        target: tenantIssuers.tenantId,
        set: { issuer: sql`excluded.issuer`, jwks: sql`excluded.jwks`, updatedAt: sql`excluded.updated_at` },
      }),
    auditInsert(d, { actor: { kind: "key", keyId }, tenantId, action: "jwks.put", target: body.issuer, detail: { keys: body.jwks.keys.length } }),
  ]);
  clearAuthCache();
  return c.json(view({ tenantId, issuer: body.issuer, jwks: JSON.stringify(body.jwks), updatedAt: now }, c.env.JWT_AUDIENCE ?? DEFAULT_JWT_AUDIENCE));
});

const getJwks = createRoute({
  method: "get",
  path: "/jwks",
  operationId: "getJwks",
  summary: "The registered issuer",
  security: bearerSecurity,
  responses: { 200: registered, ...problems(401, 403, 404) },
});

openapi(authRoutes, getJwks, async (c) => {
  const row = await db(c.env.DB).select().from(tenantIssuers).where(eq(tenantIssuers.tenantId, c.var.tenant.tenantId)).get();
  if (!row) throw new ProblemError("not-found", "No issuer is registered.");
  return c.json(view(row, c.env.JWT_AUDIENCE ?? DEFAULT_JWT_AUDIENCE));
});

const deleteJwks = createRoute({
  method: "delete",
  path: "/jwks",
  operationId: "deleteJwks",
  summary: "Stop accepting end-user tokens",
  security: bearerSecurity,
  responses: { 204: { description: "Removed" }, ...problems(401, 403) },
});

openapi(authRoutes, deleteJwks, async (c) => {
  const { tenantId, keyId } = c.var.tenant;
  const d = db(c.env.DB);
  await d.batch([d.delete(tenantIssuers).where(eq(tenantIssuers.tenantId, tenantId)), auditInsert(d, { actor: { kind: "key", keyId }, tenantId, action: "jwks.delete" })]);
  clearAuthCache();
  return c.body(null, 204);
});
