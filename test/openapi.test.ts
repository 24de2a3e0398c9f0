import type { z } from "@hono/zod-openapi";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp as controlPlaneApp } from "../control-plane/src/app";
import { localPublisher } from "../control-plane/src/publisher/types";
import { AgentDetail, KeyList, TenantList, TenantView } from "../control-plane/src/schemas";
import { RunRecord } from "../core/runs/schemas";
import { createApp as dispatcherApp } from "../dispatcher/src/app";
import { RunEvents, RunList, RunResult } from "../dispatcher/src/schemas";
import { VERSIONED } from "./agents";
import { ADMIN, bearer, cp, dp, json, newTenant, PROBLEM, run, upload, type TestTenant } from "./helpers";
import { CONTROL_PLANE_HOST } from "./worker";

type Ref = { $ref: string };
type Schema = Ref | Record<string, unknown>;
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: Schema;
}
interface Operation {
  operationId?: string;
  summary?: string;
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema?: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: Schema }> }>;
}
type Doc = { openapi: string; servers?: { url: string }[]; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };

/** Hono's `/v1/runs/:runId` and `/v1/context/*` as OpenAPI templates. */
function template(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, "{$1}").replace(/\/\*$/, "/{key}");
}

function routesOf(app: { routes: { method: string; path: string }[] }): string[] {
  const own = new Set(["/openapi.json", "/docs", "/"]);
  return [
    ...new Set(
      app.routes
        // /_sandbox/* is the platform talking to itself (npm start's sandboxes), not an API.
        .filter((r) => !r.path.startsWith("/_sandbox"))
        .filter((r) => r.method !== "ALL" && !own.has(r.path) && !r.path.endsWith("/*") || (r.method !== "ALL" && r.path === "/v1/context/*"))
        .map((r) => `${r.method.toLowerCase()} ${template(r.path.replace(/\/$/, "") || "/")}`),
    ),
  ].sort();
}

const operations = (doc: Doc) => Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ method, path, op })));
const documented = (doc: Doc) => operations(doc).map(({ method, path }) => `${method} ${path}`).sort();
const problemRef = { $ref: "#/components/schemas/Problem" };

/** What every operation of both documents must say, so a typed client can be generated from them. */
function checkOperations(doc: Doc): void {
  const ids = new Set<string>();
  for (const { method, path, op } of operations(doc)) {
    const what = `${method} ${path}`;
    expect(op.operationId, what).toMatch(/^[a-z][a-zA-Z0-9]*$/);
    expect(ids.has(op.operationId!), `${what}: operationId ${op.operationId} is taken`).toBe(false);
    ids.add(op.operationId!);
    expect(op.summary, what).toBeTruthy();
    const statuses = Object.keys(op.responses);
    expect(statuses.filter((s) => /^2\d\d$/.test(s)), what).not.toHaveLength(0);
    // Every failure is a problem, and every operation lists at least one client error.
    const failures = statuses.filter((s) => /^[45]/.test(s));
    expect(failures.filter((s) => s.startsWith("4")), what).not.toHaveLength(0);
    for (const s of failures) expect(op.responses[s]!.content, `${what} ${s}`).toEqual({ "application/problem+json": { schema: problemRef } });
    // Path parameters: exactly the template's, all required.
    const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    const params = op.parameters ?? [];
    expect(params.filter((p) => p.in === "path").map((p) => p.name).sort(), what).toEqual(inPath);
    for (const p of params) {
      expect(p.schema, `${what} ${p.in} ${p.name}`).toBeTruthy();
      if (p.in === "path") expect(p.required, `${what} ${p.name}`).toBe(true);
    }
    // Anything that can fail validation (a query, a header, a checked path parameter, a JSON body) documents the 400.
    const validated = params.some((p) => p.in !== "path" || "pattern" in (p.schema ?? {})) || op.requestBody?.content["application/json"];
    if (validated) expect(statuses, `${what}: 400`).toContain("400");
    if (op.requestBody) {
      for (const [type, media] of Object.entries(op.requestBody.content)) expect(media.schema, `${what} body ${type}`).toBeTruthy();
    }
    // JSON bodies are named schemas, read within a size limit from application/json only.
    const jsonBody = op.requestBody?.content["application/json"];
    if (jsonBody) {
      expect((jsonBody.schema as Ref).$ref, `${what} body`).toMatch(/^#\/components\/schemas\//);
      expect(statuses, `${what}: 413 and 415`).toEqual(expect.arrayContaining(["413", "415"]));
    }
    if (op.security?.length) expect(statuses, `${what}: 401 and 403`).toEqual(expect.arrayContaining(["401", "403"]));
    else expect(op.security, `${what}: no security only when said so`).toEqual([]);
  }
}

/** A request to the operation, its path parameters filled in with `values`. */
function call(worker: typeof cp, path: string, method: string, values: Record<string, string>, init: RequestInit = {}, query = ""): Promise<Response> {
  const url = path.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? "x") + query;
  return worker(url, { method: method.toUpperCase(), ...init });
}

