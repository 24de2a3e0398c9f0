import { z } from "@hono/zod-openapi";
import { Scope } from "../../core/auth/scopes";
import { Quotas } from "../../core/quotas";
import { ALLOW_ENTRY } from "../../core/egress";
import { NextCursor } from "../../core/http/pagination";
import { AgentName } from "../../core/names";
import { PROVIDER_NAME } from "../../core/llm/config";

const Timestamp = z.string().datetime();

/** A model as a tenant or an operator names it; whether a provider serves it is checked against the gateway's configuration. */
const ModelName = z.string().min(1).max(200).regex(/^[^\s\x00-\x1f\x7f]+$/, "no spaces or control characters");

/** Tenant ids of the wrong shape are not refused here: they cannot exist, so they get the 404 of a missing tenant. */
export const TenantIdParam = z.object({ tenantId: z.string().openapi({ param: { name: "tenantId", in: "path" }, example: "ten_01jd00000000000000ab" }) });

export const AgentParam = z.object({ agent: AgentName.openapi({ param: { name: "agent", in: "path" } }) });

export const CreateTenant = z.strictObject({ name: z.string().trim().min(1).max(200) }).openapi("CreateTenant");

export const TenantStatus = z.enum(["active", "suspended", "deleted"]);

export const TenantView = z
  .object({
    id: z.string().openapi({ example: "ten_01jd00000000000000ab" }),
    name: z.string(),
    status: TenantStatus,
    quotas: z.record(z.string(), z.number().nullable()).openapi({ description: "Every quota; null means the platform default (monthlySpendCapUsd is in USD, the rest integers)." }),
    egressAllow: z.array(z.string()).openapi({ description: "Hosts the tenant's agents may fetch." }),
    retentionDays: z.number().int().openapi({ description: "Days finished runs' records and event logs are kept (the ledger is kept for billing)." }),
    queueWeight: z.number().int().openapi({ description: "How many times the default async lane width the tenant gets." }),
    defaultModel: z.string().nullable().openapi({ description: "The model its agents' calls go to when neither the call nor the agent names one (null: the platform's default)." }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("Tenant");

export const TenantList = z.object({ tenants: z.array(TenantView), cursor: NextCursor }).openapi("TenantList");

export const PatchTenant = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    status: z.enum(["active", "suspended"]).optional(),
    quotas: Quotas.optional(),
    egressAllow: z
      .array(z.string().toLowerCase().regex(ALLOW_ENTRY, "an entry is host, *.domain, or either with :port"))
      .max(100)
      .optional()
      .openapi({ description: "Replaces the allowlist. Private, loopback and platform hosts stay denied whatever it says." }),
    retentionDays: z.number().int().min(1).max(3650).nullable().optional().openapi({ description: "Days finished runs' records and event logs are kept; null restores the default (30)." }),
    queueWeight: z.number().int().min(1).max(100).nullable().optional().openapi({ description: "Multiplies the tenant's async lane width (default 1); null restores it." }),
    defaultModel: ModelName.nullable().optional().openapi({ description: "`provider/model` or an alias the platform configures; null restores the platform's default." }),
  })
  .openapi("PatchTenant");

export const CreateKey = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    scopes: z.array(Scope).min(1).optional(),
    expiresAt: Timestamp.optional(),
  })
  .openapi("CreateKey");

export const KeyView = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    prefix: z.string().openapi({ description: "The first characters of the key, to recognise it." }),
    scopes: z.array(Scope),
    createdAt: Timestamp,
    expiresAt: Timestamp.nullable(),
    revokedAt: Timestamp.nullable(),
    status: z.enum(["active", "expired", "revoked"]),
  })
  .openapi("Key");

export const CreatedKey = KeyView.extend({
  key: z.string().openapi({ description: "The secret key. Shown only in this response." }),
}).openapi("CreatedKey");

export const KeyList = z.object({ keys: z.array(KeyView) }).openapi("KeyList");

export const AuditEntry = z
  .object({
    id: z.string(),
    at: Timestamp,
    actor: z.string().openapi({ description: "`admin` or the acting key's id." }),
    tenantId: z.string().nullable(),
    action: z.string(),
    target: z.string().nullable(),
    detail: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi("AuditEntry");

export const AuditList = z.object({ entries: z.array(AuditEntry), cursor: NextCursor }).openapi("AuditList");

export const PublishedScript = z
  .object({
    agent: z.string(),
    version: z.number().int(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    size: z.number().int(),
  })
  .openapi("PublishedScript");

export const AgentSummary = z
  .object({
    name: z.string(),
    activeVersion: z.number().int().nullable(),
    defaultModel: z.string().nullable().openapi({ description: "The model the agent's calls go to when they name none (null: the tenant's, else the platform's)." }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("AgentSummary");

export const PatchAgent = z
  .strictObject({ defaultModel: ModelName.nullable().openapi({ description: "`provider/model` or an alias; null: the tenant's default, else the platform's." }) })
  .openapi("PatchAgent");

export const ProviderParam = z.object({
  provider: z.string().regex(PROVIDER_NAME).openapi({ param: { name: "provider", in: "path" }, example: "openai" }),
});

export const PutProviderKey = z.strictObject({ key: z.string().min(1).max(5 * 1024).openapi({ description: "The provider's API key. Sealed at rest, never returned." }) }).openapi("PutProviderKey");

export const ProviderKeyView = z.object({ provider: z.string(), updatedAt: Timestamp }).openapi("ProviderKey");

export const ProviderKeyList = z.object({ keys: z.array(ProviderKeyView) }).openapi("ProviderKeyList");

export const AgentList = z.object({ agents: z.array(AgentSummary), cursor: NextCursor }).openapi("AgentList");

export const AgentDetail = AgentSummary.extend({
  versions: z.array(
    z.object({ version: z.number().int(), sha256: z.string(), size: z.number().int(), createdAt: Timestamp, active: z.boolean() }),
  ),
}).openapi("Agent");

export const Rollback = z.strictObject({ version: z.number().int().min(1) }).openapi("Rollback");

export const PutSecret = z.strictObject({ value: z.string() }).openapi("PutSecret");

export const SecretView = z.object({ name: z.string(), updatedAt: Timestamp }).openapi("Secret");

export const SecretList = z.object({ secrets: z.array(SecretView) }).openapi("SecretList");

export const Jwk = z
  .looseObject({
    kty: z.enum(["RSA", "EC", "OKP"]).openapi({ description: "Public asymmetric keys only." }),
    kid: z.string().max(200).optional(),
    alg: z.string().optional(),
    use: z.literal("sig").optional(),
  })
  .openapi("Jwk");

export const PutJwks = z
  .strictObject({
    issuer: z.string().min(1).max(256).openapi({ example: "https://auth.acme.example" }),
    jwks: z.strictObject({ keys: z.array(Jwk).min(1).max(10) }),
  })
  .openapi("PutJwks");

export const JwksView = PutJwks.extend({ audience: z.string(), updatedAt: Timestamp }).openapi("TenantIssuer");
