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
  /**
   * The model gateway's providers, aliases, default model, fallbacks and retries (JSON, see
   * core/llm/config.ts): the dispatcher routes calls by it, the control plane checks the default
   * models and tenant keys it stores against it. Unset: the earlier one-provider settings
   * (`LLM_PROVIDER`, `LLM_BASE_URL`, `LLM_MODEL`), else the built-in model only.
   */
  LLM_PROVIDERS?: string;
  LLM_PROVIDER?: string;
  LLM_BASE_URL?: string;
  LLM_MODEL?: string;
}

/**
 * The names of PlatformEnv no wrangler config declares (secrets and optional settings). Each Worker
 * lists its own such names beside its env interface, these included (`DISPATCHER_SETTINGS`,
 * `CONTROL_PLANE_SETTINGS`): the tests hand a Worker only its config's bindings (its generated
 * worker-bindings.ts) and that list, so a binding its config lacks fails there too.
 */
export const PLATFORM_SETTINGS = ["SECRETS_KEY", "JWT_AUDIENCE", "PRICE_BOOK", "PLATFORM_COSTS", "BODY_READ_TIMEOUT_MS", "LLM_PROVIDERS", "LLM_PROVIDER", "LLM_BASE_URL", "LLM_MODEL"] as const;

/** The names of env `E` that are neither bindings of its generated interface `B` nor listed in `L`. */
export type Unlisted<E, B, L extends readonly string[]> = Exclude<keyof E, keyof B | L[number]>;
/** Fails the type check, naming them, unless `T` (an `Unlisted<…>`) is empty: `AllListed<Unlisted<E, B, typeof LIST>>`. */
export type AllListed<T extends never> = T;

/** Reads a positive integer setting, falling back to `fallback` when unset or malformed. */
export function intSetting(value: string | undefined, fallback: number): number {
  const n = value === undefined ? NaN : Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

/**
 * A binding the generated types (`wrangler types`) declare loosely — a queue without its message
 * type, a Durable Object of another Worker — narrowed to what it carries. `K` must be a binding of
 * the generated interface `B`, so removing it from the Worker's config fails the type check.
 */
export type Bound<B, K extends keyof B, T> = T;
