import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { TEST_ADMIN_TOKEN, TEST_LLM_PROVIDERS, TEST_PRICE_BOOK, TEST_SECRETS_KEY } from "./test/constants.ts";
import { FAKE_ANTHROPIC_KEY } from "./test/fakes/anthropic.ts";
import { FAKE_LLM_KEY, FAKE_MODAL_KEY, FAKE_MODAL_SECRET } from "./test/fakes/openai.ts";
import { outbound } from "./test/fakes/outbound.ts";

export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  return {
    plugins: [
      cloudflareTest(({ inject }) => ({
        // Both Workers in one runtime over one D1 + R2, exactly as `npm start` shares them;
        // test/worker.ts routes by host name to each Worker's own fetch handler, with its own env.
        main: "./test/worker.ts",
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          // Every outbound fetch() of the platform goes to local fakes: no network in tests.
          outboundService: outbound,
          bindings: {
            TEST_MIGRATIONS: migrations,
            ADMIN_TOKEN: TEST_ADMIN_TOKEN,
            SECRETS_KEY: TEST_SECRETS_KEY,
            PRICE_BOOK: JSON.stringify(TEST_PRICE_BOOK),
            LLM_PROVIDERS: JSON.stringify(TEST_LLM_PROVIDERS),
            // The secrets LLM_PROVIDERS names, as the fakes expect them.
            TEST_OPENAI_KEY: FAKE_LLM_KEY,
            TEST_MODAL_KEY: FAKE_MODAL_KEY,
            TEST_MODAL_SECRET: FAKE_MODAL_SECRET,
            TEST_ANTHROPIC_KEY: FAKE_ANTHROPIC_KEY,
            RUN_TIMEOUT_MS: "3000",
            // Finished runs' logs move to R2 at once, so every test reads archived logs too.
            EVENT_ARCHIVE_AFTER_MS: "0",
            MAX_SCRIPT_BYTES: String(64 * 1024),
            MAX_CONTEXT_BYTES: String(64 * 1024),
            EXAMPLE_AGENT: inject("exampleAgent"),
            RESEARCH_AGENT: inject("researchAgent"),
            SANDBOX_AGENT: inject("sandboxAgent"),
          },
        },
      })),
    ],
    test: {
      globalSetup: ["./test/global-setup.ts"],
      setupFiles: ["./test/setup.ts"],
      // Integration tests in test/; unit tests of pure modules beside their modules.
      include: ["test/**/*.test.ts", "tenant-template/**/*.test.ts", "core/**/*.test.ts", "dispatcher/**/*.test.ts", "control-plane/**/*.test.ts"],
      testTimeout: 20_000,
      isolate: false,
    },
  };
});
