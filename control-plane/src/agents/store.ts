import { and, desc, eq, isNotNull, max, sql } from "drizzle-orm";
import { db, type Db } from "../../../core/db/client";
import { agents, agentSecrets, agentVersions } from "../../../core/db/schema";
import { d1Statement } from "../../../core/db/statement";
import { ProblemError } from "../../../core/http/problem";

/**
 * Writes to agents and their versions. They are returned, not run, so each route can put them in
 * one batch with its audit row: D1 runs a batch as a single transaction. Routes batching drizzle
 * queries (`db.batch`) take the queries; routes whose batches still hold raw statements take the
 * same queries as D1 statements (`…Statement(s)`, built by `d1Statement`).
 */
export function newVersionQueries(d: Db, v: { tenantId: string; agent: string; sha256: string; size: number; bundleKey: string; scriptName: string | null }) {
  const now = Date.now();
  const ofAgent = and(eq(agentVersions.tenantId, v.tenantId), eq(agentVersions.agent, v.agent));
  return [
    d.insert(agents).values({ tenantId: v.tenantId, name: v.agent, activeVersion: null, createdAt: now, updatedAt: now }).onConflictDoNothing(),
    // Numbering inside the transaction: concurrent uploads cannot take the same version.
    d
      .insert(agentVersions)
      .select(
        d
          .select({
            tenantId: sql<string>`${v.tenantId}`.as("tenant_id"),
            agent: sql<string>`${v.agent}`.as("agent"),
            version: sql<number>`coalesce(max(${agentVersions.version}), 0) + 1`.as("version"),
            sha256: sql<string>`${v.sha256}`.as("sha256"),
            size: sql<number>`${v.size}`.as("size"),
            bundleKey: sql<string>`${v.bundleKey}`.as("bundle_key"),
            scriptName: sql<string | null>`${v.scriptName}`.as("script_name"),
            createdAt: sql<number>`${now}`.as("created_at"),
          })
          .from(agentVersions)
          .where(ofAgent),
      )
      .returning({ version: agentVersions.version }),
    d
      .update(agents)
      .set({ activeVersion: sql`(${d.select({ v: max(agentVersions.version) }).from(agentVersions).where(ofAgent)})`, updatedAt: now })
      .where(and(eq(agents.tenantId, v.tenantId), eq(agents.name, v.agent))),
  ] as const;
}

export function newVersionStatements(d1: D1Database, v: Parameters<typeof newVersionQueries>[1]): D1PreparedStatement[] {
  return newVersionQueries(db(d1), v).map((q) => d1Statement(d1, q));
}

export function activateQuery(d: Db, tenantId: string, agent: string, version: number) {
  return d
    .update(agents)
    .set({ activeVersion: version, updatedAt: Date.now() })
    .where(and(eq(agents.tenantId, tenantId), eq(agents.name, agent)));
}

export function activateStatement(d1: D1Database, tenantId: string, agent: string, version: number): D1PreparedStatement {
  return d1Statement(d1, activateQuery(db(d1), tenantId, agent, version));
}

export function deleteAgentQueries(d: Db, tenantId: string, agent: string) {
  return [
    d.delete(agentSecrets).where(and(eq(agentSecrets.tenantId, tenantId), eq(agentSecrets.agent, agent))),
    d.delete(agentVersions).where(and(eq(agentVersions.tenantId, tenantId), eq(agentVersions.agent, agent))),
    d.delete(agents).where(and(eq(agents.tenantId, tenantId), eq(agents.name, agent))),
  ] as const;
}

export function deleteAgentStatements(d1: D1Database, tenantId: string, agent: string): D1PreparedStatement[] {
  return deleteAgentQueries(db(d1), tenantId, agent).map((q) => d1Statement(d1, q));
}

/** A secret changed: isolates built with the agent's old secrets are not reused. */
export function bumpSecretsQuery(d: Db, tenantId: string, agent: string) {
  return d
    .update(agents)
    .set({ secretsRev: sql`${agents.secretsRev} + 1`, updatedAt: Date.now() })
    .where(and(eq(agents.tenantId, tenantId), eq(agents.name, agent)));
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
