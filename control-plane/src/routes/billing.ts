import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, lt } from "drizzle-orm";
import { formatMicros } from "../../../core/billing/prices";
import { platformCosts, priceBook } from "../../../core/billing/spend";
import { db } from "../../../core/db/client";
import { runs } from "../../../core/db/schema";
import { bearerSecurity, describe, problems } from "../../../core/http/openapi";
import { page, queryParams } from "../../../core/http/validate";
import { runView } from "../../../core/runs/record";
import { RunList, RunStatus } from "../../../core/runs/schemas";
import { linesFor, period, tenantUsage } from "../../../core/billing/lines";
import { exportStream } from "../billing/export";
import { UsageBucket, UsageQuery, usageBuckets } from "../../../core/billing/usage";
import type { ControlPlaneApp } from "../context";
import { requireAdmin } from "../middleware/admin";
import { liveTenant } from "../tenants/store";

export const adminBilling = new OpenAPIHono<ControlPlaneApp>();
adminBilling.use("*", requireAdmin);

const prices = (env: ControlPlaneApp["Bindings"]) => ({ book: priceBook(env), costs: platformCosts(env) });

const Month = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, "a month as YYYY-MM");
const ExportQuery = z.object({
  period: Month,
  format: z.enum(["csv", "json"]).default("csv"),
  tenant: z.string().max(64).optional(),
});

/** One line per tenant and usage unit, priced, with the platform's estimated cost beside it. */
adminBilling.get("/billing/export", async (c) => {
  const q = queryParams(c.req.query(), ExportQuery);
  const { book, costs } = prices(c.env);
  const body = exportStream(c.env.DB, period(q.period), q.format, book, costs, q.tenant);
  return new Response(body, {
    headers: {
      "content-type": q.format === "csv" ? "text/csv; charset=utf-8" : "application/json",
      "content-disposition": `attachment; filename="isoplane-${q.period}${q.tenant ? `-${q.tenant}` : ""}.${q.format}"`,
      "cache-control": "no-store",
    },
  });
});

/** Tenants by status, runs and failures per day (last 30 days), top tenants by spend this month. */
adminBilling.get("/overview", async (c) => {
  const now = new Date();
  const since = new Date(now.getTime() - 29 * 86_400_000).toISOString().slice(0, 10);
  const [statuses, days] = await c.env.DB.batch<Record<string, string | number>>([
    c.env.DB.prepare("SELECT status, COUNT(*) AS n FROM tenants GROUP BY status ORDER BY status"),
    c.env.DB.prepare("SELECT day, SUM(runs) AS runs, SUM(failures) AS failures FROM usage_daily WHERE day >= ? GROUP BY day ORDER BY day").bind(since),
  ]);
  const { book, costs } = prices(c.env);
  const month = period(now.toISOString().slice(0, 7));
  const spend: { tenantId: string; name: string; billedCost: number; platformCost: number }[] = [];
  for await (const u of tenantUsage(c.env.DB, month)) {
    const { billed, platform } = linesFor(u, month, book, costs);
    spend.push({ tenantId: u.tenantId, name: u.name, billedCost: billed, platformCost: platform });
  }
  spend.sort((a, b) => b.billedCost - a.billedCost || a.tenantId.localeCompare(b.tenantId));
  return c.json({
    tenants: Object.fromEntries(statuses!.results.map((r) => [r.status, Number(r.n)])),
    days: days!.results.map((r) => ({ day: String(r.day), runs: Number(r.runs), failures: Number(r.failures) })),
    topTenants: spend.slice(0, 10).map((s) => ({ ...s, billedCost: formatMicros(s.billedCost), platformCost: formatMicros(s.platformCost) })),
  });
});


/** A tenant's ledger totals per day or per hour, from `from` to `to` inclusive (UTC). */
adminBilling.get("/tenants/:tenantId/usage", async (c) => {
  const tenant = await liveTenant(c.env.DB, c.req.param("tenantId"));
  const q = queryParams(c.req.query(), UsageQuery);
  return c.json({ tenantId: tenant.id, granularity: q.granularity, buckets: await usageBuckets(c.env.DB, tenant.id, q.from, q.to, q.granularity) });
});

const RunsQuery = z.object({
  tenant: z.string().max(64).optional(),
  status: RunStatus.optional(),
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

/** Every tenant's runs, newest first, for support. */
adminBilling.get("/runs", async (c) => {
  const q = queryParams(c.req.query(), RunsQuery);
  const limit = q.limit ?? 50;
  const rows = await db(c.env.DB)
    .select()
    .from(runs)
    .where(and(q.tenant ? eq(runs.tenantId, q.tenant) : undefined, q.status ? eq(runs.status, q.status) : undefined, q.cursor ? lt(runs.id, q.cursor) : undefined))
    .orderBy(desc(runs.id))
    .limit(limit + 1)
    .all();
  const { items, cursor } = page(rows, limit, (r) => r.id);
  return c.json({ runs: items.map((r) => ({ ...runView(r), tenantId: r.tenantId })), cursor });
});

const Overview = z
  .object({
    tenants: z.record(z.string(), z.number().int()),
    days: z.array(z.object({ day: z.string(), runs: z.number().int(), failures: z.number().int() })),
    topTenants: z.array(z.object({ tenantId: z.string(), name: z.string(), billedCost: z.string(), platformCost: z.string() })),
  })
  .openapi("Overview");

export function describeBilling(app: OpenAPIHono<ControlPlaneApp>): void {
  describe(
    app,
    createRoute({
      method: "get",
      path: "/admin/billing/export",
      summary: "Billing export for a month: one line per tenant and usage unit (FOCUS columns), streamed",
      security: bearerSecurity,
      request: { query: ExportQuery },
      responses: { 200: { description: "CSV or JSON", content: { "text/csv": { schema: z.string() }, "application/json": { schema: z.object({}).passthrough() } } }, ...problems(400, 401, 403) },
    }),
    createRoute({
      method: "get",
      path: "/admin/overview",
      summary: "The dashboard: tenants by status, runs per day, top tenants by spend",
      security: bearerSecurity,
      responses: { 200: { description: "Overview", content: { "application/json": { schema: Overview } } }, ...problems(401, 403) },
    }),
    createRoute({
      method: "get",
      path: "/admin/tenants/{tenantId}/usage",
      summary: "A tenant's usage per day or hour",
      security: bearerSecurity,
      request: { params: z.object({ tenantId: z.string().openapi({ param: { name: "tenantId", in: "path" } }) }), query: UsageQuery },
      responses: {
        200: { description: "Buckets", content: { "application/json": { schema: z.object({ tenantId: z.string(), granularity: z.string(), buckets: z.array(UsageBucket) }) } } },
        ...problems(400, 401, 403, 404),
      },
    }),
    createRoute({
      method: "get",
      path: "/admin/runs",
      summary: "Runs of every tenant, newest first",
      security: bearerSecurity,
      request: { query: RunsQuery },
      responses: { 200: { description: "A page", content: { "application/json": { schema: RunList } } }, ...problems(400, 401, 403) },
    }),
  );
}
