import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireTenant } from "../../../core/auth/middleware";
import { intSetting } from "../../../core/env";
import { readBodyLimited } from "../../../core/http/body";
import { bearerSecurity, openapi, problems } from "../../../core/http/openapi";
import { PageQuery } from "../../../core/http/pagination";
import { ProblemError } from "../../../core/http/problem";
import { contextKey, keyTooLong, maxKeyBytes, parsePathKey, parseRelativeKey, tenantPrefix } from "../../../core/storage/keys";
import type { DispatcherApp } from "../context";
import { admitRequest } from "../quota/admission";
import { writeWithinQuota } from "../quota/storage";
import { refusalDetail } from "../quota/storage-bytes";
import { ContextList, ContextObject } from "../schemas";

const DEFAULT_MAX_CONTEXT_BYTES = 25 * 1024 * 1024;
const PREFIX = "/v1/context/";

/** `/v1/context`: the tenant's context documents in R2 (the `context` scope; each request counts against requestsPerMinute). */
export const context = new OpenAPIHono<DispatcherApp>();
context.use("*", requireTenant("context"));
context.use("*", async (c, next) => {
  await admitRequest(c.env, c.var.tenant);
  await next();
});

const listContextObjects = createRoute({
  method: "get",
  path: "/",
  operationId: "listContextObjects",
  summary: "List context objects",
  security: bearerSecurity,
  request: { query: PageQuery({ limit: 100, max: 1000, cursorMax: 2048 }).extend({ prefix: z.string().max(1024).default("") }) },
  responses: { 200: { description: "A page of objects", content: { "application/json": { schema: ContextList } } }, ...problems(400, 401, 403) },
});

/** Lists the tenant's context objects (keys relative to `context/`). */
openapi(context, listContextObjects, async (c) => {
  const { prefix, cursor, limit } = c.req.valid("query");
  const cut = prefix.lastIndexOf("/");
  if (cut >= 0) parseRelativeKey(prefix.slice(0, cut), "context");
  if (/[\\\u0000-\u001f\u007f]/.test(prefix)) throw new ProblemError("invalid-key", "The prefix is not valid.");
  const bytes = new TextEncoder().encode(prefix).byteLength;
  if (bytes > maxKeyBytes("context")) throw keyTooLong("context", bytes, "prefix");
  const base = `${tenantPrefix(c.var.tenant.tenantId)}context/`;
  const listed = await c.env.BUCKET.list({ prefix: base + prefix, limit, ...(cursor ? { cursor } : {}) });
  return c.json({
    objects: listed.objects.map((o) => ({ key: o.key.slice(base.length), size: o.size, uploadedAt: o.uploaded.toISOString() })),
    cursor: listed.truncated ? listed.cursor : null,
  } satisfies z.infer<typeof ContextList>);
});

/**
 * A key may hold slashes, which no OpenAPI path template can say: the routes are documented at
 * `{key}` and routed on Hono's `/*`; the handler reads the raw, still percent-encoded key after
 * `/v1/context/` and decodes and checks each segment alone.
 */
const KEY_ROUTE = { path: "/*" };
const KeyParam = z.object({ key: z.string().openapi({ param: { name: "key", in: "path" }, example: "docs/brief.md" }) });
const keySegments = (url: string): string[] => parsePathKey(new URL(url).pathname.slice(PREFIX.length));

/** Whether the tenant's writes are counted against `storageBytes` (as its key says; none: no extra call). */
const metered = (c: { var: { tenant: { quotas: { storageBytes: number | null } } } }) => c.var.tenant.quotas.storageBytes !== null;

const putContextObject = createRoute({
  method: "put",
  path: "/{key}",
  operationId: "putContextObject",
  summary: "Store a context object at tenants/<tenant>/context/<key> (keys may contain /)",
  security: bearerSecurity,
  request: { params: KeyParam, body: { content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } } },
  description:
    "413 is `payload-too-large` for a body over the size limit and `quota-storage-bytes` when storing it would take the tenant's stored bytes over its `storageBytes` quota (an overwrite counts the new size less the old). 503 `unavailable`: the quota state could not be reached, nothing was stored.",
  responses: { 200: { description: "Stored", content: { "application/json": { schema: ContextObject } } }, ...problems(400, 401, 403, 413, 503) },
});

openapi(
  context,
  putContextObject,
  async (c) => {
    const segments = keySegments(c.req.url);
    const tenantId = c.var.tenant.tenantId;
    const r2Key = contextKey(tenantId, segments);
    const limit = intSetting(c.env.MAX_CONTEXT_BYTES, DEFAULT_MAX_CONTEXT_BYTES);
    const body = await readBodyLimited(c.req.raw, limit, "context object");
    const written = await writeWithinQuota(c.env, tenantId, metered(c), r2Key.slice(tenantPrefix(tenantId).length), body.byteLength, () =>
      c.env.BUCKET.put(r2Key, body, { httpMetadata: { contentType: c.req.header("content-type") ?? "application/octet-stream" } }),
    );
    if (!written.ok) {
      const r = written.refusal;
      throw new ProblemError("quota-storage-bytes", refusalDetail(r, segments.join("/")), {
        extra: { quota: "storageBytes", limit: r.limit, storedBytes: r.used, addedBytes: r.delta },
      });
    }
    const object = written.value;
    return c.json({ key: segments.join("/"), size: object.size, etag: object.etag } satisfies z.infer<typeof ContextObject>, 200);
  },
  KEY_ROUTE,
);

const getContextObject = createRoute({
  method: "get",
  path: "/{key}",
  operationId: "getContextObject",
  summary: "Read a context object",
  security: bearerSecurity,
  request: { params: KeyParam },
  responses: {
    200: { description: "The object's bytes, with its content type", content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } },
    ...problems(400, 401, 403, 404),
  },
});

openapi(
  context,
  getContextObject,
  async (c) => {
    const segments = keySegments(c.req.url);
    const object = await c.env.BUCKET.get(contextKey(c.var.tenant.tenantId, segments));
    if (!object) throw new ProblemError("not-found", `No context object "${segments.join("/")}".`);
    const headers = new Headers({ etag: object.httpEtag, "content-length": String(object.size) });
    object.writeHttpMetadata(headers);
    return new Response(object.body, { headers });
  },
  KEY_ROUTE,
);

const deleteContextObject = createRoute({
  method: "delete",
  path: "/{key}",
  operationId: "deleteContextObject",
  summary: "Delete a context object",
  description: "The object's bytes no longer count against the tenant's `storageBytes` quota.",
  security: bearerSecurity,
  request: { params: KeyParam },
  responses: { 204: { description: "Deleted (or absent)" }, ...problems(400, 401, 403, 503) },
});

openapi(
  context,
  deleteContextObject,
  async (c) => {
    const segments = keySegments(c.req.url);
    const tenantId = c.var.tenant.tenantId;
    const r2Key = contextKey(tenantId, segments);
    // A delete is a write of 0 bytes: never refused, and it frees what the key held.
    await writeWithinQuota(c.env, tenantId, metered(c), r2Key.slice(tenantPrefix(tenantId).length), 0, () => c.env.BUCKET.delete(r2Key));
    return c.body(null, 204);
  },
  KEY_ROUTE,
);
