import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bearerSecurity, describe, problems } from "../../../core/http/openapi";
import { AgentName, agentNameParam } from "../../../core/names";
import type { ControlPlaneApp } from "../context";
import { requireAdmin } from "../middleware/admin";
import { AgentDetail, Rollback } from "../schemas";
import { liveTenant } from "../tenants/store";
import { agentDetail, agentPage, ListQuery, rollbackAgent } from "./agents";

/**
 * Mounted under `/admin/tenants/:tenantId/agents`: a tenant's agents with their versions, and a
 * rollback by the operator (the same switch as the tenant's own, audited as `admin`).
 */
export const adminAgents = new OpenAPIHono<ControlPlaneApp>();
adminAgents.use("*", requireAdmin);

adminAgents.get("/", async (c) => {
  const tenant = await liveTenant(c.env.DB, c.req.param("tenantId"));
  const { items, cursor } = await agentPage(c.env.DB, tenant.id, c.req.query());
  const list = await Promise.all(items.map((a) => agentDetail(c.env.DB, tenant.id, a.name)));
  return c.json({ agents: list, cursor } satisfies z.infer<typeof AdminAgentList>);
});

adminAgents.post("/:agent/rollback", async (c) => {
  const tenant = await liveTenant(c.env.DB, c.req.param("tenantId"));
  const agent = agentNameParam(c.req.param("agent"));
  return c.json(await rollbackAgent(c, tenant.id, agent, c.var.actor));
});

const AdminAgentList = z.object({ agents: z.array(AgentDetail), cursor: z.string().nullable() }).openapi("AdminAgentList");
const TenantIdParam = z.object({ tenantId: z.string().openapi({ param: { name: "tenantId", in: "path" } }) });

export function describeAdminAgents(app: OpenAPIHono<ControlPlaneApp>): void {
  const agent = { description: "The agent", content: { "application/json": { schema: AgentDetail } } };
  describe(
    app,
    createRoute({
      method: "get",
      path: "/admin/tenants/{tenantId}/agents",
      summary: "A tenant's agents, each with its versions",
      security: bearerSecurity,
      request: { params: TenantIdParam, query: ListQuery },
      responses: { 200: { description: "A page of agents", content: { "application/json": { schema: AdminAgentList } } }, ...problems(400, 401, 403, 404) },
    }),
    createRoute({
      method: "post",
      path: "/admin/tenants/{tenantId}/agents/{agent}/rollback",
      summary: "Make an earlier version of a tenant's agent active (audited as admin)",
      security: bearerSecurity,
      request: {
        params: TenantIdParam.extend({ agent: AgentName.openapi({ param: { name: "agent", in: "path" } }) }),
        body: { required: true, content: { "application/json": { schema: Rollback } } },
      },
      responses: { 200: agent, ...problems(400, 401, 403, 404, 413, 415, 502) },
    }),
  );
}
