import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ModelBucket, modelBuckets, UsageBucket, UsageQuery, usageBuckets } from "../../../core/billing/usage";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import type { ControlPlaneApp } from "../context";
import { TenantIdParam } from "../schemas";

/** Mounted under `/admin/tenants/:tenantId/usage` (admin only), which finds the tenant first. */
export const tenantUsage = new OpenAPIHono<ControlPlaneApp>();

const TenantUsage = z.object({ tenantId: z.string(), granularity: z.string(), buckets: z.array(UsageBucket), models: z.array(ModelBucket) }).openapi("AdminTenantUsage");

const getTenantUsage = createRoute({
  method: "get",
  path: "/",
  operationId: "getTenantUsage",
  summary: "A tenant's usage per day or hour, and its model tokens per bucket and model",
  security: bearerSecurity,
  request: { params: TenantIdParam, query: UsageQuery },
  responses: { 200: { description: "Buckets, and model tokens per bucket and model", content: { "application/json": { schema: TenantUsage } } }, ...problems(400, 401, 403, 404) },
});

/** A tenant's ledger totals per day or per hour, from `from` to `to` inclusive (UTC). */
openapi(tenantUsage, getTenantUsage, async (c) => {
  const tenant = c.var.managedTenant;
  const q = c.req.valid("query");
  const [buckets, models] = await Promise.all([usageBuckets(c.env.DB, tenant.id, q.from, q.to, q.granularity), modelBuckets(c.env.DB, tenant.id, q.from, q.to, q.granularity)]);
  return c.json({ tenantId: tenant.id, granularity: q.granularity, buckets, models } satisfies z.infer<typeof TenantUsage>);
});
