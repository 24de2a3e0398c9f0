import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { TEST_ADMIN_TOKEN } from "./constants";
import { ADMIN, bearer, cp, dp, json, newTenant, run, upload, waitFor, type TestTenant } from "./helpers";
import { CONTROL_PLANE_HOST } from "./worker";

/**
 * Generated hostile requests against every route of both Workers: whatever is sent, the answer is
 * never a 5xx, every non-2xx is problem+json, and no run is left open.
 */

type Worker = "cp" | "dp";
type Auth = "tenant" | "admin";
interface Route {
  worker: Worker;
  method: string;
  path: string;
  auth: Auth;
}

/** Every route, as the OpenAPI documents list them (the coverage test below keeps the two in step). */
const ROUTES: Route[] = [
  { worker: "cp", method: "GET", path: "/healthz", auth: "admin" },
  { worker: "cp", method: "POST", path: "/admin/tenants", auth: "admin" },
  { worker: "cp", method: "GET", path: "/admin/tenants", auth: "admin" },
  { worker: "cp", method: "GET", path: "/admin/tenants/{tenantId}", auth: "admin" },
  { worker: "cp", method: "PATCH", path: "/admin/tenants/{tenantId}", auth: "admin" },
  { worker: "cp", method: "DELETE", path: "/admin/tenants/{tenantId}", auth: "admin" },
  { worker: "cp", method: "POST", path: "/admin/tenants/{tenantId}/keys", auth: "admin" },
  { worker: "cp", method: "GET", path: "/admin/tenants/{tenantId}/keys", auth: "admin" },
  { worker: "cp", method: "DELETE", path: "/admin/tenants/{tenantId}/keys/{keyId}", auth: "admin" },
  { worker: "cp", method: "GET", path: "/admin/audit", auth: "admin" },
  { worker: "cp", method: "GET", path: "/admin/billing/export", auth: "admin" },
  { worker: "cp", method: "GET", path: "/admin/overview", auth: "admin" },
  { worker: "cp", method: "GET", path: "/admin/tenants/{tenantId}/usage", auth: "admin" },
  { worker: "cp", method: "GET", path: "/admin/runs", auth: "admin" },
  { worker: "cp", method: "GET", path: "/admin/runs/{runId}", auth: "admin" },
  { worker: "cp", method: "GET", path: "/admin/runs/{runId}/events", auth: "admin" },
  { worker: "cp", method: "GET", path: "/admin/runs/{runId}/stream", auth: "admin" },
  { worker: "cp", method: "POST", path: "/admin/runs/{runId}/cancel", auth: "admin" },
  { worker: "cp", method: "GET", path: "/admin/tenants/{tenantId}/agents", auth: "admin" },
  { worker: "cp", method: "POST", path: "/admin/tenants/{tenantId}/agents/{agent}/rollback", auth: "admin" },
  { worker: "cp", method: "GET", path: "/dashboard", auth: "admin" },
  { worker: "cp", method: "POST", path: "/dashboard/session", auth: "admin" },
  { worker: "cp", method: "GET", path: "/dashboard/session", auth: "admin" },
  { worker: "cp", method: "DELETE", path: "/dashboard/session", auth: "admin" },
  { worker: "cp", method: "PUT", path: "/v1/agents/{agent}/script", auth: "tenant" },
  { worker: "cp", method: "GET", path: "/v1/agents", auth: "tenant" },
  { worker: "cp", method: "GET", path: "/v1/agents/{agent}", auth: "tenant" },
  { worker: "cp", method: "DELETE", path: "/v1/agents/{agent}", auth: "tenant" },
  { worker: "cp", method: "POST", path: "/v1/agents/{agent}/rollback", auth: "tenant" },
  { worker: "cp", method: "PUT", path: "/v1/agents/{agent}/secrets/{name}", auth: "tenant" },
  { worker: "cp", method: "DELETE", path: "/v1/agents/{agent}/secrets/{name}", auth: "tenant" },
  { worker: "cp", method: "GET", path: "/v1/agents/{agent}/secrets", auth: "tenant" },
  { worker: "cp", method: "PUT", path: "/v1/auth/jwks", auth: "tenant" },
  { worker: "cp", method: "GET", path: "/v1/auth/jwks", auth: "tenant" },
  { worker: "cp", method: "DELETE", path: "/v1/auth/jwks", auth: "tenant" },
  { worker: "cp", method: "PATCH", path: "/v1/agents/{agent}", auth: "tenant" },
  { worker: "cp", method: "PUT", path: "/v1/provider-keys/{provider}", auth: "tenant" },
  { worker: "cp", method: "GET", path: "/v1/provider-keys", auth: "tenant" },
  { worker: "cp", method: "DELETE", path: "/v1/provider-keys/{provider}", auth: "tenant" },
  { worker: "dp", method: "PUT", path: "/v1/context/{key}", auth: "tenant" },
  { worker: "dp", method: "GET", path: "/v1/context/{key}", auth: "tenant" },
  { worker: "dp", method: "DELETE", path: "/v1/context/{key}", auth: "tenant" },
  { worker: "dp", method: "GET", path: "/v1/context", auth: "tenant" },
  { worker: "dp", method: "POST", path: "/v1/agents/{agent}/runs", auth: "tenant" },
  { worker: "dp", method: "GET", path: "/v1/runs", auth: "tenant" },
  { worker: "dp", method: "GET", path: "/v1/runs/{runId}", auth: "tenant" },
  { worker: "dp", method: "GET", path: "/v1/runs/{runId}/result", auth: "tenant" },
  { worker: "dp", method: "GET", path: "/v1/runs/{runId}/events", auth: "tenant" },
  { worker: "dp", method: "GET", path: "/v1/runs/{runId}/stream", auth: "tenant" },
  { worker: "dp", method: "POST", path: "/v1/runs/{runId}/cancel", auth: "tenant" },
  { worker: "dp", method: "GET", path: "/v1/webhook-secret", auth: "tenant" },
  { worker: "dp", method: "GET", path: "/v1/usage", auth: "tenant" },
];

