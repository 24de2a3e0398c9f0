import { z } from "@hono/zod-openapi";
import { Scope } from "../../core/auth/scopes";

export const CreateTenant = z.strictObject({ name: z.string().trim().min(1).max(200) }).openapi("CreateTenant");

export const TenantView = z
  .object({
    id: z.string().openapi({ example: "ten_01jd00000000000000ab" }),
    name: z.string(),
    status: z.enum(["active", "suspended", "deleted"]),
    createdAt: z.string().datetime(),
  })
  .openapi("Tenant");

export const CreateKey = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    scopes: z.array(Scope).min(1).optional(),
    expiresAt: z.string().datetime().optional(),
  })
  .openapi("CreateKey");

export const CreatedKey = z
  .object({
    id: z.string(),
    key: z.string().openapi({ description: "The secret key. Shown only in this response." }),
    name: z.string().nullable(),
    prefix: z.string(),
    scopes: z.array(Scope),
    createdAt: z.string().datetime(),
    expiresAt: z.string().datetime().nullable(),
  })
  .openapi("CreatedKey");

export const PublishedScript = z
  .object({
    agent: z.string(),
    version: z.number().int(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    size: z.number().int(),
  })
  .openapi("PublishedScript");
