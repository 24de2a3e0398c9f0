import { createRoute, OpenAPIHono, type z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import { requireTenant } from "../../../core/auth/middleware";
import { db } from "../../../core/db/client";
import { providerKeys } from "../../../core/db/schema";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import { ProblemError } from "../../../core/http/problem";
import { isoTime } from "../../../core/log";
import { sealProviderKey } from "../../../core/secrets";
import { auditInsert } from "../audit";
import type { ControlPlaneApp } from "../context";
import { checkKeyProvider } from "../models/check";
import { ProviderKeyList, ProviderKeyView, ProviderParam, PutProviderKey } from "../schemas";
import { notifyDispatcher } from "../tenants/notify";

/**
 * `/v1/provider-keys` (the `scripts` scope): a tenant's own keys for model providers (BYOK). Its
 * runs on that provider use the key; tenant code never sees it, and the tokens it serves are
 * exported as the tenant's, at no token charge.
 */
export const providerKeyRoutes = new OpenAPIHono<ControlPlaneApp>();
providerKeyRoutes.use("*", requireTenant("scripts"));

const putKey = createRoute({
  method: "put",
  path: "/{provider}",
  operationId: "putProviderKey",
  summary: "Store the tenant's own key for a model provider. Sealed at rest, never returned.",
  security: bearerSecurity,
  request: { params: ProviderParam, body: { required: true, content: { "application/json": { schema: PutProviderKey } } } },
  responses: { 200: { description: "Stored", content: { "application/json": { schema: ProviderKeyView } } }, ...problems(400, 401, 403, 404, 413, 415, 503) },
});

openapi(providerKeyRoutes, putKey, async (c) => {
  const { provider } = c.req.valid("param");
  const { tenantId, keyId } = c.var.tenant;
  checkKeyProvider(c.env, provider);
  const { key } = c.req.valid("json");
  // It is sent as a request header: printable ASCII, no spaces, or every call would fail later.
  if (!/^[\x21-\x7e]+$/.test(key)) throw new ProblemError("invalid-request", "key: an API key is printable ASCII without spaces or line breaks (it is sent as a request header).");
  const sealed = await sealProviderKey(c.env.SECRETS_KEY, tenantId, provider, key);
  const now = Date.now();
  const d = db(c.env.DB);
  await d.batch([
    d
      .insert(providerKeys)
      .values({ tenantId, provider, sealed, updatedAt: now })
      .onConflictDoUpdate({ target: [providerKeys.tenantId, providerKeys.provider], set: { sealed, updatedAt: now } }),
    // The audit row names the provider, never the key.
    auditInsert(d, { actor: { kind: "key", keyId }, tenantId, action: "provider-key.put", target: provider }),
  ]);
  await notifyDispatcher(c.env, tenantId, { config: true });
  return c.json({ provider, updatedAt: isoTime(now) } satisfies z.infer<typeof ProviderKeyView>);
});

const listKeys = createRoute({
  method: "get",
  path: "/",
  operationId: "listProviderKeys",
  summary: "The providers the tenant stored its own key for (never the keys)",
  security: bearerSecurity,
  responses: { 200: { description: "Providers", content: { "application/json": { schema: ProviderKeyList } } }, ...problems(401, 403) },
});

openapi(providerKeyRoutes, listKeys, async (c) => {
  const rows = await db(c.env.DB)
    .select({ provider: providerKeys.provider, updatedAt: providerKeys.updatedAt })
    .from(providerKeys)
    .where(eq(providerKeys.tenantId, c.var.tenant.tenantId))
    .orderBy(asc(providerKeys.provider))
    .all();
  return c.json({ keys: rows.map((r) => ({ provider: r.provider, updatedAt: isoTime(r.updatedAt) })) } satisfies z.infer<typeof ProviderKeyList>);
});

const deleteKey = createRoute({
  method: "delete",
  path: "/{provider}",
  operationId: "deleteProviderKey",
  summary: "Delete the tenant's own key for a provider: its runs use the platform's key again",
  security: bearerSecurity,
  request: { params: ProviderParam },
  responses: { 204: { description: "Deleted" }, ...problems(400, 401, 403, 404, 503) },
});

openapi(providerKeyRoutes, deleteKey, async (c) => {
  const { provider } = c.req.valid("param");
  const { tenantId, keyId } = c.var.tenant;
  const where = and(eq(providerKeys.tenantId, tenantId), eq(providerKeys.provider, provider));
  const existing = await db(c.env.DB).select({ provider: providerKeys.provider }).from(providerKeys).where(where).get();
  if (!existing) throw new ProblemError("not-found", `No key of this tenant for provider "${provider}".`);
  const d = db(c.env.DB);
  await d.batch([d.delete(providerKeys).where(where), auditInsert(d, { actor: { kind: "key", keyId }, tenantId, action: "provider-key.delete", target: provider })]);
  await notifyDispatcher(c.env, tenantId, { config: true });
  return c.body(null, 204);
});
