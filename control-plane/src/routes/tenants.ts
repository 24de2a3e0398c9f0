import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq, ne } from "drizzle-orm";
import { displayPrefix, generateApiKey, hashApiKey } from "../../../core/auth/api-key";
import { SCOPES } from "../../../core/auth/scopes";
import { db } from "../../../core/db/client";
import { apiKeys, tenants, type Tenant } from "../../../core/db/schema";
import { bearerSecurity, describe, problems } from "../../../core/http/openapi";
import { ProblemError } from "../../../core/http/problem";
import { jsonBody } from "../../../core/http/validate";
import { newId } from "../../../core/ids";
import { idParam } from "../../../core/names";
import type { ControlPlaneApp } from "../context";
import { requireAdmin } from "../middleware/admin";
import { CreatedKey, CreateKey, CreateTenant, TenantView } from "../schemas";

export const adminTenants = new OpenAPIHono<ControlPlaneApp>();
adminTenants.use("*", requireAdmin);

export function tenantView(t: Tenant): z.infer<typeof TenantView> {
  return { id: t.id, name: t.name, status: t.status, createdAt: new Date(t.createdAt).toISOString() };
}

/** A tenant that exists and is not deleted, or the 404 a missing one gets. */
export async function liveTenant(d1: D1Database, id: string | undefined): Promise<Tenant> {
  const tenantId = idParam(id, "ten", "tenant");
  const tenant = await db(d1)
    .select()
    .from(tenants)
    .where(and(eq(tenants.id, tenantId), ne(tenants.status, "deleted")))
    .get();
  if (!tenant) throw new ProblemError("not-found", "No tenant with that id.");
  return tenant;
}

adminTenants.post("/", async (c) => {
  const { name } = await jsonBody(c.req.raw, CreateTenant);
  const now = Date.now();
  const [tenant] = await db(c.env.DB)
    .insert(tenants)
    .values({ id: newId("ten", now), name, status: "active", createdAt: now, updatedAt: now })
    .returning();
  return c.json(tenantView(tenant!), 201);
});

adminTenants.get("/:tenantId", async (c) => c.json(tenantView(await liveTenant(c.env.DB, c.req.param("tenantId")))));

adminTenants.post("/:tenantId/keys", async (c) => {
  const tenant = await liveTenant(c.env.DB, c.req.param("tenantId"));
  const body = await jsonBody(c.req.raw, CreateKey);
  const now = Date.now();
  const expiresAt = body.expiresAt ? Date.parse(body.expiresAt) : null;
  if (expiresAt !== null && expiresAt <= now) throw new ProblemError("invalid-request", "expiresAt: must be in the future");
  const key = generateApiKey();
  const scopes = body.scopes ? [...new Set(body.scopes)] : [...SCOPES];
  const [row] = await db(c.env.DB)
    .insert(apiKeys)
    .values({
      id: newId("key", now),
      tenantId: tenant.id,
      name: body.name ?? null,
      keyHash: await hashApiKey(key),
      prefix: displayPrefix(key),
      scopes: JSON.stringify(scopes),
      createdAt: now,
      expiresAt,
    })
    .returning();
  return c.json(
    {
      id: row!.id,
      key,
      name: row!.name,
      prefix: row!.prefix,
      scopes,
      createdAt: new Date(now).toISOString(),
      expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString(),
    } satisfies z.infer<typeof CreatedKey>,
    201,
  );
});

const TenantIdParam = z.object({ tenantId: z.string().openapi({ param: { name: "tenantId", in: "path" } }) });

export function describeTenants(app: OpenAPIHono<ControlPlaneApp>): void {
  describe(
    app,
    createRoute({
      method: "post",
      path: "/admin/tenants",
      summary: "Create a tenant",
      security: bearerSecurity,
      request: { body: { required: true, content: { "application/json": { schema: CreateTenant } } } },
      responses: { 201: { description: "Created", content: { "application/json": { schema: TenantView } } }, ...problems(400, 401, 403, 413, 415) },
    }),
    createRoute({
      method: "get",
      path: "/admin/tenants/{tenantId}",
      summary: "A tenant",
      security: bearerSecurity,
      request: { params: TenantIdParam },
      responses: { 200: { description: "The tenant", content: { "application/json": { schema: TenantView } } }, ...problems(401, 403, 404) },
    }),
    createRoute({
      method: "post",
      path: "/admin/tenants/{tenantId}/keys",
      summary: "Create an API key for a tenant (the secret is shown once)",
      security: bearerSecurity,
      request: { params: TenantIdParam, body: { content: { "application/json": { schema: CreateKey } } } },
      responses: { 201: { description: "Created", content: { "application/json": { schema: CreatedKey } } }, ...problems(400, 401, 403, 404, 413, 415) },
    }),
  );
}
