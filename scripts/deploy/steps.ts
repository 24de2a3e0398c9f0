// What `npm run deploy` does, as wrangler invocations through an injected runner: the script
// runs them with the real wrangler, the tests with a fake that answers like wrangler does.
// Every resource is listed before it is created, so running the deploy again changes nothing
// that is already there.
import type { DeployConfig } from "./config.ts";
import { renderConfigs, resourcesOf, type RawConfig } from "./render.ts";
import { DEPLOY_ORDER, ENV, WORKERS, type WorkerKey } from "./workers.ts";

export interface WranglerResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Runner {
  /** Runs `wrangler <args>`; `input` is written to its stdin (secret values never go on the command line). */
  wrangler(args: string[], options?: { input?: string }): Promise<WranglerResult>;
  /** Writes a rendered config (git-ignored) and returns its path. */
  writeConfig(worker: WorkerKey, config: Record<string, unknown>): Promise<string>;
  log(line: string): void;
}

export class DeployError extends Error {}

export interface DeployInput {
  config: DeployConfig;
  raw: Record<WorkerKey, RawConfig>;
  dirs: Record<WorkerKey, string>;
  /** Secrets per Worker, from the environment (empty with --skip-secrets). */
  secrets: Record<WorkerKey, { name: string; value: string }[]>;
}

export interface DeployResult {
  d1Id: string;
  created: string[];
  /** What each Worker was deployed to (workers.dev URLs, custom domains, routes) and its version. */
  workers: Record<WorkerKey, { urls: string[]; routes: string[]; versionId: string | null }>;
}

// ANSI escape sequences (colours), which wrangler prints unless told not to.
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;
export const stripAnsi = (text: string) => text.replace(ANSI, "");

