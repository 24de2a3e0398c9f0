import type { PlatformEnv } from "../../core/env";

/** The control plane's bindings and settings (control-plane/wrangler.toml, plus secrets). */
export interface ControlPlaneEnv extends PlatformEnv {
  /** The dispatcher's per-tenant objects, told of every change to an agent or a tenant's settings. */
  TENANTS: DurableObjectNamespace<import("../../dispatcher/src/tenant/tenant-object").TenantObject>;
  /** Operator credential for `/admin` (a secret; `npm start` provides one locally). */
  ADMIN_TOKEN: string;
  /** Platform-wide script size cap in bytes (default 5 MiB). */
  MAX_SCRIPT_BYTES?: string;
  /** `local` (default: R2 + D1 for the Worker Loader runtime) or `wfp` (Workers for Platforms). */
  PUBLISHER?: string;
  /** wfp: the Cloudflare account, its API token (a secret) and the dispatch namespace. */
  CF_ACCOUNT_ID?: string;
  CF_API_TOKEN?: string;
  DISPATCH_NAMESPACE?: string;
  /** wfp: the dispatcher's script name, which user scripts' STORAGE/LLM service bindings point at. */
  DISPATCHER_SCRIPT_NAME?: string;
}
