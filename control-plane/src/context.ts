import type { TenantPrincipal } from "../../core/auth/tenant-auth";
import type { Actor } from "./audit";
import type { ControlPlaneEnv } from "./env";
import type { Publisher } from "./publisher/types";

export interface ControlPlaneVariables {
  tenant: TenantPrincipal;
  actor: Actor;
  publisher: Publisher;
}

export type ControlPlaneApp = { Bindings: ControlPlaneEnv; Variables: ControlPlaneVariables };
