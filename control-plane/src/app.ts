import { OpenAPIHono } from "@hono/zod-openapi";
import { serveOpenApi } from "../../core/http/openapi";
import { onError, onNotFound } from "../../core/http/problem";
import type { ControlPlaneApp } from "./context";
import type { Publisher } from "./publisher/types";
import { describeScripts, scripts } from "./routes/scripts";
import { adminTenants, describeTenants } from "./routes/tenants";

/** The control plane's HTTP surface; the publisher (local or Workers for Platforms) is injected. */
export function createApp(publisherFor: (env: ControlPlaneApp["Bindings"]) => Publisher) {
  const app = new OpenAPIHono<ControlPlaneApp>();
  app.onError(onError);
  app.notFound(onNotFound);
  app.use("/v1/*", async (c, next) => {
    c.set("publisher", publisherFor(c.env));
    await next();
  });
  app.get("/", (c) => c.json({ service: "isoplane-control-plane", openapi: "/openapi.json" }));
  app.route("/admin/tenants", adminTenants);
  app.route("/v1/agents", scripts);
  describeTenants(app);
  describeScripts(app);
  serveOpenApi(app, "Isoplane control plane", "Tenants and keys (admin token); agent scripts (tenant keys).");
  return app;
}
