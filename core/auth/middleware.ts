import { createMiddleware } from "hono/factory";
import { ProblemError } from "../http/problem";
import type { PlatformEnv } from "../env";
import { bearerToken } from "./api-key";
import { DEFAULT_JWT_AUDIENCE, looksLikeJwt, verifyTenantJwt } from "./jwt";
import type { Scope } from "./scopes";
import { checkPrincipal, findTenantKey, unauthorized, type TenantPrincipal } from "./tenant-auth";

type TenantApp = { Bindings: PlatformEnv; Variables: { tenant: TenantPrincipal } };

/**
 * Authenticates the caller and requires `scope`; the tenant is then `c.var.tenant`. With
 * `endUsers`, a JWT signed by a tenant's registered issuer is accepted too (runs only).
 */
export const requireTenant = (scope: Scope, options: { endUsers?: boolean } = {}) =>
  createMiddleware<TenantApp>(async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (!token) throw unauthorized("Send a tenant API key (or, for runs, an end-user JWT) as `Authorization: Bearer …`.");
    let principal: TenantPrincipal;
    if (looksLikeJwt(token)) {
      if (!options.endUsers) throw new ProblemError("forbidden", "End-user tokens can only run agents; use an API key here.");
      principal = await verifyTenantJwt(c.env.DB, token, c.env.JWT_AUDIENCE ?? DEFAULT_JWT_AUDIENCE);
    } else {
      principal = checkPrincipal(await findTenantKey(c.env.DB, token), scope);
    }
    c.set("tenant", principal);
    await next();
  });
