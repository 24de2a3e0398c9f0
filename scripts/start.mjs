#!/usr/bin/env node
// `npm start`: the whole platform on one machine. Applies the D1 migrations to the local state,
// then serves the dispatcher and the control plane in one workerd process (Miniflare, driven
// directly: no `wrangler dev` proxy in front) over one persisted D1 + R2 + Durable Objects state,
// and runs tenant code in sandbox processes of its own (scripts/sandboxes.mjs), one per tenant,
// so an agent that spins stalls only its own tenant.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkGateway, gatewaySettings } from "./llm-config.mjs";
import { startSandboxPool } from "./sandboxes.mjs";
import { convertV4MiniflareOptions, HOST, Log, LogLevel, Miniflare, workerFromConfig, wranglerBundle } from "./workers.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// Where the local state and generated secrets live (ISOPLANE_HOME, default .isoplane/, git-ignored).
const home = process.env.ISOPLANE_HOME ?? join(root, ".isoplane");
const state = join(home, "state");
const wrangler = join(root, "node_modules", ".bin", "wrangler");
const dispatcherPort = Number(process.env.ISOPLANE_DISPATCHER_PORT ?? 8787);
const controlPlanePort = Number(process.env.ISOPLANE_CONTROL_PLANE_PORT ?? 8788);
const sandboxLimit = Number(process.env.ISOPLANE_SANDBOXES ?? 16);
const sandboxMemoryMb = Number(process.env.ISOPLANE_SANDBOX_MEMORY_MB ?? 512);
const host = HOST;

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(`isoplane: Node ${process.version} is too old for wrangler/workerd (>= 22.12). Run it with \`npm start\`, which uses the node devDependency.`);
  process.exit(1);
}

// Wrangler needs Node >= 22.12: the `node` devDependency puts one first on PATH for its children.
const childEnv = {
  ...process.env,
  PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}`,
  WRANGLER_SEND_METRICS: "false",
  CI: "true",
};

mkdirSync(state, { recursive: true });

/** The admin token: from ISOPLANE_ADMIN_TOKEN, else generated once and kept in .isoplane/ (git-ignored). */
function adminToken() {
  if (process.env.ISOPLANE_ADMIN_TOKEN) return process.env.ISOPLANE_ADMIN_TOKEN;
  const file = join(home, "admin-token");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const token = `adm_${randomBytes(24).toString("base64url")}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

/** The key sealing agent secrets (32 bytes, base64): from ISOPLANE_SECRETS_KEY, else made once and kept. */
function secretsKey() {
  if (process.env.ISOPLANE_SECRETS_KEY) return process.env.ISOPLANE_SECRETS_KEY;
  const file = join(home, "secrets-key");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const key = randomBytes(32).toString("base64");
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

const token = adminToken();
const sealKey = secretsKey();
// Fresh at each start: what the dispatcher and its sandboxes show each other.
const sandboxToken = randomBytes(24).toString("base64url");

// The model gateway's providers: refused here, with the reason, rather than on the first call.
const llm = await checkGateway(root, join(home, "build"), process.env);
if (llm.problems.length) {
  for (const p of llm.problems) console.error(`isoplane: ${p}`);
  if (llm.config && Object.values(llm.config.providers).some((p) => p.type === "workers-ai")) {
    console.error("isoplane: Workers AI needs a Cloudflare account; npm start has no AI binding (docs/workers-ai.md says how to try it).");
  }
  process.exit(1);
}

console.log("isoplane: applying D1 migrations to the local state…");
const migrate = spawnSync(
  wrangler,
  ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state, "--config", join(root, "wrangler.toml")],
  { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: childEnv, encoding: "utf8" },
);
if (migrate.status !== 0) {
  process.stderr.write(migrate.stdout + migrate.stderr);
  process.exit(migrate.status ?? 1);
}

console.log("isoplane: bundling the Workers…");
const build = join(home, "build");
const dispatcherBundle = wranglerBundle(root, "wrangler.toml", join(build, "dispatcher"));
const controlPlaneBundle = wranglerBundle(root, "control-plane/wrangler.toml", join(build, "control-plane"));

let mf;
let pool;
let stopping = false;
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  pool?.close();
  setTimeout(() => process.exit(code), 2000).unref();
  await mf?.dispose().catch(() => {});
  process.exit(code);
}
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

