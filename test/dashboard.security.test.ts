import { exports } from "cloudflare:workers";
import { SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AUDIENCE, ISSUER, sessionKey } from "../control-plane/src/dashboard/session";
import { TEST_ADMIN_TOKEN } from "./constants";
import { ADMIN, audit, cp, expectProblem, json } from "./helpers";
import { CONTROL_PLANE_HOST } from "./worker";

/**
 * The dashboard's session: the admin token is exchanged for a short-lived HttpOnly cookie, which
 * opens /admin to the browser only with CSRF protection; the pages carry a strict CSP.
 */

const ORIGIN = `http://${CONTROL_PLANE_HOST}`;
const browser = { origin: ORIGIN };

interface Signed {
  res: Response;
  setCookie: string;
  cookie: string;
  csrf: string;
}

async function signIn(token = TEST_ADMIN_TOKEN, url = `${ORIGIN}/dashboard/session`): Promise<Signed> {
  const res = await exports.default.fetch(new Request(url, json({ token }, { origin: new URL(url).origin })));
  expect(res.status, await res.clone().text()).toBe(201);
  const setCookie = res.headers.getSetCookie()[0]!;
  const { csrfToken } = await res.clone().json<{ csrfToken: string }>();
  return { res, setCookie, cookie: setCookie.split(";")[0]!, csrf: csrfToken };
}

/** A browser's request with the session cookie (and, for a state change, its CSRF token and Origin). */
const withSession = (s: Signed, init: RequestInit = {}, csrf = true): RequestInit => ({
  ...init,
  headers: { ...(init.headers as Record<string, string>), cookie: s.cookie, ...(csrf ? { "x-csrf-token": s.csrf, ...browser } : {}) },
});

/** A session JWT signed with the real key (or another), to check what the verifier refuses. */
async function forged(claims: Record<string, unknown>, { key = TEST_ADMIN_TOKEN, alg = "HS256" } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ csrf: "c".repeat(43), auth_time: now, ...claims })
    .setProtectedHeader({ alg })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject("admin")
    .setIssuedAt(now);
  if (!("exp" in claims)) jwt.setExpirationTime(now + 600);
  return `isoplane-session=${await jwt.sign(await sessionKey(key))}`;
}

afterEach(() => vi.restoreAllMocks());

