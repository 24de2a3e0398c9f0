/** The admin token the test Worker runs with (see vitest.config.ts). */
export const TEST_ADMIN_TOKEN = "adm_test-admin-token-0123456789";
/** The platform key sealing secrets in tests: 32 bytes, base64. */
export const TEST_SECRETS_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
