#!/usr/bin/env node
// Each Worker's env types, generated from its wrangler config by `wrangler types` into its own
// folder (worker-configuration.d.ts: bindings only, the runtime types come from
// @cloudflare/workers-types). `npm run types` regenerates them; `--check` (part of `npm test`)
// fails when a config changed and its types were not regenerated.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const WORKERS = [
  { config: "wrangler.toml", out: "dispatcher/worker-configuration.d.ts", name: "DispatcherBindings" },
  { config: "control-plane/wrangler.toml", out: "control-plane/worker-configuration.d.ts", name: "ControlPlaneBindings" },
  { config: "dispatcher/outbound/wrangler.toml", out: "dispatcher/outbound/worker-configuration.d.ts", name: "OutboundBindings" },
  { config: "dispatcher/tail/wrangler.toml", out: "dispatcher/tail/worker-configuration.d.ts", name: "TailBindings" },
];
const check = process.argv.includes("--check");
let stale = 0;
for (const w of WORKERS) {
  const args = ["types", w.out, "--config", w.config, "--include-runtime=false", "--strict-vars=false", `--env-interface=${w.name}`, ...(check ? ["--check"] : [])];
  const run = spawnSync(join(root, "node_modules", ".bin", "wrangler"), args, {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
  });
  if (run.status !== 0) {
    stale++;
    console.error(`${w.out}: ${check ? "not current — run `npm run types` and commit it" : "wrangler types failed"}\n${(run.stdout + run.stderr).trim()}`);
  } else console.log(`${w.out}: ${check ? "current" : "written"}`);
}
process.exit(stale ? 1 : 0);
