import type { TenantPrincipal } from "../../core/auth/tenant-auth";
import type { ControlPlaneEnv } from "../../core/env";
import type { Publisher } from "./publisher/types";

export type Actor = { kind: "admin" } | { kind: "key"; keyId: string };

export interface ControlPlaneVariables {
  tenant: TenantPrincipal;
  actor: Actor;
  publisher: Publisher;
}

export type ControlPlaneApp = { Bindings: ControlPlaneEnv; Variables: ControlPlaneVariables };
