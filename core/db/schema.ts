import { RUN_STATES } from "../contract.js";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Timestamps are integer epoch milliseconds throughout: cheap to compare, no timezone ambiguity. */
const createdAt = () => integer("created_at").notNull();

export const tenants = sqliteTable(
  "tenants",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    status: text("status", { enum: ["active", "suspended", "deleted"] }).notNull().default("active"),
    /** JSON object of quota overrides; a missing or null field means the platform default. */
    quotas: text("quotas").notNull().default("{}"),
    /** JSON array of hosts tenant code may fetch (`api.example.com`, `*.example.com`, `host:8443`). */
    egressAllow: text("egress_allow").notNull().default("[]"),
    /** Days a finished run's record and event log are kept (null: the platform default, 30). */
    retentionDays: integer("retention_days"),
    /** Multiplies the tenant's async lane width (null: 1). */
    queueWeight: integer("queue_weight"),
    /** The model its agents' calls go to when they name none and their agent sets none (null: the platform's). */
    defaultModel: text("default_model"),
    createdAt: createdAt(),
    updatedAt: integer("updated_at").notNull(),
    deletedAt: integer("deleted_at"),
  },
  (t) => [index("tenants_status_id").on(t.status, t.id)],
);

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull().references(() => tenants.id),
    name: text("name"),
    /** SHA-256 (hex) of the whole key: the key itself is never stored. */
    keyHash: text("key_hash").notNull(),
    /** The first characters of the key, so an operator can recognise it in a list. */
    prefix: text("prefix").notNull(),
    scopes: text("scopes").notNull().default('["runs","context","scripts","usage"]'),
    createdAt: createdAt(),
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_hash").on(t.keyHash), index("api_keys_tenant").on(t.tenantId, t.createdAt)],
);

export const agents = sqliteTable(
  "agents",
  {
    tenantId: text("tenant_id").notNull().references(() => tenants.id),
    name: text("name").notNull(),
    /** The version every new run uses; switched atomically in the same batch that adds a version. */
    activeVersion: integer("active_version"),
    /** Bumped whenever a secret changes, so isolates built with the old secrets are not reused. */
    secretsRev: integer("secrets_rev").notNull().default(0),
    /** The model this agent's calls go to when they name none (null: the tenant's, else the platform's). */
    defaultModel: text("default_model"),
    createdAt: createdAt(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name] })],
);

export const agentVersions = sqliteTable(
  "agent_versions",
  {
    tenantId: text("tenant_id").notNull(),
    agent: text("agent").notNull(),
    version: integer("version").notNull(),
    sha256: text("sha256").notNull(),
    size: integer("size").notNull(),
    /** R2 key of the stored bundle (platform-only `scripts/` prefix). */
    bundleKey: text("bundle_key").notNull(),
    /** Name of the script in the dispatch namespace when published to Workers for Platforms. */
    scriptName: text("script_name"),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.agent, t.version] })],
);

/**
 * The run index: one compact row per run for listing and search, written in batches from the
 * runs' own objects (which hold the live record). Queued runs appear at once, running ones once
 * they outlast a second, every run when it ends.
 */
export const runs = sqliteTable(
  "runs",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    agent: text("agent").notNull(),
    version: integer("version").notNull(),
    status: text("status", {
      enum: RUN_STATES,
    }).notNull(),
    error: text("error"),
    createdAt: createdAt(),
    /** When execution began (a queued run starts later than it was created). */
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
    wallMs: integer("wall_ms"),
    /** Null until measured: the local runtime reports no CPU time (production fills it from tail events). */
    cpuMs: integer("cpu_ms"),
    llmCalls: integer("llm_calls").notNull().default(0),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    storageReads: integer("storage_reads").notNull().default(0),
    storageWrites: integer("storage_writes").notNull().default(0),
    bytesRead: integer("bytes_read").notNull().default(0),
    bytesWritten: integer("bytes_written").notNull().default(0),
    outputBytes: integer("output_bytes"),
    subrequests: integer("subrequests").notNull().default(0),
    /** The end user (`sub` of a tenant-signed JWT) the run was made for, if any. */
    endUser: text("end_user"),
    /** Tokens per model id: JSON `{"<provider/model>": {"input": n, "output": n, "tenantInput"?: n, "tenantOutput"?: n}}`, kept by the LLM binding. */
    modelUsage: text("model_usage").notNull().default("{}"),
  },
  (t) => [index("runs_tenant_created").on(t.tenantId, t.createdAt), index("runs_tenant_id").on(t.tenantId, t.id)],
);

/** Agent secrets, AES-GCM encrypted with the platform key; the plaintext is never stored or returned. */
export const agentSecrets = sqliteTable(
  "agent_secrets",
  {
    tenantId: text("tenant_id").notNull(),
    agent: text("agent").notNull(),
    name: text("name").notNull(),
    /** base64 of IV (12 bytes) followed by ciphertext and tag; AAD binds it to tenant/agent/name. */
    sealed: text("sealed").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.agent, t.name] })],
);

/**
 * A tenant's own keys for model providers (BYOK), sealed like agent secrets under the platform
 * key, bound to tenant and provider; never returned. Its runs on that provider use it.
 */
