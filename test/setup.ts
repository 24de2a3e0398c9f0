import { applyD1Migrations, env } from "cloudflare:test";

// Idempotent: D1 records applied migrations, so every test file can call it.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
