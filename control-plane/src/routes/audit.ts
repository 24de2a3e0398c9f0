import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, lt } from "drizzle-orm";
import { db } from "../../../core/db/client";
import { auditLog } from "../../../core/db/schema";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import { page, PageQuery } from "../../../core/http/pagination";
import { isoTime } from "../../../core/log";
import type { ControlPlaneApp } from "../context";
import { AuditList } from "../schemas";

/** `/admin/audit` (the admin token, checked in app.ts). */
export const adminAudit = new OpenAPIHono<ControlPlaneApp>();

const listAuditEntries = createRoute({
  method: "get",
  path: "/",
  operationId: "listAuditEntries",
  summary: "The audit log, newest first",
  security: bearerSecurity,
  request: { query: PageQuery({ limit: 50, max: 200 }).extend({ tenant: z.string().max(64).optional(), action: z.string().max(64).optional() }) },
  responses: { 200: { description: "A page", content: { "application/json": { schema: AuditList } } }, ...problems(400, 401, 403) },
});

/** Newest first: who (admin or a key id) did what to which tenant, when. */
openapi(adminAudit, listAuditEntries, async (c) => {
  const { tenant, action, cursor, limit } = c.req.valid("query");
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
      at: isoTime(e.at),
      actor: e.actor,
      tenantId: e.tenantId,
      action: e.action,
      target: e.target,
      detail: e.detail ? (JSON.parse(e.detail) as Record<string, unknown>) : null,
    })),
    cursor: next,
  } satisfies z.infer<typeof AuditList>);
});
