// The wrangler configs a deploy uses: each committed config (top level and [env.production]) with
// the account-specific values of the deploy config filled in and every path made absolute, to be
// written to the git-ignored .isoplane/deploy/. The committed files are never edited.
import { routeHosts, type DeployConfig, type WorkerExposure } from "./config.ts";
import { COMMITTED_QUEUES, ENV, WORKERS, type WorkerKey } from "./workers.ts";

/** A wrangler config as parsed from TOML (wrangler's own reader): plain JSON data. */
export type RawConfig = Record<string, unknown>;

export interface RenderInput {
  /** Each Worker's committed config, parsed. */
  raw: Record<WorkerKey, RawConfig>;
  /** The absolute directory of each committed config (relative paths in it are resolved from there). */
  dirs: Record<WorkerKey, string>;
  config: DeployConfig;
  /** The D1 database's id; null in a dry run that has none (wrangler then builds without it). */
  d1Id: string | null;
}

export class ConfigError extends Error {}

type Obj = Record<string, unknown>;

/** Joins an absolute directory and a relative path, resolving `.` and `..` (POSIX paths). */
export function resolvePath(dir: string, path: string): string {
  if (path.startsWith("/")) return path;
  const parts = dir.split("/").filter(Boolean);
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") parts.pop();
    else parts.push(segment);
  }
  return `/${parts.join("/")}`;
}

/** Renders all four configs; throws a ConfigError naming every inconsistency in the committed files. */
export function renderConfigs(input: RenderInput): Record<WorkerKey, Obj> {
  const problems: string[] = [];
  const out = {} as Record<WorkerKey, Obj>;
  for (const key of Object.keys(WORKERS) as WorkerKey[]) out[key] = renderOne(key, input, problems);
  if (problems.length) throw new ConfigError(problems.join("\n"));
  return out;
}

function renderOne(key: WorkerKey, input: RenderInput, problems: string[]): Obj {
  const { config } = input;
  const dir = input.dirs[key];
  const file = WORKERS[key].config;
  const problem = (text: string) => problems.push(`${file}: ${text}`);
  const rendered = structuredClone(input.raw[key]) as Obj;

  if (typeof rendered.main !== "string") problem("has no main module");
  else rendered.main = resolvePath(dir, rendered.main);
  absoluteMigrations(rendered, dir);
  if (config.accountId) rendered.account_id = config.accountId;

  const envs = rendered.env as Obj | undefined;
  const env = envs?.[ENV] as Obj | undefined;
  if (!env) {
    problem(`has no [env.${ENV}] section`);
    return rendered;
  }
  // Only the production environment is rendered: a deploy must not pick up any other by accident.
  rendered.env = { [ENV]: env };
  // An explicitly empty list in [env.production] (`worker_loaders = []`) means "none in
  // production": the local section's bindings of that kind are left out, so wrangler does not
  // warn that production lacks them.
  for (const [field, value] of Object.entries(env)) {
    if (Array.isArray(value) && value.length === 0) delete rendered[field];
  }
  if (env.name !== WORKERS[key].name) problem(`[env.${ENV}] must set name = "${WORKERS[key].name}" (it is "${String(env.name)}")`);
  absoluteMigrations(env, dir);

  for (const db of list(env.d1_databases)) {
    if (db.binding !== "DB") problem(`unexpected D1 binding ${String(db.binding)}`);
    db.database_name = config.d1.name;
    if (input.d1Id) db.database_id = input.d1Id;
    else delete db.database_id;
  }
  for (const bucket of list(env.r2_buckets)) {
    if (bucket.binding !== "BUCKET") problem(`unexpected R2 binding ${String(bucket.binding)}`);
    bucket.bucket_name = config.r2.bucket;
  }
  for (const ns of list(env.dispatch_namespaces)) {
    ns.namespace = config.dispatchNamespace;
    const outbound = ns.outbound as Obj | undefined;
    if (!outbound || outbound.service !== WORKERS.outbound.name) problem(`the dispatch namespace's outbound Worker must be "${WORKERS.outbound.name}"`);
  }
  const queues = env.queues as Obj | undefined;
  for (const q of [...list(queues?.producers), ...list(queues?.consumers)]) {
    q.queue = renameQueue(q.queue, config, problem);
    if ("dead_letter_queue" in q) q.dead_letter_queue = renameQueue(q.dead_letter_queue, config, problem);
  }

  const vars = { ...((env.vars as Obj | undefined) ?? {}) };
  const platformHosts = [...new Set([...config.platformHosts, ...routeHosts(config.dispatcher.routes), ...routeHosts(config.controlPlane.routes)])];
  if (key === "dispatcher") {
    Object.assign(vars, llmVars(config));
    if (config.llm.workersAi) env.ai = { binding: "AI" };
    if (vars.RUNTIME !== "wfp") problem(`[env.${ENV}] must set RUNTIME = "wfp"`);
    if (!list(env.dispatch_namespaces).length) problem(`[env.${ENV}] needs the DISPATCHER dispatch namespace binding`);
  }
  if (key === "dispatcher" || key === "outbound") {
    if (platformHosts.length) vars.PLATFORM_HOSTS = platformHosts.join(",");
  }
  if (key === "controlPlane") {
    // The control plane checks the default models and tenant keys it stores against the same configuration.
    Object.assign(vars, llmVars(config));
    if (vars.PUBLISHER !== "wfp") problem(`[env.${ENV}] must set PUBLISHER = "wfp"`);
    vars.DISPATCH_NAMESPACE = config.dispatchNamespace;
    vars.DISPATCHER_SCRIPT_NAME = WORKERS.dispatcher.name;
    if (config.accountId) vars.CF_ACCOUNT_ID = config.accountId;
  }
  if (key === "tail") vars.DISPATCH_NAMESPACE = config.dispatchNamespace;
  if (Object.keys(vars).length) env.vars = vars;

  if (key === "dispatcher") expose(env, config.dispatcher);
  if (key === "controlPlane") expose(env, config.controlPlane);
  // The outbound and tail Workers take no requests from the internet.
  if (key === "outbound" || key === "tail") env.workers_dev = false;
  return rendered;
}

