import { env } from "cloudflare:test";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { bearer, cp, dp, expectProblem, json, newTenant, patch, put, run, upload, type TestTenant, getRun, ledgered } from "./helpers";

const ECHO_RUN = `export default { async fetch(request, env) { return Response.json({ run: env.RUN.id }); } };`;

interface Signer {
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function signer(alg: "ES256" | "RS256", kid: string): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

const b64 = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
const now = () => Math.floor(Date.now() / 1000);

function token(s: Signer, claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
  return new SignJWT(claims).setProtectedHeader({ alg: (s.publicJwk.alg as string) ?? "ES256", kid: s.publicJwk.kid, ...header }).sign(s.privateKey);
}

describe("end-user JWTs: the attack matrix", () => {
  let t: TestTenant;
  let other: TestTenant;
  let good: Signer;
  let otherSigner: Signer;
  const issuer = `https://auth.tenant-${crypto.randomUUID()}.example`;
  const otherIssuer = `https://auth.other-${crypto.randomUUID()}.example`;
  const claims = () => ({ iss: issuer, aud: "isoplane", sub: "user-42", exp: now() + 300 });

  beforeAll(async () => {
    t = await newTenant();
    other = await newTenant();
    good = await signer("ES256", "k1");
    otherSigner = await signer("ES256", "k1");
    await upload(t, "echo", ECHO_RUN);
    await upload(other, "echo", ECHO_RUN);
    const reg = await cp("/v1/auth/jwks", put({ issuer, jwks: { keys: [good.publicJwk] } }, bearer(t.key)));
    expect(reg.status, await reg.clone().text()).toBe(200);
    expect((await cp("/v1/auth/jwks", put({ issuer: otherIssuer, jwks: { keys: [otherSigner.publicJwk] } }, bearer(other.key)))).status).toBe(200);
  });

  const runWith = (jwt: string) => dp("/v1/agents/echo/runs", json({ input: 1 }, bearer(jwt)));

  it("a valid token runs the agent and the run records its subject", async () => {
    const res = await runWith(await token(good, claims()));
    expect(res.status, await res.clone().text()).toBe(200);
    const body = await res.json<{ id: string; status: string }>();
    expect(body.status).toBe("succeeded");
    expect((await getRun(t, body.id)).endUser).toBe("user-42");
    // The end user reads their own run, and no one else's.
    expect((await dp(`/v1/runs/${body.id}`, { headers: bearer(await token(good, claims())) })).status).toBe(200);
    const theirs = await run(t, "echo");
    await expectProblem(await dp(`/v1/runs/${theirs.id}`, { headers: bearer(await token(good, claims())) }), 404, "not-found");
    const stranger = await token(good, { ...claims(), sub: "user-7" });
    await expectProblem(await dp(`/v1/runs/${body.id}`, { headers: bearer(stranger) }), 404, "not-found");
  });

  const attacks: [string, () => Promise<string>][] = [
    ["alg: none", async () => `${b64({ alg: "none", typ: "JWT" })}.${b64(claims())}.`],
    [
      "HS256 signed with the tenant's public key (algorithm confusion)",
      async () => {
        const key = new TextEncoder().encode(JSON.stringify(good.publicJwk));
        return new SignJWT(claims()).setProtectedHeader({ alg: "HS256", kid: "k1" }).sign(key);
      },
    ],
    ["expired", () => token(good, { ...claims(), exp: now() - 120 })],
    ["missing exp", () => token(good, { iss: issuer, aud: "isoplane", sub: "user-42" })],
    ["missing sub", () => token(good, { iss: issuer, aud: "isoplane", exp: now() + 300 })],
    ["wrong iss (unregistered)", () => token(good, { ...claims(), iss: "https://evil.example" })],
    ["wrong aud", () => token(good, { ...claims(), aud: "someone-else" })],
    ["unknown kid", () => token(good, claims(), { kid: "k9" })],
    ["nbf in the future", () => token(good, { ...claims(), nbf: now() + 600 })],
    ["signed by another tenant's key, claiming this tenant's issuer", () => token(otherSigner, claims())],
    ["a valid signature over a tampered payload", async () => {
      const [h, , s] = (await token(good, claims())).split(".");
      return `${h}.${b64({ ...claims(), sub: "admin" })}.${s}`;
    }],
    ["garbage", async () => "aaa.bbb.ccc"],
  ];
  for (const [name, make] of attacks) {
    it(`refuses: ${name}`, async () => {
      const res = await runWith(await make());
      await expectProblem(res, 401, "unauthorized");
      expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
    });
  }

  it("tolerates a little clock skew, not more", async () => {
    expect((await runWith(await token(good, { ...claims(), exp: now() - 10 }))).status).toBe(200);
    expect((await runWith(await token(good, { ...claims(), nbf: now() + 10 }))).status).toBe(200);
  });

  it("another tenant's valid token cannot reach this tenant's agents", async () => {
    const theirs = await token(otherSigner, { iss: otherIssuer, aud: "isoplane", sub: "u", exp: now() + 300 });
    const res = await dp("/v1/agents/echo/runs", json({ input: 1 }, bearer(theirs)));
    const body = await res.json<{ id: string }>();
    // It runs the *other* tenant's agent of the same name — never this tenant's.
    await ledgered([body.id]);
    expect(await env.DB.prepare("SELECT tenant_id FROM runs WHERE id = ?").bind(body.id).first("tenant_id")).toBe(other.id);
  });

  it("end-user tokens are for runs only", async () => {
    const jwt = await token(good, claims());
    await expectProblem(await dp("/v1/context/x", { headers: bearer(jwt) }), 403, "forbidden");
    await expectProblem(await cp("/v1/agents", { headers: bearer(jwt) }), 403, "forbidden");
  });

  it("registration refuses private keys, symmetric keys, a taken issuer and unknown fields", async () => {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const priv = await exportJWK(privateKey);
    await expectProblem(await cp("/v1/auth/jwks", put({ issuer: "https://x.example", jwks: { keys: [priv] } }, bearer(other.key))), 400, "invalid-request");
    await expectProblem(await cp("/v1/auth/jwks", put({ issuer: "https://x.example", jwks: { keys: [{ kty: "oct", k: "c2VjcmV0" }] } }, bearer(other.key))), 400, "invalid-request");
    await expectProblem(await cp("/v1/auth/jwks", put({ issuer: "https://x.example", jwks: { keys: [{ kty: "EC", crv: "P-256", x: "bad", y: "bad" }] } }, bearer(other.key))), 400, "invalid-request");
    await expectProblem(await cp("/v1/auth/jwks", put({ issuer, jwks: { keys: [otherSigner.publicJwk] } }, bearer(other.key))), 409, "conflict");
    await expectProblem(await cp("/v1/auth/jwks", put({ issuer: "https://x.example", jwks: { keys: [good.publicJwk] }, tenantId: t.id }, bearer(other.key))), 400, "invalid-request");
    const mine = await (await cp("/v1/auth/jwks", { headers: bearer(t.key) })).json<{ issuer: string; audience: string }>();
    expect(mine).toMatchObject({ issuer, audience: "isoplane" });
  });

  it("a suspended tenant's end users get 403; removing the issuer stops its tokens", async () => {
    const jwt = await token(good, claims());
    await cp(`/admin/tenants/${t.id}`, patch({ status: "suspended" }));
    await expectProblem(await runWith(jwt), 403, "forbidden");
    await cp(`/admin/tenants/${t.id}`, patch({ status: "active" }));
    expect((await runWith(jwt)).status).toBe(200);
    expect((await cp("/v1/auth/jwks", { method: "DELETE", headers: bearer(t.key) })).status).toBe(204);
    await expectProblem(await runWith(jwt), 401, "unauthorized");
  });
});
