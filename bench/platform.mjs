// The whole platform in one Miniflare (workerd) process, driven directly: no `wrangler dev` proxy
// in front (it caps throughput at a few hundred req/s). Each Worker gets its own socket on
// 127.0.0.1, so requests reach workerd without Miniflare's entry router in between.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, extname, join } from "node:path";
import { build } from "esbuild";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig, unstable_splitSqlQuery } from "wrangler";

// Miniflare from wrangler's own dependency tree, so the runtime is the one `wrangler dev` uses.
const requireFromWrangler = createRequire(createRequire(import.meta.url).resolve("wrangler"));
const { Miniflare, Log, LogLevel, convertV4MiniflareOptions } = await import(requireFromWrangler.resolve("miniflare"));
const requireFromMiniflare = createRequire(requireFromWrangler.resolve("miniflare"));

export const PASSTHROUGH = "passthrough";
/**
 * The dispatcher's entry for the benchmark: dispatcher/src/index.ts with its D1 calls counted
 * (bench/counted-dispatcher.ts), bundled with the dispatcher's own wrangler.toml.
 */
export const COUNTED_DISPATCHER_ENTRY = "bench/counted-dispatcher.ts";
const HOST = "127.0.0.1";

/** Versions of the pieces that run the benchmark. */
export function toolVersions(root) {
  const workerdPackage = requireFromMiniflare.resolve("workerd/package.json");
  const workerdBin = join(workerdPackage, "..", "bin", "workerd");
  const run = spawnSync(workerdBin, ["--version"], { encoding: "utf8" });
  return {
    workerd: `${run.stdout.trim() || "?"} (npm workerd ${requireFromMiniflare("workerd/package.json").version})`,
    miniflare: requireFromWrangler("miniflare/package.json").version,
    wrangler: JSON.parse(readFileSync(join(root, "node_modules", "wrangler", "package.json"), "utf8")).version,
  };
}

/**
 * Bundles a Worker exactly as a deploy would (same esbuild settings, nodejs_compat polyfills);
 * `entry` replaces the config's `main` (the config still gives bindings and build settings).
 */
