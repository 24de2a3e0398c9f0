import { and, desc, eq, isNotNull } from "drizzle-orm";
import { db } from "../../../core/db/client";
import { agents, agentVersions } from "../../../core/db/schema";
import { ProblemError } from "../../../core/http/problem";

/**
 * D1 statements for agents and their versions. They are returned, not run, so each route can put
 * them in one batch with its audit row: D1 runs a batch as a single transaction.
 */
export function newVersionStatements(
  d1: D1Database,
  v: { tenantId: string; agent: string; sha256: string; size: number; bundleKey: string; scriptName: string | null },
): D1PreparedStatement[] {
  const now = Date.now();
  return [
    d1
      .prepare(
        "INSERT INTO agents (tenant_id, name, active_version, created_at, updated_at) VALUES (?1, ?2, NULL, ?3, ?3) ON CONFLICT DO NOTHING",
      )
      .bind(v.tenantId, v.agent, now),
    // Numbering inside the transaction: concurrent uploads cannot take the same version.
    d1
      .prepare(
        `INSERT INTO agent_versions (tenant_id, agent, version, sha256, size, bundle_key, script_name, created_at)
         SELECT ?1, ?2, COALESCE(MAX(version), 0) + 1, ?3, ?4, ?5, ?6, ?7 FROM agent_versions WHERE tenant_id = ?1 AND agent = ?2
         RETURNING version`,
      )
      .bind(v.tenantId, v.agent, v.sha256, v.size, v.bundleKey, v.scriptName, now),
    d1
      .prepare(
        `UPDATE agents SET active_version = (SELECT MAX(version) FROM agent_versions WHERE tenant_id = ?1 AND agent = ?2), updated_at = ?3
         WHERE tenant_id = ?1 AND name = ?2`,
      )
      .bind(v.tenantId, v.agent, now),
  ];
}

export function activateStatement(d1: D1Database, tenantId: string, agent: string, version: number): D1PreparedStatement {
  return d1
    .prepare("UPDATE agents SET active_version = ?3, updated_at = ?4 WHERE tenant_id = ?1 AND name = ?2")
    .bind(tenantId, agent, version, Date.now());
}

export function deleteAgentStatements(d1: D1Database, tenantId: string, agent: string): D1PreparedStatement[] {
  return [
    d1.prepare("DELETE FROM agent_secrets WHERE tenant_id = ? AND agent = ?").bind(tenantId, agent),
    d1.prepare("DELETE FROM agent_versions WHERE tenant_id = ? AND agent = ?").bind(tenantId, agent),
    d1.prepare("DELETE FROM agents WHERE tenant_id = ? AND name = ?").bind(tenantId, agent),
  ];
}

export function bumpSecretsStatement(d1: D1Database, tenantId: string, agent: string): D1PreparedStatement {
  return d1
    .prepare("UPDATE agents SET secrets_rev = secrets_rev + 1, updated_at = ?3 WHERE tenant_id = ?1 AND name = ?2")
    .bind(tenantId, agent, Date.now());
}

/** The agent, or the 404 a missing one (or another tenant's) gets. */
export async function findAgent(d1: D1Database, tenantId: string, agent: string) {
  const row = await db(d1)
    .select()
    .from(agents)
    .where(and(eq(agents.tenantId, tenantId), eq(agents.name, agent)))
    .get();
  if (!row) throw new ProblemError("not-found", `No agent named "${agent}".`);
  return row;
}

export function listVersions(d1: D1Database, tenantId: string, agent: string) {
  return db(d1)
    .select()
    .from(agentVersions)
    .where(and(eq(agentVersions.tenantId, tenantId), eq(agentVersions.agent, agent)))
    .orderBy(desc(agentVersions.version))
    .all();
}

export async function findVersion(d1: D1Database, tenantId: string, agent: string, version: number) {
  const row = await db(d1)
    .select()
    .from(agentVersions)
    .where(and(eq(agentVersions.tenantId, tenantId), eq(agentVersions.agent, agent), eq(agentVersions.version, version)))
    .get();
  if (!row) throw new ProblemError("not-found", `Agent "${agent}" has no version ${version}.`);
  return row;
}

/** Dispatch-namespace scripts that hold versions of this agent (empty for the local publisher). */
export async function scriptNames(d1: D1Database, tenantId: string, agent: string): Promise<string[]> {
  const rows = await db(d1)
    .selectDistinct({ scriptName: agentVersions.scriptName })
    .from(agentVersions)
    .where(and(eq(agentVersions.tenantId, tenantId), eq(agentVersions.agent, agent), isNotNull(agentVersions.scriptName)))
    .all();
  return rows.map((r) => r.scriptName!);
}
