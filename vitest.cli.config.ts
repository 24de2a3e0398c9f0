import { defineConfig } from "vitest/config";

// The CLI's tests run in plain Node (not workerd): they drive `node cli/isoplane.mjs` as a child
// process against the whole platform booted in Miniflare by bench/platform.mjs. `npm run test:cli`.
export default defineConfig({
  test: {
    include: ["test-cli/**/*.test.ts"],
    environment: "node",
    pool: "forks",
    testTimeout: 20_000,
    // Booting the platform bundles both Workers with wrangler first.
    hookTimeout: 60_000,
  },
});