function wranglerBundle(root, config, outdir, entry) {
  const wrangler = join(root, "node_modules", ".bin", "wrangler");
  // --env "": the top-level (local) configuration, which is what the benchmark runs, not [env.*].
  const args = ["deploy", "--dry-run", "--env", "", "--config", config, "--outdir", outdir, ...(entry ? [entry] : [])];
  const result = spawnSync(wrangler, args, {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  if (result.status !== 0) {
    throw new Error(`wrangler ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
  }
  // wrangler names the bundle after the entry: index.js for the config's main, <entry>.js otherwise.
  return bundleModules(outdir, entry ? `${basename(entry, extname(entry))}.js` : "index.js");
}

const MODULE_TYPES = { ".js": "ESModule", ".mjs": "ESModule", ".wasm": "CompiledWasm", ".txt": "Text", ".html": "Text", ".sql": "Text", ".bin": "Data" };

/** Every module wrangler wrote, the entry first (a bundle may come with wasm or text modules). */
function bundleModules(outdir, main = "index.js") {
  const files = readdirSync(outdir, { recursive: true }).filter((f) => MODULE_TYPES[extname(f)] !== undefined);
  if (!files.includes(main)) throw new Error(`no ${main} in ${outdir}`);
  const ordered = [main, ...files.filter((f) => f !== main)];
  return { modulesRoot: outdir, modules: ordered.map((f) => ({ type: MODULE_TYPES[extname(f)], path: join(outdir, f) })) };
}

/** The Worker's name in its wrangler.toml (other Workers' bindings name it: Durable Objects' script_name). */
function workerName(root, config) {
  const { name } = unstable_readConfig({ config: join(root, config) });
  if (!name) throw new Error(`${config} has no name`);
  return name;
}

/**
 * Miniflare options for one Worker, read from its wrangler.toml (bindings, compatibility settings,
 * Durable Objects, queue producers and consumers, Worker Loader…), so the benchmark follows the
 * config as it changes. The Worker keeps its configured name, so cross-Worker bindings resolve.
 */
function workerFromConfig(root, config, bundle, bindings) {
  const name = workerName(root, config);
  const { workerOptions, externalWorkers } = unstable_getMiniflareWorkerOptions(join(root, config), undefined);
  if (externalWorkers.length > 0) throw new Error(`${config}: external workers are not supported by the benchmark`);
  // modulesRules only matter when Miniflare finds modules itself; the bundle lists them all.
  const { modulesRules: _, ...options } = workerOptions;
  return {
    ...options,
    name,
    rootPath: root,
    ...bundle,
    bindings: { ...workerOptions.bindings, ...bindings },
    unsafeDirectSockets: [{ host: HOST, port: 0 }],
  };
}

/** Splits the drizzle migrations into single statements, in file order. */
function migrationStatements(root) {
  const dir = join(root, "migrations");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .flatMap((f) =>
      readFileSync(join(dir, f), "utf8")
        .split("--> statement-breakpoint")
        .flatMap((chunk) => unstable_splitSqlQuery(chunk))
        .map((s) => s.trim())
        .filter((s) => s !== ""),
    );
}

/**
 * Builds the three Workers, starts them in one workerd process over one fresh (temporary) D1
 * database and R2 bucket, and applies the migrations.
 */
export async function startPlatform({ root, workdir, adminToken }) {
  const dispatcherBundle = wranglerBundle(root, "wrangler.toml", join(workdir, "dispatcher"), COUNTED_DISPATCHER_ENTRY);
  const controlPlaneBundle = wranglerBundle(root, "control-plane/wrangler.toml", join(workdir, "control-plane"));
  const passthroughScript = join(workdir, PASSTHROUGH, "index.js");
  await build({
    entryPoints: [join(root, "bench", "passthrough.ts")],
    outfile: passthroughScript,
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    external: ["cloudflare:*"],
    logLevel: "warning",
  });

  const secretsKey = randomBytes(32).toString("base64");
  const dispatcher = workerFromConfig(root, "wrangler.toml", dispatcherBundle, {
    SECRETS_KEY: secretsKey,
    LLM_PROVIDER: "builtin",
  });
  const controlPlane = workerFromConfig(root, "control-plane/wrangler.toml", controlPlaneBundle, {
    ADMIN_TOKEN: adminToken,
    SECRETS_KEY: secretsKey,
  });
  if (!dispatcher.workerLoaders?.LOADER) throw new Error("wrangler.toml has no [[worker_loaders]] LOADER binding");
  // The ledger and runs queues must be produced and consumed in this process (the run index and
  // usage reach D1 only through the ledger consumer).
  const consumed = Object.keys(dispatcher.queueConsumers ?? {});
  for (const { queueName } of Object.values(dispatcher.queueProducers ?? {})) {
    if (!consumed.includes(queueName)) throw new Error(`wrangler.toml: queue ${queueName} is produced but not consumed by the dispatcher`);
  }
  const passthrough = {
    name: PASSTHROUGH,
    ...bundleModules(join(workdir, PASSTHROUGH)),
    // The dispatcher's runtime settings and the bindings its LocalRuntime reads.
    compatibilityDate: dispatcher.compatibilityDate,
    compatibilityFlags: dispatcher.compatibilityFlags,
    workerLoaders: { LOADER: dispatcher.workerLoaders.LOADER },
    r2Buckets: { BUCKET: dispatcher.r2Buckets.BUCKET },
    d1Databases: { DB: dispatcher.d1Databases.DB },
    // The durability floor's per-run record (bench/passthrough.ts).
    durableObjects: { FLOOR: { className: "FloorRun", useSQLite: true } },
    bindings: { SECRETS_KEY: secretsKey },
    unsafeDirectSockets: [{ host: HOST, port: 0 }],
  };

  // No resourcePersistencePath: state lives in a temporary directory Miniflare removes on dispose.
  // Options are written in Miniflare's v4 shape (what wrangler's config reader returns) and
  // converted the way wrangler itself does.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: HOST,
      port: 0,
      log: new Log(LogLevel.WARN),
      // Offline: no fetch of the real Request.cf from Cloudflare, and no per-request logging.
      cf: false,
      logRequests: false,
      workers: [dispatcher, controlPlane, passthrough],
    }),
  );
  await mf.ready;

  // From Node, outside the Workers: neither applying the schema nor the benchmark's own checks are
  // counted by the dispatcher's D1 counters.
  const db = await mf.getD1Database("DB", controlPlane.name);
  await db.batch(migrationStatements(root).map((sql) => db.prepare(sql)));

  const url = async (name) => (await mf.unsafeGetDirectURL(name)).href.replace(/\/$/, "");
  return {
    mf,
    db,
    queues: { producers: dispatcher.queueProducers ?? {}, consumers: dispatcher.queueConsumers ?? {} },
    urls: { dispatcher: await url(dispatcher.name), controlPlane: await url(controlPlane.name), passthrough: await url(PASSTHROUGH) },
  };
}

/** The workerd processes Miniflare spawned (children of this process, and theirs). */
export function workerdPids() {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(entry);
    if (stat) (children.get(stat.ppid) ?? children.set(stat.ppid, []).get(stat.ppid)).push({ pid: entry, ...stat });
  }
  const found = [];
  const walk = (pid) => {
    for (const child of children.get(String(pid)) ?? []) {
      if (child.comm.startsWith("workerd")) found.push(child.pid);
      walk(child.pid);
    }
  };
  walk(process.pid);
  return found;
}

/** utime + stime of a process (all its threads), in clock ticks. */
export function cpuTicks(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const stat = procStat(pid);
    if (!stat) throw new Error(`workerd process ${pid} is gone`);
    ticks += stat.utime + stat.stime;
  }
  return ticks;
}

function procStat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // comm may hold spaces or parentheses: the fields after it start at the last ")".
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const fields = text.slice(close + 2).split(" ");
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  return { comm, ppid: fields[1], utime: Number(fields[11]), stime: Number(fields[12]) };
}

/** Whole-machine CPU from /proc/stat, in clock ticks: busy time (all processes) and hypervisor steal. */
export function machineTicks() {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8")
    .split("\n")[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return { busy: user + nice + system + irq + softirq, steal };
}

export function clockTicksPerSecond() {
  const run = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(run.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}
