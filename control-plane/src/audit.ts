import { newId } from "../../core/ids";

export type Actor = { kind: "admin" } | { kind: "key"; keyId: string };

export type AuditAction =
  | "tenant.create"
  | "tenant.update"
  | "tenant.delete"
  | "key.create"
  | "key.revoke"
  | "agent.publish"
  | "agent.rollback"
  | "agent.delete"
  | "secret.put"
  | "secret.delete"
  | "provider-key.put"
  | "provider-key.delete"
  | "agent.update"
  | "jwks.put"
  | "jwks.delete"
  | "run.cancel";

export function actorName(actor: Actor): string {
  return actor.kind === "admin" ? "admin" : actor.keyId;
}

/**
 * The audit row for a change, as a statement to run in the same D1 batch as the change itself:
 * the log can neither miss a change that happened nor record one that did not.
 */
export function auditStatement(
  d1: D1Database,
  entry: { actor: Actor; tenantId: string | null; action: AuditAction; target?: string | null; detail?: Record<string, unknown> },
): D1PreparedStatement {
  const at = Date.now();
  return d1
    .prepare("INSERT INTO audit_log (id, at, actor, tenant_id, action, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?)")
    .bind(
      newId("aud", at),
      at,
      actorName(entry.actor),
      entry.tenantId,
      entry.action,
      entry.target ?? null,
      entry.detail ? JSON.stringify(entry.detail) : null,
    );
}
