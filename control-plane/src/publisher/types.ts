import type { ScriptBundle } from "../../../core/scripts/bundle";

export interface PublishedVersion {
  agent: string;
  version: number;
  sha256: string;
  size: number;
}

/**
 * Makes an uploaded bundle the active version of an agent. `local` keeps versions in R2 + D1 for
 * the Worker Loader runtime; `wfp` also uploads them to a Workers for Platforms namespace.
 * Either way the switch to the new version is one atomic D1 batch.
 */
export interface Publisher {
  publish(input: { tenantId: string; agent: string; bundle: ScriptBundle; sha256: string; size: number }): Promise<PublishedVersion>;
}
