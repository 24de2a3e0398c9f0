import type { TenantPrincipal } from "../../core/auth/tenant-auth";
import type { DispatcherEnv } from "./env";
import type { TenantRuntime } from "./runtime/types";

export interface DispatcherVariables {
  tenant: TenantPrincipal;
  runtime: TenantRuntime;
}

export type DispatcherApp = { Bindings: DispatcherEnv; Variables: DispatcherVariables };
