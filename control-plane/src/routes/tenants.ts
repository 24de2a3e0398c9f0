import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, lt, ne, or, sql } from "drizzle-orm";
import { clearAuthCache } from "../../../core/auth/tenant-auth";
import { auditInsert } from "../audit";
import { checkModel } from "../models/check";
import { db } from "../../../core/db/client";
import { tenants } from "../../../core/db/schema";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import { page, PageQuery } from "../../../core/http/pagination";
import { newId } from "../../../core/ids";
import { mergeQuotas } from "../../../core/quotas";
import type { ControlPlaneApp } from "../context";
import { publishing } from "../publisher/publishing";
import { CreateTenant, PatchTenant, TenantIdParam, TenantList, TenantStatus, TenantView } from "../schemas";
import { notifyDispatcher } from "../tenants/notify";
import { liveTenant, tenantView } from "../tenants/store";
import { keyRoutes } from "./keys";
import { tenantAgents } from "./tenant-agents";
import { tenantUsage } from "./usage";

/** `/admin/tenants` (the admin token, checked in app.ts): tenants, their keys and their usage. */
export const adminTenants = new OpenAPIHono<ControlPlaneApp>();
// The tenant a route names is found first: an unknown one is a 404 whatever else the request says.
adminTenants.use("/:tenantId/*", async (c, next) => {
  c.set("managedTenant", await liveTenant(c.env.DB, c.req.param("tenantId")));
  await next();
});
adminTenants.route("/:tenantId/keys", keyRoutes);
adminTenants.route("/:tenantId/usage", tenantUsage);
adminTenants.route("/:tenantId/agents", tenantAgents);

const tenantResponse = { description: "The tenant", content: { "application/json": { schema: TenantView } } };

const createTenant = createRoute({
  method: "post",
  path: "/",
  operationId: "createTenant",
  summary: "Create a tenant",
  security: bearerSecurity,
  request: { body: { required: true, content: { "application/json": { schema: CreateTenant } } } },
  responses: { 201: tenantResponse, ...problems(400, 401, 403, 413, 415) },
});

openapi(adminTenants, createTenant, async (c) => {
  const { name } = c.req.valid("json");
  const now = Date.now();
  const id = newId("ten", now);
  const d = db(c.env.DB);
  await d.batch([
    d.insert(tenants).values({ id, name, status: "active", quotas: "{}", createdAt: now, updatedAt: now }),
    auditInsert(d, { actor: c.var.actor, tenantId: id, action: "tenant.create", detail: { name } }),
  ]);
  return c.json(tenantView(await liveTenant(c.env.DB, id)), 201);
});

const listTenants = createRoute({
  method: "get",
  path: "/",
  operationId: "listTenants",
  summary: "List tenants, newest first; by status, or by name or id",
  security: bearerSecurity,
  request: {
    query: PageQuery({ limit: 50, max: 100 }).extend({
      status: TenantStatus.optional().openapi({ description: "Only tenants in this status (default: all but deleted)." }),
      q: z.string().trim().max(200).optional().openapi({ description: "Only tenants whose name contains this text (any case), or with this id." }),
    }),
  },
  responses: { 200: { description: "A page", content: { "application/json": { schema: TenantList } } }, ...problems(400, 401, 403) },
});

/** Newest first; ids are time-ordered, so the cursor is the last id of the page. */
openapi(adminTenants, listTenants, async (c) => {
  const { status, q, cursor, limit } = c.req.valid("query");
  const rows = await db(c.env.DB)
    .select()
    .from(tenants)
    .where(
      and(
        status ? eq(tenants.status, status) : ne(tenants.status, "deleted"),
        // LIKE matches ASCII letters in any case; the text's own % and _ are matched as themselves.
        q ? or(sql`${tenants.name} LIKE ${`%${q.replace(/[\\%_]/g, "\\$&")}%`} ESCAPE '\\'`, eq(tenants.id, q)) : undefined,
        cursor ? lt(tenants.id, cursor) : undefined,
      ),
    )
    .orderBy(desc(tenants.id))
    .limit(limit + 1)
    .all();
  const { items, cursor: next } = page(rows, limit, (t) => t.id);
  return c.json({ tenants: items.map(tenantView), cursor: next } satisfies z.infer<typeof TenantList>);
});

