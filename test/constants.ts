/** The admin token the test Worker runs with (see vitest.config.ts). */
export const TEST_ADMIN_TOKEN = "adm_test-admin-token-0123456789";
/** The platform key sealing secrets in tests: 32 bytes, base64. */
export const TEST_SECRETS_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/** Test prices: the built-in model's tokens cost something, so spend caps and exports have figures to check. */
export const TEST_PRICE_BOOK = {
  currency: "USD",
  perRun: 0.00002,
  perMillionCpuMs: 0.05,
  perThousandInputTokens: { "*": 0.0006, "builtin/isoplane-echo": 0.01 },
  perThousandOutputTokens: { "*": 0.0024, "builtin/isoplane-echo": 0.02 },
  perGbMonthStored: 0.03,
} as const;

/**
 * The model gateway the tests run with: the fakes of each wire format (test/fakes/), an alias, a
 * fallback and short retries. The built-in model stays the default, so other tests are unchanged.
 */
export const TEST_LLM_PROVIDERS = {
  providers: {
    openai: { type: "openai", baseUrl: "https://llm.test/v1", apiKeySecret: "TEST_OPENAI_KEY" },
    modal: { type: "modal", baseUrl: "https://modal.test/v1", keySecret: "TEST_MODAL_KEY", secretSecret: "TEST_MODAL_SECRET" },
    anthropic: { type: "anthropic", baseUrl: "https://anthropic.test", apiKeySecret: "TEST_ANTHROPIC_KEY" },
    // No platform key: only tenants that store their own can use it.
    byok: { type: "openai", baseUrl: "https://llm.test/v1" },
    // Authenticated by a header secret (Azure's form): it takes no tenant keys.
    azure: { type: "openai", baseUrl: "https://llm.test/v1", headerSecrets: { "api-key": "TEST_OPENAI_KEY" } },
  },
  aliases: { fast: "openai/gpt-test", claude: "anthropic/claude-test" },
  fallbacks: { "openai/unavailable": "anthropic/claude-test" },
  retry: { attempts: 2, baseDelayMs: 10, maxWaitMs: 2000 },
} as const;
