import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, eq, sql } from "drizzle-orm";
import { auditInsert } from "../audit";
import { db } from "../../../core/db/client";
import { agentSecrets } from "../../../core/db/schema";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import { ProblemError } from "../../../core/http/problem";
import { isoTime } from "../../../core/log";
import { MAX_SECRET_BYTES, RESERVED_ENV_NAMES, SECRET_NAME_PATTERN, sealSecret } from "../../../core/secrets";
import { bumpSecretsQuery, findAgent, findVersion, scriptNames } from "../agents/store";
import type { ControlPlaneApp } from "../context";
import { publishing } from "../publisher/publishing";
import { AgentParam, PutSecret, SecretList, SecretView } from "../schemas";
import { notifyDispatcher } from "../tenants/notify";

/** Mounted under `/v1/agents/:agent/secrets` inside the (already authenticated) agent routes. */
export const secretRoutes = new OpenAPIHono<ControlPlaneApp>();

/** A secret's name that fails the route's schema is refused with `invalid-name` (app.ts's hook calls this). */
export function secretName(value: string | undefined): string {
  if (!value || !SECRET_NAME_PATTERN.test(value) || RESERVED_ENV_NAMES.has(value)) {
    throw new ProblemError(
      "invalid-name",
      `Secret names match ${SECRET_NAME_PATTERN.source} and are not one of ${[...RESERVED_ENV_NAMES].join(", ")}.`,
    );
  }
  return value;
}

const Params = AgentParam.extend({
  name: z
    .string()
    .regex(SECRET_NAME_PATTERN)
    .refine((name) => !RESERVED_ENV_NAMES.has(name), `not one of ${[...RESERVED_ENV_NAMES].join(", ")}`)
    .openapi({ param: { name: "name", in: "path" }, example: "OPENAI_API_KEY" }),
});

const putSecret = createRoute({
  method: "put",
  path: "/{name}",
  operationId: "putSecret",
  summary: "Set a secret; the agent sees it as env.SECRETS.<name>. Encrypted at rest, never returned.",
  security: bearerSecurity,
  request: { params: Params, body: { required: true, content: { "application/json": { schema: PutSecret } } } },
  responses: { 200: { description: "Stored", content: { "application/json": { schema: SecretView } } }, ...problems(400, 401, 403, 404, 413, 415, 502) },
});

openapi(secretRoutes, putSecret, async (c) => {
  const { agent, name } = c.req.valid("param");
  const { tenantId, keyId } = c.var.tenant;
  const { value } = c.req.valid("json");
  if (new TextEncoder().encode(value).byteLength > MAX_SECRET_BYTES) {
    throw new ProblemError("invalid-request", `value: a secret is at most ${MAX_SECRET_BYTES} bytes.`);
  }
  const current = await findAgent(c.env.DB, tenantId, agent);
  const sealed = await sealSecret(c.env.SECRETS_KEY, tenantId, agent, name, value);
  if (current.activeVersion !== null) {
    const active = await findVersion(c.env.DB, tenantId, agent, current.activeVersion);
    if (active.scriptName) await publishing(() => c.var.publisher.putSecrets(active.scriptName!, { [name]: value }));
  }
  const now = Date.now();
  const d = db(c.env.DB);
  await d.batch([
    d
      .insert(agentSecrets)
      .values({ tenantId, agent, name, sealed, updatedAt: now })
      .onConflictDoUpdate({
        target: [agentSecrets.tenantId, agentSecrets.agent, agentSecrets.name],
        set: { sealed: sql`excluded.sealed`, updatedAt: sql`excluded.updated_at` },
      }),
    bumpSecretsQuery(d, tenantId, agent),
    // The audit row names the secret, never its value.
    auditInsert(d, { actor: { kind: "key", keyId }, tenantId, action: "secret.put", target: `${agent}/${name}` }),
  ]);
  await notifyDispatcher(c.env, tenantId, { agent });
  return c.json({ name, updatedAt: isoTime(now) } satisfies z.infer<typeof SecretView>);
});

const listSecrets = createRoute({
  method: "get",
  path: "/",
  operationId: "listSecrets",
  summary: "The names of the agent's secrets (never their values)",
  security: bearerSecurity,
  request: { params: AgentParam },
  responses: { 200: { description: "Names", content: { "application/json": { schema: SecretList } } }, ...problems(400, 401, 403, 404) },
});

openapi(secretRoutes, listSecrets, async (c) => {
  const { agent } = c.req.valid("param");
  const { tenantId } = c.var.tenant;
  await findAgent(c.env.DB, tenantId, agent);
  const rows = await db(c.env.DB)
    .select({ name: agentSecrets.name, updatedAt: agentSecrets.updatedAt })
    .from(agentSecrets)
    .where(and(eq(agentSecrets.tenantId, tenantId), eq(agentSecrets.agent, agent)))
    .orderBy(asc(agentSecrets.name))
    .all();
  return c.json({ secrets: rows.map((r) => ({ name: r.name, updatedAt: isoTime(r.updatedAt) })) } satisfies z.infer<typeof SecretList>);
});

const deleteSecret = createRoute({
  method: "delete",
  path: "/{name}",
  operationId: "deleteSecret",
  summary: "Delete a secret",
  security: bearerSecurity,
  request: { params: Params },
  responses: { 204: { description: "Deleted" }, ...problems(400, 401, 403, 404, 502) },
});

openapi(secretRoutes, deleteSecret, async (c) => {
  const { agent, name } = c.req.valid("param");
  const { tenantId, keyId } = c.var.tenant;
  await findAgent(c.env.DB, tenantId, agent);
  const existing = await db(c.env.DB)
    .select({ name: agentSecrets.name })
    .from(agentSecrets)
    .where(and(eq(agentSecrets.tenantId, tenantId), eq(agentSecrets.agent, agent), eq(agentSecrets.name, name)))
    .get();
  if (!existing) throw new ProblemError("not-found", `Agent "${agent}" has no secret ${name}.`);
  const scripts = await scriptNames(c.env.DB, tenantId, agent);
  await publishing(() => c.var.publisher.deleteSecret(scripts, name));
  const d = db(c.env.DB);
  await d.batch([
    d.delete(agentSecrets).where(and(eq(agentSecrets.tenantId, tenantId), eq(agentSecrets.agent, agent), eq(agentSecrets.name, name))),
    bumpSecretsQuery(d, tenantId, agent),
    auditInsert(d, { actor: { kind: "key", keyId }, tenantId, action: "secret.delete", target: `${agent}/${name}` }),
  ]);
  await notifyDispatcher(c.env, tenantId, { agent });
  return c.body(null, 204);
});