const ECHO = `export default { async fetch(request, env) { const { input } = await request.json(); await env.EMIT("agent.echo", { input }); return Response.json({ input }); } };`;

/** The tenant whose runs are checked; admin routes act on scratch tenants, so they cannot lock it out. */
let victim: TestTenant;
let scratch: TestTenant[];
let runId: string;
let session: { cookie: string; csrf: string };
const started = new Set<string>();

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
/** Header values a client can send: visible ASCII, blanks, tabs, long ones (no CR/LF, which Headers refuses). */
const headerValue = fc.oneof(printable, fc.constantFrom("", " ", "\t", "\t1", "1 ", "007", "-1", "1e3", "99999999999999999999", "x".repeat(300)));

const deepText = fc.tuple(fc.integer({ min: 60, max: 30_000 }), fc.constantFrom("[", '{"a":'), fc.boolean()).map(([levels, open, wrap]) => {
  const close = open === "[" ? "]" : "}";
  const core = open.repeat(levels) + "1" + close.repeat(levels);
  return wrap ? `{"input":${core}}` : core;
});
const hugeNumbers = fc.constantFrom("1e999999", "-1e-999999", "123456789012345678901234567890", '{"input":1e400}', '{"limit":1e400}', '{"version":1e308}', '{"version":-0}', "NaN", "Infinity", '{"input":-}');
const wrongTypes = fc.record(
  {
    input: fc.jsonValue({ maxDepth: 3 }),
    mode: fc.oneof(fc.constantFrom("sync", "stream", "async", "SYNC", "", "batch"), fc.integer(), fc.constant(null)),
    webhook: fc.oneof(fc.record({ url: fc.oneof(fc.webUrl(), printable) }), printable),
    cancelOnDisconnect: fc.oneof(fc.boolean(), printable),
    name: fc.oneof(printable, fc.integer(), fc.constant(null)),
    value: fc.oneof(printable, fc.integer(), fc.array(printable)),
    version: fc.oneof(fc.integer(), printable, fc.double()),
    quotas: fc.oneof(fc.dictionary(printable, fc.oneof(fc.integer(), fc.double(), printable, fc.constant(null))), printable),
    scopes: fc.oneof(fc.array(printable), printable),
    status: fc.oneof(fc.constantFrom("active", "suspended", "deleted"), printable),
    issuer: fc.oneof(fc.webUrl(), printable),
    jwks: fc.oneof(fc.record({ keys: fc.array(fc.dictionary(printable, printable), { maxLength: 2 }) }), printable),
    constructor: fc.jsonValue({ maxDepth: 2 }),
    tenantId: printable,
  },
  { requiredKeys: [] },
).map((v) => JSON.stringify(v));
/** A valid run request now and then, so some runs really start (sync, stream and async). */
const validRun = fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom("sync", "stream", "async")).map(([input, mode]) => JSON.stringify({ input, mode }));
const body: fc.Arbitrary<string | Uint8Array | null> = fc.oneof(
  fc.constant(null),
  fc.json({ maxDepth: 4 }),
  deepText,
  hugeNumbers,
  wrongTypes,
  validRun,
  fc.uint8Array({ maxLength: 64 }), // invalid UTF-8 most of the time
  fc.constantFrom("", " ", "{", '{"input":', "\u0000", "\ufeff{}", '{"input":"\\ud800"}', '{"a":1,"a":2}', "[]", "null", "true", '"x"'),
);
const contentType = fc.option(
  fc.oneof(
    fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "application/problem+json",
      "application/json;;;",
      "text/plain",
      "text/javascript",
      "application/javascript+module",
      "multipart/form-data; boundary=x",
      "multipart/form-data",
      "application/x-www-form-urlencoded",
      "",
    ),
    printable,
  ),
  { nil: undefined },
);
/** Context keys as raw URL path tails: unicode, control characters, dots, slashes, encodings, long lengths. */
const keyPart = fc.oneof(
  fc.constantFrom(".", "..", "/", "//", "%2F", "%2e%2E", "%5C", "%00", "%0A", "%7F", "%", "%ZZ", "%C3", "%E2%82", "a", "é", "😀", "\\", " ", "?", "#", ";", "~"),
  fc.string({ maxLength: 8 }).map(encodeURIComponent),
  fc.string({ unit: "binary", maxLength: 8 }).map(encodeURIComponent),
  fc.integer({ min: 1, max: 400 }).map((n) => "k".repeat(n)),
);
/** Well-formed keys whose UTF-8 length is near the real maximum (983 bytes) and R2's 1,024, in segments of at most 250 bytes. */
const nearLimit = fc.tuple(fc.integer({ min: 960, max: 1050 }), fc.constantFrom("k", "é", "😀")).map(([total, unit]) => {
  const unitBytes = new TextEncoder().encode(unit).byteLength;
  const segments: string[] = [];
  for (let left = total; left > 0; ) {
    const size = Math.min(250, left);
    left -= size + (left > size ? 1 : 0);
    const n = Math.floor(size / unitBytes);
    segments.push(encodeURIComponent(unit.repeat(n)) + "x".repeat(size - n * unitBytes));
  }
  return segments.join("/");
});
const contextKey = fc.oneof({ arbitrary: fc.array(keyPart, { minLength: 1, maxLength: 12 }).map((parts) => parts.join("")), weight: 3 }, { arbitrary: nearLimit, weight: 1 });
const hostileSegment = fc.oneof(fc.constantFrom("x", "..", "%2F", "%00", "A", "-", "a".repeat(70), "run_01jd0000000000000000", "ten_01jd0000000000000000", "key_x", "SECRET_1", "RUN"), fc.string({ maxLength: 12 }).map(encodeURIComponent));
const query = fc.dictionary(
  fc.constantFrom("limit", "cursor", "prefix", "status", "agent", "after", "from", "to", "granularity", "tenant", "month", "format", "q"),
  fc.oneof(printable, fc.constantFrom("-1", "0", "1e9", "100000000000000000000", "NaN", "day", "hour", "running", "2026-13", "x".repeat(2000))),
  { maxKeys: 3 },
);
const auth = fc.oneof(
  { arbitrary: fc.constant("right"), weight: 8 },
  { arbitrary: fc.constantFrom("none", "garbage", "swapped", "basic", "session"), weight: 2 },
);

