import { describe, expect, it } from "vitest";
import { READS_KEY, VERSIONED } from "./agents";
import { ADMIN, bearer, cp, dp, expectProblem, json, newTenant, run, upload } from "./helpers";

const MODULE = { "content-type": "application/javascript+module" };

describe("401: missing or unknown credentials", () => {
  const calls: [string, () => Promise<Response>][] = [
    ["POST /admin/tenants without a token", () => cp("/admin/tenants", json({ name: "x" }))],
    ["POST /admin/tenants with a wrong token", () => cp("/admin/tenants", json({ name: "x" }, bearer("adm_wrong")))],
    ["PUT script without a key", () => cp("/v1/agents/a/script", { method: "PUT", headers: MODULE, body: "x" })],
    ["PUT script with a malformed key", () => cp("/v1/agents/a/script", { method: "PUT", headers: { ...MODULE, ...bearer("nope") }, body: "x" })],
    // Well-formed (valid checksum) but never issued.
    ["run with an unknown key", () => dp("/v1/agents/a/runs", json({ input: 1 }, bearer("isk_000000000000000000000000000000" + "0eo6Ra")))],
    ["GET context with a Basic header", () => dp("/v1/context/a", { headers: { authorization: "Basic Zm9vOmJhcg==" } })],
    ["GET a run without a key", () => dp("/v1/runs/run_01jd0000000000000000")],
  ];
  for (const [name, call] of calls) {
    it(name, async () => {
      const res = await call();
      await expectProblem(res, 401, "unauthorized");
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
    });
  }
});

describe("403: a tenant key on /admin", () => {
  it("is recognised and refused", async () => {
    const t = await newTenant();
    await expectProblem(await cp("/admin/tenants", json({ name: "evil" }, bearer(t.key))), 403, "forbidden");
    await expectProblem(await cp(`/admin/tenants/${t.id}/keys`, json({}, bearer(t.key))), 403, "forbidden");
  });
});

describe("404: unknown and other tenants' resources look the same", () => {
  it("unknown agent, unknown run, another tenant's agent, run, result and context", async () => {
    const a = await newTenant();
    const b = await newTenant();
    await upload(a, "private", VERSIONED(1));
    const ran = await run(a, "private");
    await dp("/v1/context/secret.txt", { method: "PUT", headers: bearer(a.key), body: "a's secret" });

    const missingAgent = await expectProblem(await dp("/v1/agents/nothing/runs", json({ input: 1 }, bearer(b.key))), 404, "not-found");
    const otherAgent = await expectProblem(await dp("/v1/agents/private/runs", json({ input: 1 }, bearer(b.key))), 404, "not-found");
    expect(otherAgent.detail).toBe(`No agent named "private".`);
    expect(missingAgent.detail).toBe(`No agent named "nothing".`);

    const missingRun = await expectProblem(await dp("/v1/runs/run_01jd0000000000000000", { headers: bearer(b.key) }), 404, "not-found");
    const otherRun = await expectProblem(await dp(`/v1/runs/${ran.id}`, { headers: bearer(b.key) }), 404, "not-found");
    expect(otherRun.detail).toBe(missingRun.detail);
    await expectProblem(await dp(`/v1/runs/${ran.id}/result`, { headers: bearer(b.key) }), 404, "not-found");
    await expectProblem(await dp("/v1/runs/not-an-id", { headers: bearer(b.key) }), 404, "not-found");

    await expectProblem(await dp("/v1/context/secret.txt", { headers: bearer(b.key) }), 404, "not-found");
    await expectProblem(await cp("/admin/tenants/ten_01jd0000000000000000/keys", json({}, ADMIN)), 404, "not-found");
    await expectProblem(await cp("/admin/tenants/whatever", ADMIN_GET), 404, "not-found");
    await expectProblem(await dp("/no/such/route"), 404, "not-found");
  });
});
const ADMIN_GET = { headers: ADMIN };

