import { createRoute, OpenAPIHono, type z } from "@hono/zod-openapi";
import { and, asc, eq, gt } from "drizzle-orm";
import { requireTenant } from "../../../core/auth/middleware";
import { auditInsert, auditStatement, type Actor } from "../audit";
import { db } from "../../../core/db/client";
import { agents } from "../../../core/db/schema";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import { page, PageQuery } from "../../../core/http/pagination";
import { isoTime } from "../../../core/log";
import { agentSecretValues } from "../../../core/secrets";
import { activateStatement, deleteAgentStatements, findAgent, findVersion, listVersions, scriptNames } from "../agents/store";
import type { ControlPlaneApp } from "../context";
import { publishing } from "../publisher/publishing";
import { AgentDetail, AgentList, AgentParam, PatchAgent, Rollback } from "../schemas";
import { checkModel } from "../models/check";
import { notifyDispatcher } from "../tenants/notify";
import { scriptRoutes } from "./scripts";
import { secretRoutes } from "./secrets";

/** `/v1/agents` (tenant API keys with the `scripts` scope): agents, their versions, scripts and secrets. */
export const agentRoutes = new OpenAPIHono<ControlPlaneApp>();
agentRoutes.use("*", requireTenant("scripts"));
agentRoutes.route("/:agent/secrets", secretRoutes);
agentRoutes.route("/", scriptRoutes);

const agentResponse = { description: "The agent", content: { "application/json": { schema: AgentDetail } } };

const listAgents = createRoute({
  method: "get",
  path: "/",
  operationId: "listAgents",
  summary: "The tenant's agents",
  security: bearerSecurity,
  request: { query: PageQuery({ limit: 50, max: 100 }) },
  responses: { 200: { description: "A page of agents", content: { "application/json": { schema: AgentList } } }, ...problems(400, 401, 403) },
});

/** A page of a tenant's agents by name (the cursor is the last name shown). */
export async function agentPage(d1: D1Database, tenantId: string, { cursor, limit }: { cursor?: string; limit: number }) {
  const rows = await db(d1)
    .select()
    .from(agents)
    .where(and(eq(agents.tenantId, tenantId), cursor ? gt(agents.name, cursor) : undefined))
    .orderBy(asc(agents.name))
    .limit(limit + 1)
    .all();
  return page(rows, limit, (a) => a.name);
}

openapi(agentRoutes, listAgents, async (c) => {
  const { items, cursor: next } = await agentPage(c.env.DB, c.var.tenant.tenantId, c.req.valid("query"));
  return c.json({
    agents: items.map((a) => ({ name: a.name, activeVersion: a.activeVersion, defaultModel: a.defaultModel, createdAt: isoTime(a.createdAt), updatedAt: isoTime(a.updatedAt) })),
    cursor: next,
  } satisfies z.infer<typeof AgentList>);
});

/** An agent and every version of it, newest first as stored. */
export async function agentDetail(d1: D1Database, tenantId: string, name: string): Promise<z.infer<typeof AgentDetail>> {
  const agent = await findAgent(d1, tenantId, name);
  const versions = await listVersions(d1, tenantId, name);
  return {
    name: agent.name,
    activeVersion: agent.activeVersion,
    defaultModel: agent.defaultModel,
    createdAt: isoTime(agent.createdAt),
    updatedAt: isoTime(agent.updatedAt),
    versions: versions.map((v) => ({
      version: v.version,
      sha256: v.sha256,
      size: v.size,
      createdAt: isoTime(v.createdAt),
      active: v.version === agent.activeVersion,
    })),
  };
}

const getAgent = createRoute({
  method: "get",
  path: "/{agent}",
  operationId: "getAgent",
  summary: "An agent and its versions",
  security: bearerSecurity,
  request: { params: AgentParam },
  responses: { 200: agentResponse, ...problems(400, 401, 403, 404) },
});

