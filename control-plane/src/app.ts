import { providerKeyRoutes } from "./routes/provider-keys";
import { OpenAPIHono } from "@hono/zod-openapi";
import { intSetting } from "../../core/env";
import { BODY_READ_TIMEOUT_MS, setBodyReadTimeout } from "../../core/http/body";
import { serveOpenApi, validationHook } from "../../core/http/openapi";
import { onError, onNotFound } from "../../core/http/problem";
import { agentNameParam } from "../../core/names";
import type { ControlPlaneApp } from "./context";
import { dashboard, registerDashboardSecurity } from "./dashboard";
import { requireAdmin } from "./middleware/admin";
import type { Publisher } from "./publisher/types";
import { agentRoutes } from "./routes/agents";
import { adminAudit } from "./routes/audit";
import { authRoutes } from "./routes/auth";
import { adminBilling } from "./routes/billing";
import { health } from "./routes/health";
import { adminOverview } from "./routes/overview";
import { adminRuns } from "./routes/runs";
import { secretName } from "./routes/secrets";
import { adminTenants } from "./routes/tenants";

/** The control plane's HTTP surface; the publisher (local or Workers for Platforms) comes from configuration. */
export function createApp(publisherFor: (env: ControlPlaneApp["Bindings"]) => Publisher) {
  // Agent and secret names that fail their patterns are `invalid-name`; any other parameter `invalid-request`.
  const app = new OpenAPIHono<ControlPlaneApp>({ defaultHook: validationHook({ agent: agentNameParam, name: secretName }) });
  app.onError(onError);
  app.notFound(onNotFound);
  app.use("*", async (c, next) => {
    setBodyReadTimeout(c.req.raw, intSetting(c.env.BODY_READ_TIMEOUT_MS, BODY_READ_TIMEOUT_MS));
    await next();
  });
  app.use("*", async (c, next) => {
    c.set("publisher", publisherFor(c.env));
    await next();
  });
  app.get("/", (c) => c.json({ service: "isoplane-control-plane", openapi: "/openapi.json" }));
  app.route("/healthz", health);
  // Everything under /admin takes the operator's token, known routes or not.
  app.use("/admin/*", requireAdmin);
  app.route("/admin/tenants", adminTenants);
  app.route("/admin/audit", adminAudit);
  app.route("/admin/billing", adminBilling);
  app.route("/admin/overview", adminOverview);
  app.route("/admin/runs", adminRuns);
  app.route("/v1/agents", agentRoutes);
  app.route("/v1/auth", authRoutes);
  app.route("/v1/provider-keys", providerKeyRoutes);
  app.route("/dashboard", dashboard);
  registerDashboardSecurity(app);
  serveOpenApi(app, "Isoplane control plane", "Tenants, keys, quotas and audit (admin token); agents, versions, secrets and provider keys (tenant keys).");
  return app;
}