/** `wrangler d1 list --json`: `[{ uuid, name, … }]`. */
export function parseD1List(stdout: string): { uuid: string; name: string }[] {
  const text = stripAnsi(stdout);
  // The JSON array starts a line; anything before it (a notice) is not part of it.
  const start = /^\s*\[/m.exec(text);
  let list: { uuid?: unknown; name?: unknown }[] | null = null;
  try {
    if (start) list = JSON.parse(text.slice(start.index, text.lastIndexOf("]") + 1)) as { uuid?: unknown; name?: unknown }[];
  } catch {}
  if (!Array.isArray(list)) throw new DeployError(`unexpected output from wrangler d1 list --json:\n${text.slice(0, 500)}`);
  return list.filter((d) => typeof d.uuid === "string" && typeof d.name === "string").map((d) => ({ uuid: d.uuid as string, name: d.name as string }));
}

/** `wrangler r2 bucket list` (no JSON output): `name:  <bucket>` / `creation_date: …` blocks. */
export function parseR2BucketList(stdout: string): string[] {
  return [...stripAnsi(stdout).matchAll(/^\s*name:\s+(\S+)\s*$/gm)].map((m) => m[1]!);
}

/** `wrangler dispatch-namespace list` (no JSON output): the API's objects, printed by the logger. */
export function parseNamespaceList(stdout: string): string[] {
  return [...stripAnsi(stdout).matchAll(/["']?namespace_name["']?\s*:\s*["']([^"']+)["']/g)].map((m) => m[1]!);
}

/** `wrangler queues list` (no JSON output): a table whose header row names the `name` column. */
export function parseQueueList(stdout: string): string[] {
  const rows = stripAnsi(stdout)
    .split("\n")
    .filter((l) => /^\s*[│|]/.test(l))
    .map((l) => l.trim().replace(/^[│|]|[│|]$/g, "").split(/[│|]/).map((c) => c.trim()));
  const header = rows.findIndex((r) => r.includes("name"));
  if (header < 0) return [];
  const column = rows[header]!.indexOf("name");
  return rows.slice(header + 1).map((r) => r[column] ?? "").filter(Boolean);
}

/** `wrangler deploy`: the triggers it printed (URLs, custom domains, routes) and the version id. */
export function parseDeployOutput(stdout: string): { urls: string[]; routes: string[]; versionId: string | null } {
  const lines = stripAnsi(stdout).split("\n").map((l) => l.trim());
  const urls: string[] = [];
  const routes: string[] = [];
  for (const line of lines) {
    const url = /^(https?:\/\/\S+)$/.exec(line);
    if (url) urls.push(url[1]!);
    const domain = /^(\S+) \(custom domain\)$/.exec(line);
    if (domain) urls.push(`https://${domain[1]}`);
    if (/^\S+\/\S* \(zone (?:name|id): \S+\)$/.test(line)) routes.push(line);
  }
  const version = /Current Version ID:\s*([0-9a-f-]{36})/i.exec(lines.join("\n"));
  return { urls, routes, versionId: version ? version[1]! : null };
}

/** The warnings in wrangler's output (`▲ [WARNING] …` with the indented lines under it). */
export function wranglerWarnings(output: string): string[] {
  const lines = stripAnsi(output).split("\n");
  const warnings: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.includes("[WARNING]")) continue;
    const block = [lines[i]!.replace(/^.*\[WARNING\]\s*/, "")];
    while (i + 1 < lines.length && (lines[i + 1]!.startsWith(" ") || lines[i + 1]!.trim() === "")) {
      const next = lines[++i]!.trim();
      if (next) block.push(next);
    }
    warnings.push(block.join("\n"));
  }
  return warnings;
}

/** The arguments of the dry-run build of one rendered config. */
export function dryRunArgs(configPath: string, outdir: string): string[] {
  return ["deploy", "--dry-run", "--env", ENV, "--config", configPath, "--outdir", outdir];
}

async function must(runner: Runner, args: string[], options?: { input?: string }): Promise<WranglerResult> {
  const result = await runner.wrangler(args, options);
  if (result.code !== 0) {
    const output = stripAnsi(`${result.stdout}\n${result.stderr}`).trim().split("\n").slice(-20).join("\n");
    throw new DeployError(`wrangler ${args.join(" ")} failed (exit ${result.code}):\n${output}`);
  }
  return result;
}

/** The R2 lifecycle rule that expires archived run logs (`runs/…`) the runs' objects did not delete. */
export const RUN_LOGS_RULE = "isoplane-run-logs";
export const RUN_LOGS_EXPIRE_DAYS = 3660;

/**
 * The whole deploy: checks the credentials; finds or creates the D1 database, R2 bucket,
 * dispatch namespace and queues; renders the configs with the database's id; applies the D1
 * migrations remotely; then, Worker by Worker in dependency order, sets its secrets and deploys
 * it. Stops at the first failure (everything before it is idempotent, so running it again resumes).
 */
export async function deploy(input: DeployInput, runner: Runner): Promise<DeployResult> {
  const { config } = input;
  const wanted = resourcesOf(config);
  const created: string[] = [];

  runner.log("Checking the Cloudflare credentials (wrangler whoami)…");
  const who = await runner.wrangler(["whoami", "--json"]);
  if (who.code !== 0) throw new DeployError("wrangler is not authenticated: set CLOUDFLARE_API_TOKEN (and CLOUDFLARE_ACCOUNT_ID), or run `npx wrangler login`");

  // D1: by name; an id in the deploy config must name an existing database.
  const findD1 = async () => parseD1List((await must(runner, ["d1", "list", "--json"])).stdout);
  let databases = await findD1();
  let db = config.d1.id ? databases.find((d) => d.uuid === config.d1.id) : databases.find((d) => d.name === wanted.d1);
  if (config.d1.id && !db) throw new DeployError(`d1.id ${config.d1.id} is not a D1 database in this account`);
  if (db && db.name !== wanted.d1) throw new DeployError(`d1.id ${db.uuid} is the database "${db.name}", not "${wanted.d1}" (d1.name)`);
  if (!db) {
    runner.log(`Creating D1 database ${wanted.d1}…`);
    await must(runner, ["d1", "create", wanted.d1, ...(config.d1.location ? ["--location", config.d1.location] : [])]);
    created.push(`D1 database ${wanted.d1}`);
    databases = await findD1();
    db = databases.find((d) => d.name === wanted.d1);
    if (!db) throw new DeployError(`D1 database ${wanted.d1} was created but is not listed`);
  }

  const buckets = parseR2BucketList((await must(runner, ["r2", "bucket", "list"])).stdout);
  if (!buckets.includes(wanted.r2)) {
    runner.log(`Creating R2 bucket ${wanted.r2}…`);
    await must(runner, ["r2", "bucket", "create", wanted.r2, ...(config.r2.location ? ["--location", config.r2.location] : [])]);
    created.push(`R2 bucket ${wanted.r2}`);
  }

  // Run logs are deleted by their runs' objects after each tenant's retention; the bucket's
  // lifecycle rule is the backstop, a year past the longest retention (3,650 days).
  const rules = await must(runner, ["r2", "bucket", "lifecycle", "list", wanted.r2]);
  if (!rules.stdout.includes(RUN_LOGS_RULE)) {
    runner.log(`Adding the lifecycle rule ${RUN_LOGS_RULE} (runs/, ${RUN_LOGS_EXPIRE_DAYS} days) to ${wanted.r2}…`);
    await must(runner, ["r2", "bucket", "lifecycle", "add", wanted.r2, RUN_LOGS_RULE, "runs/", "--expire-days", String(RUN_LOGS_EXPIRE_DAYS), "--force"]);
    created.push(`R2 lifecycle rule ${RUN_LOGS_RULE}`);
  }

  const namespaces = parseNamespaceList((await must(runner, ["dispatch-namespace", "list"])).stdout);
  if (!namespaces.includes(wanted.namespace)) {
    runner.log(`Creating dispatch namespace ${wanted.namespace}…`);
    await must(runner, ["dispatch-namespace", "create", wanted.namespace]);
    created.push(`dispatch namespace ${wanted.namespace}`);
  }

  // Queues are listed a page at a time; stop at an empty page or one seen before.
  const queues = new Set<string>();
  for (let page = 1; page <= 50; page++) {
    const names = parseQueueList((await must(runner, ["queues", "list", "--page", String(page)])).stdout);
    if (!names.length || names.every((n) => queues.has(n))) break;
    for (const n of names) queues.add(n);
  }
  for (const queue of wanted.queues) {
    if (queues.has(queue)) continue;
    runner.log(`Creating queue ${queue}…`);
    await must(runner, ["queues", "create", queue]);
    created.push(`queue ${queue}`);
  }

  const rendered = renderConfigs({ raw: input.raw, dirs: input.dirs, config, d1Id: db.uuid });
  const paths = {} as Record<WorkerKey, string>;
  for (const key of DEPLOY_ORDER) paths[key] = await runner.writeConfig(key, rendered[key]);

  runner.log(`Applying D1 migrations to ${wanted.d1} (remote)…`);
  await must(runner, ["d1", "migrations", "apply", "DB", "--remote", "--env", ENV, "--config", paths.dispatcher]);

  const workers = {} as DeployResult["workers"];
  for (const key of DEPLOY_ORDER) {
    // Secrets first: `secret put` on a Worker that does not exist yet creates it empty, and the
    // deploy below then runs with its secrets from its first request on.
    for (const secret of input.secrets[key]) {
      runner.log(`Setting secret ${secret.name} on ${WORKERS[key].name}…`);
      await must(runner, ["secret", "put", secret.name, "--env", ENV, "--config", paths[key]], { input: secret.value });
    }
    runner.log(`Deploying the ${WORKERS[key].label} (${WORKERS[key].name})…`);
    const result = await must(runner, ["deploy", "--env", ENV, "--config", paths[key]]);
    workers[key] = parseDeployOutput(result.stdout);
  }
  return { d1Id: db.uuid, created, workers };
}
