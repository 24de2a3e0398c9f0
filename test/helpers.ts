import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import { TEST_ADMIN_TOKEN } from "./constants";
import { CONTROL_PLANE_HOST } from "./worker";

export const ADMIN = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
export const PROBLEM = "https://isoplane.dev/problems/";

const worker = exports.default;

/** A request to the control plane through its real fetch handler. */
export function cp(path: string, init: RequestInit = {}): Promise<Response> {
  return worker.fetch(new Request(`http://${CONTROL_PLANE_HOST}${path}`, init));
}

/** A request to the dispatcher through its real fetch handler. */
export function dp(path: string, init: RequestInit = {}): Promise<Response> {
  return worker.fetch(new Request(`http://dispatcher.test${path}`, init));
}

export function json(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

export interface TestTenant {
  id: string;
  key: string;
  keyId: string;
}

let counter = 0;
/** A fresh tenant with one all-scope key, made through the admin API. */
export async function newTenant(name = `tenant-${++counter}`): Promise<TestTenant> {
  const created = await cp("/admin/tenants", json({ name }, ADMIN));
  expect(created.status).toBe(201);
  const tenant = await created.json<{ id: string }>();
  const key = await cp(`/admin/tenants/${tenant.id}/keys`, json({}, ADMIN));
  expect(key.status).toBe(201);
  const k = await key.json<{ id: string; key: string }>();
  return { id: tenant.id, key: k.key, keyId: k.id };
}

export async function upload(t: TestTenant, agent: string, code: string): Promise<{ version: number; sha256: string; size: number }> {
  const res = await cp(`/v1/agents/${agent}/script`, {
    method: "PUT",
    headers: { ...bearer(t.key), "content-type": "application/javascript+module" },
    body: code,
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json();
}

export interface RunBody {
  id: string;
  status: string;
  output: unknown;
  error?: string;
  version: number;
  usage: Record<string, number | null>;
}

export async function run(t: TestTenant, agent: string, input: unknown = null): Promise<RunBody> {
  const res = await dp(`/v1/agents/${agent}/runs`, json({ input }, bearer(t.key)));
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

/** Asserts a problem+json response with the given status and type slug; returns its body. */
export async function expectProblem(res: Response, status: number, slug: string): Promise<Record<string, unknown>> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(body.type).toBe(PROBLEM + slug);
  expect(body.status).toBe(status);
  expect(typeof body.title).toBe("string");
  expect(typeof body.detail).toBe("string");
  return body;
}

/** A Workers-style multipart upload: a `metadata` part and one part per module. */
export function multipart(metadata: unknown, modules: Record<string, string>, types: Record<string, string> = {}): FormData {
  const form = new FormData();
  form.append("metadata", new File([JSON.stringify(metadata)], "metadata.json", { type: "application/json" }));
  for (const [name, code] of Object.entries(modules)) {
    form.append(name, new File([code], name, { type: types[name] ?? "application/javascript+module" }));
  }
  return form;
}

export function patch(body: unknown, headers: Record<string, string> = ADMIN): RequestInit {
  return { method: "PATCH", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) };
}

export function put(body: unknown, headers: Record<string, string>): RequestInit {
  return { method: "PUT", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) };
}

export async function audit(tenantId: string): Promise<{ actor: string; action: string; target: string | null; detail: unknown }[]> {
  const res = await cp(`/admin/audit?tenant=${tenantId}&limit=200`, { headers: ADMIN });
  expect(res.status).toBe(200);
  return (await res.json<{ entries: { actor: string; action: string; target: string | null; detail: unknown }[] }>()).entries;
}

/** Polls until `probe` gives a truthy value (or fails after `ms`). */
export async function waitFor<T>(probe: () => Promise<T | null | undefined>, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Waits until the run index and ledger in D1 have the runs' final rows: they are written in
 * batches from the runs' objects through the ledger queue, a second or so after each run ends.
 */
export async function ledgered(runIds: string[], ms = 15_000): Promise<void> {
  const { env } = await import("cloudflare:test");
  await waitFor(async () => {
    const marks = runIds.map(() => "?").join(",");
    const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM usage WHERE run_id IN (${marks})`).bind(...runIds).first<number>("n");
    return row === runIds.length;
  }, ms);
}

export interface StoredEventView {
  seq: number;
  type: string;
  data: Record<string, unknown> | null;
}

/** A run's whole event log, through the API (live or archived). */
export async function runEvents(t: TestTenant, runId: string): Promise<StoredEventView[]> {
  const out: StoredEventView[] = [];
  for (let after = 0; ; ) {
    const res = await dp(`/v1/runs/${runId}/events?after=${after}&limit=1000`, { headers: bearer(t.key) });
    expect(res.status, await res.clone().text()).toBe(200);
    const page = await res.json<{ events: StoredEventView[]; next: number | null }>();
    out.push(...page.events);
    if (page.next === null) return out;
    after = page.next;
  }
}

/** A run record through the API. */
export async function getRun(t: TestTenant, runId: string): Promise<RunBody & { error?: string; endUser?: string; finishedAt: string | null; startedAt: string | null }> {
  const res = await dp(`/v1/runs/${runId}`, { headers: bearer(t.key) });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

/** Parses a text/event-stream body into its events. */
export async function readSse(res: Response): Promise<{ event: string; data: unknown; id: string | undefined }[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((block) => /^data: /m.test(block))
    .map((block) => {
      const fields = Object.fromEntries(block.split("\n").map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)]));
      return { event: fields.event!, data: JSON.parse(fields.data!), id: fields.id };
    });
}
