import { type AllListed, type Bound, PLATFORM_SETTINGS, type PlatformEnv, type Unlisted } from "../../core/env";

/**
 * The dispatcher's env: its bindings as `wrangler types` generates them from wrangler.toml
 * (dispatcher/worker-configuration.d.ts, `DispatcherBindings`; `npm test` checks it is current),
 * so a binding the code uses and the config lacks fails the type check — plus the secrets and
 * optional settings no config declares. Bindings the generated types leave loose are narrowed
 * here, never added: each is indexed from the generated interface.
 */
export interface DispatcherEnv extends Omit<DispatcherBindings, "RUNS" | "LEDGER">, PlatformEnv {
  // The shared bindings core/ code reads (PlatformEnv), required of this Worker's own config.
  DB: Bound<DispatcherBindings, "DB", D1Database>;
  BUCKET: Bound<DispatcherBindings, "BUCKET", R2Bucket>;
  /** One Durable Object per tenant: admission, active versions, idempotency keys, the async lane (`TENANTS`). */
  /** One Durable Object per run: its record, state machine, event log, usage and deadline (`RUN_RECORDS`). */
  /** The Worker Loader (`LOADER`, local only: production runs agents in the dispatch namespace). */
  /** Run index and usage ledger rows on their way to D1, written in batches. */
  LEDGER: Bound<DispatcherBindings, "LEDGER", Queue<LedgerMessage>>;
  /** How long a finished run's event log stays in its object before it moves to R2 (ms, default 60000). */
  EVENT_ARCHIVE_AFTER_MS?: string;
  /** Hosts tenant code may never fetch, comma-separated (the platform's own public hosts). */
  PLATFORM_HOSTS?: string;
  /** Async runs and webhook deliveries (a Cloudflare Queue; this Worker is also its consumer). */
  RUNS: Bound<DispatcherBindings, "RUNS", Queue<RunMessage>>;
  /** `true` lets webhooks target private and loopback addresses (local development only). */
  WEBHOOK_ALLOW_PRIVATE?: string;
  /**
   * The one-provider form's key (LLM_PROVIDER and the rest are PlatformEnv's). The keys the
   * gateway's own form names are secrets read from this env by name (dispatcher/src/llm/gateway.ts).
   */
  LLM_API_KEY?: string;
  /** Workers AI (`[ai] binding = "AI"`), bound only when a `workers-ai` provider is configured. */
  AI?: import("./llm/workers-ai").AiBinding;
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

/**
 * Every name of DispatcherEnv its wrangler config does not declare: secrets and optional settings
 * (set by the deploy, `wrangler secret put` or `npm start`). The tests hand the dispatcher only
 * these and its config's bindings (dispatcher/worker-bindings.ts); a name added to the interface
 * and not here fails the type check below. `AI` is the model gateway's optional Workers AI
 * binding; the provider keys its configuration names are read by those names.
 */
export const DISPATCHER_SETTINGS = [
  ...PLATFORM_SETTINGS,
  "EVENT_ARCHIVE_AFTER_MS",
  "PLATFORM_HOSTS",
  "WEBHOOK_ALLOW_PRIVATE",
  "LLM_API_KEY",
  "AI",
  "RUN_TIMEOUT_MS",
  "MAX_CONTEXT_BYTES",
  "SANDBOXES",
  "SANDBOX_TOKEN",
] as const;
export type DispatcherSettingsListed = AllListed<Unlisted<DispatcherEnv, DispatcherBindings, typeof DISPATCHER_SETTINGS>>;

/** Messages on the runs queue: an async run whose turn has come, or a webhook to deliver. */
export type RunMessage = { kind: "run"; runId: string; tenantId: string } | { kind: "webhook"; runId: string; tenantId: string; url: string };

/** Messages on the ledger queue: a run's row for the run index; `final` rows also become usage. */
export interface LedgerMessage {
  kind: "run";
  run: import("../../core/db/schema").Run;
  final: boolean;
}
