import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { auditStatement } from "../audit";
import { db } from "../../../core/db/client";
import { tenants } from "../../../core/db/schema";
import { intSetting } from "../../../core/env";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import { ProblemError } from "../../../core/http/problem";
import { parseQuotas } from "../../../core/quotas";
import { bundleKey } from "../../../core/scripts/bundle";
import { agentSecretValues } from "../../../core/secrets";
import { newVersionStatements } from "../agents/store";
import type { ControlPlaneApp } from "../context";
import { publishing } from "../publisher/publishing";
import { AgentParam, PublishedScript } from "../schemas";
import { notifyDispatcher } from "../tenants/notify";
import { parseUpload, UploadMetadata } from "../upload";

export const DEFAULT_MAX_SCRIPT_BYTES = 5 * 1024 * 1024;

/** `PUT /v1/agents/{agent}/script`: a new version of an agent (mounted in routes/agents.ts, behind its authentication). */
export const scriptRoutes = new OpenAPIHono<ControlPlaneApp>();

const uploadScript = createRoute({
  method: "put",
  path: "/{agent}/script",
  operationId: "uploadScript",
  summary: "Upload a new version of an agent; it becomes the active version",
  description:
    "One ES module (application/javascript+module or text/javascript), or multipart/form-data with several modules and a `metadata` part ({main_module, compatibility_date?, compatibility_flags?}), as Workers for Platforms takes it.",
  security: bearerSecurity,
  request: {
    params: AgentParam,
    body: {
      required: true,
      content: {
        "application/javascript+module": { schema: z.string() },
        "text/javascript": { schema: z.string() },
        "multipart/form-data": { schema: z.object({ metadata: UploadMetadata }).catchall(z.string().openapi({ format: "binary" })) },
      },
    },
  },
  responses: {
    201: { description: "The new active version", content: { "application/json": { schema: PublishedScript } } },
    ...problems(400, 401, 403, 413, 415, 502),
  },
});

openapi(scriptRoutes, uploadScript, async (c) => {
  const { agent } = c.req.valid("param");
  const { tenantId, keyId } = c.var.tenant;
  const upload = await parseUpload(c.req.raw, intSetting(c.env.MAX_SCRIPT_BYTES, DEFAULT_MAX_SCRIPT_BYTES));
  const tenant = await db(c.env.DB).select({ quotas: tenants.quotas }).from(tenants).where(eq(tenants.id, tenantId)).get();
  const quotas = parseQuotas(tenant?.quotas ?? "{}");
  if (quotas.scriptBytes !== null && upload.size > quotas.scriptBytes) {
    throw new ProblemError("script-quota-exceeded", `The modules total ${upload.size} bytes; this tenant's scriptBytes quota is ${quotas.scriptBytes}.`, {
      extra: { size: upload.size, limit: quotas.scriptBytes },
    });
  }

  // 1. The bundle, content-addressed in the platform-only prefix (a retry rewrites the same object).
  const key = bundleKey(tenantId, agent, upload.sha256);
  await c.env.BUCKET.put(key, JSON.stringify(upload.bundle), { httpMetadata: { contentType: "application/json" } });
  // 2. The runtime (a dispatch-namespace script for wfp).
  const publisher = c.var.publisher;
  const scriptName = await publishing(async () =>
    publisher.upload({
      tenantId,
      agent,
      sha256: upload.sha256,
      bundle: upload.bundle,
      limits: { cpuMs: quotas.cpuMsPerRun, subrequests: quotas.subrequestsPerRun },
      secrets: publisher.kind === "local" ? {} : await agentSecretValues(c.env.DB, c.env.SECRETS_KEY, tenantId, agent),
    }),
  );
  // 3. One transaction: the new version, the switch to it, the audit row.
  const results = await c.env.DB.batch<{ version: number }>([
    ...newVersionStatements(c.env.DB, { tenantId, agent, sha256: upload.sha256, size: upload.size, bundleKey: key, scriptName }),
    auditStatement(c.env.DB, {
      actor: { kind: "key", keyId },
      tenantId,
      action: "agent.publish",
      target: agent,
      detail: { sha256: upload.sha256, size: upload.size },
    }),
  ]);
  const version = results[1]?.results[0]?.version;
  if (typeof version !== "number") throw new Error("version insert returned no row");
  await notifyDispatcher(c.env, tenantId, { agent });
  return c.json({ agent, version, sha256: upload.sha256, size: upload.size } satisfies z.infer<typeof PublishedScript>, 201);
});