openapi(agentRoutes, getAgent, async (c) => c.json(await agentDetail(c.env.DB, c.var.tenant.tenantId, c.req.valid("param").agent)));

const updateAgent = createRoute({
  method: "patch",
  path: "/{agent}",
  operationId: "updateAgent",
  summary: "Set the agent's default model (null: the tenant's default, else the platform's)",
  security: bearerSecurity,
  request: { params: AgentParam, body: { required: true, content: { "application/json": { schema: PatchAgent } } } },
  responses: { 200: agentResponse, ...problems(400, 401, 403, 404, 413, 415, 503) },
});

openapi(agentRoutes, updateAgent, async (c) => {
  const { agent } = c.req.valid("param");
  const { tenantId, keyId } = c.var.tenant;
  const { defaultModel } = c.req.valid("json");
  if (defaultModel !== null) checkModel(c.env, defaultModel, "defaultModel");
  await findAgent(c.env.DB, tenantId, agent);
  const d = db(c.env.DB);
  await d.batch([
    d.update(agents).set({ defaultModel, updatedAt: Date.now() }).where(and(eq(agents.tenantId, tenantId), eq(agents.name, agent))),
    auditInsert(d, { actor: { kind: "key", keyId }, tenantId, action: "agent.update", target: agent, detail: { defaultModel } }),
  ]);
  await notifyDispatcher(c.env, tenantId, { agent });
  return c.json(await agentDetail(c.env.DB, tenantId, agent));
});

const rollbackAgent = createRoute({
  method: "post",
  path: "/{agent}/rollback",
  operationId: "rollbackAgent",
  summary: "Make an earlier version active (one atomic switch)",
  security: bearerSecurity,
  request: { params: AgentParam, body: { required: true, content: { "application/json": { schema: Rollback } } } },
  responses: { 200: agentResponse, ...problems(400, 401, 403, 404, 413, 415, 502) },
});

openapi(agentRoutes, rollbackAgent, async (c) => {
  const { tenantId, keyId } = c.var.tenant;
  return c.json(await rollBack(c.env, c.var.publisher, tenantId, c.req.valid("param").agent, c.req.valid("json").version, { kind: "key", keyId }));
});

/**
 * Makes an earlier version the active one (the tenant's own rollback, and the operator's from the
 * dashboard): one D1 switch with its audit row, then the dispatcher is told.
 */
export async function rollBack(
  env: ControlPlaneApp["Bindings"],
  publisher: ControlPlaneApp["Variables"]["publisher"],
  tenantId: string,
  agent: string,
  version: number,
  actor: Actor,
): Promise<z.infer<typeof AgentDetail>> {
  const current = await findAgent(env.DB, tenantId, agent);
  const target = await findVersion(env.DB, tenantId, agent, version);
  if (target.scriptName) {
    // An older script may hold stale secrets: bring them up to date before it takes traffic.
    const secrets = await agentSecretValues(env.DB, env.SECRETS_KEY, tenantId, agent);
    await publishing(() => publisher.putSecrets(target.scriptName!, secrets));
  }
  await env.DB.batch([
    activateStatement(env.DB, tenantId, agent, version),
    auditStatement(env.DB, {
      actor,
      tenantId,
      action: "agent.rollback",
      target: agent,
      detail: { from: current.activeVersion, to: version },
    }),
  ]);
  await notifyDispatcher(env, tenantId, { agent });
  return agentDetail(env.DB, tenantId, agent);
}

const deleteAgent = createRoute({
  method: "delete",
  path: "/{agent}",
  operationId: "deleteAgent",
  summary: "Delete an agent, its versions and secrets (its runs and results are kept)",
  security: bearerSecurity,
  request: { params: AgentParam },
  responses: { 204: { description: "Deleted" }, ...problems(400, 401, 403, 404, 502) },
});

openapi(agentRoutes, deleteAgent, async (c) => {
  const { agent } = c.req.valid("param");
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
