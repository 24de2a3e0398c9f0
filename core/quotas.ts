import { z } from "@hono/zod-openapi";

const limit = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().optional();

/**
 * Per-tenant quota overrides. A missing or null field means the platform default; the control
 * plane stores them, the dispatcher enforces them. Only an operator can set them.
 */
export const Quotas = z
  .strictObject({
    runsPerMonth: limit,
    concurrentRuns: limit,
    requestsPerMinute: limit,
    llmTokensPerMonth: limit,
    cpuMsPerRun: limit,
    subrequestsPerRun: limit,
    /** Model calls (`env.LLM.chat`/`stream`) one run may make. */
    llmCallsPerRun: limit,
    scriptBytes: limit,
    storageBytes: limit,
    /** USD per calendar month (UTC), priced with the PRICE_BOOK; new runs stop and model streams are cut at it. */
    monthlySpendCapUsd: z.number().min(0).max(1e9).nullable().optional(),
  })
  .openapi("Quotas");
export type Quotas = z.infer<typeof Quotas>;
export type QuotaName = keyof Quotas;

export const QUOTA_NAMES = Object.keys(Quotas.shape) as QuotaName[];

/** The stored JSON with every quota present (null where the default applies). */
export function parseQuotas(json: string): Record<QuotaName, number | null> {
  const stored = JSON.parse(json) as Partial<Record<QuotaName, number | null>>;
  return Object.fromEntries(QUOTA_NAMES.map((q) => [q, stored[q] ?? null])) as Record<QuotaName, number | null>;
}

/** Applies a PATCH: given fields replace, `null` clears back to the default, absent fields stay. */
export function mergeQuotas(current: string, patch: Quotas): string {
  const merged = parseQuotas(current);
  for (const q of QUOTA_NAMES) if (patch[q] !== undefined) merged[q] = patch[q] ?? null;
  const overrides = Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== null));
  return JSON.stringify(overrides);
}

/** Days a finished run's record and event log are kept unless the operator sets `retentionDays`. */
export const DEFAULT_RETENTION_DAYS = 30;
