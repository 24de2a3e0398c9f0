// The admin API, called from the browser on the control plane's own origin. The session is an
// HttpOnly cookie this code never sees; what it holds is the session's CSRF token, in memory only
// (never localStorage, never a URL), sent as a header on every state-changing request.

/** A problem+json answer (RFC 9457), or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly detail: string;
  /** Validation issues of a 400 `invalid-request`: `path` is the field, dot-separated. */
  readonly issues: { path: string; message: string }[];

  constructor(status: number, type: string, detail: string, issues: { path: string; message: string }[] = []) {
    super(detail);
    this.status = status;
    this.type = type;
    this.detail = detail;
    this.issues = issues;
  }

  /** The issue messages per field path ("quotas.runsPerMonth" → message). */
  fieldErrors(): Record<string, string> {
    return Object.fromEntries(this.issues.map((i) => [i.path, i.message]));
  }
}

let csrfToken: string | null = null;
let onSignedOut: () => void = () => {};

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when an answer says the session is gone (401): the app shows the sign-in page. */
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

export interface SessionInfo {
  csrfToken: string;
  expiresAt: string;
  signedInAt: string;
}

/** Turns a non-2xx answer into an ApiError with the problem's detail. */
async function problemOf(res: Response): Promise<ApiError> {
  try {
    const p = (await res.json()) as { type?: string; detail?: string; issues?: { path: string; message: string }[] };
    return new ApiError(res.status, p.type ?? "", p.detail ?? res.statusText, p.issues ?? []);
  } catch {
    return new ApiError(res.status, "", `${res.status} ${res.statusText}`);
  }
}

type Method = "GET" | "POST" | "PATCH" | "DELETE";

/** A request to the control plane; answers parsed as JSON (204: undefined). */
export async function request(method: Method, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["x-csrf-token"] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin", signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(0, "", "The control plane cannot be reached. Check that it is running, then retry.");
  }
  if (res.ok) return res;
  const problem = await problemOf(res);
  if (res.status === 401 && !path.startsWith("/dashboard/session")) onSignedOut();
  throw problem;
}

export async function api<T>(method: Method, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const res = await request(method, path, body, signal);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>("GET", path, undefined, signal);

/** A query string from the set fields (empty ones left out). */
export function qs(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

// ---- the shapes the admin API answers with (see /openapi.json) ----

export type TenantStatus = "active" | "suspended" | "deleted";
export interface Tenant {
  id: string;
  name: string;
  status: TenantStatus;
  quotas: Record<string, number | null>;
  egressAllow: string[];
  retentionDays: number;
  queueWeight: number;
  createdAt: string;
  updatedAt: string;
}
export interface Key {
  id: string;
  name: string | null;
  prefix: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  status: "active" | "expired" | "revoked";
}
export type RunStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled" | "timed_out";
export interface Run {
  id: string;
  tenantId: string;
  agent: string;
  version: number;
  status: RunStatus;
  error?: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  endUser?: string;
  usage: Record<string, number | null>;
  output?: unknown;
}
export interface RunEvent {
  seq: number;
  at: string;
  type: string;
  data: unknown;
}
export interface AgentVersion {
  version: number;
  sha256: string;
  size: number;
  createdAt: string;
  active: boolean;
}
export interface Agent {
  name: string;
  activeVersion: number | null;
  createdAt: string;
  updatedAt: string;
  versions: AgentVersion[];
}
export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  tenantId: string | null;
  action: string;
  target: string | null;
  detail: Record<string, unknown> | null;
}
export interface Overview {
  tenants: Record<string, number>;
  days: { day: string; runs: number; failures: number }[];
  topTenants: { tenantId: string; name: string; billedCost: string; platformCost: string }[];
}
export interface UsageBucket {
  start: string;
  runs: number;
  failures: number;
  wallMs: number;
  cpuMs: number | null;
  inputTokens: number;
  outputTokens: number;
  subrequests: number;
}
export interface Usage {
  tenantId: string;
  granularity: "hour" | "day";
  buckets: UsageBucket[];
  models: { start: string; model: string; inputTokens: number; outputTokens: number }[];
}
export type BillingLine = Record<string, string | number>;
export interface BillingExport {
  period: string;
  currency: string;
  columns: string[];
  lines: BillingLine[];
  totals: { tenants: number; billedCost: string; platformCost: string; margin: string };
}
