// Running the platform's Workers straight on Miniflare/workerd, without `wrangler dev`'s proxy in
// front (it caps throughput at a few hundred requests a second and hangs on a Content-Length
// that never arrives): bundles made exactly as a deploy makes them, options read from each
// Worker's wrangler.toml. Used by `npm start` (scripts/start.mjs) and `npm run bench`.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, extname, join } from "node:path";
import { build } from "esbuild";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig, unstable_splitSqlQuery } from "wrangler";

// Miniflare from wrangler's own dependency tree, so the runtime is the one `wrangler dev` uses.
const requireFromWrangler = createRequire(createRequire(import.meta.url).resolve("wrangler"));
export const { Miniflare, Log, LogLevel, convertV4MiniflareOptions } = await import(requireFromWrangler.resolve("miniflare"));
export const requireFromMiniflare = createRequire(requireFromWrangler.resolve("miniflare"));
export { requireFromWrangler };
export const HOST = "127.0.0.1";

/**
 * Bundles a Worker exactly as a deploy would (same esbuild settings, nodejs_compat polyfills);
 * `entry` replaces the config's `main` (the config still gives bindings and build settings).
 */
export function wranglerBundle(root, config, outdir, entry) {
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

export const MODULE_TYPES = { ".js": "ESModule", ".mjs": "ESModule", ".wasm": "CompiledWasm", ".txt": "Text", ".html": "Text", ".sql": "Text", ".bin": "Data" };

/** Every module wrangler wrote, the entry first (a bundle may come with wasm or text modules). */
export function bundleModules(outdir, main = "index.js") {
  const files = readdirSync(outdir, { recursive: true }).filter((f) => MODULE_TYPES[extname(f)] !== undefined);
  if (!files.includes(main)) throw new Error(`no ${main} in ${outdir}`);
  const ordered = [main, ...files.filter((f) => f !== main)];
  return { modulesRoot: outdir, modules: ordered.map((f) => ({ type: MODULE_TYPES[extname(f)], path: join(outdir, f) })) };
}

/** The Worker's name in its wrangler.toml (other Workers' bindings name it: Durable Objects' script_name). */
export function workerName(root, config) {
  const { name } = unstable_readConfig({ config: join(root, config) });
  if (!name) throw new Error(`${config} has no name`);
  return name;
}

/**
 * Miniflare options for one Worker, read from its wrangler.toml (bindings, compatibility settings,
 * Durable Objects, queue producers and consumers, Worker Loader…), so the benchmark follows the
 * config as it changes. The Worker keeps its configured name, so cross-Worker bindings resolve.
 */
export function workerFromConfig(root, config, bundle, bindings, port = 0) {
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
    unsafeDirectSockets: [{ host: HOST, port }],
  };
}

/** Splits the drizzle migrations into single statements, in file order. */
export function migrationStatements(root) {
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


/** One Worker module bundled with esbuild for workerd (ESM, `cloudflare:*` left to the runtime). */
export async function bundleWorkerModule(entry, outfile) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    external: ["cloudflare:*"],
    logLevel: "warning",
  });
}
