import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireTenant } from "../../../core/auth/middleware";
import { formatMicros } from "../../../core/billing/prices";
import { monthToDateMicros } from "../../../core/billing/spend";
import { UsageBucket, UsageQuery, usageBuckets } from "../../../core/billing/usage";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import type { DispatcherApp } from "../context";

const TenantUsage = z
  .object({
    from: z.string(),
    to: z.string(),
    granularity: z.enum(["hour", "day"]),
    buckets: z.array(UsageBucket),
    monthToDate: z.object({ billedCost: z.string(), currency: z.literal("USD"), spendCapUsd: z.number().nullable() }),
  })
  .openapi("TenantUsage");

/** `GET /v1/usage`: a tenant's own figures from the ledger (the `usage` scope). */
export const usageRoutes = new OpenAPIHono<DispatcherApp>();
usageRoutes.use("*", requireTenant("usage"));

const getUsage = createRoute({
  method: "get",
  path: "/",
  operationId: "getUsage",
  summary: "Your usage per day or hour, and this month's billed cost so far",
  security: bearerSecurity,
  request: { query: UsageQuery },
  responses: { 200: { description: "Usage", content: { "application/json": { schema: TenantUsage } } }, ...problems(400, 401, 403) },
});

openapi(usageRoutes, getUsage, async (c) => {
  const q = c.req.valid("query");
  const { tenantId, quotas } = c.var.tenant;
  const [buckets, billed] = await Promise.all([usageBuckets(c.env.DB, tenantId, q.from, q.to, q.granularity), monthToDateMicros(c.env.DB, c.env, tenantId)]);
  return c.json({
    from: q.from,
    to: q.to,
    granularity: q.granularity,
    buckets,
    monthToDate: { billedCost: formatMicros(billed), currency: "USD", spendCapUsd: quotas.monthlySpendCapUsd },
  } satisfies z.infer<typeof TenantUsage>);
});
