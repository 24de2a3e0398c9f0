import { ProblemError } from "../http/problem";

/**
 * What the platform stores for one agent version, in the same shape as a Workers upload:
 * named ES modules, the main one, and the compatibility settings they run with.
 */
export interface ScriptBundle {
  mainModule: string;
  modules: Record<string, string>;
  compatibilityDate: string;
  compatibilityFlags: string[];
}

export const DEFAULT_COMPATIBILITY_DATE = "2026-11-01";

/** Module names the platform itself uses inside a tenant isolate; uploads may not take them. */
export const RESERVED_MODULE_PREFIX = "__isoplane";

/** Platform-only R2 prefix: tenants can never address it (their keys all start with `tenants/`). */
export function bundleKey(tenantId: string, agent: string, sha256: string): string {
  return `scripts/${tenantId}/${agent}/${sha256}.json`;
}

export async function loadBundle(bucket: R2Bucket, key: string): Promise<ScriptBundle> {
  const object = await bucket.get(key);
  if (!object) throw new ProblemError("internal-error", "The agent's code is missing from storage.");
  return object.json<ScriptBundle>();
}