export const providerKeys = sqliteTable(
  "provider_keys",
  {
    tenantId: text("tenant_id").notNull(),
    provider: text("provider").notNull(),
    sealed: text("sealed").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.provider] })],
);

/** Who did what to which tenant, when: written in the same D1 batch as the change it records. */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: text("id").primaryKey(),
    at: integer("at").notNull(),
    /** `admin`, or the id of the tenant key that acted. */
    actor: text("actor").notNull(),
    tenantId: text("tenant_id"),
    action: text("action").notNull(),
    target: text("target"),
    /** JSON details; never a secret value or key. */
    detail: text("detail"),
  },
  (t) => [index("audit_tenant_id").on(t.tenantId, t.id)],
);

/** A tenant's end-user token issuer: the dispatcher accepts JWTs it signs, for runs. */
export const tenantIssuers = sqliteTable(
  "tenant_issuers",
  {
    tenantId: text("tenant_id").primaryKey(),
    /** Unique across tenants: a token's `iss` names exactly one tenant. */
    issuer: text("issuer").notNull(),
    /** Public JWK set (JSON); private or symmetric keys are refused at registration. */
    jwks: text("jwks").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("tenant_issuers_issuer").on(t.issuer)],
);

/**
 * The usage ledger: one row per ended run — succeeded, failed, timed out or cancelled — written
 * from the run's object through the ledger queue, in batches. Billing reads only this.
 */
export const usage = sqliteTable(
  "usage",
  {
    runId: text("run_id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    agent: text("agent").notNull(),
    version: integer("version").notNull(),
    status: text("status").notNull(),
    /** UTC day (YYYY-MM-DD) and hour (0–23) the run was admitted in: the periods it is billed to. */
    day: text("day").notNull(),
    hour: integer("hour").notNull(),
    requests: integer("requests").notNull(),
    wallMs: integer("wall_ms").notNull(),
    /** Null: not measured (the local runtime reports no CPU time; production fills it from tail events). */
    cpuMs: integer("cpu_ms"),
    subrequests: integer("subrequests").notNull(),
    inputTokens: integer("input_tokens").notNull(),
    outputTokens: integer("output_tokens").notNull(),
    modelUsage: text("model_usage").notNull(),
    storageReads: integer("storage_reads").notNull(),
    storageWrites: integer("storage_writes").notNull(),
    bytesRead: integer("bytes_read").notNull(),
    bytesWritten: integer("bytes_written").notNull(),
    recordedAt: integer("recorded_at").notNull(),
    /** The ledger write that added the row: rollups add only the rows their own batch wrote. */
    batchId: text("batch_id"),
  },
  (t) => [index("usage_tenant_day").on(t.tenantId, t.day), index("usage_day").on(t.day), index("usage_batch").on(t.batchId)],
);

/** Per-tenant daily totals of the ledger, maintained in the same transaction as each row. */
export const usageDaily = sqliteTable(
  "usage_daily",
  {
    tenantId: text("tenant_id").notNull(),
    day: text("day").notNull(),
    runs: integer("runs").notNull(),
    failures: integer("failures").notNull(),
    wallMs: integer("wall_ms").notNull(),
    cpuMs: integer("cpu_ms").notNull(),
    /** Runs whose CPU time is known; `cpu_ms` covers only these. */
    cpuMeasuredRuns: integer("cpu_measured_runs").notNull(),
    subrequests: integer("subrequests").notNull(),
    inputTokens: integer("input_tokens").notNull(),
    outputTokens: integer("output_tokens").notNull(),
    storageReads: integer("storage_reads").notNull(),
    storageWrites: integer("storage_writes").notNull(),
    bytesRead: integer("bytes_read").notNull(),
    bytesWritten: integer("bytes_written").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.day] })],
);

/** Per-tenant, per-model daily token totals of the ledger (billing reads these, not the rows). */
export const usageDailyModels = sqliteTable(
  "usage_daily_models",
  {
    tenantId: text("tenant_id").notNull(),
    day: text("day").notNull(),
    model: text("model").notNull(),
    inputTokens: integer("input_tokens").notNull(),
    outputTokens: integer("output_tokens").notNull(),
    /** The part of the tokens served on the tenant's own key (counted, not charged). */
    tenantInputTokens: integer("tenant_input_tokens").notNull().default(0),
    tenantOutputTokens: integer("tenant_output_tokens").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.day, t.model] })],
);

/** Bytes a tenant keeps in R2 (its `tenants/<id>/` prefix), measured once a day by the cron. */
export const storageDaily = sqliteTable(
  "storage_daily",
  {
    tenantId: text("tenant_id").notNull(),
    day: text("day").notNull(),
    bytes: integer("bytes").notNull(),
    objects: integer("objects").notNull(),
    measuredAt: integer("measured_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.day] })],
);

export type Tenant = typeof tenants.$inferSelect;
export type ApiKey = typeof apiKeys.$inferSelect;
export type AgentVersion = typeof agentVersions.$inferSelect;
export type Run = typeof runs.$inferSelect;
export type RunStatus = Run["status"];

