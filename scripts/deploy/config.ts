// The deploy's inputs: command-line arguments, the deploy config file (JSONC, git-ignored) and
// the environment. Pure functions, so the tests run them inside workerd like everything else.
import { COMMITTED_QUEUES, SECRETS, type WorkerKey } from "./workers.ts";
import { gatewayConfig, secretNames } from "../../core/llm/config.ts";

export interface DeployArgs {
  dryRun: boolean;
  /** `--config <file>`; otherwise isoplane.deploy.jsonc (the dry run falls back to the example). */
  configPath: string | null;
  /** `--skip-secrets`: keep the secrets already set (a re-deploy without them in the environment). */
  skipSecrets: boolean;
  help: boolean;
}

export class UsageError extends Error {}

export const USAGE = `Usage: npm run deploy [-- options]

  (no options)      deploy the platform to the Cloudflare account in CLOUDFLARE_ACCOUNT_ID (or the
                    config's accountId) with CLOUDFLARE_API_TOKEN (or \`wrangler login\`)
  --dry-run         build and check every production bundle; needs no account and no network
  --config <file>   the deploy config (default: isoplane.deploy.jsonc; the dry run falls back to
                    isoplane.deploy.example.jsonc)
  --skip-secrets    do not set secrets (they are already set on the Workers)
  -h, --help        this text

See docs/production.md.`;

export function parseArgs(argv: readonly string[]): DeployArgs {
  const args: DeployArgs = { dryRun: false, configPath: null, skipSecrets: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--dry-run") args.dryRun = true;
    else if (arg === "--skip-secrets") args.skipSecrets = true;
    else if (arg === "-h" || arg === "--help") args.help = true;
    else if (arg === "--config" || arg.startsWith("--config=")) {
      const value = arg === "--config" ? argv[++i] : arg.slice("--config=".length);
      if (!value || value.startsWith("--")) throw new UsageError("--config needs a file");
      args.configPath = value;
    } else throw new UsageError(`unknown argument "${arg}"`);
  }
  return args;
}

/**
 * JSON with comments (`//`, `/* *\/`) and trailing commas, as wrangler.jsonc takes it. Comments are
 * removed outside strings only; line and column numbers of what remains stay the same.
 */
export function parseJsonc(text: string): unknown {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const comment = text.slice(i, end < 0 ? text.length : end + 2);
      out += comment.replace(/[^\n]/g, " ");
      i += comment.length;
    } else {
      out += c;
      i++;
    }
  }
  // Trailing commas before a closing bracket (strings are already intact, so match outside them).
  const withoutTrailing = out.replace(/("(?:[^"\\]|\\.)*")|,(\s*[}\]])/g, (m, str: string | undefined, close: string | undefined) => str ?? close ?? m);
  return JSON.parse(withoutTrailing);
}

export interface Route {
  pattern: string;
  zone_name?: string;
  custom_domain?: boolean;
}

export interface WorkerExposure {
  /** Serve on `<worker>.<account subdomain>.workers.dev`. */
  workersDev: boolean;
  routes: Route[];
}

export interface DeployConfig {
  accountId: string | null;
  d1: { name: string; id: string | null; location: string | null };
  r2: { bucket: string; location: string | null };
  dispatchNamespace: string;
  queues: { runs: string; ledger: string; metering: string; meteringDeadLetter: string };
  dispatcher: WorkerExposure;
  controlPlane: WorkerExposure;
  /** Hosts tenant code may never fetch, besides those of the routes (which are added). */
  platformHosts: string[];
  /**
   * The model gateway: either the one-provider form (`provider`, `baseUrl`, `model`, key in
   * LLM_API_KEY) or the gateway's own configuration (`providers`, `aliases`, `defaultModel`,
   * `fallbacks`, `retry`: core/llm/config.ts), deployed as LLM_PROVIDERS with the secrets it names.
   */
  llm: {
    provider: "builtin" | "openai" | "anthropic";
    baseUrl: string | null;
    model: string | null;
    /** LLM_PROVIDERS, when the gateway's own form is used. */
    gateway: string | null;
    /** Secrets the providers name; each must be in the deploy's environment. */
    secrets: string[];
    /** A `workers-ai` provider: the dispatcher gets the `AI` binding. */
    workersAi: boolean;
  };
}

