import { z, type Hook, type OpenAPIHono, type RouteConfig, type RouteHandler } from "@hono/zod-openapi";
import type { Env } from "hono";
import { DOCS_HTML } from "./docs";
import { jsonBody, validationProblem } from "./validate";

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

/** Standard problem responses, so every documented route lists its failure modes the same way ("4XX": any client error). */
export function problems(...statuses: (number | "4XX")[]): RouteConfig["responses"] {
  return Object.fromEntries(statuses.map((s) => [s, { description: `Problem (${s})`, content: problemContent }]));
}

export const bearerSecurity = [{ bearer: [] }];

/**
 * The apps' `defaultHook`: a path, query or header parameter that fails its route's schema is a
 * 400 `invalid-request` problem, detailed as `validationProblem` details bodies. A path parameter
 * named in `params` is answered by its own check instead (an agent name's `invalid-name`, say).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a hook for every route of an app
export function validationHook(params: Record<string, (value: string | undefined) => unknown> = {}): Hook<any, any, any, any> {
  return (result, c) => {
    if (result.success) return;
    const name = result.error.issues[0]?.path[0];
    if (result.target === "param" && typeof name === "string" && params[name]) params[name](c.req.param(name));
    throw validationProblem(result.error);
  };
}

/** What a route's handler is given: the context, with `c.req.valid(…)` typed from the route. */
export type RouteContext<R extends RouteConfig, E extends Env> = Parameters<RouteHandler<R, E>>[0];

/**
 * Registers a route once: the OpenAPI document is generated from `route`, and the same `route`
 * validates the request. zod-openapi checks its path, query and header parameters (failures go to
 * the app's `defaultHook`, after the router's middleware — authentication — has run). A JSON body
 * is not left to zod-openapi, which reads bodies whole with no size limit, nesting check or read
 * timeout: it is read by `jsonBody` (core/http/body.ts's limits, then the route's schema) after the
 * parameters and before the handler, which gets it as `c.req.valid("json")`. Other bodies (uploads,
 * context objects) are the handler's to read. `path` routes on a Hono path the document's template
 * cannot say (a context key, slashes and all); the handler then reads that parameter itself.
 * `bodyLimit` lowers the JSON body's size limit (bytes) for a route that takes only a little.
 */
export function openapi<E extends Env, R extends RouteConfig>(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any router of the app
  app: OpenAPIHono<E, any, any>,
  route: R,
  handler: (c: RouteContext<R, E>) => Response | Promise<Response>,
  options: { path?: string; bodyLimit?: number } = {},
): void {
  const { middleware: _middleware, hide: _hide, ...documented } = route;
  app.openAPIRegistry.registerPath(documented);
  const { body, ...parameters } = route.request ?? {};
  if (options.path) delete parameters.params;
  const media = body?.content["application/json"];
  const json = media && "schema" in media && media.schema instanceof z.ZodType ? media.schema : null;
  // Documented above; validated and routed here, without its body.
  app.openapi({ ...route, hide: true, path: options.path ?? route.path, request: parameters }, async (c) => {
    if (json) c.req.addValidatedData("json", (await jsonBody(c.req.raw, json, options.bodyLimit)) as object);
    return handler(c as unknown as RouteContext<R, E>);
  });
}

/**
 * `/openapi.json` and `/docs`. The document's server is the origin it was fetched from — the local
 * default (`http://127.0.0.1:8787`, `:8788`) under `npm start`, or wherever the Worker is deployed.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Hono's generic app type
export function serveOpenApi<A extends OpenAPIHono<any, any, any>>(app: A, title: string, description: string): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: { title, version: "0.1.0", description, license: { name: "Apache-2.0", identifier: "Apache-2.0" } },
    servers: [{ url: new URL(c.req.url).origin, description: "This Worker (the origin this document was served from)" }],
  }));
  app.get("/docs", (c) => c.html(DOCS_HTML));
}
