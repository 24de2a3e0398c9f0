import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { intSetting } from "../../core/env";
import { BODY_READ_TIMEOUT_MS, setBodyReadTimeout } from "../../core/http/body";
import { describe, problems, serveOpenApi } from "../../core/http/openapi";
import { onError, onNotFound, problemResponse } from "../../core/http/problem";
import type { ControlPlaneApp } from "./context";
import type { Publisher } from "./publisher/types";
import { agentRoutes, describeAgents } from "./routes/agents";
import { adminAudit, describeAudit } from "./routes/audit";
import { authRoutes, describeAuth } from "./routes/auth";
import { adminBilling, describeBilling } from "./routes/billing";
import { describeSecrets } from "./routes/secrets";
import { adminTenants, describeTenants } from "./routes/tenants";
import { dispatcherReachable } from "./tenants/notify";
import { dashboard, describeDashboard } from "./dashboard";
import { adminRuns, describeAdminRuns } from "./routes/runs";
import { adminAgents, describeAdminAgents } from "./routes/tenant-agents";

/** The control plane's HTTP surface; the publisher (local or Workers for Platforms) comes from configuration. */
export function createApp(publisherFor: (env: ControlPlaneApp["Bindings"]) => Publisher) {
  const app = new OpenAPIHono<ControlPlaneApp>();
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
  // Ready when it can reach the dispatcher's objects, which every change to an agent or tenant tells.
  app.get("/healthz", async (c) =>
    (await dispatcherReachable(c.env))
      ? c.json({ ok: true })
      : problemResponse("unavailable", "The control plane cannot reach the dispatcher's Durable Objects.", { instance: "/healthz", headers: { "retry-after": "1" } }),
  );
  app.route("/admin/tenants/:tenantId/agents", adminAgents);
  app.route("/admin/tenants", adminTenants);
  app.route("/admin/audit", adminAudit);
  app.route("/admin", adminBilling);
  app.route("/v1/agents", agentRoutes);
  app.route("/v1/auth", authRoutes);
  app.route("/admin/runs", adminRuns);
  app.route("/dashboard", dashboard);
  describeTenants(app);
  describeAudit(app);
  describeAgents(app);
  describeSecrets(app);
  describeAuth(app);
  describeBilling(app);
  describeAdminRuns(app);
  describeAdminAgents(app);
  describeDashboard(app);
  describe(
    app,
    createRoute({
      method: "get",
      path: "/healthz",
      summary: "Ready: the control plane reaches the dispatcher's Durable Objects",
      responses: {
        200: { description: "Ready", content: { "application/json": { schema: z.object({ ok: z.literal(true) }) } } },
        ...problems(503),
      },
    }),
  );
  serveOpenApi(app, "Isoplane control plane", "Tenants, keys, quotas and audit (admin token); agents, versions and secrets (tenant keys).");
  return app;
}
