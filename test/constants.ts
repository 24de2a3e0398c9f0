/** The admin token the test Worker runs with (see vitest.config.ts). */
export const TEST_ADMIN_TOKEN = "adm_test-admin-token-0123456789";
