import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, eq, gt } from "drizzle-orm";
import { requireTenant } from "../../../core/auth/middleware";
import { auditStatement } from "../audit";
import { db } from "../../../core/db/client";
import { agents, tenants } from "../../../core/db/schema";
import { intSetting } from "../../../core/env";
import { bearerSecurity, describe, problems } from "../../../core/http/openapi";
import { ProblemError } from "../../../core/http/problem";
import { jsonBody, page, queryParams } from "../../../core/http/validate";
import { AgentName, agentNameParam } from "../../../core/names";
import { parseQuotas } from "../../../core/quotas";
import { bundleKey } from "../../../core/scripts/bundle";
import { agentSecretValues } from "../../../core/secrets";
import {
  activateStatement,
  deleteAgentStatements,
  findAgent,
  findVersion,
  listVersions,
  newVersionStatements,
  scriptNames,
} from "../agents/store";
import type { ControlPlaneApp } from "../context";
import { publishing } from "../publisher/publishing";
import { notifyDispatcher } from "../tenants/notify";
import { AgentDetail, AgentList, PublishedScript, Rollback } from "../schemas";
import { parseUpload, UploadMetadata } from "../upload";
import { secretRoutes } from "./secrets";

export const DEFAULT_MAX_SCRIPT_BYTES = 5 * 1024 * 1024;

export const agentRoutes = new OpenAPIHono<ControlPlaneApp>();
agentRoutes.use("*", requireTenant("scripts"));
agentRoutes.route("/:agent/secrets", secretRoutes);

const iso = (ms: number) => new Date(ms).toISOString();

agentRoutes.put("/:agent/script", async (c) => {
  const agent = agentNameParam(c.req.param("agent"));
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

const ListQuery = z.object({
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

agentRoutes.get("/", async (c) => {
  const { cursor, limit = 50 } = queryParams(c.req.query(), ListQuery);
  const rows = await db(c.env.DB)
    .select()
    .from(agents)
    .where(and(eq(agents.tenantId, c.var.tenant.tenantId), cursor ? gt(agents.name, cursor) : undefined))
    .orderBy(asc(agents.name))
    .limit(limit + 1)
    .all();
  const { items, cursor: next } = page(rows, limit, (a) => a.name);
  return c.json({
    agents: items.map((a) => ({ name: a.name, activeVersion: a.activeVersion, createdAt: iso(a.createdAt), updatedAt: iso(a.updatedAt) })),
    cursor: next,
  } satisfies z.infer<typeof AgentList>);
});

async function agentDetail(d1: D1Database, tenantId: string, name: string): Promise<z.infer<typeof AgentDetail>> {
  const agent = await findAgent(d1, tenantId, name);
  const versions = await listVersions(d1, tenantId, name);
  return {
    name: agent.name,
    activeVersion: agent.activeVersion,
    createdAt: iso(agent.createdAt),
    updatedAt: iso(agent.updatedAt),
    versions: versions.map((v) => ({
      version: v.version,
      sha256: v.sha256,
      size: v.size,
      createdAt: iso(v.createdAt),
      active: v.version === agent.activeVersion,
    })),
  };
}

agentRoutes.get("/:agent", async (c) => {
  const agent = agentNameParam(c.req.param("agent"));
  return c.json(await agentDetail(c.env.DB, c.var.tenant.tenantId, agent));
});

agentRoutes.post("/:agent/rollback", async (c) => {
  const agent = agentNameParam(c.req.param("agent"));
  const { tenantId, keyId } = c.var.tenant;
  const { version } = await jsonBody(c.req.raw, Rollback);
  const current = await findAgent(c.env.DB, tenantId, agent);
  const target = await findVersion(c.env.DB, tenantId, agent, version);
  if (target.scriptName) {
    // An older script may hold stale secrets: bring them up to date before it takes traffic.
    const secrets = await agentSecretValues(c.env.DB, c.env.SECRETS_KEY, tenantId, agent);
    await publishing(() => c.var.publisher.putSecrets(target.scriptName!, secrets));
  }
  await c.env.DB.batch([
    activateStatement(c.env.DB, tenantId, agent, version),
    auditStatement(c.env.DB, {
      actor: { kind: "key", keyId },
      tenantId,
      action: "agent.rollback",
      target: agent,
      detail: { from: current.activeVersion, to: version },
    }),
  ]);
  await notifyDispatcher(c.env, tenantId, { agent });
  return c.json(await agentDetail(c.env.DB, tenantId, agent));
});

agentRoutes.delete("/:agent", async (c) => {
  const agent = agentNameParam(c.req.param("agent"));
  const { tenantId, keyId } = c.var.tenant;
  await findAgent(c.env.DB, tenantId, agent);
  const scripts = await scriptNames(c.env.DB, tenantId, agent);
  // D1 first: from this moment no run can start; then the runtime's copies and the bundles go.
  await c.env.DB.batch([
    ...deleteAgentStatements(c.env.DB, tenantId, agent),
    auditStatement(c.env.DB, { actor: { kind: "key", keyId }, tenantId, action: "agent.delete", target: agent }),
  ]);
  await notifyDispatcher(c.env, tenantId, { agent });
  await publishing(() => c.var.publisher.deleteScripts(scripts));
  const prefix = `scripts/${tenantId}/${agent}/`;
  for (let cursor: string | undefined; ; ) {
    const listed = await c.env.BUCKET.list({ prefix, ...(cursor ? { cursor } : {}) });
    if (listed.objects.length) await c.env.BUCKET.delete(listed.objects.map((o) => o.key));
    if (!listed.truncated) break;
    cursor = listed.cursor;
  }
  return c.body(null, 204);
});

const AgentParam = z.object({ agent: AgentName.openapi({ param: { name: "agent", in: "path" } }) });

export function describeAgents(app: OpenAPIHono<ControlPlaneApp>): void {
  describe(
    app,
    createRoute({
      method: "put",
      path: "/v1/agents/{agent}/script",
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
    }),
    createRoute({
      method: "get",
      path: "/v1/agents",
      summary: "The tenant's agents",
      security: bearerSecurity,
      request: { query: ListQuery },
      responses: { 200: { description: "A page of agents", content: { "application/json": { schema: AgentList } } }, ...problems(400, 401, 403) },
    }),
    createRoute({
      method: "get",
      path: "/v1/agents/{agent}",
      summary: "An agent and its versions",
      security: bearerSecurity,
      request: { params: AgentParam },
      responses: { 200: { description: "The agent", content: { "application/json": { schema: AgentDetail } } }, ...problems(400, 401, 403, 404) },
    }),
    createRoute({
      method: "post",
      path: "/v1/agents/{agent}/rollback",
      summary: "Make an earlier version active (one atomic switch)",
      security: bearerSecurity,
      request: { params: AgentParam, body: { required: true, content: { "application/json": { schema: Rollback } } } },
      responses: { 200: { description: "The agent", content: { "application/json": { schema: AgentDetail } } }, ...problems(400, 401, 403, 404, 502) },
    }),
    createRoute({
      method: "delete",
      path: "/v1/agents/{agent}",
      summary: "Delete an agent, its versions and secrets (its runs and results are kept)",
      security: bearerSecurity,
      request: { params: AgentParam },
      responses: { 204: { description: "Deleted" }, ...problems(400, 401, 403, 404, 502) },
    }),
  );
}
