import { z, type OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import { DOCS_HTML } from "./docs";

export const Problem = z
  .object({
    type: z.string().url(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
  })
  .openapi("Problem");

const problemContent = { "application/problem+json": { schema: Problem } };

/** Standard problem responses, so every documented route lists its failure modes the same way. */
export function problems(...statuses: number[]): RouteConfig["responses"] {
  return Object.fromEntries(statuses.map((s) => [s, { description: `Problem (${s})`, content: problemContent }]));
}

export const bearerSecurity = [{ bearer: [] }];

/**
 * Routes are handled by plain Hono handlers (so body limits and problem types stay exact) and
 * registered here with the same zod schemas that validate them, which generates `/openapi.json`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Hono's generic app type
export function describe<A extends OpenAPIHono<any, any, any>>(app: A, ...routes: RouteConfig[]): void {
  for (const route of routes) app.openAPIRegistry.registerPath(route);
}

export function serveOpenApi<A extends OpenAPIHono<any, any, any>>(app: A, title: string, description: string): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  app.doc31("/openapi.json", { openapi: "3.1.0", info: { title, version: "0.1.0", description } });
  app.get("/docs", (c) => c.html(DOCS_HTML));
}