const getTenant = createRoute({
  method: "get",
  path: "/{tenantId}",
  operationId: "getTenant",
  summary: "A tenant",
  security: bearerSecurity,
  request: { params: TenantIdParam },
  responses: { 200: tenantResponse, ...problems(401, 403, 404) },
});

openapi(adminTenants, getTenant, async (c) => c.json(tenantView(c.var.managedTenant)));

const updateTenant = createRoute({
  method: "patch",
  path: "/{tenantId}",
  operationId: "updateTenant",
  summary: "Rename, suspend or resume a tenant, or change its quotas, egress, retention, lane weight or default model (null restores a default)",
  security: bearerSecurity,
  request: { params: TenantIdParam, body: { required: true, content: { "application/json": { schema: PatchTenant } } } },
  responses: { 200: tenantResponse, ...problems(400, 401, 403, 404, 413, 415, 503) },
});

openapi(adminTenants, updateTenant, async (c) => {
  const tenant = c.var.managedTenant;
  const patch = c.req.valid("json");
  const quotas = patch.quotas ? mergeQuotas(tenant.quotas, patch.quotas) : tenant.quotas;
  if (patch.defaultModel) checkModel(c.env, patch.defaultModel, "defaultModel");
  const d = db(c.env.DB);
  await d.batch([
    d
      .update(tenants)
      .set({
        name: patch.name ?? tenant.name,
        status: patch.status ?? tenant.status,
        quotas,
        egressAllow: patch.egressAllow ? JSON.stringify([...new Set(patch.egressAllow)]) : tenant.egressAllow,
        retentionDays: patch.retentionDays !== undefined ? patch.retentionDays : tenant.retentionDays,
        queueWeight: patch.queueWeight !== undefined ? patch.queueWeight : tenant.queueWeight,
        defaultModel: patch.defaultModel !== undefined ? patch.defaultModel : tenant.defaultModel,
        updatedAt: Date.now(),
      })
      .where(eq(tenants.id, tenant.id)),
    auditInsert(d, { actor: c.var.actor, tenantId: tenant.id, action: "tenant.update", detail: patch }),
  ]);
  // This isolate sees the change at once; every other one within the caches' one second; runs at once.
  clearAuthCache();
  await notifyDispatcher(c.env, tenant.id, { config: true });
  return c.json(tenantView(await liveTenant(c.env.DB, tenant.id)));
});

const deleteTenant = createRoute({
  method: "delete",
  path: "/{tenantId}",
  operationId: "deleteTenant",
  summary: "Soft-delete a tenant: its keys stop working at once; data is kept",
  security: bearerSecurity,
  request: { params: TenantIdParam },
  responses: { 204: { description: "Deleted" }, ...problems(401, 403, 404, 502) },
});

/** Soft delete: keys stop working at once, runs and data are kept until an operator purges them. */
openapi(adminTenants, deleteTenant, async (c) => {
  const tenant = c.var.managedTenant;
  const now = Date.now();
  const d = db(c.env.DB);
  await d.batch([
    d.update(tenants).set({ status: "deleted", deletedAt: now, updatedAt: now }).where(eq(tenants.id, tenant.id)),
    auditInsert(d, { actor: c.var.actor, tenantId: tenant.id, action: "tenant.delete" }),
  ]);
  clearAuthCache();
  await notifyDispatcher(c.env, tenant.id, { config: true });
  await publishing(() => c.var.publisher.deleteTenant(tenant.id));
  return c.body(null, 204);
});
