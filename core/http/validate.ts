import type { z } from "@hono/zod-openapi";
import { readJsonLimited } from "./body";
import { ProblemError } from "./problem";

/** Default cap for JSON request bodies (1 MiB): large payloads belong in context storage. */
export const JSON_BODY_LIMIT = 1024 * 1024;

/**
 * Reads and validates a JSON body against the same zod schema that documents it in OpenAPI.
 * Unknown fields are refused by the (strict) schemas, so nothing can be mass-assigned.
 */
export async function jsonBody<T extends z.ZodType>(request: Request, schema: T, limit = JSON_BODY_LIMIT): Promise<z.infer<T>> {
  const type = request.headers.get("content-type");
  if (type !== null && !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
    throw new ProblemError("unsupported-media-type", "Send the body as application/json.");
  }
  const value = await readJsonLimited(request, limit);
  const result = schema.safeParse(value ?? {});
  if (!result.success) throw validationProblem(result.error);
  return result.data;
}

/** A zod failure as the 400 `invalid-request` problem: the first issue in `detail`, all of them in `issues`. */
export function validationProblem(error: z.ZodError): ProblemError {
  const issues = error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
  const first = issues[0];
  const detail = first ? `${first.path || "body"}: ${first.message}` : "The request is not valid.";
  return new ProblemError("invalid-request", detail, { extra: { issues } });
}
