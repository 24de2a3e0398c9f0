import { db, type Db } from "../../core/db/client";
import { auditLog } from "../../core/db/schema";
import { d1Statement } from "../../core/db/statement";
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

export interface AuditEntry {
  actor: Actor;
  tenantId: string | null;
  action: AuditAction;
  target?: string | null;
  detail?: Record<string, unknown>;
}

/**
 * The audit row for a change, as a query to run in the same batch as the change itself
 * (`db.batch([...])`; D1 runs a batch as one transaction): the log can neither miss a change that
 * happened nor record one that did not.
 */
export function auditInsert(d: Db, entry: AuditEntry) {
  const at = Date.now();
  return d.insert(auditLog).values({
    id: newId("aud", at),
    at,
    actor: actorName(entry.actor),
    tenantId: entry.tenantId,
    action: entry.action,
    target: entry.target ?? null,
    detail: entry.detail ? JSON.stringify(entry.detail) : null,
  });
}

/** The same row as a raw D1 statement, for routes whose batches still hold raw statements (`d1.batch`). */
export function auditStatement(d1: D1Database, entry: AuditEntry): D1PreparedStatement {
  return d1Statement(d1, auditInsert(db(d1), entry));
}
