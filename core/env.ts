/** Bindings both Workers share: one D1 database and one R2 bucket. */
export interface PlatformEnv {
  DB: D1Database;
  BUCKET: R2Bucket;
  /** Platform key sealing agent secrets: 32 bytes, base64 (a secret; `npm start` makes one locally). */
  SECRETS_KEY?: string;
  /** The `aud` end-user JWTs must carry (default `isoplane`). */
  JWT_AUDIENCE?: string;
  /** What tenants are charged (JSON, see core/billing/prices.ts); an example default applies. */
  PRICE_BOOK?: string;
  /** What the platform pays (JSON); defaults to Workers for Platforms' list price. */
  PLATFORM_COSTS?: string;
  /** How long a request body may go without a byte arriving before it is refused (ms, default 10000). */
  BODY_READ_TIMEOUT_MS?: string;
}

export interface ControlPlaneEnv extends PlatformEnv {
  /** The dispatcher's per-tenant objects, told of every change to an agent or a tenant's settings. */
  TENANTS: DurableObjectNamespace<import("../dispatcher/src/tenant/tenant-object").TenantObject>;
  /** The dispatcher's run objects: the operator reads, follows and cancels any tenant's run (`/admin/runs/{id}`). */
  RUN_RECORDS: DurableObjectNamespace<import("../dispatcher/src/runs/run-object").RunObject>;
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

export interface DispatcherEnv extends PlatformEnv {
  LOADER: WorkerLoader;
  /** One Durable Object per tenant: admission, active versions, idempotency keys, the async lane. */
  TENANTS: DurableObjectNamespace<import("../dispatcher/src/tenant/tenant-object").TenantObject>;
  /** One Durable Object per run: its record, state machine, event log, usage and deadline. */
  RUN_RECORDS: DurableObjectNamespace<import("../dispatcher/src/runs/run-object").RunObject>;
  /** Run index and usage ledger rows on their way to D1, written in batches. */
  LEDGER: Queue<LedgerMessage>;
  /** How long a finished run's event log stays in its object before it moves to R2 (ms, default 60000). */
  EVENT_ARCHIVE_AFTER_MS?: string;
  /** `local` (default: Worker Loader) or `wfp` (the DISPATCHER dispatch namespace). */
  RUNTIME?: string;
  /** wfp: the dispatch namespace holding one script per agent version. */
  DISPATCHER?: DispatchNamespace;
  /** Hosts tenant code may never fetch, comma-separated (the platform's own public hosts). */
  PLATFORM_HOSTS?: string;
  /** Async runs and webhook deliveries (a Cloudflare Queue; this Worker is also its consumer). */
  RUNS: Queue<RunMessage>;
  /** `true` lets webhooks target private and loopback addresses (local development only). */
  WEBHOOK_ALLOW_PRIVATE?: string;
  /** `builtin` (default), `openai` (any OpenAI-compatible chat completions endpoint) or `anthropic` (Messages API). */
  LLM_PROVIDER?: string;
  LLM_BASE_URL?: string;
  LLM_API_KEY?: string;
  LLM_MODEL?: string;
  /** Wall-clock budget of one run in milliseconds (default 300000). */
  RUN_TIMEOUT_MS?: string;
  /** Largest context object a tenant may upload in bytes (default 25 MiB). */
  MAX_CONTEXT_BYTES?: string;
  /**
   * `npm start` only: the pool of sandbox processes that run tenant code outside this process
   * (scripts/sandboxes.mjs), and the token both sides present (dispatcher/src/runtime/sandboxed.ts).
   */
  SANDBOXES?: Fetcher;
  SANDBOX_TOKEN?: string;
}

/** Reads a positive integer setting, falling back to `fallback` when unset or malformed. */
export function intSetting(value: string | undefined, fallback: number): number {
  const n = value === undefined ? NaN : Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

/** Messages on the runs queue: an async run whose turn has come, or a webhook to deliver. */
export type RunMessage = { kind: "run"; runId: string; tenantId: string } | { kind: "webhook"; runId: string; tenantId: string; url: string };

/** Messages on the ledger queue: a run's row for the run index; `final` rows also become usage. */
export interface LedgerMessage {
  kind: "run";
  run: import("./db/schema").Run;
  final: boolean;
}
