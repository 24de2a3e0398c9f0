import { OpenAPIHono } from "@hono/zod-openapi";
import { intSetting } from "../../core/env";
import { BODY_READ_TIMEOUT_MS, setBodyReadTimeout } from "../../core/http/body";
import { serveOpenApi, validationHook } from "../../core/http/openapi";
import { onError, onNotFound } from "../../core/http/problem";
import { agentNameParam } from "../../core/names";
import type { DispatcherApp } from "./context";
import { agentRuns } from "./routes/agent-runs";
import { context } from "./routes/context";
import { runRecords } from "./routes/runs";
import { sandboxRoutes } from "./routes/sandbox";
import { usageRoutes } from "./routes/usage";
import { webhookRoutes } from "./routes/webhook-secret";
import type { TenantRuntime } from "./runtime/types";

/** The dispatcher's HTTP surface; the runtime that hosts tenant code is chosen by the caller. */
export function createApp(runtimeFor: (env: DispatcherApp["Bindings"], ctx: ExecutionContext) => TenantRuntime) {
  // An agent name that fails its pattern is `invalid-name`, as agentNameParam says; any other parameter `invalid-request`.
  const app = new OpenAPIHono<DispatcherApp>({ defaultHook: validationHook({ agent: agentNameParam }) });
  app.onError(onError);
  app.notFound(onNotFound);
  app.use("*", async (c, next) => {
    setBodyReadTimeout(c.req.raw, intSetting(c.env.BODY_READ_TIMEOUT_MS, BODY_READ_TIMEOUT_MS));
    await next();
  });
  app.use("/v1/*", async (c, next) => {
    // Hono types executionCtx without `exports`; it is the Workers ExecutionContext at run time.
    c.set("runtime", runtimeFor(c.env, c.executionCtx as unknown as ExecutionContext));
    await next();
  });
  app.get("/", (c) => c.json({ service: "isoplane-dispatcher", openapi: "/openapi.json" }));
  app.route("/v1/context", context);
  app.route("/v1/agents", agentRuns);
  app.route("/v1/runs", runRecords);
  app.route("/v1/webhook-secret", webhookRoutes);
  app.route("/v1/usage", usageRoutes);
  // The platform talking to itself (npm start's sandboxes): plain Hono, not in the document.
  app.route("/_sandbox", sandboxRoutes);
  serveOpenApi(app, "Isoplane dispatcher", "Run agents and manage their context (tenant API keys).");
  return app;
}