describe("dashboard sign-in", () => {
  it("exchanges the admin token for an HttpOnly, SameSite=Strict cookie that lasts an hour, and a CSRF token", async () => {
    const s = await signIn();
    expect(s.setCookie).toMatch(/^isoplane-session=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; Max-Age=3600; HttpOnly; SameSite=Strict$/);
    // Plain http (npm start): no Secure, which the browser would refuse to store over http.
    expect(s.setCookie).not.toMatch(/Secure/);
    const body = await s.res.json<{ csrfToken: string; expiresAt: string; signedInAt: string }>();
    expect(body.csrfToken).toMatch(/^[\w-]{43}$/);
    expect(Date.parse(body.expiresAt) - Date.parse(body.signedInAt)).toBe(3600_000);
    expect(s.res.headers.get("cache-control")).toBe("no-store");
    // The token is in neither the cookie nor the answer.
    expect(`${s.setCookie}${JSON.stringify(body)}`).not.toContain(TEST_ADMIN_TOKEN);
  });

  it("over https the cookie is Secure and __Host- prefixed", async () => {
    const s = await signIn(TEST_ADMIN_TOKEN, `https://${CONTROL_PLANE_HOST}/dashboard/session`);
    expect(s.setCookie).toMatch(/^__Host-isoplane-session=[^;]+; Path=\/; Max-Age=3600; HttpOnly; SameSite=Strict; Secure$/);
    // The http cookie's name is not read over https, and the other way round.
    const res = await exports.default.fetch(new Request(`https://${CONTROL_PLANE_HOST}/admin/tenants`, { headers: { cookie: s.cookie } }));
    expect(res.status).toBe(200);
    await expectProblem(await cp("/admin/tenants", { headers: { cookie: s.cookie } }), 401, "unauthorized");
  });

  it("every bad sign-in is a 4xx problem, and the token never reaches a log", async () => {
    const logs = [vi.spyOn(console, "log"), vi.spyOn(console, "error"), vi.spyOn(console, "warn")];
    const post = (body: BodyInit, headers: Record<string, string> = { "content-type": "application/json", ...browser }) =>
      cp("/dashboard/session", { method: "POST", headers, body });
    await expectProblem(await post(JSON.stringify({ token: "adm_wrong" })), 401, "unauthorized");
    await expectProblem(await post(JSON.stringify({ token: TEST_ADMIN_TOKEN }), { "content-type": "application/json" }), 403, "forbidden");
    await expectProblem(await post(JSON.stringify({ token: TEST_ADMIN_TOKEN }), { "content-type": "application/json", origin: "https://evil.example" }), 403, "forbidden");
    await expectProblem(await post("{", undefined), 400, "malformed-json");
    await expectProblem(await post(JSON.stringify({ token: "" })), 400, "invalid-request");
    await expectProblem(await post(JSON.stringify({ token: TEST_ADMIN_TOKEN, admin: true })), 400, "invalid-request");
    await expectProblem(await post(JSON.stringify({ token: 12 })), 400, "invalid-request");
    await expectProblem(await post(JSON.stringify({ token: "x".repeat(5000) })), 413, "payload-too-large");
    await expectProblem(await post(`token=${TEST_ADMIN_TOKEN}`, { "content-type": "application/x-www-form-urlencoded", ...browser }), 415, "unsupported-media-type");
    await signIn();
    for (const spy of logs) for (const call of spy.mock.calls) expect(JSON.stringify(call)).not.toContain(TEST_ADMIN_TOKEN);
  });
});

