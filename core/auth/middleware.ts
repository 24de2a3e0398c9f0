import { createMiddleware } from "hono/factory";
import type { PlatformEnv } from "../env";
import type { Scope } from "./scopes";
import { authenticateTenant, type TenantPrincipal } from "./tenant-auth";

type TenantApp = { Bindings: PlatformEnv; Variables: { tenant: TenantPrincipal } };

/** Authenticates the tenant key and requires `scope`; the tenant is then `c.var.tenant`. */
export const requireTenant = (scope: Scope) =>
  createMiddleware<TenantApp>(async (c, next) => {
    c.set("tenant", await authenticateTenant(c.env.DB, c.req.header("authorization"), scope));
    await next();
  });
