import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, lt } from "drizzle-orm";
import { db } from "../../../core/db/client";
import { auditLog } from "../../../core/db/schema";
import { bearerSecurity, describe, problems } from "../../../core/http/openapi";
import { page, queryParams } from "../../../core/http/validate";
import type { ControlPlaneApp } from "../context";
import { requireAdmin } from "../middleware/admin";
import { AuditList } from "../schemas";

export const adminAudit = new OpenAPIHono<ControlPlaneApp>();
adminAudit.use("*", requireAdmin);

const Query = z.object({
  tenant: z.string().max(64).optional(),
  action: z.string().max(64).optional(),
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

/** Newest first: who (admin or a key id) did what to which tenant, when. */
adminAudit.get("/", async (c) => {
  const { tenant, action, cursor, limit = 50 } = queryParams(c.req.query(), Query);
  const rows = await db(c.env.DB)
    .select()
    .from(auditLog)
    .where(and(tenant ? eq(auditLog.tenantId, tenant) : undefined, action ? eq(auditLog.action, action) : undefined, cursor ? lt(auditLog.id, cursor) : undefined))
    .orderBy(desc(auditLog.id))
    .limit(limit + 1)
    .all();
  const { items, cursor: next } = page(rows, limit, (e) => e.id);
  return c.json({
    entries: items.map((e) => ({
      id: e.id,
      at: new Date(e.at).toISOString(),
      actor: e.actor,
      tenantId: e.tenantId,
      action: e.action,
      target: e.target,
      detail: e.detail ? (JSON.parse(e.detail) as Record<string, unknown>) : null,
    })),
    cursor: next,
  } satisfies z.infer<typeof AuditList>);
});

export function describeAudit(app: OpenAPIHono<ControlPlaneApp>): void {
  describe(
    app,
    createRoute({
      method: "get",
      path: "/admin/audit",
      summary: "The audit log, newest first",
      security: bearerSecurity,
      request: { query: Query },
      responses: { 200: { description: "A page", content: { "application/json": { schema: AuditList } } }, ...problems(400, 401, 403) },
    }),
  );
}