interface Sent {
  route: Route;
  url: string;
  init: RequestInit;
}

function build(route: Route, a: { params: Record<string, string>; key: string; body: string | Uint8Array | null; type: string | undefined; query: Record<string, string>; headers: [string, string][]; auth: string }): Sent {
  let path = route.path.replace("{key}", a.key);
  for (const [name, value] of Object.entries(a.params)) path = path.replace(`{${name}}`, value);
  const qs = new URLSearchParams(a.query).toString();
  const headers = new Headers();
  const right = route.auth === "admin" ? ADMIN.authorization : bearer(victim.key).authorization;
  const wrong = route.auth === "admin" ? bearer(victim.key).authorization : ADMIN.authorization;
  if (a.auth === "right") headers.set("authorization", right);
  else if (a.auth === "garbage") headers.set("authorization", "Bearer isk_" + "x".repeat(36));
  else if (a.auth === "swapped") headers.set("authorization", wrong);
  else if (a.auth === "basic") headers.set("authorization", "Basic Zm9vOmJhcg==");
  else if (a.auth === "session") {
    // The dashboard's session cookie, with its CSRF token and the browser's Origin.
    headers.set("cookie", session.cookie);
    headers.set("x-csrf-token", session.csrf);
    headers.set("origin", `http://${CONTROL_PLANE_HOST}`);
  }
  if (a.type !== undefined) headers.set("content-type", a.type);
  for (const [name, value] of a.headers) headers.set(name, value);
  const init: RequestInit = { method: route.method, headers };
  if (a.body !== null && route.method !== "GET" && route.method !== "DELETE") init.body = a.body;
  return { route, url: path + (qs ? `?${qs}` : ""), init };
}