describe("the session on /admin", () => {
  it("reads with the cookie; changes need the CSRF token and this origin, and are audited as admin", async () => {
    const s = await signIn();
    expect((await cp("/admin/tenants", withSession(s, {}, false))).status).toBe(200);
    const create = (init: RequestInit) => cp("/admin/tenants", init);
    const body = { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "from-the-dashboard" }) };
    await expectProblem(await create(withSession(s, body, false)), 403, "forbidden");
    await expectProblem(await create({ ...body, headers: { ...body.headers, cookie: s.cookie, origin: ORIGIN } }), 403, "forbidden");
    await expectProblem(await create({ ...body, headers: { ...body.headers, cookie: s.cookie, origin: ORIGIN, "x-csrf-token": `${s.csrf}x` } }), 403, "forbidden");
    await expectProblem(await create({ ...body, headers: { ...body.headers, cookie: s.cookie, origin: "https://evil.example", "x-csrf-token": s.csrf } }), 403, "forbidden");
    await expectProblem(await create({ ...body, headers: { ...body.headers, cookie: s.cookie, "x-csrf-token": s.csrf } }), 403, "forbidden");
    // Another session's CSRF token is not this session's.
    const other = await signIn();
    await expectProblem(await create({ ...body, headers: { ...body.headers, cookie: s.cookie, origin: ORIGIN, "x-csrf-token": other.csrf } }), 403, "forbidden");
    const created = await create(withSession(s, body));
    expect(created.status).toBe(201);
    const tenant = await created.json<{ id: string }>();
    expect((await audit(tenant.id)).map((e) => [e.actor, e.action])).toEqual([["admin", "tenant.create"]]);
  });

  it("refuses tampered, expired, foreign and over-age sessions with 401", async () => {
    const s = await signIn();
    const [header, payload, signature] = s.cookie.split("=")[1]!.split(".");
    const claims = JSON.parse(atob(payload!.replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;
    const tampered = btoa(JSON.stringify({ ...claims, sub: "root" })).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const now = Math.floor(Date.now() / 1000);
    const refused = [
      `isoplane-session=${header}.${tampered}.${signature}`,
      `isoplane-session=${header}.${payload}.${signature!.slice(0, -2)}AA`,
      "isoplane-session=garbage",
      await forged({ exp: now - 5 }),
      await forged({}, { key: "adm_another-platforms-token" }),
      await forged({ auth_time: now - 13 * 3600 }),
      await forged({ csrf: 42 }),
      `isoplane-session=${btoa(JSON.stringify({ alg: "none" })).replace(/=+$/, "")}.${payload}.`,
    ];
    for (const cookie of refused) {
      await expectProblem(await cp("/admin/tenants", { headers: { cookie } }), 401, "unauthorized");
      await expectProblem(await cp("/dashboard/session", { headers: { cookie } }), 401, "unauthorized");
    }
    // A bearer token is judged on its own, whatever cookie comes with it.
    expect((await cp("/admin/tenants", { headers: { ...ADMIN, cookie: "isoplane-session=garbage" } })).status).toBe(200);
  });

  it("GET /dashboard/session renews the cookie with the same CSRF token; DELETE signs out (with CSRF)", async () => {
    const s = await signIn();
    const again = await cp("/dashboard/session", { headers: { cookie: s.cookie } });
    expect(again.status).toBe(200);
    expect((await again.json<{ csrfToken: string }>()).csrfToken).toBe(s.csrf);
    expect(again.headers.getSetCookie()[0]).toMatch(/^isoplane-session=[^;]+; Path=\/; Max-Age=3600; HttpOnly; SameSite=Strict$/);
    await expectProblem(await cp("/dashboard/session", { method: "DELETE", headers: { cookie: s.cookie, ...browser } }), 403, "forbidden");
    await expectProblem(await cp("/dashboard/session", { method: "DELETE", headers: {} }), 401, "unauthorized");
    const out = await cp("/dashboard/session", withSession(s, { method: "DELETE" }));
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie()[0]).toBe("isoplane-session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
    await expectProblem(await cp("/dashboard/session", {}), 401, "unauthorized");
  });
});

describe("the dashboard's pages and files", () => {
  it("serve the app with a CSP that allows no inline script, and no framing, sniffing or referrer", async () => {
    for (const path of ["/dashboard", "/dashboard/", "/dashboard/tenants/ten_01jd0000000000000000", "/dashboard/runs?status=running"]) {
      const res = await cp(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      const csp = res.headers.get("content-security-policy")!;
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain("unsafe");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      const html = await res.text();
      // Every script is a file from this origin; none is inline.
      const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attrs, body] of scripts) {
        expect(attrs).toMatch(/src="\/dashboard\/assets\/[\w-]+\.js"/);
        expect(body!.trim()).toBe("");
      }
      expect(html).not.toMatch(/\son[a-z]+=/i);
    }
  });

  it("serve hashed files for a year with an ETag, and 404 problems for unknown files", async () => {
    const html = await (await cp("/dashboard")).text();
    const script = /src="(\/dashboard\/assets\/[\w-]+\.js)"/.exec(html)![1]!;
    const res = await cp(script);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const etag = res.headers.get("etag")!;
    expect((await res.text()).length).toBeGreaterThan(1000);
    const cached = await cp(script, { headers: { "if-none-match": etag } });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe("");
    const style = /href="(\/dashboard\/assets\/[\w-]+\.css)"/.exec(html)![1]!;
    expect((await cp(style)).headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect((await cp("/dashboard/favicon.svg")).headers.get("content-type")).toBe("image/svg+xml");
    for (const path of ["/dashboard/assets/nope.js", "/dashboard/assets/", "/dashboard/secret.json", "/dashboard/..%2Fwrangler.toml"]) {
      await expectProblem(await cp(path), 404, "not-found");
    }
  });
});
