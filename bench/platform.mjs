// The whole platform in one Miniflare (workerd) process, driven directly: no `wrangler dev` proxy
// in front (it caps throughput at a few hundred req/s). Each Worker gets its own socket on
// 127.0.0.1, so requests reach workerd without Miniflare's entry router in between.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  bundleModules,
  bundleWorkerModule,
  convertV4MiniflareOptions,
  HOST,
  Log,
  LogLevel,
  migrationStatements,
  Miniflare,
  requireFromMiniflare,
  requireFromWrangler,
  workerFromConfig,
  wranglerBundle,
} from "../scripts/workers.mjs";

export const PASSTHROUGH = "passthrough";
/**
 * The dispatcher's entry for the benchmark: dispatcher/src/index.ts with its D1 calls counted
 * (bench/counted-dispatcher.ts), bundled with the dispatcher's own wrangler.toml.
 */
export const COUNTED_DISPATCHER_ENTRY = "bench/counted-dispatcher.ts";

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
 * Builds the three Workers, starts them in one workerd process over one fresh (temporary) D1
 * database and R2 bucket, and applies the migrations.
 */
export async function startPlatform({ root, workdir, adminToken }) {
  const dispatcherBundle = wranglerBundle(root, "wrangler.toml", join(workdir, "dispatcher"), COUNTED_DISPATCHER_ENTRY);
  const controlPlaneBundle = wranglerBundle(root, "control-plane/wrangler.toml", join(workdir, "control-plane"));
  const passthroughScript = join(workdir, PASSTHROUGH, "index.js");
  await bundleWorkerModule(join(root, "bench", "passthrough.ts"), passthroughScript);

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
