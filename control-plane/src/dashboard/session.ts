import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { jwtVerify, SignJWT } from "jose";
import { secretsEqual } from "../../../core/crypto";
import { ProblemError } from "../../../core/http/problem";
import type { ControlPlaneApp } from "../context";

/**
 * The dashboard's sign-in session: the admin token is exchanged once for a signed, short-lived
 * cookie (HttpOnly, SameSite=Strict; Secure and `__Host-` over https). It is an HS256 JWT (jose)
 * whose key is derived from ADMIN_TOKEN, so rotating the token ends every session. It carries a
 * CSRF token that state-changing requests must repeat in `X-CSRF-Token`, from this origin.
 */

type Ctx = Context<ControlPlaneApp>;

/** A session lasts an hour after it was last renewed (GET /dashboard/session renews it)… */
export const SESSION_TTL_S = 60 * 60;
/** …and at most 12 hours after sign-in. */
export const SESSION_MAX_S = 12 * 60 * 60;
export const CSRF_HEADER = "x-csrf-token";
export const ISSUER = "isoplane-control-plane";
export const AUDIENCE = "isoplane-dashboard";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export interface Session {
  csrf: string;
  /** Sign-in time and expiry, epoch seconds. */
  authTime: number;
  exp: number;
}

const encoder = new TextEncoder();
let derived: { token: string; key: Uint8Array } | null = null;

/** HKDF-SHA256 of the admin token: the session key, never the token itself (exported for tests). */
export async function sessionKey(adminToken: string): Promise<Uint8Array> {
  if (derived?.token === adminToken) return derived.key;
  const base = await crypto.subtle.importKey("raw", encoder.encode(adminToken), "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: encoder.encode("isoplane-dashboard-session/v1"), info: new Uint8Array() }, base, 256);
  derived = { token: adminToken, key: new Uint8Array(bits) };
  return derived.key;
}

const secure = (c: Ctx) => new URL(c.req.url).protocol === "https:";
/** `__Host-` cookies must be Secure, Path=/ and host-only: the browser enforces what they claim. */
const cookieName = (c: Ctx) => (secure(c) ? "__Host-isoplane-session" : "isoplane-session");

function cookie(c: Ctx, value: string, maxAge: number): string {
  return [`${cookieName(c)}=${value}`, "Path=/", `Max-Age=${maxAge}`, "HttpOnly", "SameSite=Strict", ...(secure(c) ? ["Secure"] : [])].join("; ");
}

const randomToken = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32)))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** Signs a session (new, or renewed with the same CSRF token and sign-in time) and sets its cookie. */
export async function issueSession(c: Ctx, previous?: Session): Promise<Session> {
  const now = Math.floor(Date.now() / 1000);
  const authTime = previous?.authTime ?? now;
  const exp = Math.min(now + SESSION_TTL_S, authTime + SESSION_MAX_S);
  const csrf = previous?.csrf ?? randomToken();
  const jwt = await new SignJWT({ csrf, auth_time: authTime })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject("admin")
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .sign(await sessionKey(c.env.ADMIN_TOKEN));
  c.header("set-cookie", cookie(c, jwt, exp - now), { append: true });
  return { csrf, authTime, exp };
}

export function clearSession(c: Ctx): void {
  c.header("set-cookie", cookie(c, "", 0), { append: true });
}

/** The session the request's cookie carries, or null (none, expired, tampered, or signed under another admin token). */
export async function readSession(c: Ctx): Promise<Session | null> {
  const jwt = getCookie(c, cookieName(c));
  if (!jwt || !c.env.ADMIN_TOKEN) return null;
  try {
    const { payload } = await jwtVerify(jwt, await sessionKey(c.env.ADMIN_TOKEN), { algorithms: ["HS256"], issuer: ISSUER, audience: AUDIENCE, subject: "admin", requiredClaims: ["exp", "iat"] });
    if (typeof payload.csrf !== "string" || typeof payload.auth_time !== "number" || typeof payload.exp !== "number") return null;
    if (payload.auth_time + SESSION_MAX_S < Math.floor(Date.now() / 1000)) return null;
    return { csrf: payload.csrf, authTime: payload.auth_time, exp: payload.exp };
  } catch {
    return null;
  }
}

/**
 * State-changing requests made with a cookie must come from this origin (the browser's `Origin`)
 * and repeat the session's CSRF token: another site can make a browser send the cookie, never read
 * the token. Throws a 403 problem otherwise.
 */
export async function checkCsrf(c: Ctx, session: Session | null): Promise<void> {
  if (SAFE.has(c.req.method)) return;
  checkOrigin(c);
  const sent = c.req.header(CSRF_HEADER);
  if (!session || !sent || !(await secretsEqual(sent, session.csrf))) {
    throw new ProblemError("forbidden", `Send the session's CSRF token in the ${CSRF_HEADER} header (GET /dashboard/session answers with it).`);
  }
}

/** The request's `Origin` must be this control plane's own. */
export function checkOrigin(c: Ctx): void {
  const origin = c.req.header("origin");
  if (origin !== new URL(c.req.url).origin) {
    throw new ProblemError("forbidden", origin ? `Requests from ${origin.slice(0, 200)} are refused: the dashboard is same-origin only.` : "A browser request with an Origin header is required.");
  }
}

/** For `/admin`: whether the request is a signed-in dashboard's (and, if it changes state, a checked one). */
export async function dashboardAdmin(c: Ctx): Promise<boolean> {
  const session = await readSession(c);
  if (!session) return false;
  await checkCsrf(c, session);
  return true;
}
