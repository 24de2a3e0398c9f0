import { type AllListed, type Bound, PLATFORM_SETTINGS, type PlatformEnv, type Unlisted } from "../../core/env";

/**
 * The control plane's env: its bindings as `wrangler types` generates them from
 * control-plane/wrangler.toml (control-plane/worker-configuration.d.ts, checked current in
 * `npm test`), plus the secrets and optional settings no config declares.
 */
export interface ControlPlaneEnv extends Omit<ControlPlaneBindings, "TENANTS" | "RUN_RECORDS">, PlatformEnv {
  // The shared bindings core/ code reads (PlatformEnv), required of this Worker's own config.
  DB: Bound<ControlPlaneBindings, "DB", D1Database>;
  BUCKET: Bound<ControlPlaneBindings, "BUCKET", R2Bucket>;
  /** The dispatcher's per-tenant objects, told of every change to an agent or a tenant's settings. */
  TENANTS: Bound<ControlPlaneBindings, "TENANTS", DurableObjectNamespace<import("../../dispatcher/src/tenant/tenant-object").TenantObject>>;
  /** The dispatcher's run objects: the operator reads, follows and cancels any tenant's run (`/admin/runs/{runId}`). */
  RUN_RECORDS: Bound<ControlPlaneBindings, "RUN_RECORDS", DurableObjectNamespace<import("../../dispatcher/src/runs/run-object").RunObject>>;
  /** Operator credential for `/admin` (a secret; `npm start` provides one locally). */
  ADMIN_TOKEN: string;
  /** Platform-wide script size cap in bytes (default 5 MiB). */
  MAX_SCRIPT_BYTES?: string;
  /** wfp: the Cloudflare account, its API token (a secret) and the dispatch namespace. */
  CF_ACCOUNT_ID?: string;
  CF_API_TOKEN?: string;
}

/**
 * Every name of ControlPlaneEnv its wrangler config does not declare: secrets and optional
 * settings (set by the deploy, `wrangler secret put` or `npm start`). The tests hand the control
 * plane only these and its config's bindings (control-plane/worker-bindings.ts); a name added to
 * the interface and not here fails the type check below. `LLM_PROVIDERS` is the model gateway's.
 */
export const CONTROL_PLANE_SETTINGS = [...PLATFORM_SETTINGS, "ADMIN_TOKEN", "MAX_SCRIPT_BYTES", "CF_ACCOUNT_ID", "CF_API_TOKEN"] as const;
export type ControlPlaneSettingsListed = AllListed<Unlisted<ControlPlaneEnv, ControlPlaneBindings, typeof CONTROL_PLANE_SETTINGS>>;
