import { Hono } from "hono";
import { tokensEqual } from "../../../core/crypto";
import { problemResponse } from "../../../core/http/problem";
import { errorLine } from "../../../core/log";
import type { TenantLlm } from "../bindings/llm";
import type { TenantStorage } from "../bindings/storage";
import { egressVerdict, redact } from "../bindings/egress";
import type { DispatcherApp } from "../context";
import { agentCode } from "../runtime/agent-code";
import {
  SANDBOX_RPC,
  SANDBOX_TENANT_HEADER,
  SANDBOX_TOKEN_HEADER,
  type SandboxBinding,
  type SandboxEgressQuery,
  type SandboxRpcError,
  type SandboxTarget,
} from "../runtime/sandbox-protocol";
import { runStub } from "../runs/stubs";

interface BindingExports {
  TenantStorage(options: { props: { tenantId: string } }): Service<TenantStorage>;
  TenantLlm(options: { props: { tenantId: string } }): Service<TenantLlm>;
}

const TENANT_ID = /^ten_[0-9a-z]{20}$/;

/**
 * The routes sandbox processes call back under `npm start` (see runtime/sandboxed.ts): an agent
 * version's code, the STORAGE and LLM bindings' methods, and egress verdicts. They exist only when
 * SANDBOX_TOKEN is set, answer only requests carrying it, and act for the tenant the sandbox names
 * from its isolate's props, through the same entrypoints in-process isolates get.
 */
export const sandboxRoutes = new Hono<DispatcherApp>();

async function bodyOf<T>(request: Request): Promise<T | null> {
  try {
    return (await request.json()) as T;
  } catch {
    return null;
  }
}
const malformed = () => problemResponse("malformed-json", "the body is not JSON");

/** The sandbox refuses larger calls before sending them; this is the dispatcher's own bound. */
const MAX_CALL_BYTES = 27 * 1024 * 1024;

sandboxRoutes.use("*", async (c, next) => {
  const expected = c.env.SANDBOX_TOKEN;
  const given = c.req.header(SANDBOX_TOKEN_HEADER);
  if (!expected || !given || !tokensEqual(given, expected)) {
    return problemResponse("not-found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`);
  }
  const length = Number(c.req.header("content-length") ?? NaN);
  if (!Number.isSafeInteger(length) || length > MAX_CALL_BYTES) {
    return problemResponse("payload-too-large", `Sandbox calls declare a Content-Length of at most ${MAX_CALL_BYTES} bytes.`);
  }
  await next();
});

sandboxRoutes.post("/code", async (c) => {
  const target = await bodyOf<SandboxTarget>(c.req.raw);
  if (!target || typeof target !== "object") return malformed();
  const tenantId = c.req.header(SANDBOX_TENANT_HEADER);
  if (typeof tenantId !== "string" || target.tenantId !== tenantId) return problemResponse("forbidden", "the target belongs to another tenant");
  // Only the tenant's own bundles: the key names the tenant (core/scripts/bundle.ts bundleKey).
  const { agent, bundleKey, version, sha256, secretsRev } = target;
  if (typeof agent !== "string" || typeof bundleKey !== "string" || !bundleKey.startsWith(`scripts/${tenantId}/`) || !Number.isSafeInteger(version) || typeof sha256 !== "string" || !Number.isSafeInteger(secretsRev)) {
    return problemResponse("invalid-request", "the target is not a version of one of this tenant's agents");
  }
  try {
    return c.json(await agentCode(c.env, { tenantId, agent, version, sha256, bundleKey, secretsRev, scriptName: null }));
  } catch (err) {
    return problemResponse("not-found", `the agent's code could not be loaded: ${errorLine(err)}`);
  }
});

sandboxRoutes.post("/rpc/:binding/:method", async (c) => {
  const tenantId = c.req.header(SANDBOX_TENANT_HEADER) ?? "";
  const binding = c.req.param("binding") as SandboxBinding;
  const method = c.req.param("method");
  if (!TENANT_ID.test(tenantId) || !Object.hasOwn(SANDBOX_RPC, binding) || !(SANDBOX_RPC[binding] as readonly string[]).includes(method)) {
    return problemResponse("not-found", `no binding method ${binding}.${method}`);
  }
  const body = await bodyOf<{ args?: unknown }>(c.req.raw);
  if (!body) return malformed();
  const args = body.args;
  const exports = (c.executionCtx as unknown as { exports: BindingExports }).exports;
  const props = { props: { tenantId } };
  try {
    const target = binding === "storage" ? exports.TenantStorage(props) : exports.TenantLlm(props);
    // Called on the stub itself: an RPC stub's method has no Function.prototype.apply.
    const stub = target as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const value = await stub[method]!(...(Array.isArray(args) ? args : []));
    if (value instanceof ReadableStream) return new Response(value, { headers: { "content-type": "application/x-ndjson" } });
    return c.json({ value: value ?? null });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    return c.json({ error: { name: e.name, message: e.message } } satisfies SandboxRpcError, 422);
  }
});

/** 204 when the policy lets the request through (and has counted it), else the 403 problem to answer. */
sandboxRoutes.post("/egress", async (c) => {
  const tenantId = c.req.header(SANDBOX_TENANT_HEADER) ?? "";
  if (!TENANT_ID.test(tenantId)) return problemResponse("not-found", "unknown tenant");
  const q = await bodyOf<SandboxEgressQuery & { failed?: string }>(c.req.raw);
  if (!q || typeof q.method !== "string" || typeof q.url !== "string") return malformed();
  if (q.failed !== undefined) {
    // The sandbox's public-only network refused the connection the policy had allowed.
    if (q.runId && /^run_[0-9a-z]{20}$/.test(q.runId)) {
      await runStub(c.env, tenantId, q.runId).platform(tenantId, "egress.denied", { method: q.method, url: redact(q.url), reason: q.failed });
    }
    return c.body(null, 204);
  }
  const denied = await egressVerdict(c.env, tenantId, q.runId, q.method, q.url, q.credentials);
  return denied ?? c.body(null, 204);
});
