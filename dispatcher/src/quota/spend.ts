import type { Run } from "../../../core/db/schema";
import { amountMicros, modelPrice } from "../../../core/billing/prices";
import { priceBook, type PricingEnv } from "../../../core/billing/spend";
import type { ModelTokens } from "../runs/state";

/**
 * What one run is billed at the price book's rates (the run, and its tokens per model), in
 * micro-dollars — the figure the spend cap's running total adds when a run ends. CPU time is
 * known only later (production tail events) and reaches the total through the ledger.
 */
export function runPriceMicros(env: PricingEnv, run: Pick<Run, "modelUsage">): number {
  const book = priceBook(env);
  let micros = amountMicros(1, book.perRun);
  for (const [model, used] of Object.entries(JSON.parse(run.modelUsage) as Record<string, ModelTokens>)) {
    // Tokens on the tenant's own key are the provider's to bill, not the platform's.
    micros += amountMicros((used.input - (used.tenantInput ?? 0)) / 1000, modelPrice(book.perThousandInputTokens, model));
    micros += amountMicros((used.output - (used.tenantOutput ?? 0)) / 1000, modelPrice(book.perThousandOutputTokens, model));
  }
  return micros;
}
