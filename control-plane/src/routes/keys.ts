import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import { displayPrefix, generateApiKey, hashApiKey } from "../../../core/auth/api-key";
import { SCOPES, type Scope } from "../../../core/auth/scopes";
import { clearAuthCache } from "../../../core/auth/tenant-auth";
import { auditInsert } from "../audit";
import { db } from "../../../core/db/client";
import { apiKeys, type ApiKey } from "../../../core/db/schema";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import { ProblemError } from "../../../core/http/problem";
import { newId } from "../../../core/ids";
import { isoTime } from "../../../core/log";
import { idParam } from "../../../core/names";
import type { ControlPlaneApp } from "../context";
import { CreatedKey, CreateKey, KeyList, KeyView, TenantIdParam } from "../schemas";

/** Mounted under `/admin/tenants/:tenantId/keys` (admin only), which finds the tenant first. */
export const keyRoutes = new OpenAPIHono<ControlPlaneApp>();

function keyView(k: ApiKey, now = Date.now()): z.infer<typeof KeyView> {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    scopes: JSON.parse(k.scopes) as Scope[],
    createdAt: isoTime(k.createdAt),
    expiresAt: isoTime(k.expiresAt),
    revokedAt: isoTime(k.revokedAt),
    status: k.revokedAt !== null ? "revoked" : k.expiresAt !== null && k.expiresAt <= now ? "expired" : "active",
  };
}

const createKey = createRoute({
  method: "post",
  path: "/",
  operationId: "createKey",
  summary: "Create an API key (the secret is shown once); optional scopes and expiry",
  security: bearerSecurity,
  request: { params: TenantIdParam, body: { content: { "application/json": { schema: CreateKey } } } },
  responses: { 201: { description: "Created", content: { "application/json": { schema: CreatedKey } } }, ...problems(400, 401, 403, 404, 413, 415) },
});

openapi(keyRoutes, createKey, async (c) => {
  const tenant = c.var.managedTenant;
  const body = c.req.valid("json");
  const now = Date.now();
  const expiresAt = body.expiresAt ? Date.parse(body.expiresAt) : null;
  if (expiresAt !== null && expiresAt <= now) throw new ProblemError("invalid-request", "expiresAt: must be in the future");
  const key = generateApiKey();
  const row: ApiKey = {
    id: newId("key", now),
    tenantId: tenant.id,
    name: body.name ?? null,
    keyHash: await hashApiKey(key),
    prefix: displayPrefix(key),
    scopes: JSON.stringify(body.scopes ? [...new Set(body.scopes)] : [...SCOPES]),
    createdAt: now,
    expiresAt,
    revokedAt: null,
  };
  const d = db(c.env.DB);
  await d.batch([
    d.insert(apiKeys).values(row),
    auditInsert(d, { actor: c.var.actor, tenantId: tenant.id, action: "key.create", target: row.id, detail: { scopes: JSON.parse(row.scopes) } }),
  ]);
  return c.json({ ...keyView(row, now), key } satisfies z.infer<typeof CreatedKey>, 201);
});

const listKeys = createRoute({
  method: "get",
  path: "/",
  operationId: "listKeys",
  summary: "A tenant's keys (never the secrets)",
  security: bearerSecurity,
  request: { params: TenantIdParam },
  responses: { 200: { description: "Keys", content: { "application/json": { schema: KeyList } } }, ...problems(401, 403, 404) },
});

openapi(keyRoutes, listKeys, async (c) => {
  const rows = await db(c.env.DB).select().from(apiKeys).where(eq(apiKeys.tenantId, c.var.managedTenant.id)).orderBy(asc(apiKeys.createdAt)).all();
  return c.json({ keys: rows.map((k) => keyView(k)) } satisfies z.infer<typeof KeyList>);
});

const revokeKey = createRoute({
  method: "delete",
  path: "/{keyId}",
  operationId: "revokeKey",
  summary: "Revoke a key (effective everywhere within one second)",
  security: bearerSecurity,
  request: { params: TenantIdParam.extend({ keyId: z.string().openapi({ param: { name: "keyId", in: "path" } }) }) },
  responses: { 204: { description: "Revoked" }, ...problems(401, 403, 404) },
});

/** Revocation is immediate in this isolate and within one second (the auth cache TTL) everywhere. */
openapi(keyRoutes, revokeKey, async (c) => {
  const tenant = c.var.managedTenant;
  const keyId = idParam(c.req.valid("param").keyId, "key", "key");
  const key = await db(c.env.DB)
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, tenant.id)))
    .get();
  if (!key) throw new ProblemError("not-found", "No key with that id.");
  if (key.revokedAt === null) {
    const d = db(c.env.DB);
    await d.batch([
      d.update(apiKeys).set({ revokedAt: Date.now() }).where(eq(apiKeys.id, key.id)),
      auditInsert(d, { actor: c.var.actor, tenantId: tenant.id, action: "key.revoke", target: key.id }),
    ]);
  }
  clearAuthCache();
  return c.body(null, 204);
});