/** The answer's status is one the operation documents, and a failure is the problem it says. */
async function expectDocumented(res: Response, op: Operation, what: string, status: number): Promise<void> {
  const text = await res.text();
  expect(res.status, `${what}: ${text}`).toBe(status);
  expect(Object.keys(op.responses), what).toContain(String(status));
  expect(res.headers.get("content-type"), what).toBe("application/problem+json");
  expect((JSON.parse(text) as { type: string }).type, what).toMatch(new RegExp(`^${PROBLEM}`));
}

describe("OpenAPI 3.1: every route is documented, and answers match the document", () => {
  let cpDoc: Doc;
  let dpDoc: Doc;
  let t: TestTenant;
  let values: Record<string, string>;
  beforeAll(async () => {
    cpDoc = await (await cp("/openapi.json")).json<Doc>();
    dpDoc = await (await dp("/openapi.json")).json<Doc>();
    t = await newTenant("openapi-check");
    await upload(t, "agent", VERSIONED(1));
    values = { tenantId: t.id, keyId: t.keyId, agent: "agent", runId: (await run(t, "agent")).id, name: "SOME_SECRET", key: "docs/brief.md" };
  });

  it("the control plane", async () => {
    expect(cpDoc.openapi).toBe("3.1.0");
    const routes = routesOf(controlPlaneApp(() => localPublisher));
    expect(routes.length).toBeGreaterThan(20);
    expect(documented(cpDoc)).toEqual(routes);
    expect((await cp("/docs")).headers.get("content-type")).toMatch(/^text\/html/);
  });

  it("the dispatcher", async () => {
    const routes = routesOf(dispatcherApp(() => ({ fetch: () => Promise.reject(new Error("unused")) })));
    expect(routes).toContain("get /v1/context/{key}");
    expect(routes.length).toBeGreaterThanOrEqual(12);
    expect(documented(dpDoc)).toEqual(routes);
  });

  it("each document names its Worker as the server, and every operation an id, its parameters, bodies and problems", () => {
    expect(cpDoc.servers).toEqual([expect.objectContaining({ url: `http://${CONTROL_PLANE_HOST}` })]);
    expect(dpDoc.servers).toEqual([expect.objectContaining({ url: "http://dispatcher.test" })]);
    checkOperations(cpDoc);
    checkOperations(dpDoc);
  });

  it("without credentials every secured operation is 401 as documented, before its parameters or body are looked at", async () => {
    for (const [worker, doc] of [[cp, cpDoc], [dp, dpDoc]] as const) {
      for (const { method, path, op } of operations(doc)) {
        if (!op.security?.length) continue;
        const body = op.requestBody ? { headers: { "content-type": "application/json" }, body: "{" } : {};
        // Parameters that fail validation too: an agent name that is not one, a limit of 0.
        await expectDocumented(await call(worker, path, method, { ...values, agent: "Not_A_Name" }, body, "?limit=0"), op, `${method} ${path}`, 401);
      }
    }
  });

  it("a tenant key on an admin operation is 403, as documented", async () => {
    for (const { method, path, op } of operations(cpDoc).filter((o) => o.path.startsWith("/admin"))) {
      await expectDocumented(await call(cp, path, method, values, { headers: bearer(t.key) }), op, `${method} ${path}`, 403);
    }
  });

  it("a page size out of range is 400 wherever a limit is documented, and a JSON body of another type 415", async () => {
    for (const [worker, doc, auth] of [[cp, cpDoc, null], [dp, dpDoc, bearer(t.key)]] as const) {
      for (const { method, path, op } of operations(doc)) {
        const headers = auth ?? (path.startsWith("/admin") ? ADMIN : bearer(t.key));
        const what = `${method} ${path}`;
        const limit = op.parameters?.find((p) => p.name === "limit" && p.in === "query");
        if (limit) {
          const max = (limit.schema as { maximum: number }).maximum;
          for (const bad of ["0", String(max + 1), "x"]) await expectDocumented(await call(worker, path, method, values, { headers }, `?limit=${bad}`), op, what, 400);
        }
        if (op.requestBody?.content["application/json"]) {
          await expectDocumented(await call(worker, path, method, values, { headers: { ...headers, "content-type": "text/plain" }, body: "{}" }), op, what, 415);
        }
      }
    }
  });

  it("responses parse with the schemas the document is generated from", async () => {
    const check = async <S extends z.ZodType>(res: Promise<Response>, schema: S) => {
      const body = await (await res).json();
      const parsed = schema.safeParse(body);
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    };
    await check(dp("/v1/agents/agent/runs", json({ input: 1 }, bearer(t.key))), RunResult);
    await check(dp(`/v1/runs/${values.runId}`, { headers: bearer(t.key) }), RunRecord);
    await check(dp("/v1/runs", { headers: bearer(t.key) }), RunList);
    await check(dp(`/v1/runs/${values.runId}/events`, { headers: bearer(t.key) }), RunEvents);
    await check(cp(`/admin/tenants/${t.id}`, { headers: ADMIN }), TenantView);
    await check(cp("/admin/tenants", { headers: ADMIN }), TenantList);
    await check(cp(`/admin/tenants/${t.id}/keys`, { headers: ADMIN }), KeyList);
    await check(cp("/v1/agents/agent", { headers: bearer(t.key) }), AgentDetail);
  });
});