describe("400: malformed JSON and invalid names", () => {
  it("malformed JSON bodies", async () => {
    const t = await newTenant();
    await upload(t, "ok", VERSIONED(1));
    const bad = { method: "POST", headers: { "content-type": "application/json", ...bearer(t.key) }, body: "{input: 1" };
    await expectProblem(await dp("/v1/agents/ok/runs", bad), 400, "malformed-json");
    await expectProblem(await cp("/admin/tenants", { ...bad, headers: { "content-type": "application/json", ...ADMIN } }), 400, "malformed-json");
  });

  it("bodies that do not match the schema, unknown fields included", async () => {
    const t = await newTenant();
    await upload(t, "ok", VERSIONED(1));
    await expectProblem(await dp("/v1/agents/ok/runs", json({ input: 1, tenantId: "ten_x" }, bearer(t.key))), 400, "invalid-request");
    await expectProblem(await dp("/v1/agents/ok/runs", json([1, 2], bearer(t.key))), 400, "invalid-request");
    await expectProblem(await cp("/admin/tenants", json({}, ADMIN)), 400, "invalid-request");
    await expectProblem(await cp("/admin/tenants", json({ name: "x", status: "active" }, ADMIN)), 400, "invalid-request");
    await expectProblem(await cp("/admin/tenants", json({ name: "   " }, ADMIN)), 400, "invalid-request");
    await expectProblem(await cp(`/admin/tenants/${t.id}/keys`, json({ scopes: ["root"] }, ADMIN)), 400, "invalid-request");
  });

  it("invalid agent names", async () => {
    const t = await newTenant();
    for (const name of ["Upper", "-lead", "has_underscore", "a".repeat(64), "dot.name", "%C3%A9t%C3%A9"]) {
      await expectProblem(await cp(`/v1/agents/${name}/script`, { method: "PUT", headers: { ...MODULE, ...bearer(t.key) }, body: "x" }), 400, "invalid-name");
      await expectProblem(await dp(`/v1/agents/${name}/runs`, json({ input: 1 }, bearer(t.key))), 400, "invalid-name");
    }
  });

  it("context keys that would leave the prefix or need normalising", async () => {
    const t = await newTenant();
    // (`..` and `%2e%2e` segments are resolved by the URL parser before any Worker sees them,
    // so they cannot climb out of /v1/context/; encoded slashes and the rest arrive and are refused.)
    for (const key of ["a//b", "a%2Fb", "a%2F..%2Fb", "a%5Cb", "a/", "%00", "a%0Ab", "%ZZ", "x".repeat(257), `${"y/".repeat(600)}z`]) {
      await expectProblem(await dp(`/v1/context/${key}`, { method: "PUT", headers: bearer(t.key), body: "x" }), 400, "invalid-key");
      await expectProblem(await dp(`/v1/context/${key}`, { headers: bearer(t.key) }), 400, "invalid-key");
    }
  });
});

/** A key of exactly `bytes` UTF-8 bytes, in segments of at most 200 bytes. */
function keyOf(bytes: number, unit = "k"): string {
  const unitBytes = new TextEncoder().encode(unit).byteLength;
  const segments: string[] = [];
  let left = bytes;
  while (left > 0) {
    const size = Math.min(200, left);
    left -= size + (left - size > 0 ? 1 : 0);
    const n = Math.floor(size / unitBytes);
    segments.push(unit.repeat(n) + "x".repeat(size - n * unitBytes));
  }
  const key = segments.join("/");
  expect(new TextEncoder().encode(key).byteLength).toBe(bytes);
  return key;
}

/** A run that puts `input.key` through env.STORAGE, then reads and lists it back. */
const STORES_KEY = `export default {
  async fetch(request, env) {
    const { input } = await request.json();
    try {
      await env.STORAGE.put(input.key, "v");
      return Response.json({ read: await env.STORAGE.get(input.key), listed: (await env.STORAGE.list(input.key)).length });
    } catch (err) {
      return Response.json({ name: err.name, message: err.message });
    }
  },
};`;

describe("a request wrong in several ways: credentials, then the resource its path names, then its parameters, then its body", () => {
  it("an unknown tenant is 404 before its body or query is looked at", async () => {
    const unknown = "/admin/tenants/ten_01jd0000000000000000";
    const badJson = { "content-type": "application/json", ...ADMIN };
    await expectProblem(await cp(unknown, { method: "PATCH", headers: badJson, body: "{" }), 404, "not-found");
    await expectProblem(await cp(`${unknown}/keys`, json({ scopes: ["root"] }, ADMIN)), 404, "not-found");
    await expectProblem(await cp(`${unknown}/usage?from=yesterday`, { headers: ADMIN }), 404, "not-found");
  });

  it("an invalid agent or secret name is invalid-name before the body is read", async () => {
    const t = await newTenant();
    const badJson = { method: "POST", headers: { "content-type": "application/json", ...bearer(t.key) }, body: "{" };
    await expectProblem(await dp("/v1/agents/Not_A_Name/runs", badJson), 400, "invalid-name");
    await expectProblem(await cp("/v1/agents/Not_A_Name/rollback", badJson), 400, "invalid-name");
    await expectProblem(await cp("/v1/agents/ok/secrets/RUN", { ...badJson, method: "PUT" }), 400, "invalid-name");
  });

  it("a JSON body sent without a content type is still read as JSON", async () => {
    const t = await newTenant();
    await upload(t, "ok", VERSIONED(1));
    const res = await dp("/v1/agents/ok/runs", { method: "POST", headers: bearer(t.key), body: new TextEncoder().encode(JSON.stringify({ input: 1 })) });
    expect(res.status, await res.clone().text()).toBe(200);
  });
});