/** Reads the answer whole (a live stream for at most a few seconds), then checks the invariants. */
async function sendAndCheck({ route, url, init }: Sent): Promise<void> {
  const res = await (route.worker === "cp" ? cp : dp)(url, init);
  const id = res.headers.get("x-isoplane-run-id");
  if (id) started.add(id);
  const what = `${route.method} ${url.slice(0, 200)} → ${res.status}`;
  const type = res.headers.get("content-type");
  let text = "";
  if (res.body) {
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const until = Date.now() + 5_000;
    for (;;) {
      const next = await Promise.race([reader.read(), new Promise<"late">((r) => setTimeout(() => r("late"), Math.max(0, until - Date.now())))]);
      if (next === "late") {
        await reader.cancel();
        break;
      }
      if (next.done) break;
      text += next.value;
    }
  }
  expect(res.status, `${what}: ${text.slice(0, 300)}`).toBeLessThan(500);
  if (res.status >= 300) {
    expect(type, what).toBe("application/problem+json");
    const problem = JSON.parse(text) as { type: string; status: number; detail: string };
    expect(problem.type, what).toMatch(/^https:\/\/isoplane\.dev\/problems\/[a-z-]+$/);
    expect(problem.status, what).toBe(res.status);
    expect(typeof problem.detail, what).toBe("string");
  }
}

function paramsFor(route: Route): fc.Arbitrary<Record<string, string>> {
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).filter((n) => n !== "key");
  const known: Record<string, string[]> = {
    tenantId: scratch.map((t) => t.id),
    keyId: scratch.map((t) => t.keyId),
    agent: ["echo", "other"],
    runId: [runId],
    name: ["SEARCH_KEY"],
    provider: ["openai", "byok", "modal"],
  };
  return fc.record(Object.fromEntries(names.map((n) => [n, fc.oneof({ arbitrary: fc.constantFrom(...(known[n] ?? ["x"])), weight: 2 }, { arbitrary: hostileSegment, weight: 1 })])));
}

const request = (routes: Route[]) =>
  fc.constantFrom(...routes).chain((route) =>
    fc
      .record({
        params: paramsFor(route),
        key: contextKey,
        body,
        type: contentType,
        query,
        headers: fc.array(fc.tuple(fc.constantFrom("idempotency-key", "last-event-id", "content-encoding", "accept", "x-isoplane-run-id", "origin", "cookie", "x-csrf-token"), headerValue), { maxLength: 2 }),
        auth,
      })
      .map((a) => build(route, a)),
  );

