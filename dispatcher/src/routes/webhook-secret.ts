import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireTenant } from "../../../core/auth/middleware";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import type { DispatcherApp } from "../context";
import { webhookSecret } from "../runs/webhooks";

/** `/v1/webhook-secret`: the key the tenant checks its webhooks' signatures with (API keys only). */
export const webhookRoutes = new OpenAPIHono<DispatcherApp>();
webhookRoutes.use("*", requireTenant("runs"));

const getWebhookSecret = createRoute({
  method: "get",
  path: "/",
  operationId: "getWebhookSecret",
  summary: "The secret that signs this tenant's webhooks (HMAC-SHA256)",
  security: bearerSecurity,
  responses: { 200: { description: "The secret", content: { "application/json": { schema: z.object({ secret: z.string() }) } } }, ...problems(401, 403) },
});

openapi(webhookRoutes, getWebhookSecret, async (c) => c.json({ secret: await webhookSecret(c.env, c.var.tenant.tenantId) }));