function expose(env: Obj, exposure: WorkerExposure): void {
  env.workers_dev = exposure.workersDev;
  if (exposure.routes.length) env.routes = exposure.routes.map((r) => ({ ...r }));
}

function absoluteMigrations(section: Obj, dir: string): void {
  for (const db of list(section.d1_databases)) {
    if (typeof db.migrations_dir === "string") db.migrations_dir = resolvePath(dir, db.migrations_dir);
  }
}

function renameQueue(name: unknown, config: DeployConfig, problem: (text: string) => void): unknown {
  const entry = Object.entries(COMMITTED_QUEUES).find(([, committed]) => committed === name);
  if (!entry) {
    problem(`queue "${String(name)}" is not one the deploy knows (${Object.values(COMMITTED_QUEUES).join(", ")})`);
    return name;
  }
  return config.queues[entry[0] as keyof typeof COMMITTED_QUEUES];
}

function list(value: unknown): Obj[] {
  return Array.isArray(value) ? (value as Obj[]) : [];
}

/** Every resource the rendered configs bind, so a deploy can create what is missing. */
export function resourcesOf(config: DeployConfig): { d1: string; r2: string; namespace: string; queues: string[] } {
  return {
    d1: config.d1.name,
    r2: config.r2.bucket,
    namespace: config.dispatchNamespace,
    queues: [config.queues.runs, config.queues.ledger, config.queues.metering, config.queues.meteringDeadLetter],
  };
}

/** The model gateway's settings as vars (never its secrets: those are put as secrets by name). */
function llmVars(config: DeployConfig): Record<string, string> {
  if (config.llm.gateway) return { LLM_PROVIDERS: config.llm.gateway };
  return {
    LLM_PROVIDER: config.llm.provider,
    ...(config.llm.baseUrl ? { LLM_BASE_URL: config.llm.baseUrl } : {}),
    ...(config.llm.model ? { LLM_MODEL: config.llm.model } : {}),
  };
}