describe("400: key limits count the full stored key", () => {
  const CONTEXT_DETAIL = (n: number) =>
    `The key is ${n} bytes; context keys may be at most 983 bytes: R2 allows 1024 bytes for the whole stored key, tenants/<tenantId>/context/<key>.`;

  it("a context key may be 983 bytes (R2's 1,024 less tenants/<tenantId>/context/); longer is invalid-key on PUT, GET and DELETE", async () => {
    const t = await newTenant();
    for (const unit of ["k", "é", "😀"]) {
      const longest = keyOf(983, unit);
      const stored = await dp(`/v1/context/${encodeURI(longest)}`, { method: "PUT", headers: bearer(t.key), body: "fits" });
      expect(stored.status, await stored.clone().text()).toBe(200);
      expect((await stored.json<{ key: string }>()).key).toBe(longest);
      const read = await dp(`/v1/context/${encodeURI(longest)}`, { headers: bearer(t.key) });
      expect(await read.text()).toBe("fits");
      const listed = await dp(`/v1/context?prefix=${encodeURIComponent(longest)}`, { headers: bearer(t.key) });
      expect((await listed.json<{ objects: { key: string }[] }>()).objects.map((o) => o.key)).toEqual([longest]);
      expect((await dp(`/v1/context/${encodeURI(longest)}`, { method: "DELETE", headers: bearer(t.key) })).status).toBe(204);
    }
    for (const bytes of [984, 990, 1024, 1025]) {
      const path = `/v1/context/${encodeURI(keyOf(bytes))}`;
      for (const init of [{ method: "PUT", body: "x" }, { method: "GET" }, { method: "DELETE" }]) {
        const problem = await expectProblem(await dp(path, { ...init, headers: bearer(t.key) }), 400, "invalid-key");
        expect(problem.detail).toBe(CONTEXT_DETAIL(bytes));
        expect(problem.maxKeyBytes).toBe(983);
      }
    }
    const prefix = await expectProblem(await dp(`/v1/context?prefix=${"p".repeat(984)}`, { headers: bearer(t.key) }), 400, "invalid-key");
    expect(prefix.detail).toMatch(/^The prefix is 984 bytes; context keys may be at most 983 bytes/);
  });

  it("env.STORAGE takes keys of up to 991 bytes (after tenants/<tenantId>/) and throws the same clear TypeError beyond, never R2's", async () => {
    const t = await newTenant();
    await upload(t, "stores", STORES_KEY);
    const fits = await run(t, "stores", { key: `context/${keyOf(983)}` });
    expect(fits.output).toEqual({ read: "v", listed: 1 });
    // The same object through the HTTP API.
    expect((await dp(`/v1/context/${keyOf(983)}`, { headers: bearer(t.key) })).status).toBe(200);
    for (const bytes of [992, 995, 1024]) {
      const refused = await run(t, "stores", { key: `context/${keyOf(bytes - 8)}` });
      expect(refused.output).toEqual({
        name: "TypeError",
        message:
          `STORAGE: The key is ${bytes} bytes; STORAGE keys may be at most 991 bytes (so at most 983 bytes after context/ and 958 after results/<runId>/): ` +
          "R2 allows 1024 bytes for the whole stored key, tenants/<tenantId>/<key>.",
      });
      expect(JSON.stringify(refused.output)).not.toContain("10020");
    }
    const results = await run(t, "stores", { key: `results/run_01jd0000000000000000/${keyOf(958)}` });
    expect(results.output).toEqual({ read: "v", listed: 1 });
    const tooLong = await run(t, "stores", { key: `results/run_01jd0000000000000000/${keyOf(959)}` });
    expect((tooLong.output as { message: string }).message).toMatch(/^STORAGE: The key is 992 bytes; STORAGE keys may be at most 991 bytes/);
  });
});

