import { z } from "@hono/zod-openapi";

/** Money is computed in micro-dollars (integers), so sums are exact and rounding happens once, at the line. */
export const MICRO = 1_000_000;

const usd = z.number().min(0).max(1_000_000);
const perModel = z.record(z.string().min(1).max(200), usd).refine((m) => "*" in m, { message: 'needs a "*" default entry' });

/**
 * What tenants are charged (`PRICE_BOOK`, JSON, in USD). Token prices are per 1,000 tokens and
 * per model, with `*` for models not listed. Stored bytes are priced per GB-month.
 */
export const PriceBook = z.strictObject({
  currency: z.literal("USD"),
  perRun: usd,
  perMillionCpuMs: usd,
  perThousandInputTokens: perModel,
  perThousandOutputTokens: perModel,
  perGbMonthStored: usd,
});
export type PriceBook = z.infer<typeof PriceBook>;

/** The built-in model's name in ledgers written before models were named `provider/model`. */
const LEGACY_BUILTIN = "isoplane-echo";

/** An example tenant price book (the operator sets their own in PRICE_BOOK). */
export const DEFAULT_PRICE_BOOK: PriceBook = {
  currency: "USD",
  perRun: 0.00002,
  perMillionCpuMs: 0.05,
  perThousandInputTokens: { "*": 0.0006, "builtin/isoplane-echo": 0, [LEGACY_BUILTIN]: 0 },
  perThousandOutputTokens: { "*": 0.0024, "builtin/isoplane-echo": 0, [LEGACY_BUILTIN]: 0 },
  perGbMonthStored: 0.03,
};

/**
 * What the platform itself pays, by default Cloudflare Workers for Platforms' list price:
 * $25/month including 20M requests and 60M CPU-ms, then $0.30 per million requests and $0.02
 * per million CPU-ms; model tokens at the provider's price (`PLATFORM_COSTS` overrides).
 */
export const PlatformCosts = z.strictObject({
  baseMonthly: usd,
  /** R2 storage, per GB-month (Cloudflare's list price: $0.015). */
  perGbMonthStored: usd,
  includedRequests: z.number().int().min(0),
  includedCpuMs: z.number().int().min(0),
  perMillionRequests: usd,
  perMillionCpuMs: usd,
  perThousandInputTokens: perModel,
  perThousandOutputTokens: perModel,
});
export type PlatformCosts = z.infer<typeof PlatformCosts>;

export const WORKERS_FOR_PLATFORMS_LIST_PRICE: PlatformCosts = {
  baseMonthly: 25,
  perGbMonthStored: 0.015,
  includedRequests: 20_000_000,
  includedCpuMs: 60_000_000,
  perMillionRequests: 0.3,
  perMillionCpuMs: 0.02,
  perThousandInputTokens: { "*": 0.00015, "builtin/isoplane-echo": 0, [LEGACY_BUILTIN]: 0 },
  perThousandOutputTokens: { "*": 0.0006, "builtin/isoplane-echo": 0, [LEGACY_BUILTIN]: 0 },
};

/**
 * A model's price: listed under its id (`openai/gpt-4o-mini`), else under the provider's own name
 * for it (`gpt-4o-mini`: price books written before models had providers), else `*`. Unlisted
 * models cost `*`: an operator who wants only priced models served lists each provider's `models`.
 */
export function modelPrice(table: Record<string, number>, model: string): number {
  if (Object.hasOwn(table, model)) return table[model]!;
  const slash = model.indexOf("/");
  const own = slash > 0 ? model.slice(slash + 1) : null;
  // Only a plain name, and never the built-in model's: `openai/isoplane-echo` is not free.
  if (own !== null && !own.includes("/") && own !== LEGACY_BUILTIN && Object.hasOwn(table, own)) return table[own]!;
  return table["*"]!;
}

/** Reads a JSON setting with its schema; a malformed setting is a configuration error, said loudly. */
export function configured<T>(raw: string | undefined, schema: z.ZodType<T>, fallback: T, name: string): T {
  if (!raw) return fallback;
  const parsed = schema.safeParse(JSON.parse(raw));
  if (!parsed.success) throw new Error(`${name} is invalid: ${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** quantity × unit price in micro-dollars, rounded half up to a whole micro-dollar. */
export function amountMicros(quantity: number, unitPriceUsd: number): number {
  return Math.round(quantity * unitPriceUsd * MICRO);
}

/** A micro-dollar amount as a fixed 6-decimal string: deterministic, exact, ready for CSV. */
export function formatMicros(micros: number): string {
  const sign = micros < 0 ? "-" : "";
  const abs = Math.abs(micros);
  return `${sign}${Math.floor(abs / MICRO)}.${String(abs % MICRO).padStart(6, "0")}`;
}
