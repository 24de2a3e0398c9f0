import { defineConfig } from "drizzle-kit";

// One schema for both Workers; `npm run db:generate` writes the numbered SQL that
// `wrangler d1 migrations apply` runs locally, in tests and in production.
export default defineConfig({
  dialect: "sqlite",
  schema: "./core/db/schema.ts",
  out: "./migrations",
});
