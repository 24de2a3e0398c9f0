import { createMiddleware } from "hono/factory";
import { bearerToken } from "../../../core/auth/api-key";
import { findTenantKey } from "../../../core/auth/tenant-auth";
import { secretsEqual } from "../../../core/crypto";
import { ProblemError } from "../../../core/http/problem";
import type { ControlPlaneApp } from "../context";
import { dashboardAdmin } from "../dashboard/session";

/**
 * `/admin` takes the operator's token, or the dashboard's session cookie (state changes checked
 * for CSRF); a tenant key is recognised and refused with 403. Applied once, to all of `/admin/*`
 * (app.ts).
 */
export const requireAdmin = createMiddleware<ControlPlaneApp>(async (c, next) => {
  const token = bearerToken(c.req.header("authorization"));
  if (!c.env.ADMIN_TOKEN) {
    throw new ProblemError("unavailable", "The admin API is disabled: ADMIN_TOKEN is not configured.");
  }
  if (token && (await secretsEqual(token, c.env.ADMIN_TOKEN))) {
    c.set("actor", { kind: "admin" });
    return next();
  }
  if (!token && (await dashboardAdmin(c))) {
    c.set("actor", { kind: "admin" });
    return next();
  }
  if (token && (await findTenantKey(c.env.DB, token))) {
    throw new ProblemError("forbidden", "Tenant API keys cannot use the admin API.");
  }
  throw new ProblemError("unauthorized", "Send the admin token as `Authorization: Bearer <token>`.", {
    headers: { "www-authenticate": 'Bearer realm="isoplane-admin"' },
  });
});
