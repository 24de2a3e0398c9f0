import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { period } from "../../../core/billing/lines";
import { platformCosts, priceBook } from "../../../core/billing/spend";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import { exportStream } from "../billing/export";
import type { ControlPlaneApp } from "../context";

/** `/admin/billing` (the admin token, checked in app.ts): the month's priced usage, for invoicing. */
export const adminBilling = new OpenAPIHono<ControlPlaneApp>();

const Month = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, "a month as YYYY-MM");

const exportBilling = createRoute({
  method: "get",
  path: "/export",
  operationId: "exportBilling",
  summary: "Billing export for a month: one line per tenant and usage unit (FOCUS columns), streamed",
  security: bearerSecurity,
  request: { query: z.object({ period: Month, format: z.enum(["csv", "json"]).default("csv"), tenant: z.string().max(64).optional() }) },
  responses: {
    200: { description: "CSV or JSON", content: { "text/csv": { schema: z.string() }, "application/json": { schema: z.object({}).passthrough() } } },
    ...problems(400, 401, 403),
  },
});

/** One line per tenant and usage unit, priced, with the platform's estimated cost beside it. */
openapi(adminBilling, exportBilling, async (c) => {
  const q = c.req.valid("query");
  const body = exportStream(c.env.DB, period(q.period), q.format, priceBook(c.env), platformCosts(c.env), q.tenant);
  return new Response(body, {
    headers: {
      "content-type": q.format === "csv" ? "text/csv; charset=utf-8" : "application/json",
      "content-disposition": `attachment; filename="isoplane-${q.period}${q.tenant ? `-${q.tenant}` : ""}.${q.format}"`,
      "cache-control": "no-store",
    },
  });
});
