// @ts-check
// Where the CLI keeps the endpoint and key `isoplane login` saved, and how the environment
// overrides them.
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { CliError } from "./errors.mjs";

export const DEFAULT_DISPATCHER = "http://127.0.0.1:8787";
export const DEFAULT_CONTROL_PLANE = "http://127.0.0.1:8788";

/**
 * What `login` stores.
 * @typedef {{ dispatcher?: string, controlPlane?: string, key?: string }} StoredConfig
 */

/**
 * What a command works with: the file's values under the environment's.
 * @typedef {{ dispatcher: string, controlPlane: string, key: string | undefined, path: string,
 *   sources: { dispatcher: string, controlPlane: string, key: string } }} Settings
 */

/**
 * $ISOPLANE_CONFIG, else $XDG_CONFIG_HOME/isoplane/config.json, else ~/.config/isoplane/config.json.
 * @param {NodeJS.ProcessEnv} [env]
 */
export function configPath(env = process.env) {
  if (env.ISOPLANE_CONFIG) return env.ISOPLANE_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "isoplane", "config.json");
}

/**
 * The stored config, `{}` when there is none yet.
 * @param {string} path
 * @returns {Promise<StoredConfig>}
 */
export async function readConfig(path) {
  let text;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code === "ENOENT") return {};
    throw new CliError(`Could not read the config file ${path}`, [String(/** @type {Error} */ (err).message)]);
  }
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliError(`The config file ${path} is not valid JSON`, [
      String(/** @type {Error} */ (err).message),
      "Run `isoplane login` again to rewrite it.",
    ]);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new CliError(`The config file ${path} does not hold a JSON object`, ["Run `isoplane login` again to rewrite it."]);
  }
  /** @type {StoredConfig} */
  const config = {};
  for (const field of /** @type {const} */ (["dispatcher", "controlPlane", "key"])) {
    if (typeof parsed[field] === "string") config[field] = parsed[field];
  }
  return config;
}

/**
 * Writes the config readable by its owner only (0600), atomically: a crash never leaves half a file.
 * @param {string} path
 * @param {StoredConfig} config
 */
export async function writeConfig(path, config) {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    await chmod(temporary, 0o600);
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true });
    throw new CliError(`Could not write the config file ${path}`, [String(/** @type {Error} */ (err).message)]);
  }
}

/** Trailing slashes off, so paths can be appended. @param {string} url */
export function normalizeUrl(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(`"${url}" is not a URL`, ["Give an absolute http(s) URL, e.g. http://127.0.0.1:8787."]);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new CliError(`"${url}" is not an http(s) URL`);
  }
  return parsed.href.replace(/\/+$/, "");
}

/**
 * The settings a command uses: ISOPLANE_URL, ISOPLANE_CONTROL_PLANE_URL and ISOPLANE_API_KEY
 * override the config file, which overrides the local defaults.
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {Promise<Settings>}
 */
export async function loadSettings(env = process.env) {
  const path = configPath(env);
  const stored = await readConfig(path);
  /** @param {string | undefined} fromEnv @param {string} envName @param {string | undefined} fromFile @param {string} fallback */
  const pick = (fromEnv, envName, fromFile, fallback) =>
    fromEnv ? { value: fromEnv, source: envName } : fromFile ? { value: fromFile, source: path } : { value: fallback, source: "default" };
  const dispatcher = pick(env.ISOPLANE_URL, "ISOPLANE_URL", stored.dispatcher, DEFAULT_DISPATCHER);
  const controlPlane = pick(env.ISOPLANE_CONTROL_PLANE_URL, "ISOPLANE_CONTROL_PLANE_URL", stored.controlPlane, DEFAULT_CONTROL_PLANE);
  const key = env.ISOPLANE_API_KEY ? { value: env.ISOPLANE_API_KEY, source: "ISOPLANE_API_KEY" } : stored.key ? { value: stored.key, source: path } : { value: undefined, source: "none" };
  return {
    dispatcher: normalizeUrl(dispatcher.value),
    controlPlane: normalizeUrl(controlPlane.value),
    key: key.value,
    path,
    sources: { dispatcher: dispatcher.source, controlPlane: controlPlane.source, key: key.source },
  };
}

/** "isk_BSZipl…" — enough to tell keys apart, never the secret. @param {string} key */
export function keyPrefix(key) {
  return `${key.slice(0, 10)}…`;
}