const GATEWAY_KEYS = ["providers", "aliases", "defaultModel", "fallbacks", "retry"];

/** Lower-case letters, digits and dashes, 3–63 characters: valid for D1, R2, Queues and namespaces alike. */
const RESOURCE_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const ACCOUNT_ID = /^[0-9a-f]{32}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HOSTNAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const LOCATIONS = ["weur", "eeur", "apac", "oc", "wnam", "enam"];

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Checks a parsed deploy config and fills in defaults. Every problem is reported, not just the
 * first; unknown keys are errors, so a misspelt field is never silently ignored.
 * `CLOUDFLARE_ACCOUNT_ID` in the environment takes precedence over `accountId`. A real deploy
 * needs an account; a dry run does not.
 */
export function validateDeployConfig(raw: unknown, env: Env, mode: "deploy" | "dry-run"): { config: DeployConfig; errors: string[] } {
  const errors: string[] = [];
  const obj = (value: unknown, path: string, keys: readonly string[]): Record<string, unknown> => {
    if (value === undefined) return {};
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      errors.push(`${path || "the config"} must be an object`);
      return {};
    }
    for (const key of Object.keys(value)) {
      if (!keys.includes(key) && !key.startsWith("$")) errors.push(`${path ? `${path}.` : ""}${key} is not a known field`);
    }
    return value as Record<string, unknown>;
  };
  const str = (value: unknown, path: string, fallback: string | null, pattern?: RegExp, hint?: string): string | null => {
    if (value === undefined || value === null || value === "") return fallback;
    if (typeof value !== "string") {
      errors.push(`${path} must be a string`);
      return fallback;
    }
    if (pattern && !pattern.test(value)) errors.push(`${path} "${value}" is not valid${hint ? ` (${hint})` : ""}`);
    return value;
  };
  const name = (value: unknown, path: string, fallback: string) =>
    str(value, path, fallback, RESOURCE_NAME, "3-63 lower-case letters, digits and dashes") ?? fallback;
  const location = (value: unknown, path: string) => {
    const v = str(value, path, null);
    if (v !== null && !LOCATIONS.includes(v)) errors.push(`${path} "${v}" is not one of ${LOCATIONS.join(", ")}`);
    return v;
  };

  const root = obj(raw, "", ["accountId", "d1", "r2", "dispatchNamespace", "queues", "dispatcher", "controlPlane", "platformHosts", "llm"]);
  const d1 = obj(root.d1, "d1", ["name", "id", "location"]);
  const r2 = obj(root.r2, "r2", ["bucket", "location"]);
  const queues = obj(root.queues, "queues", Object.keys(COMMITTED_QUEUES));
  const gatewayForm = typeof root.llm === "object" && root.llm !== null && Object.keys(root.llm).some((k) => GATEWAY_KEYS.includes(k));
  const llm = obj(root.llm, "llm", gatewayForm ? GATEWAY_KEYS : ["provider", "baseUrl", "model"]);

  const envAccount = env.CLOUDFLARE_ACCOUNT_ID?.trim() || null;
  const accountId = envAccount
    ? str(envAccount, "CLOUDFLARE_ACCOUNT_ID", null, ACCOUNT_ID, "32 hex characters")
    : str(root.accountId, "accountId", null, ACCOUNT_ID, "32 hex characters");
  if (mode === "deploy" && !accountId) errors.push("no Cloudflare account: set CLOUDFLARE_ACCOUNT_ID or accountId in the deploy config");

  const provider = gatewayForm ? "builtin" : str(llm.provider, "llm.provider", "builtin");
  if (provider !== "builtin" && provider !== "openai" && provider !== "anthropic") errors.push(`llm.provider "${provider}" is not builtin, openai or anthropic`);
  const baseUrl = gatewayForm ? null : str(llm.baseUrl, "llm.baseUrl", null, /^https:\/\/\S+$/, "an https:// URL");
  const model = gatewayForm ? null : str(llm.model, "llm.model", null);
  if (provider === "openai" && (!baseUrl || !model)) errors.push("llm.provider openai needs llm.baseUrl and llm.model");
  if (provider === "anthropic" && !model) errors.push("llm.provider anthropic needs llm.model");
  let gateway: string | null = null;
  let llmSecrets: string[] = provider === "builtin" ? [] : ["LLM_API_KEY"];
  let workersAi = false;
  if (gatewayForm) {
    // Unknown keys are reported above; the rest is parsed.
    gateway = JSON.stringify(Object.fromEntries(Object.entries(llm).filter(([k]) => GATEWAY_KEYS.includes(k))));
    try {
      // The same parser the Workers use: what deploys is what they accept.
      const parsed = gatewayConfig({ LLM_PROVIDERS: gateway });
      llmSecrets = [...new Set(secretNames(parsed).map((x) => x.secret))];
      workersAi = Object.values(parsed.providers).some((p) => p.type === "workers-ai");
    } catch (err) {
      errors.push((err as Error).message.replace(/^LLM_PROVIDERS is invalid: /, "llm: "));
    }
  }

  const hosts = root.platformHosts === undefined ? [] : root.platformHosts;
  const platformHosts: string[] = [];
  if (!Array.isArray(hosts)) errors.push("platformHosts must be an array of host names");
  else for (const [i, h] of hosts.entries()) {
    const host = str(h, `platformHosts[${i}]`, null, HOSTNAME, "a host name such as api.example.com");
    if (host) platformHosts.push(host);
  }

  const config: DeployConfig = {
    accountId,
    d1: { name: name(d1.name, "d1.name", "isoplane"), id: str(d1.id, "d1.id", null, UUID, "a D1 database UUID"), location: location(d1.location, "d1.location") },
    r2: { bucket: name(r2.bucket, "r2.bucket", "isoplane"), location: location(r2.location, "r2.location") },
    dispatchNamespace: name(root.dispatchNamespace, "dispatchNamespace", "isoplane"),
    queues: {
      runs: name(queues.runs, "queues.runs", COMMITTED_QUEUES.runs),
      ledger: name(queues.ledger, "queues.ledger", COMMITTED_QUEUES.ledger),
      metering: name(queues.metering, "queues.metering", COMMITTED_QUEUES.metering),
      meteringDeadLetter: name(queues.meteringDeadLetter, "queues.meteringDeadLetter", COMMITTED_QUEUES.meteringDeadLetter),
    },
    dispatcher: exposure(root.dispatcher, "dispatcher", errors, obj, str),
    controlPlane: exposure(root.controlPlane, "controlPlane", errors, obj, str),
    platformHosts,
    llm: { provider: provider as DeployConfig["llm"]["provider"], baseUrl, model, gateway, secrets: llmSecrets, workersAi },
  };
  const queueNames = Object.values(config.queues);
  if (new Set(queueNames).size !== queueNames.length) errors.push("queues.runs, queues.ledger, queues.metering and queues.meteringDeadLetter must be four different queues");
  return { config, errors };
}