describe("hostile input never gives a 5xx, always problem+json, and leaves no run open", () => {
  beforeAll(async () => {
    victim = await newTenant();
    scratch = [await newTenant(), await newTenant(), await newTenant()];
    await upload(victim, "echo", ECHO);
    runId = (await run(victim, "echo", { hello: "world" })).id;
    const signedIn = await cp("/dashboard/session", json({ token: TEST_ADMIN_TOKEN }, { origin: `http://${CONTROL_PLANE_HOST}` }));
    session = { cookie: signedIn.headers.getSetCookie()[0]!.split(";")[0]!, csrf: (await signedIn.json<{ csrfToken: string }>()).csrfToken };
  });

  it("the route table covers both OpenAPI documents", async () => {
    const documented: string[] = [];
    for (const [worker, call] of [["cp", cp], ["dp", dp]] as const) {
      const doc = await (await call("/openapi.json")).json<{ paths: Record<string, Record<string, unknown>> }>();
      for (const [path, ops] of Object.entries(doc.paths)) for (const method of Object.keys(ops)) documented.push(`${worker} ${method.toUpperCase()} ${path}`);
    }
    expect(ROUTES.map((r) => `${r.worker} ${r.method} ${r.path}`).sort()).toEqual(documented.sort());
  });

  it("bodies, headers and parameters to every route", async () => {
    await fc.assert(fc.asyncProperty(request(ROUTES), sendAndCheck), { numRuns: 400 });
  });

  it("bodies to the JSON routes and the run route in particular", async () => {
    const json = ROUTES.filter((r) => ["POST", "PUT", "PATCH"].includes(r.method) && !r.path.includes("{key}"));
    await fc.assert(fc.asyncProperty(request(json), sendAndCheck), { numRuns: 250 });
  });

  it("runs in every mode with junk beside them: unknown fields, content types, Idempotency-Keys; then their streams with junk Last-Event-IDs", async () => {
    const runRoute = ROUTES.find((r) => r.path === "/v1/agents/{agent}/runs")!;
    const streamRoute = ROUTES.find((r) => r.path === "/v1/runs/{runId}/stream")!;
    // The properties before may have deleted or replaced it.
    await upload(victim, "echo", ECHO);
    const before = started.size;
    const runBody = fc.oneof(
      validRun,
      fc.tuple(deepText, fc.constantFrom("sync", "stream", "async")).map(([deep, mode]) => `{"mode":"${mode}","input":${deep}}`),
      fc.tuple(validRun, fc.dictionary(printable, fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 2 })).map(([b, extra]) => JSON.stringify({ ...extra, ...JSON.parse(b) })),
      fc.tuple(validRun, fc.boolean()).map(([b, c]) => JSON.stringify({ ...JSON.parse(b), cancelOnDisconnect: c })),
      fc.tuple(validRun, fc.oneof(fc.webUrl(), fc.constantFrom("http://127.0.0.1/", "https://hooks.example.test/x", "javascript:1"))).map(([b, url]) => JSON.stringify({ ...JSON.parse(b), webhook: { url } })),
    );
    await fc.assert(
      fc.asyncProperty(
        runBody,
        fc.constantFrom("application/json", "application/json; charset=utf-8", "application/vnd.api+json", "Application/JSON"),
        fc.option(fc.oneof(printable, fc.constantFrom("same-key", "same-key", "x".repeat(256))), { nil: undefined }),
        fc.option(headerValue, { nil: undefined }),
        async (text, type, idempotency, lastEventId) => {
          const headers: [string, string][] = idempotency === undefined ? [] : [["idempotency-key", idempotency]];
          await sendAndCheck(build(runRoute, { params: { agent: "echo" }, key: "", body: text, type, query: {}, headers, auth: "right" }));
          const latest = [...started].at(-1)!;
          await sendAndCheck(build(streamRoute, { params: { runId: latest }, key: "", body: null, type: undefined, query: {}, headers: lastEventId === undefined ? [] : [["last-event-id", lastEventId]], auth: "right" }));
        },
      ),
      { numRuns: 80 },
    );
    expect(started.size - before).toBeGreaterThanOrEqual(10);
  });

  it("context keys on PUT, GET and DELETE, and list prefixes", async () => {
    const context = ROUTES.filter((r) => r.path.startsWith("/v1/context"));
    await fc.assert(
      fc.asyncProperty(request(context), contextKey, async (sent, prefix) => {
        await sendAndCheck(sent);
        await sendAndCheck({ route: context.find((r) => r.path === "/v1/context")!, url: `/v1/context?prefix=${prefix}`, init: { headers: bearer(victim.key) } });
      }),
      { numRuns: 200 },
    );
  });

  it("afterwards, every run of the tenant has ended", async () => {
    expect(started.size).toBeGreaterThan(0);
    // Each run this test started, live from its object.
    const open = async () => {
      const still: string[] = [];
      for (const id of started) {
        const res = await dp(`/v1/runs/${id}`, { headers: bearer(victim.key) });
        expect(res.status).toBe(200);
        const { status } = await res.json<{ status: string }>();
        if (status === "queued" || status === "running") still.push(`${id} ${status}`);
      }
      return still;
    };
    await waitFor(async () => (await open()).length === 0, 15_000).catch(async () => expect(await open()).toEqual([]));
    // And the run index agrees: nothing of this tenant listed as queued or running.
    await waitFor(async () => {
      for (const status of ["queued", "running"]) {
        const listed = await (await dp(`/v1/runs?status=${status}&limit=100`, { headers: bearer(victim.key) })).json<{ runs: unknown[] }>();
        if (listed.runs.length) return false;
      }
      return true;
    }, 10_000);
  });
});
