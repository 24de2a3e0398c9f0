/** The admin token the test Worker runs with (see vitest.config.ts). */
export const TEST_ADMIN_TOKEN = "adm_test-admin-token-0123456789";
/** The platform key sealing secrets in tests: 32 bytes, base64. */
export const TEST_SECRETS_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/** Test prices: the built-in model's tokens cost something, so spend caps and exports have figures to check. */
export const TEST_PRICE_BOOK = {
  currency: "USD",
  perRun: 0.00002,
  perMillionCpuMs: 0.05,
  perThousandInputTokens: { "*": 0.0006, "isoplane-echo": 0.01 },
  perThousandOutputTokens: { "*": 0.0024, "isoplane-echo": 0.02 },
  perGbMonthStored: 0.03,
} as const;