function exposure(
  value: unknown,
  path: string,
  errors: string[],
  obj: (value: unknown, path: string, keys: readonly string[]) => Record<string, unknown>,
  str: (value: unknown, path: string, fallback: string | null, pattern?: RegExp, hint?: string) => string | null,
): WorkerExposure {
  const o = obj(value, path, ["workersDev", "routes"]);
  let workersDev = true;
  if (o.workersDev !== undefined) {
    if (typeof o.workersDev !== "boolean") errors.push(`${path}.workersDev must be true or false`);
    else workersDev = o.workersDev;
  }
  const routes: Route[] = [];
  if (o.routes !== undefined && !Array.isArray(o.routes)) errors.push(`${path}.routes must be an array`);
  for (const [i, r] of (Array.isArray(o.routes) ? o.routes : []).entries()) {
    const at = `${path}.routes[${i}]`;
    const route = obj(r, at, ["pattern", "zone_name", "custom_domain"]);
    const pattern = str(route.pattern, `${at}.pattern`, null);
    if (!pattern) {
      errors.push(`${at}.pattern is required`);
      continue;
    }
    const out: Route = { pattern };
    if (route.zone_name !== undefined) out.zone_name = str(route.zone_name, `${at}.zone_name`, null, HOSTNAME, "a zone such as example.com") ?? "";
    if (route.custom_domain !== undefined) {
      if (typeof route.custom_domain !== "boolean") errors.push(`${at}.custom_domain must be true or false`);
      else out.custom_domain = route.custom_domain;
    }
    // A custom domain is one host (Cloudflare creates its DNS record and certificate): no wildcard, no path.
    if (out.custom_domain && !HOSTNAME.test(pattern)) errors.push(`${at}.pattern "${pattern}" must be a plain host name for a custom domain`);
    routes.push(out);
  }
  if (!workersDev && routes.length === 0) errors.push(`${path} has neither workersDev nor routes: nothing could reach it`);
  return { workersDev, routes };
}

