#!/usr/bin/env node
// `npm start`: the whole platform on one machine. Applies the D1 migrations to the local state,
// then serves the dispatcher and the control plane with `wrangler dev` over one shared
// persisted D1 + R2 (same database_id and bucket_name, same --persist-to folder).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// Where the local state and generated secrets live (ISOPLANE_HOME, default .isoplane/, git-ignored).
const home = process.env.ISOPLANE_HOME ?? join(root, ".isoplane");
const state = join(home, "state");
const wrangler = join(root, "node_modules", ".bin", "wrangler");
const dispatcherPort = Number(process.env.ISOPLANE_DISPATCHER_PORT ?? 8787);
const controlPlanePort = Number(process.env.ISOPLANE_CONTROL_PLANE_PORT ?? 8788);
const host = "127.0.0.1";

// Wrangler needs Node >= 22.12: the `node` devDependency puts one first on PATH for its children.
// The two `wrangler dev`s find each other through wrangler's dev registry (the control plane binds
// to the dispatcher's Durable Objects). It lives under XDG_CONFIG_HOME, made private to this state
// folder and cleared at each start: an entry left by a killed process would otherwise point the
// control plane at a dead address, and a second platform on the machine would collide with this one.
const wranglerConfig = join(home, "wrangler-config");
rmSync(join(wranglerConfig, ".wrangler", "registry"), { recursive: true, force: true });
const childEnv = {
  ...process.env,
  PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}`,
  WRANGLER_SEND_METRICS: "false",
  XDG_CONFIG_HOME: wranglerConfig,
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

/** Secrets reach wrangler through env files (mode 600), not the command line where `ps` shows them. */
function envFile(name, vars) {
  const file = join(home, `${name}.env`);
  const lines = Object.entries(vars)
    .filter(([, v]) => v !== undefined && v !== "")
    .map(([k, v]) => `${k}=${JSON.stringify(String(v))}`);
  writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
  return file;
}

const token = adminToken();
const sealKey = secretsKey();
const controlPlaneEnv = envFile("control-plane", { ADMIN_TOKEN: token, SECRETS_KEY: sealKey });
const dispatcherEnv = envFile("dispatcher", {
  SECRETS_KEY: sealKey,
  // Locally, webhooks may target your own machine.
  WEBHOOK_ALLOW_PRIVATE: "true",
  LLM_PROVIDER: process.env.LLM_PROVIDER,
  LLM_BASE_URL: process.env.LLM_BASE_URL,
  LLM_API_KEY: process.env.LLM_API_KEY,
  LLM_MODEL: process.env.LLM_MODEL,
  // A run's wall-clock budget (default 300000 ms); each run's object ends it at that deadline.
  RUN_TIMEOUT_MS: process.env.RUN_TIMEOUT_MS,
});

console.log("isoplane: applying D1 migrations to the local state…");
const migrate = spawnSync(
  wrangler,
  ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state, "--config", join(root, "wrangler.toml")],
  { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...childEnv, CI: "true" }, encoding: "utf8" },
);
if (migrate.status !== 0) {
  process.stderr.write(migrate.stdout + migrate.stderr);
  process.exit(migrate.status ?? 1);
}

const children = [];
function serve(name, config, port, inspectorPort, env) {
  const child = spawn(
    wrangler,
    [
      "dev",
      "--config", config,
      "--ip", host,
      "--port", String(port),
      "--inspector-port", String(inspectorPort),
      "--persist-to", state,
      "--env-file", env,
      "--show-interactive-dev-session=false",
    ],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: childEnv },
  );
  const prefix = `[${name}] `;
  const relay = (stream, out) =>
    stream.on("data", (chunk) => {
      for (const line of chunk.toString().split("\n")) if (line.trim()) out.write(prefix + line + "\n");
    });
  if (process.env.ISOPLANE_VERBOSE) {
    relay(child.stdout, process.stdout);
  }
  relay(child.stderr, process.stderr);
  child.on("exit", (code) => {
    console.error(`${prefix}exited with code ${code}`);
    shutdown(code ?? 1);
  });
  children.push(child);
  return child;
}

let stopping = false;
function shutdown(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) child.kill("SIGTERM");
  setTimeout(() => process.exit(code), 500).unref();
}
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

const startControlPlane = () =>
  serve("control-plane", join(root, "control-plane", "wrangler.toml"), controlPlanePort, Number(process.env.ISOPLANE_CONTROL_PLANE_INSPECTOR_PORT ?? 9230), controlPlaneEnv);
serve("dispatcher", join(root, "wrangler.toml"), dispatcherPort, Number(process.env.ISOPLANE_DISPATCHER_INSPECTOR_PORT ?? 9229), dispatcherEnv);

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
// The control plane binds to the dispatcher's Durable Objects through wrangler's dev registry, so
// it starts once the dispatcher is up (and registered), and is ready once it reaches them.
const dispatcherUp = await waitFor(dispatcherUrl);
if (dispatcherUp) startControlPlane();
if (dispatcherUp && (await waitFor(`${controlPlaneUrl}/healthz`))) {
  const shownToken = process.env.ISOPLANE_ADMIN_TOKEN ? "$ISOPLANE_ADMIN_TOKEN" : token;
  console.log(`
isoplane is running
  dispatcher     ${dispatcherUrl}   (tenant API: runs, context)
  control plane  ${controlPlaneUrl}   (admin API, script uploads)
  state          ${state}
  admin token    ${process.env.ISOPLANE_ADMIN_TOKEN ? "from ISOPLANE_ADMIN_TOKEN" : `${token}  (kept in .isoplane/admin-token)`}

First call — create a tenant:
  curl -s -X POST ${controlPlaneUrl}/admin/tenants \\
    -H "Authorization: Bearer ${shownToken}" -H "Content-Type: application/json" \\
    -d '{"name":"acme"}'

Then follow the walkthrough in README.md. Ctrl-C stops both Workers; state persists.
`);
} else if (!stopping) {
  console.error("isoplane: the Workers did not start in 60 s");
  shutdown(1);
}
