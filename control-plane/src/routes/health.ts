import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { openapi, problems } from "../../../core/http/openapi";
import { problemResponse } from "../../../core/http/problem";
import type { ControlPlaneApp } from "../context";
import { dispatcherReachable } from "../tenants/notify";

/** `GET /healthz`, unauthenticated: what `npm start` and load balancers poll. */
export const health = new OpenAPIHono<ControlPlaneApp>();

const checkHealth = createRoute({
  method: "get",
  path: "/",
  operationId: "checkHealth",
  summary: "Ready: the control plane reaches the dispatcher's Durable Objects",
  security: [],
  responses: {
    200: { description: "Ready", content: { "application/json": { schema: z.object({ ok: z.literal(true) }) } } },
    // Every refusal of this Worker is a problem (4XX: a well-formed GET /healthz gets none).
    ...problems("4XX", 503),
  },
});

// Ready when it can reach the dispatcher's objects, which every change to an agent or tenant tells.
openapi(health, checkHealth, async (c) =>
  (await dispatcherReachable(c.env))
    ? c.json({ ok: true as const })
    : problemResponse("unavailable", "The control plane cannot reach the dispatcher's Durable Objects.", { instance: "/healthz", headers: { "retry-after": "1" } }),
);
