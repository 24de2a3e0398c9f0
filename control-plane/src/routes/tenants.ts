import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, lt, ne } from "drizzle-orm";
import { clearAuthCache } from "../../../core/auth/tenant-auth";
import { auditStatement } from "../audit";
import { db } from "../../../core/db/client";
import { tenants } from "../../../core/db/schema";
import { bearerSecurity, describe, problems } from "../../../core/http/openapi";
import { jsonBody, page, queryParams } from "../../../core/http/validate";
import { newId } from "../../../core/ids";
import { mergeQuotas } from "../../../core/quotas";
import type { ControlPlaneApp } from "../context";
import { requireAdmin } from "../middleware/admin";
import { publishing } from "../publisher/publishing";
import { CreateTenant, PatchTenant, TenantList, TenantStatus, TenantView } from "../schemas";
import { notifyDispatcher } from "../tenants/notify";
import { liveTenant, tenantView } from "../tenants/store";
import { describeKeys, keyRoutes } from "./keys";

export const adminTenants = new OpenAPIHono<ControlPlaneApp>();
adminTenants.use("*", requireAdmin);
adminTenants.route("/:tenantId/keys", keyRoutes);

adminTenants.post("/", async (c) => {
  const { name } = await jsonBody(c.req.raw, CreateTenant);
  const now = Date.now();
  const id = newId("ten", now);
  await c.env.DB.batch([
    c.env.DB.prepare("INSERT INTO tenants (id, name, status, quotas, created_at, updated_at) VALUES (?, ?, 'active', '{}', ?, ?)").bind(id, name, now, now),
    auditStatement(c.env.DB, { actor: c.var.actor, tenantId: id, action: "tenant.create", detail: { name } }),
  ]);
  return c.json(tenantView(await liveTenant(c.env.DB, id)), 201);
});

const ListQuery = z.object({
  status: TenantStatus.optional().openapi({ description: "Only tenants in this status (default: all but deleted)." }),
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

/** Newest first; ids are time-ordered, so the cursor is the last id of the page. */
adminTenants.get("/", async (c) => {
  const { status, cursor, limit = 50 } = queryParams(c.req.query(), ListQuery);
  const rows = await db(c.env.DB)
    .select()
    .from(tenants)
    .where(and(status ? eq(tenants.status, status) : ne(tenants.status, "deleted"), cursor ? lt(tenants.id, cursor) : undefined))
    .orderBy(desc(tenants.id))
    .limit(limit + 1)
    .all();
  const { items, cursor: next } = page(rows, limit, (t) => t.id);
  return c.json({ tenants: items.map(tenantView), cursor: next } satisfies z.infer<typeof TenantList>);
});

adminTenants.get("/:tenantId", async (c) => c.json(tenantView(await liveTenant(c.env.DB, c.req.param("tenantId")))));

adminTenants.patch("/:tenantId", async (c) => {
  const tenant = await liveTenant(c.env.DB, c.req.param("tenantId"));
  const patch = await jsonBody(c.req.raw, PatchTenant);
  const quotas = patch.quotas ? mergeQuotas(tenant.quotas, patch.quotas) : tenant.quotas;
  await c.env.DB.batch([
    c.env.DB
      .prepare("UPDATE tenants SET name = ?, status = ?, quotas = ?, egress_allow = ?, retention_days = ?, queue_weight = ?, updated_at = ? WHERE id = ?")
      .bind(
        patch.name ?? tenant.name,
        patch.status ?? tenant.status,
        quotas,
        patch.egressAllow ? JSON.stringify([...new Set(patch.egressAllow)]) : tenant.egressAllow,
        patch.retentionDays !== undefined ? patch.retentionDays : tenant.retentionDays,
        patch.queueWeight !== undefined ? patch.queueWeight : tenant.queueWeight,
        Date.now(),
        tenant.id,
      ),
    auditStatement(c.env.DB, { actor: c.var.actor, tenantId: tenant.id, action: "tenant.update", detail: patch }),
  ]);
  // This isolate sees the change at once; every other one within the caches' one second; runs at once.
  clearAuthCache();
  await notifyDispatcher(c.env, tenant.id, { config: true });
  return c.json(tenantView(await liveTenant(c.env.DB, tenant.id)));
});

/** Soft delete: keys stop working at once, runs and data are kept until an operator purges them. */
adminTenants.delete("/:tenantId", async (c) => {
  const tenant = await liveTenant(c.env.DB, c.req.param("tenantId"));
  const now = Date.now();
  await c.env.DB.batch([
    c.env.DB.prepare("UPDATE tenants SET status = 'deleted', deleted_at = ?, updated_at = ? WHERE id = ?").bind(now, now, tenant.id),
    auditStatement(c.env.DB, { actor: c.var.actor, tenantId: tenant.id, action: "tenant.delete" }),
  ]);
  clearAuthCache();
  await notifyDispatcher(c.env, tenant.id, { config: true });
  await publishing(() => c.var.publisher.deleteTenant(tenant.id));
  return c.body(null, 204);
});

const TenantIdParam = z.object({ tenantId: z.string().openapi({ param: { name: "tenantId", in: "path" } }) });

export function describeTenants(app: OpenAPIHono<ControlPlaneApp>): void {
  const tenantResponse = { description: "The tenant", content: { "application/json": { schema: TenantView } } };
  describe(
    app,
    createRoute({
      method: "post",
      path: "/admin/tenants",
      summary: "Create a tenant",
      security: bearerSecurity,
      request: { body: { required: true, content: { "application/json": { schema: CreateTenant } } } },
      responses: { 201: tenantResponse, ...problems(400, 401, 403, 413, 415) },
    }),
    createRoute({
      method: "get",
      path: "/admin/tenants",
      summary: "List tenants, newest first",
      security: bearerSecurity,
      request: { query: ListQuery },
      responses: { 200: { description: "A page", content: { "application/json": { schema: TenantList } } }, ...problems(400, 401, 403) },
    }),
    createRoute({
      method: "get",
      path: "/admin/tenants/{tenantId}",
      summary: "A tenant",
      security: bearerSecurity,
      request: { params: TenantIdParam },
      responses: { 200: tenantResponse, ...problems(401, 403, 404) },
    }),
    createRoute({
      method: "patch",
      path: "/admin/tenants/{tenantId}",
      summary: "Rename, suspend or resume a tenant, or change its quotas (null restores a default)",
      security: bearerSecurity,
      request: { params: TenantIdParam, body: { required: true, content: { "application/json": { schema: PatchTenant } } } },
      responses: { 200: tenantResponse, ...problems(400, 401, 403, 404, 413, 415) },
    }),
    createRoute({
      method: "delete",
      path: "/admin/tenants/{tenantId}",
      summary: "Soft-delete a tenant: its keys stop working at once; data is kept",
      security: bearerSecurity,
      request: { params: TenantIdParam },
      responses: { 204: { description: "Deleted" }, ...problems(401, 403, 404, 502) },
    }),
  );
  describeKeys(app);
}