/** The host names a route serves (wildcards reduced to the domain they cover): the platform's own hosts. */
export function routeHosts(routes: readonly Route[]): string[] {
  const hosts: string[] = [];
  for (const { pattern } of routes) {
    const host = pattern.replace(/^https?:\/\//, "").split("/")[0]!.replace(/^\*\.?/, "").toLowerCase();
    if (HOSTNAME.test(host)) hosts.push(host);
  }
  return hosts;
}

export interface SecretValues {
  /** Per Worker, the secrets to set, in order. */
  byWorker: Record<WorkerKey, { name: string; value: string }[]>;
  errors: string[];
}

/**
 * The secrets a deploy sets, from the environment. Missing required ones are errors (unless
 * `--skip-secrets`), and so are values that could never work: a SECRETS_KEY that is not 32
 * bytes of base64, or a short admin token.
 */
export function secretValues(env: Env, config: DeployConfig, skip: boolean): SecretValues {
  const byWorker: SecretValues["byWorker"] = { tail: [], outbound: [], dispatcher: [], controlPlane: [] };
  const errors: string[] = [];
  if (skip) return { byWorker, errors };
  // Name → description; a secret several Workers share is reported once.
  const missing = new Map<string, string>();
  for (const [worker, secrets] of Object.entries(SECRETS) as [WorkerKey, (typeof SECRETS)[WorkerKey]][]) {
    for (const secret of secrets) {
      const value = env[secret.name];
      if (value) byWorker[worker].push({ name: secret.name, value });
      else if (secret.required && !missing.has(secret.name)) missing.set(secret.name, secret.description);
    }
  }
  // The model providers' keys, by the names their configuration gives them.
  for (const name of config.llm.secrets) {
    const value = env[name];
    if (!value) missing.set(name, name === "LLM_API_KEY" ? "the model provider's API key (not needed for the built-in model)" : "a model provider's key, named in llm");
    else if (!byWorker.dispatcher.some((x) => x.name === name)) byWorker.dispatcher.push({ name, value });
  }
  for (const [name, description] of missing) errors.push(`${name} (${description}) is not set in the environment`);
  const key = env.SECRETS_KEY;
  if (key && base64Length(key) !== 32) errors.push("SECRETS_KEY must be 32 bytes, base64-encoded (openssl rand -base64 32)");
  const admin = env.ADMIN_TOKEN;
  if (admin && admin.length < 24) errors.push("ADMIN_TOKEN must be at least 24 characters");
  return { byWorker, errors };
}

function base64Length(text: string): number {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return -1;
  return (text.length / 4) * 3 - (text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0);
}
