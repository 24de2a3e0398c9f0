import type { ScriptBundle } from "../../../core/scripts/bundle";

export interface VersionUpload {
  tenantId: string;
  agent: string;
  sha256: string;
  bundle: ScriptBundle;
  /** Ceilings baked into the script; the dispatcher can lower them per run. */
  limits: { cpuMs: number | null; subrequests: number | null };
  /** The agent's current secrets, in plaintext, to set on the new script. */
  secrets: Record<string, string>;
}

/**
 * Where agent versions are published besides R2 + D1 (which always hold them).
 * `local`: nowhere else — the dispatcher's Worker Loader runtime reads the bundle from R2.
 * `wfp`: a script per version in a Workers for Platforms dispatch namespace.
 * Every method runs before the D1 change it belongs to (or after a deletion), so a failure
 * leaves the previous state in force.
 */
export interface Publisher {
  readonly kind: "local" | "wfp";
  /** Makes the version runnable; returns its dispatch-namespace script name (null for local). */
  upload(version: VersionUpload): Promise<string | null>;
  /** Sets secrets on a script (before it becomes active again, or when one changes). */
  putSecrets(scriptName: string, secrets: Record<string, string>): Promise<void>;
  /** Removes a secret from every script that may hold it. */
  deleteSecret(scriptNames: string[], name: string): Promise<void>;
  deleteScripts(scriptNames: string[]): Promise<void>;
  /** Removes every script of a tenant (by tag). */
  deleteTenant(tenantId: string): Promise<void>;
}

export const localPublisher: Publisher = {
  kind: "local",
  upload: async () => null,
  putSecrets: async () => {},
  deleteSecret: async () => {},
  deleteScripts: async () => {},
  deleteTenant: async () => {},
};
