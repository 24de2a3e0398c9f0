// @ts-check
import { AGENT_NAME_PATTERN } from "../../core/contract.js";
import { readFile, stat, writeFile } from "node:fs/promises";
import { basename, extname, relative, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { ApiClient } from "../api.mjs";
import { loadSettings } from "../config.mjs";
import { CliError, UsageError } from "../errors.mjs";
import { formatBytes, formatDuration } from "../output.mjs";

/** @typedef {import("../command.mjs").CommandContext} CommandContext */
/** @typedef {import("../command.mjs").Command} Command */

const BUILT = new Set([".js", ".mjs"]);
const BUILD_SCRIPT = new URL("../../tenant-template/build.mjs", import.meta.url);

/** @type {Command} */
export const command = {
  name: "deploy",
  summary: "Bundle an agent and upload it as its new active version",
  usage: `isoplane deploy <file> --agent <name> [--no-bundle] [--dry-run] [--outfile <path>]

Bundles <file> (TypeScript or JavaScript, with its imports) into one ES module for the Workers
runtime with esbuild, then uploads it to the control plane. Every upload is a new version and
becomes the active one.

POSITIONALS
  file  The agent's entry module (.ts, .js, .mjs, …)

OPTIONS
  --agent <name>    The agent to deploy to  [default: the file's name, e.g. summarize.ts → summarize]
  --no-bundle       Upload <file> as it is: an already-built .js/.mjs ES module
  --dry-run         Bundle and report the size, upload nothing
  --outfile <path>  Also write the bundle to <path>`,
  options: {
    agent: { type: "string", short: "a" },
    "no-bundle": { type: "boolean" },
    "dry-run": { type: "boolean" },
    outfile: { type: "string" },
  },
  /** @param {CommandContext} ctx */
  async run({ values, positionals, out, env, cwd }) {
    const [file, ...extra] = positionals;
    if (!file) throw new UsageError("Missing the agent's entry file", "deploy");
    if (extra.length) throw new UsageError(`Unexpected argument: ${extra[0]}`, "deploy");
    const entry = resolve(cwd, file);
    const agent = typeof values.agent === "string" ? values.agent : basename(file, extname(file));
    if (!AGENT_NAME_PATTERN.test(agent)) {
      throw values.agent === undefined
        ? new UsageError(`Pass --agent <name>: "${agent}" (from the file name) is not a valid agent name`, "deploy")
        : new CliError(`"${agent}" is not a valid agent name`, ["Agent names are 1–63 lowercase letters, digits and dashes, starting with a letter or digit."]);
    }
    const info = await stat(entry).catch(() => null);
    if (!info?.isFile()) throw new CliError(`No such file: ${file}`);

    const started = Date.now();
    let code;
    if (values["no-bundle"]) {
      if (!BUILT.has(extname(entry))) {
        throw new CliError(`--no-bundle uploads an already-built module: ${file} is not a .js or .mjs file`, ["Leave out --no-bundle to bundle it first."]);
      }
      code = await readFile(entry, "utf8");
    } else {
      out.progress(`Bundling ${relative(cwd, entry) || entry}…`);
      code = await bundle(entry);
    }
    const bytes = Buffer.byteLength(code);
    out.log(`Total Upload: ${formatBytes(bytes)} / gzip: ${formatBytes(gzipSync(code).length)}`);
    if (typeof values.outfile === "string") {
      const outfile = resolve(cwd, values.outfile);
      await writeFile(outfile, code);
      out.log(`Wrote ${relative(cwd, outfile) || outfile}`);
    }
    if (values["dry-run"]) {
      out.log("--dry-run: exiting now, nothing was uploaded.");
      return 0;
    }

    const settings = await loadSettings(env);
    const client = new ApiClient(settings);
    out.progress(`Uploading ${agent} to ${settings.controlPlane}…`);
    /** @type {{ agent: string, version: number, sha256: string, size: number }} */
    const published = await client.json("controlPlane", "PUT", `/v1/agents/${agent}/script`, {
      headers: { "content-type": "application/javascript+module" },
      body: code,
    });
    out.success(`Uploaded ${published.agent} (version ${published.version}, ${formatBytes(published.size)})`);
    out.log(`  sha256: ${published.sha256.slice(0, 12)}`);
    out.log(out.c.dim(`  Took ${formatDuration(Date.now() - started)}. Run it: isoplane run ${published.agent} --input '{…}'`));
    return 0;
  },
};

/**
 * The platform's bundler (tenant-template/build.mjs), with esbuild's errors as wrangler shows them.
 * @param {string} entry
 * @returns {Promise<string>}
 */
async function bundle(entry) {
  /** @type {(entry: string) => Promise<string>} */
  let bundleAgent;
  try {
    // The repository's own agent bundler (what `npm run agent:build` runs), not a copy of it.
    ({ bundleAgent } = await import(BUILD_SCRIPT.href));
  } catch (err) {
    throw new CliError("Could not load the bundler (esbuild)", [
      String(/** @type {Error} */ (err).message),
      "Run `npm ci` in the Isoplane repository, or pass an already-built module with --no-bundle.",
    ]);
  }
  try {
    return await bundleAgent(entry);
  } catch (err) {
    /** @type {{ text: string, location: { file: string, line: number, column: number } | null }[] | undefined} */
    const errors = /** @type {any} */ (err).errors;
    if (!Array.isArray(errors) || errors.length === 0) throw err;
    throw new CliError(
      `Build failed with ${errors.length} error${errors.length === 1 ? "" : "s"}:`,
      errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ERROR: ${e.text}` : `ERROR: ${e.text}`)),
    );
  }
}
