import type { TenantPrincipal } from "../../core/auth/tenant-auth";
import type { Actor } from "./audit";
import type { Tenant } from "../../core/db/schema";
import type { ControlPlaneEnv } from "./env";
import type { Publisher } from "./publisher/types";

export interface ControlPlaneVariables {
  tenant: TenantPrincipal;
  actor: Actor;
  publisher: Publisher;
  /** The tenant an `/admin/tenants/{tenantId}/…` route acts on, found before its request is validated. */
  managedTenant: Tenant;
}

export type ControlPlaneApp = { Bindings: ControlPlaneEnv; Variables: ControlPlaneVariables };
