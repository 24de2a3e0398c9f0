import { linesFor, period, tenantUsage } from "./lines";
import { configured, DEFAULT_PRICE_BOOK, PlatformCosts, PriceBook, WORKERS_FOR_PLATFORMS_LIST_PRICE } from "./prices";

export interface PricingEnv {
  PRICE_BOOK?: string;
  PLATFORM_COSTS?: string;
}

export function priceBook(env: PricingEnv): PriceBook {
  return configured(env.PRICE_BOOK, PriceBook, DEFAULT_PRICE_BOOK, "PRICE_BOOK");
}

export function platformCosts(env: PricingEnv): PlatformCosts {
  return configured(env.PLATFORM_COSTS, PlatformCosts, WORKERS_FOR_PLATFORMS_LIST_PRICE, "PLATFORM_COSTS");
}

/** What a tenant has been billed so far this month (UTC), from the ledger, in micro-dollars — the export's own arithmetic. */
export async function monthToDateMicros(d1: D1Database, env: PricingEnv, tenantId: string, now = new Date()): Promise<number> {
  const month = period(now.toISOString().slice(0, 7));
  for await (const usage of tenantUsage(d1, month, tenantId)) return linesFor(usage, month, priceBook(env), platformCosts(env)).billed;
  return 0;
}
