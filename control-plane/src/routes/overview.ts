import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { asc, count, gte, sum } from "drizzle-orm";
import { linesFor, period, tenantUsage } from "../../../core/billing/lines";
import { formatMicros } from "../../../core/billing/prices";
import { platformCosts, priceBook } from "../../../core/billing/spend";
import { db } from "../../../core/db/client";
import { tenants, usageDaily } from "../../../core/db/schema";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import type { ControlPlaneApp } from "../context";

/** `/admin/overview` (the admin token, checked in app.ts): the operator's dashboard figures. */
export const adminOverview = new OpenAPIHono<ControlPlaneApp>();

const Overview = z
  .object({
    tenants: z.record(z.string(), z.number().int()),
    days: z.array(z.object({ day: z.string(), runs: z.number().int(), failures: z.number().int() })),
    topTenants: z.array(z.object({ tenantId: z.string(), name: z.string(), billedCost: z.string(), platformCost: z.string() })),
  })
  .openapi("Overview");

const getOverview = createRoute({
  method: "get",
  path: "/",
  operationId: "getOverview",
  summary: "The dashboard: tenants by status, runs per day, top tenants by spend",
  security: bearerSecurity,
  responses: { 200: { description: "Overview", content: { "application/json": { schema: Overview } } }, ...problems(401, 403) },
});

/** Tenants by status, runs and failures per day (last 30 days), top tenants by spend this month. */
openapi(adminOverview, getOverview, async (c) => {
  const now = new Date();
  const since = new Date(now.getTime() - 29 * 86_400_000).toISOString().slice(0, 10);
  const d = db(c.env.DB);
  const [statuses, days] = await d.batch([
    d.select({ status: tenants.status, n: count() }).from(tenants).groupBy(tenants.status).orderBy(asc(tenants.status)),
    d
      .select({ day: usageDaily.day, runs: sum(usageDaily.runs), failures: sum(usageDaily.failures) })
      .from(usageDaily)
      .where(gte(usageDaily.day, since))
      .groupBy(usageDaily.day)
      .orderBy(asc(usageDaily.day)),
  ]);
  const book = priceBook(c.env);
  const costs = platformCosts(c.env);
  const month = period(now.toISOString().slice(0, 7));
  const spend: { tenantId: string; name: string; billedCost: number; platformCost: number }[] = [];
  for await (const u of tenantUsage(c.env.DB, month)) {
    const { billed, platform } = linesFor(u, month, book, costs);
    spend.push({ tenantId: u.tenantId, name: u.name, billedCost: billed, platformCost: platform });
  }
  spend.sort((a, b) => b.billedCost - a.billedCost || a.tenantId.localeCompare(b.tenantId));
  return c.json({
    tenants: Object.fromEntries(statuses.map((r) => [r.status, r.n])),
    days: days.map((r) => ({ day: r.day, runs: Number(r.runs), failures: Number(r.failures) })),
    topTenants: spend.slice(0, 10).map((s) => ({ ...s, billedCost: formatMicros(s.billedCost), platformCost: formatMicros(s.platformCost) })),
  } satisfies z.infer<typeof Overview>);
});
