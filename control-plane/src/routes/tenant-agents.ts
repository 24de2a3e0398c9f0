import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import { NextCursor, PageQuery } from "../../../core/http/pagination";
import type { ControlPlaneApp } from "../context";
import { AgentDetail, AgentParam, Rollback, TenantIdParam } from "../schemas";
import { agentDetail, agentPage, rollBack } from "./agents";

/**
 * Mounted under `/admin/tenants/:tenantId/agents` (admin only), which finds the tenant first: a
 * tenant's agents with their versions, and a rollback by the operator (the same switch as the
 * tenant's own, audited as `admin`).
 */
export const tenantAgents = new OpenAPIHono<ControlPlaneApp>();

const AdminAgentList = z.object({ agents: z.array(AgentDetail), cursor: NextCursor }).openapi("AdminAgentList");

const listTenantAgents = createRoute({
  method: "get",
  path: "/",
  operationId: "listTenantAgents",
  summary: "A tenant's agents, each with its versions",
  security: bearerSecurity,
  request: { params: TenantIdParam, query: PageQuery({ limit: 50, max: 100 }) },
  responses: { 200: { description: "A page of agents", content: { "application/json": { schema: AdminAgentList } } }, ...problems(400, 401, 403, 404) },
});

openapi(tenantAgents, listTenantAgents, async (c) => {
  const tenant = c.var.managedTenant;
  const { items, cursor } = await agentPage(c.env.DB, tenant.id, c.req.valid("query"));
  const list = await Promise.all(items.map((a) => agentDetail(c.env.DB, tenant.id, a.name)));
  return c.json({ agents: list, cursor } satisfies z.infer<typeof AdminAgentList>);
});

const rollbackTenantAgent = createRoute({
  method: "post",
  path: "/{agent}/rollback",
  operationId: "rollbackTenantAgent",
  summary: "Make an earlier version of a tenant's agent active (audited as admin)",
  security: bearerSecurity,
  request: { params: TenantIdParam.extend(AgentParam.shape), body: { required: true, content: { "application/json": { schema: Rollback } } } },
  responses: { 200: { description: "The agent", content: { "application/json": { schema: AgentDetail } } }, ...problems(400, 401, 403, 404, 413, 415, 502) },
});

openapi(tenantAgents, rollbackTenantAgent, async (c) =>
  c.json(await rollBack(c.env, c.var.publisher, c.var.managedTenant.id, c.req.valid("param").agent, c.req.valid("json").version, c.var.actor)),
);
