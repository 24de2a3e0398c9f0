import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { secretsEqual } from "../../../core/crypto";
import { openapi, problems } from "../../../core/http/openapi";
import { ProblemError } from "../../../core/http/problem";
import { isoTime } from "../../../core/log";
import type { ControlPlaneApp } from "../context";
import { ASSETS, type Asset } from "./assets";
import { checkCsrf, checkOrigin, clearSession, CSRF_HEADER, issueSession, readSession, SESSION_MAX_S, SESSION_TTL_S, type Session } from "./session";

/**
 * The operator dashboard at /dashboard: the built app (control-plane/dashboard/), the sign-in
 * session, and the headers that keep it to itself — a CSP with scripts and styles from this
 * origin only (no inline script), no framing, no referrer, no sniffing.
 */
export const dashboard = new OpenAPIHono<ControlPlaneApp>();

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
};

dashboard.use("*", async (c, next) => {
  await next();
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
});

const SignIn = z.strictObject({ token: z.string().min(1).max(1024) }).openapi("DashboardSignIn");
const SessionView = z
  .object({
    csrfToken: z.string().openapi({ description: `Send it in the ${CSRF_HEADER} header of every state-changing request made with the session cookie.` }),
    expiresAt: z.string().datetime(),
    signedInAt: z.string().datetime(),
  })
  .openapi("DashboardSession");

const view = (s: Session): z.infer<typeof SessionView> => ({
  csrfToken: s.csrf,
  expiresAt: isoTime(s.exp * 1000),
  signedInAt: isoTime(s.authTime * 1000),
});

function noStore(c: Context<ControlPlaneApp>): void {
  c.header("cache-control", "no-store");
}

const cookieSecurity = [{ dashboardSession: [] }];
const sessionResponse = { description: "The session", content: { "application/json": { schema: SessionView } } };

const signIn = createRoute({
  method: "post",
  path: "/session",
  operationId: "signIn",
  summary: "Sign in: exchange the admin token for a session cookie",
  description: `Sets an HttpOnly, SameSite=Strict session cookie (Secure over https) valid for ${SESSION_TTL_S / 60} minutes, renewed by GET /dashboard/session up to ${SESSION_MAX_S / 3600} hours after sign-in. The request must carry this origin's Origin header.`,
  security: [],
  request: { body: { required: true, content: { "application/json": { schema: SignIn } } } },
  responses: { 201: sessionResponse, ...problems(400, 401, 403, 413, 415, 503) },
});

/** Sign-in: the admin token, in the body (4 KiB at most), for a session cookie. The token is neither kept nor logged. */
openapi(
  dashboard,
  signIn,
  async (c) => {
    checkOrigin(c);
    if (!c.env.ADMIN_TOKEN) throw new ProblemError("unavailable", "The admin API is disabled: ADMIN_TOKEN is not configured.");
    const { token } = c.req.valid("json");
    if (!(await secretsEqual(token, c.env.ADMIN_TOKEN))) throw new ProblemError("unauthorized", "That is not the admin token.");
    noStore(c);
    return c.json(view(await issueSession(c)), 201);
  },
  { bodyLimit: 4096 },
);

const getSession = createRoute({
  method: "get",
  path: "/session",
  operationId: "getSession",
  summary: "The current session and its CSRF token (renews the cookie)",
  security: cookieSecurity,
  responses: { 200: sessionResponse, ...problems(401, 403) },
});

/** The current session and its CSRF token; each call renews it for another hour (up to 12 h after sign-in). */
openapi(dashboard, getSession, async (c) => {
  const session = await readSession(c);
  if (!session) throw new ProblemError("unauthorized", "Not signed in, or the session has ended: sign in again.");
  noStore(c);
  return c.json(view(await issueSession(c, session)), 200);
});

const signOut = createRoute({
  method: "delete",
  path: "/session",
  operationId: "signOut",
  summary: "Sign out: clears the session cookie",
  security: cookieSecurity,
  responses: { 204: { description: "Signed out" }, ...problems(401, 403) },
});

/** Sign-out: the cookie is cleared (and, being short-lived, a copy of it stops working within the hour). */
openapi(dashboard, signOut, async (c) => {
  const session = await readSession(c);
  if (!session) throw new ProblemError("unauthorized", "Not signed in.");
  await checkCsrf(c, session);
  clearSession(c);
  noStore(c);
  return c.body(null, 204);
});

function serve(c: Context<ControlPlaneApp>, asset: Asset, cache: string): Response {
  if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304, { etag: asset.etag, "cache-control": cache });
  return c.body(asset.body as string, 200, { "content-type": asset.type, etag: asset.etag, "cache-control": cache });
}

/** Files by name; every other path under /dashboard is a page of the app, so it gets index.html. */
function app(c: Context<ControlPlaneApp>): Response {
  const path = c.req.path.replace(/^\/dashboard\/?/, "");
  const asset = ASSETS.get(path);
  if (asset) return serve(c, asset, asset.immutable ? "public, max-age=31536000, immutable" : "no-cache");
  if (path.startsWith("assets/") || /\.[A-Za-z0-9]+$/.test(path)) throw new ProblemError("not-found", "No dashboard file at this path.");
  const index = ASSETS.get("index.html");
  if (!index) throw new ProblemError("unavailable", "The dashboard was not built.");
  return serve(c, index, "no-cache");
}

const getDashboard = createRoute({
  method: "get",
  path: "/",
  operationId: "getDashboard",
  summary: "The operator dashboard (HTML); every page under /dashboard/ serves the same app",
  security: [],
  responses: {
    200: { description: "The dashboard", content: { "text/html": { schema: z.string() } } },
    // Every refusal of this Worker is a problem (4XX: a well-formed GET /dashboard gets none).
    ...problems("4XX", 503),
  },
});

openapi(dashboard, getDashboard, app);
dashboard.get("/*", app);

/** The session cookie's security scheme, named by the session routes (and accepted by /admin). */
export function registerDashboardSecurity(app: OpenAPIHono<ControlPlaneApp>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "dashboardSession", {
    type: "apiKey",
    in: "cookie",
    name: "isoplane-session",
    description: `The dashboard's session (\`__Host-isoplane-session\` over https), from POST /dashboard/session. It is accepted by /admin too; requests that change state must also send ${CSRF_HEADER} and come from this origin.`,
  });
}
