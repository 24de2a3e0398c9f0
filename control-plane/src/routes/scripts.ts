import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireTenant } from "../../../core/auth/middleware";
import { sha256Hex } from "../../../core/crypto";
import { intSetting } from "../../../core/env";
import { readBodyLimited } from "../../../core/http/body";
import { bearerSecurity, describe, problems } from "../../../core/http/openapi";
import { ProblemError } from "../../../core/http/problem";
import { AgentName, agentNameParam } from "../../../core/names";
import { DEFAULT_COMPATIBILITY_DATE, type ScriptBundle } from "../../../core/scripts/bundle";
import type { ControlPlaneApp } from "../context";
import { PublishedScript } from "../schemas";

export const DEFAULT_MAX_SCRIPT_BYTES = 5 * 1024 * 1024;
const MODULE_TYPES = /^(?:application\/javascript\+module|text\/javascript|application\/javascript)\s*(?:;|$)/i;
/** The name a single-module upload is stored under inside its bundle. */
export const SINGLE_MODULE_NAME = "agent.js";

export const scripts = new OpenAPIHono<ControlPlaneApp>();
scripts.use("*", requireTenant("scripts"));

scripts.put("/:agent/script", async (c) => {
  const agent = agentNameParam(c.req.param("agent"));
  const type = c.req.header("content-type") ?? "";
  if (!MODULE_TYPES.test(type)) {
    throw new ProblemError(
      "unsupported-media-type",
      "Upload one ES module as Content-Type: application/javascript+module (or text/javascript).",
    );
  }
  const limit = intSetting(c.env.MAX_SCRIPT_BYTES, DEFAULT_MAX_SCRIPT_BYTES);
  const bytes = await readBodyLimited(c.req.raw, limit, "script");
  let code: string;
  try {
    code = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ProblemError("invalid-script", "The script is not valid UTF-8.");
  }
  if (code.trim() === "") throw new ProblemError("invalid-script", "The script is empty.");
  const bundle: ScriptBundle = {
    mainModule: SINGLE_MODULE_NAME,
    modules: { [SINGLE_MODULE_NAME]: code },
    compatibilityDate: DEFAULT_COMPATIBILITY_DATE,
    compatibilityFlags: [],
  };
  const published = await c.var.publisher.publish({
    tenantId: c.var.tenant.tenantId,
    agent,
    bundle,
    sha256: await sha256Hex(bytes),
    size: bytes.byteLength,
  });
  return c.json(published, 201);
});

export function describeScripts(app: OpenAPIHono<ControlPlaneApp>): void {
  describe(
    app,
    createRoute({
      method: "put",
      path: "/v1/agents/{agent}/script",
      summary: "Upload a new version of an agent (one ES module); it becomes the active version",
      security: bearerSecurity,
      request: {
        params: z.object({ agent: AgentName.openapi({ param: { name: "agent", in: "path" } }) }),
        body: { required: true, content: { "application/javascript+module": { schema: z.string() }, "text/javascript": { schema: z.string() } } },
      },
      responses: {
        201: { description: "The new active version", content: { "application/json": { schema: PublishedScript } } },
        ...problems(400, 401, 403, 413, 415),
      },
    }),
  );
}
