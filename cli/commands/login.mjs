// @ts-check
import { ApiClient, ApiError } from "../api.mjs";
import { configPath, DEFAULT_CONTROL_PLANE, DEFAULT_DISPATCHER, keyPrefix, normalizeUrl, readConfig, writeConfig } from "../config.mjs";
import { CliError, UsageError } from "../errors.mjs";
import { promptHidden, readAll } from "../io.mjs";

/** @typedef {import("../command.mjs").CommandContext} CommandContext */
/** @typedef {import("../command.mjs").Command} Command */

/** @type {Command} */
export const command = {
  name: "login",
  summary: "Save the platform's address and your API key",
  usage: `isoplane login [--url <dispatcher>] [--control-plane <url>] [--key <isk_…>]

Checks the key with the platform, then saves it with the addresses in your user config file
(mode 0600). Without --key the key is read from ISOPLANE_API_KEY, else from stdin
(\`echo $KEY | isoplane login\`), else asked for on the terminal.

OPTIONS
  --url <url>            The dispatcher  [default: saved, else ${DEFAULT_DISPATCHER}]
  --control-plane <url>  The control plane  [default: saved, else ${DEFAULT_CONTROL_PLANE}]
  --key <key>            The tenant API key; "-" reads it from stdin

The file is $ISOPLANE_CONFIG, else $XDG_CONFIG_HOME/isoplane/config.json, else
~/.config/isoplane/config.json.`,
  options: {
    url: { type: "string" },
    "control-plane": { type: "string" },
    key: { type: "string" },
  },
  /** @param {CommandContext} ctx */
  async run({ values, positionals, out, env, stdin }) {
    if (positionals.length) throw new UsageError(`Unexpected argument: ${positionals[0]}`, "login");
    const path = configPath(env);
    const stored = await readConfig(path);
    const dispatcher = normalizeUrl(str(values.url) ?? env.ISOPLANE_URL ?? stored.dispatcher ?? DEFAULT_DISPATCHER);
    const controlPlane = normalizeUrl(str(values["control-plane"]) ?? env.ISOPLANE_CONTROL_PLANE_URL ?? stored.controlPlane ?? DEFAULT_CONTROL_PLANE);
    const key = (await readKey(str(values.key), env, stdin, out.stderr)).trim();
    if (!key) throw new CliError("No API key given", ["Pass --key isk_…, set ISOPLANE_API_KEY, or pipe the key into `isoplane login`."]);
    if (/\s/.test(key)) throw new CliError("The API key contains whitespace", ["Give the key alone, as the operator handed it to you (isk_…)."]);

    const client = new ApiClient({ dispatcher, controlPlane, key });
    out.progress(`Checking the key with ${dispatcher}…`);
    const [runsCheck, agentsCheck] = await Promise.allSettled([
      client.json("dispatcher", "GET", "/v1/runs", { query: { limit: 1 } }),
      client.json("controlPlane", "GET", "/v1/agents", { query: { limit: 1 } }),
    ]);
    if (runsCheck.status === "rejected") {
      const err = runsCheck.reason;
      if (err instanceof ApiError && err.status === 403) {
        out.warn(`The key was accepted but may not run agents: ${err.detail || err.title}`);
      } else if (err instanceof ApiError) {
        throw new CliError(`Login failed — ${err.message}`, ["Nothing was saved.", ...err.notes.filter((n) => !n.startsWith("Check the API key"))]);
      } else {
        throw err;
      }
    }
    if (agentsCheck.status === "rejected") {
      const err = agentsCheck.reason;
      if (err instanceof ApiError && err.status === 403) {
        out.warn(`The key cannot deploy agents: ${err.detail || err.title}`);
      } else if (err instanceof ApiError && err.status === 401) {
        out.warn(`The control plane at ${controlPlane} does not know this key; \`isoplane deploy\` will fail`, ["Is --control-plane the same platform as --url?"]);
      } else {
        out.warn(`Could not check the control plane at ${controlPlane}; \`isoplane deploy\` needs it`, err instanceof CliError ? err.notes.slice(0, 1) : [String(err)]);
      }
    }

    await writeConfig(path, { ...stored, dispatcher, controlPlane, key });
    out.success(`Logged in to ${dispatcher} with key ${keyPrefix(key)}`);
    out.log(`  Control plane: ${controlPlane}`);
    out.log(`  Saved to ${path}`);
    return 0;
  },
};

/** @param {unknown} value */
const str = (value) => (typeof value === "string" ? value : undefined);

/**
 * --key, then ISOPLANE_API_KEY, then stdin: piped, or typed at a hidden prompt.
 * @param {string | undefined} flag @param {NodeJS.ProcessEnv} env @param {NodeJS.ReadStream} stdin @param {any} stderr
 */
async function readKey(flag, env, stdin, stderr) {
  if (flag !== undefined && flag !== "-") return flag;
  if (flag === undefined && env.ISOPLANE_API_KEY) return env.ISOPLANE_API_KEY;
  if (stdin.isTTY) return promptHidden("API key (isk_…): ", stdin, stderr);
  return (await readAll(stdin)).toString("utf8");
}
