import type { z } from "@hono/zod-openapi";
import { and, eq, ne } from "drizzle-orm";
import { db } from "../../../core/db/client";
import { tenants, type Tenant } from "../../../core/db/schema";
import { ProblemError } from "../../../core/http/problem";
import { idParam } from "../../../core/names";
import { tenantSettings } from "../../../core/tenant-settings";
import type { TenantView } from "../schemas";

export function tenantView(t: Tenant): z.infer<typeof TenantView> {
  return {
    id: t.id,
    name: t.name,
    status: t.status,
    ...tenantSettings(t),
    createdAt: new Date(t.createdAt).toISOString(),
    updatedAt: new Date(t.updatedAt).toISOString(),
  };
}

/** A tenant that exists and is not deleted, or the 404 a missing one gets. */
export async function liveTenant(d1: D1Database, id: string | undefined): Promise<Tenant> {
  const tenantId = idParam(id, "ten", "tenant");
  const tenant = await db(d1)
    .select()
    .from(tenants)
    .where(and(eq(tenants.id, tenantId), ne(tenants.status, "deleted")))
    .get();
  if (!tenant) throw new ProblemError("not-found", "No tenant with that id.");
  return tenant;
}

