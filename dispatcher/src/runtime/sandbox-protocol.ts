/**
 * The wire between the dispatcher and the sandbox processes that run tenant code under
 * `npm start` (dispatcher/sandbox/). Both sides import this module, so a header or a path is
 * spelled once. Every request either way carries the platform's sandbox token: the sandbox's
 * tenant isolates never see it, and their own fetches leave through a network that cannot
 * reach loopback, so no tenant code can call these routes.
 */
export const SANDBOX_TOKEN_HEADER = "x-isoplane-sandbox-token";
/** JSON `SandboxTarget` on the dispatcher → sandbox invocation. */
export const SANDBOX_TARGET_HEADER = "x-isoplane-sandbox-target";
/** The tenant a sandbox → dispatcher call acts for (fixed by the sandbox from its isolate's props). */
export const SANDBOX_TENANT_HEADER = "x-isoplane-sandbox-tenant";

/** Dispatcher routes the sandboxes call back (404 unless SANDBOX_TOKEN is set). */
export const SANDBOX_ROUTES = {
  code: "/_sandbox/code",
  rpc: "/_sandbox/rpc",
  egress: "/_sandbox/egress",
} as const;

/** Which agent version an invocation is for, and the limits it runs under. */
export interface SandboxTarget {
  /** The isolate's cache id: changes with the version, its content hash and its secrets. */
  id: string;
  tenantId: string;
  agent: string;
  version: number;
  sha256: string;
  bundleKey: string;
  secretsRev: number;
  limits: { cpuMs?: number; subRequests?: number };
}

/** What the sandbox needs to start an isolate for a target (the answer of `code`). */
export interface SandboxCode {
  compatibilityDate: string;
  compatibilityFlags: string[];
  mainModule: string;
  modules: Record<string, string>;
  /** The agent's secrets, bound beside STORAGE and LLM as on Workers for Platforms. */
  secrets: Record<string, string>;
}

/** Platform bindings a sandbox forwards, by binding and method (the `rpc` route's path). */
export const SANDBOX_RPC = {
  storage: ["get", "put", "list"],
  llm: ["chat", "stream"],
} as const;
export type SandboxBinding = keyof typeof SANDBOX_RPC;

/** An error thrown by a platform binding, carried back so the agent sees the same class and message. */
export interface SandboxRpcError {
  error: { name: string; message: string };
}

/** The egress verdict request: the agent's request's method and URL and the harness's markers. */
export interface SandboxEgressQuery {
  method: string;
  url: string;
  runId: string | null;
  credentials: boolean;
}
