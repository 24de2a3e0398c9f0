import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, lt } from "drizzle-orm";
import { db } from "../../../core/db/client";
import { runs } from "../../../core/db/schema";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import { NextCursor, page, PageQuery } from "../../../core/http/pagination";
import { runView } from "../../../core/runs/record";
import { RunRecord, RunStatus } from "../../../core/runs/schemas";
import type { ControlPlaneApp } from "../context";

/** `/admin/runs` (the admin token, checked in app.ts): every tenant's runs, for support. */
export const adminRuns = new OpenAPIHono<ControlPlaneApp>();

const AdminRunList = z.object({ runs: z.array(RunRecord.extend({ tenantId: z.string() })), cursor: NextCursor }).openapi("AdminRunList");

const listAllRuns = createRoute({
  method: "get",
  path: "/",
  operationId: "listAllRuns",
  summary: "Runs of every tenant, newest first",
  security: bearerSecurity,
  request: { query: PageQuery({ limit: 50, max: 100 }).extend({ tenant: z.string().max(64).optional(), status: RunStatus.optional() }) },
  responses: { 200: { description: "A page", content: { "application/json": { schema: AdminRunList } } }, ...problems(400, 401, 403) },
});

/** Every tenant's runs, newest first, for support. */
openapi(adminRuns, listAllRuns, async (c) => {
  const q = c.req.valid("query");
  const rows = await db(c.env.DB)
    .select()
    .from(runs)
    .where(and(q.tenant ? eq(runs.tenantId, q.tenant) : undefined, q.status ? eq(runs.status, q.status) : undefined, q.cursor ? lt(runs.id, q.cursor) : undefined))
    .orderBy(desc(runs.id))
    .limit(q.limit + 1)
    .all();
  const { items, cursor } = page(rows, q.limit, (r) => r.id);
  return c.json({ runs: items.map((r) => ({ ...runView(r), tenantId: r.tenantId })), cursor } satisfies z.infer<typeof AdminRunList>);
});