const dispatcher = workerFromConfig(
  root,
  "wrangler.toml",
  dispatcherBundle,
  {
    SECRETS_KEY: sealKey,
    // Locally, webhooks may target your own machine.
    WEBHOOK_ALLOW_PRIVATE: "true",
    SANDBOX_TOKEN: sandboxToken,
    // The model providers (LLM_PROVIDERS and the secrets it names) come from the environment,
    ...llm.vars,
    // and so does a run's wall-clock budget (default 300000 ms).
    ...(process.env.RUN_TIMEOUT_MS ? { RUN_TIMEOUT_MS: process.env.RUN_TIMEOUT_MS } : {}),
  },
  dispatcherPort,
);
pool = await startSandboxPool({
  root,
  dir: join(build, "sandbox"),
  token: sandboxToken,
  platform: () => `${host}:${dispatcherPort}`,
  compatibilityDate: dispatcher.compatibilityDate,
  max: Number.isSafeInteger(sandboxLimit) && sandboxLimit > 0 ? sandboxLimit : 16,
  memoryMb: Number.isSafeInteger(sandboxMemoryMb) && sandboxMemoryMb > 0 ? sandboxMemoryMb : 512,
});
dispatcher.serviceBindings = { ...dispatcher.serviceBindings, SANDBOXES: { external: { address: pool.address, http: {} } } };
// For the operator (and test:faults): where the pool listens and its token; `POST /exit` with
// {"tenantId"} says why a tenant's sandbox last stopped.
writeFileSync(join(home, "sandbox-pool"), `${pool.address}\n`, { mode: 0o600 });
writeFileSync(join(home, "sandbox-token"), `${sandboxToken}\n`, { mode: 0o600 });
const controlPlane = workerFromConfig(root, "control-plane/wrangler.toml", controlPlaneBundle, { ADMIN_TOKEN: token, SECRETS_KEY: sealKey, ...gatewaySettings(llm.vars) }, controlPlanePort);

mf = new Miniflare(
  convertV4MiniflareOptions({
    host,
    port: 0,
    log: new Log(process.env.ISOPLANE_VERBOSE ? LogLevel.DEBUG : LogLevel.INFO),
    logRequests: Boolean(process.env.ISOPLANE_VERBOSE),
    // Offline: no fetch of the real Request.cf from Cloudflare.
    cf: false,
    // The same layout `wrangler dev --persist-to` uses, so the migrations above apply to it.
    resourcePersistencePath: join(state, "v3"),
    workers: [dispatcher, controlPlane],
  }),
);
try {
  await mf.ready;
} catch (err) {
  console.error(`isoplane: the Workers did not start: ${err.message}`);
  await shutdown(1);
}

async function waitFor(url) {
  for (let i = 0; i < 600 && !stopping; i++) {
    try {
      const res = await fetch(url);
      if (res.ok) return true;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const dispatcherUrl = `http://${host}:${dispatcherPort}`;
const controlPlaneUrl = `http://${host}:${controlPlanePort}`;
if (await waitFor(`${controlPlaneUrl}/healthz`)) {
  const shownToken = process.env.ISOPLANE_ADMIN_TOKEN ? "$ISOPLANE_ADMIN_TOKEN" : token;
  console.log(`
isoplane is running
  dispatcher     ${dispatcherUrl}   (tenant API: runs, context)
  control plane  ${controlPlaneUrl}   (admin API, script uploads)
  dashboard      ${controlPlaneUrl}/dashboard   (operators: sign in with the admin token)
  state          ${state}
  admin token    ${process.env.ISOPLANE_ADMIN_TOKEN ? "from ISOPLANE_ADMIN_TOKEN" : `${token}  (kept in ${join(home, "admin-token")})`}
  agents run in  one sandbox process per tenant (at most ${pool.max}; ISOPLANE_SANDBOXES)

First call — create a tenant:
  curl -s -X POST ${controlPlaneUrl}/admin/tenants \\
    -H "Authorization: Bearer ${shownToken}" -H "Content-Type: application/json" \\
    -d '{"name":"acme"}'

Then follow the walkthrough in README.md. Ctrl-C stops the platform; state persists.
`);
} else if (!stopping) {
  console.error("isoplane: the Workers did not start in 60 s");
  await shutdown(1);
}
