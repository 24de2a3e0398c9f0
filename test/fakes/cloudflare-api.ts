// A fake of the Cloudflare API endpoints the Workers for Platforms publisher uses (runs in Node as
// part of Miniflare's outbound service). It checks each request's path, method, auth, multipart
// parts and metadata against the shapes Cloudflare publishes for these operations, keeps the
// namespace's scripts in memory, and answers anything it does not know with a 400/404 in
// Cloudflare's error envelope — so a request the real API would refuse fails here too.
import { z } from "zod";

export const FAKE_CF = {
  accountId: "0123456789abcdef0123456789abcdef",
  token: "cf-test-token-with-workers-scripts-write",
  namespace: "isoplane-test",
};

interface FakeScript {
  metadata: z.infer<typeof Metadata>;
  modules: Record<string, { type: string; content: string }>;
  secrets: Record<string, string>;
  createdOn: string;
}

const scripts = new Map<string, FakeScript>();
const rejected: { method: string; path: string; reason: string }[] = [];

const MODULE_TYPES = [
  "application/javascript+module",
  "text/javascript+module",
  "application/javascript",
  "text/javascript",
  "text/plain",
  "application/octet-stream",
  "application/wasm",
  "application/source-map",
];

const Binding = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("service"),
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
    service: z.string().min(1),
    entrypoint: z.string().optional(),
    environment: z.string().optional(),
    props: z.record(z.string(), z.unknown()).optional(),
  }),
  z.strictObject({ type: z.literal("plain_text"), name: z.string(), text: z.string() }),
  z.strictObject({ type: z.literal("secret_text"), name: z.string(), text: z.string() }),
  z.strictObject({ type: z.literal("json"), name: z.string(), json: z.unknown() }),
  z.strictObject({ type: z.literal("inherit"), name: z.string(), old_name: z.string().optional(), version_id: z.string().optional() }),
]);

// Multipart upload metadata (module syntax): the fields this platform may send, strictly.
const Metadata = z.strictObject({
  main_module: z.string().min(1),
  compatibility_date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).optional(),
  compatibility_flags: z.array(z.string()).optional(),
  bindings: z.array(Binding).optional(),
  tags: z.array(z.string().min(1).max(100).regex(/^[^,:]+$/)).max(8).optional(),
  limits: z.strictObject({ cpu_ms: z.number().int().positive().optional(), subrequests: z.number().int().positive().optional() }).optional(),
  keep_bindings: z.array(z.string()).optional(),
  usage_model: z.enum(["standard", "bundled", "unbound"]).optional(),
  logpush: z.boolean().optional(),
  tail_consumers: z.array(z.strictObject({ service: z.string(), environment: z.string().optional(), namespace: z.string().optional() })).optional(),
});

const SecretBody = z.strictObject({ name: z.string().min(1), text: z.string(), type: z.literal("secret_text") });

const SCRIPT_NAME = /^[a-z0-9_][a-z0-9_-]{0,62}$/;

function envelope(result: unknown, status = 200): Response {
  return Response.json({ success: status < 400, errors: [], messages: [], result }, { status });
}

function failure(status: number, code: number, message: string, method: string, path: string): Response {
  rejected.push({ method, path, reason: message });
  return Response.json({ success: false, errors: [{ code, message }], messages: [], result: null }, { status });
}

