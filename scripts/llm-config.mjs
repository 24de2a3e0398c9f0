// The model gateway's configuration (core/llm/config.ts) as `npm start` and the deploy script
// read it: the same module the Workers use, bundled for Node, so a bad LLM_PROVIDERS is refused
// with the same words before anything starts.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundleWorkerModule } from "./workers.mjs";

/** @returns {Promise<typeof import("../core/llm/config.ts")>} */
export async function loadGatewayModule(root, outdir) {
  mkdirSync(outdir, { recursive: true });
  const file = join(outdir, "llm-config.mjs");
  await bundleWorkerModule(join(root, "core", "llm", "config.ts"), file);
  return import(`${pathToFileURL(file).href}?t=${Date.now()}`);
}

/**
 * Reads and checks the configuration against `env` (the process's environment): the config's own
 * errors, then each secret it names that is not set. Returns the parsed config and the variables
 * the dispatcher must be given (the setting itself and the named secrets), or the problems.
 */
export async function checkGateway(root, outdir, env) {
  const gateway = await loadGatewayModule(root, outdir);
  let config;
  try {
    config = gateway.gatewayConfig(env);
  } catch (err) {
    return { problems: [err.message] };
  }
  const problems = gateway.environmentProblems(config, env);
  const names = ["LLM_PROVIDERS", "LLM_PROVIDER", "LLM_BASE_URL", "LLM_MODEL", "LLM_API_KEY", ...gateway.secretNames(config).map((s) => s.secret)];
  const vars = Object.fromEntries([...new Set(names)].filter((k) => env[k]).map((k) => [k, env[k]]));
  return { config, problems, vars };
}

/** The configuration without the secrets it names: what the control plane needs to check model names. */
export function gatewaySettings(vars) {
  return Object.fromEntries(["LLM_PROVIDERS", "LLM_PROVIDER", "LLM_BASE_URL", "LLM_MODEL"].filter((k) => vars[k]).map((k) => [k, vars[k]]));
}