describe("413 and 415 on script upload", () => {
  it("a script over the size limit is refused, with or without Content-Length", async () => {
    const t = await newTenant();
    const big = `export default {}; // ${"x".repeat(64 * 1024)}`;
    const res = await cp("/v1/agents/big/script", { method: "PUT", headers: { ...MODULE, ...bearer(t.key) }, body: big });
    await expectProblem(res, 413, "payload-too-large");
    // A streamed body has no Content-Length: the limit holds while reading.
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 80; i++) controller.enqueue(new TextEncoder().encode("x".repeat(1024)));
        controller.close();
      },
    });
    const streamed = await cp("/v1/agents/big/script", { method: "PUT", headers: { ...MODULE, ...bearer(t.key) }, body: stream });
    await expectProblem(streamed, 413, "payload-too-large");
    await expectProblem(await dp("/v1/agents/big/runs", json({ input: 1 }, bearer(t.key))), 404, "not-found");
  });

  it("an admin JSON body over 1 MiB is refused before it is read whole, with or without Content-Length", async () => {
    const big = JSON.stringify({ name: "x".repeat(1024 * 1024) });
    await expectProblem(await cp("/admin/tenants", json(JSON.parse(big), ADMIN)), 413, "payload-too-large");
    let pulled = 0;
    const stream = new ReadableStream({
      pull(controller) {
        pulled++;
        controller.enqueue(new TextEncoder().encode(" ".repeat(64 * 1024)));
        if (pulled > 64) controller.close();
      },
    });
    const res = await cp("/admin/tenants", { method: "POST", headers: { ...ADMIN, "content-type": "application/json" }, body: stream });
    await expectProblem(res, 413, "payload-too-large");
    // It stopped reading soon after the limit: far fewer than all 65 chunks of 64 KiB.
    expect(pulled).toBeLessThan(40);
  });

  it("a context object over its limit is refused", async () => {
    const t = await newTenant();
    await expectProblem(
      await dp("/v1/context/big.bin", { method: "PUT", headers: bearer(t.key), body: new Uint8Array(64 * 1024 + 1) }),
      413,
      "payload-too-large",
    );
  });

  it("a wrong content type is refused", async () => {
    const t = await newTenant();
    for (const type of ["application/json", "text/plain", "application/wasm"]) {
      const res = await cp("/v1/agents/a/script", { method: "PUT", headers: { "content-type": type, ...bearer(t.key) }, body: "export default {}" });
      await expectProblem(res, 415, "unsupported-media-type");
    }
    const noType = await cp("/v1/agents/a/script", { method: "PUT", headers: bearer(t.key), body: new Uint8Array([1]) });
    await expectProblem(noType, 415, "unsupported-media-type");
    await expectProblem(await dp("/v1/agents/a/runs", { method: "POST", headers: { "content-type": "text/plain", ...bearer(t.key) }, body: "{}" }), 415, "unsupported-media-type");
  });

  it("text/javascript with a charset is accepted", async () => {
    const t = await newTenant();
    const res = await cp("/v1/agents/js/script", {
      method: "PUT",
      headers: { "content-type": "text/javascript; charset=utf-8", ...bearer(t.key) },
      body: VERSIONED(7),
    });
    expect(res.status).toBe(201);
    expect((await run(t, "js")).output).toEqual({ version: 7 });
  });
});

describe("an agent cannot read outside its tenant's prefix", () => {
  it("hostile keys fail the run; the other tenant's object is never returned", async () => {
    const a = await newTenant();
    const b = await newTenant();
    await dp("/v1/context/secret.txt", { method: "PUT", headers: bearer(b.key), body: "b's secret" });
    await upload(a, "snoop", READS_KEY);
    for (const key of [
      `../${b.id}/context/secret.txt`,
      `context/../../${b.id}/context/secret.txt`,
      `/tenants/${b.id}/context/secret.txt`,
      `context\\..\\secret.txt`,
      `context//secret.txt`,
    ]) {
      const result = await run(a, "snoop", { key });
      expect(result.status, key).toBe("failed");
      expect(result.error).toMatch(/STORAGE: The key .* has an invalid/);
    }
    // The same relative key resolves inside each tenant's own prefix.
    const own = await run(a, "snoop", { key: "context/secret.txt" });
    expect(own.output).toEqual({ value: null });
  });
});
