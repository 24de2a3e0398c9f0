/** One immutable agent version, as the dispatcher resolved it for a run. */
export interface AgentTarget {
  tenantId: string;
  agent: string;
  version: number;
  sha256: string;
  bundleKey: string;
  scriptName: string | null;
  /** Changes whenever the agent's secrets do, so an isolate never runs with stale secrets. */
  secretsRev: number;
}

/** Per-run resource limits handed to the runtime (enforced in production; see README). */
export interface RunLimits {
  cpuMs?: number;
  subRequests?: number;
}

/** One invocation: the request for the agent, the run it belongs to, and its limits. */
export interface Invocation {
  request: Request;
  runId: string;
  limits: RunLimits;
}

/**
 * Where tenant code runs. `local` starts isolates with the Worker Loader; `wfp` (production)
 * dispatches to scripts in a Workers for Platforms namespace. The dispatcher sees only this.
 */
export interface TenantRuntime {
  fetch(target: AgentTarget, invocation: Invocation): Promise<Response>;
}