export async function fakeCloudflare(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const path = url.pathname;
  const method = request.method;
  if (path === "/__fake/state") return Response.json({ scripts: Object.fromEntries(scripts), rejected });
  if (path === "/__fake/reset") {
    scripts.clear();
    rejected.length = 0;
    return Response.json({ ok: true });
  }
  if (request.headers.get("authorization") !== `Bearer ${FAKE_CF.token}`) {
    return failure(403, 10000, "Authentication error", method, path);
  }
  const base = `/client/v4/accounts/${FAKE_CF.accountId}/workers/dispatch/namespaces/${FAKE_CF.namespace}/scripts`;
  if (!path.startsWith(base)) return failure(404, 7003, `Could not route to ${path}, perhaps your object identifier is invalid?`, method, path);
  const rest = path.slice(base.length).split("/").filter(Boolean).map(decodeURIComponent);

  // DELETE …/scripts?tags=a:yes,b:no — "Delete Scripts in Namespace".
  if (rest.length === 0 && method === "DELETE") {
    const filters = (url.searchParams.get("tags") ?? "")
      .split(",")
      .filter(Boolean)
      .map((f) => f.split(":"));
    if (filters.some((f) => f.length !== 2 || !["yes", "no"].includes(f[1]!))) {
      return failure(400, 10021, "tags must be tag:yes or tag:no pairs", method, path);
    }
    const limit = Number(url.searchParams.get("limit") ?? 1000);
    const matching = [...scripts.entries()].filter(([, s]) =>
      filters.every(([tag, want]) => (s.metadata.tags ?? []).includes(tag!) === (want === "yes")),
    );
    const deleted = matching.slice(0, limit);
    for (const [name] of deleted) scripts.delete(name);
    return envelope({ deleted: deleted.map(([id]) => ({ id })), deleted_count: deleted.length, has_more: matching.length > limit });
  }

  const [scriptName, sub, secretName] = rest;
  if (!scriptName || !SCRIPT_NAME.test(scriptName)) return failure(400, 10016, "Invalid Worker name", method, path);

  if (rest.length === 1 && method === "PUT") return upload(request, scriptName, method, path);
  if (rest.length === 1 && method === "DELETE") {
    if (!scripts.delete(scriptName)) return failure(404, 10007, "This Worker does not exist on your account.", method, path);
    return envelope(null);
  }
  const script = scripts.get(scriptName);
  if (sub === "secrets" && rest.length === 2 && method === "PUT") {
    if (!script) return failure(404, 10007, "This Worker does not exist on your account.", method, path);
    if (!/^application\/json/.test(request.headers.get("content-type") ?? "")) return failure(400, 10021, "expected JSON", method, path);
    const body = SecretBody.safeParse(await request.json());
    if (!body.success) return failure(400, 10021, `invalid secret: ${body.error.issues[0]?.message}`, method, path);
    script.secrets[body.data.name] = body.data.text;
    return envelope({ name: body.data.name, type: "secret_text" });
  }
  if (sub === "secrets" && rest.length === 3 && method === "DELETE") {
    if (!script || !(secretName! in script.secrets)) return failure(404, 10056, "Secret not found", method, path);
    delete script.secrets[secretName!];
    return envelope(null);
  }
  return failure(404, 7003, `No route for ${method} ${path}`, method, path);
}

async function upload(request: Request, scriptName: string, method: string, path: string): Promise<Response> {
  if (!/^multipart\/form-data;\s*boundary=/i.test(request.headers.get("content-type") ?? "")) {
    return failure(400, 10021, "Expected a multipart/form-data body", method, path);
  }
  const form = await request.formData();
  const metadataPart = form.get("metadata");
  if (metadataPart === null) return failure(400, 10021, "could not read content for part metadata", method, path);
  let metadataJson: unknown;
  try {
    metadataJson = JSON.parse(typeof metadataPart === "string" ? metadataPart : await metadataPart.text());
  } catch {
    return failure(400, 10021, "metadata is not valid JSON", method, path);
  }
  const metadata = Metadata.safeParse(metadataJson);
  if (!metadata.success) {
    const issue = metadata.error.issues[0];
    return failure(400, 10021, `metadata: ${issue?.path.join(".")}: ${issue?.message}`, method, path);
  }
  const modules: FakeScript["modules"] = {};
  for (const [field, value] of form.entries()) {
    if (field === "metadata") continue;
    if (typeof value === "string") return failure(400, 10021, `part ${field} is not a file`, method, path);
    // The API names each module by its part; bracketed names come from a flattening encoder.
    if (/[[\]]/.test(field)) return failure(400, 10021, `unexpected part name ${field}`, method, path);
    const type = value.type.split(";")[0]!.trim();
    if (!MODULE_TYPES.includes(type)) return failure(400, 10021, `module ${field} has unsupported Content-Type ${value.type}`, method, path);
    const content = await value.text();
    if (content.includes("__FAKE_CF_REJECT__")) return failure(400, 10021, `Uncaught Error: rejected by the fake runtime\n  at ${field}:1:1`, method, path);
    modules[field] = { type, content };
  }
  if (!(metadata.data.main_module in modules)) {
    return failure(400, 10021, `main_module ${metadata.data.main_module} is not among the uploaded parts`, method, path);
  }
  const now = new Date().toISOString();
  const existing = scripts.get(scriptName);
  // Like the real API, a re-upload replaces code and bindings; secrets stay unless keep_bindings says otherwise.
  scripts.set(scriptName, { metadata: metadata.data, modules, secrets: existing?.secrets ?? {}, createdOn: existing?.createdOn ?? now });
  return envelope({ id: scriptName, tags: metadata.data.tags ?? [], created_on: existing?.createdOn ?? now, modified_on: now, usage_model: "standard" });
}
