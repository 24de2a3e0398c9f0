import type { z } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { createApp as controlPlaneApp } from "../control-plane/src/app";
import { localPublisher } from "../control-plane/src/publisher/types";
import { AgentDetail, KeyList, TenantList, TenantView } from "../control-plane/src/schemas";
import { RunRecord } from "../core/runs/schemas";
import { createApp as dispatcherApp } from "../dispatcher/src/app";
import { RunEvents, RunList, RunResult } from "../dispatcher/src/schemas";
import { VERSIONED } from "./agents";
import { ADMIN, bearer, cp, dp, json, newTenant, run, upload } from "./helpers";

type Doc = { openapi: string; paths: Record<string, Record<string, unknown>> };

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

function documented(doc: Doc): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`))
    .sort();
}

describe("OpenAPI 3.1: every route is documented, and answers match the document", () => {
  it("the control plane", async () => {
    const doc = await (await cp("/openapi.json")).json<Doc>();
    expect(doc.openapi).toBe("3.1.0");
    const routes = routesOf(controlPlaneApp(() => localPublisher));
    expect(routes.length).toBeGreaterThan(20);
    expect(documented(doc)).toEqual(routes);
    expect((await cp("/docs")).headers.get("content-type")).toMatch(/^text\/html/);
  });

  it("the dispatcher", async () => {
    const doc = await (await dp("/openapi.json")).json<Doc>();
    const routes = routesOf(dispatcherApp(() => ({ fetch: () => Promise.reject(new Error("unused")) })));
    expect(routes).toContain("get /v1/context/{key}");
    expect(routes.length).toBeGreaterThanOrEqual(12);
    expect(documented(doc)).toEqual(routes);
  });

  it("responses parse with the schemas the document is generated from", async () => {
    const t = await newTenant("schema-check");
    await upload(t, "agent", VERSIONED(1));
    const r = await run(t, "agent");
    const check = async <S extends z.ZodType>(res: Promise<Response>, schema: S) => {
      const body = await (await res).json();
      const parsed = schema.safeParse(body);
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    };
    await check(dp("/v1/agents/agent/runs", json({ input: 1 }, bearer(t.key))), RunResult);
    await check(dp(`/v1/runs/${r.id}`, { headers: bearer(t.key) }), RunRecord);
    await check(dp("/v1/runs", { headers: bearer(t.key) }), RunList);
    await check(dp(`/v1/runs/${r.id}/events`, { headers: bearer(t.key) }), RunEvents);
    await check(cp(`/admin/tenants/${t.id}`, { headers: ADMIN }), TenantView);
    await check(cp("/admin/tenants", { headers: ADMIN }), TenantList);
    await check(cp(`/admin/tenants/${t.id}/keys`, { headers: ADMIN }), KeyList);
    await check(cp("/v1/agents/agent", { headers: bearer(t.key) }), AgentDetail);
  });
});
