import { RESERVED_MODULE_PREFIX, type ScriptBundle } from "../scripts/bundle";
import { HARNESS_SOURCE, SETUP_SOURCE } from "./bundled";

/** The isolate's main module: the platform's harness (core/harness/main.ts). */
export const HARNESS_MODULE = `${RESERVED_MODULE_PREFIX}_harness.js`;
const SETUP_MODULE = `${RESERVED_MODULE_PREFIX}_setup.js`;
const AGENT_MODULE = `${RESERVED_MODULE_PREFIX}_agent.js`;

/**
 * The modules an agent version runs as: the harness and its setup beside the tenant's own, and a
 * one-line module handing the harness the tenant's main module as a namespace (so a module with
 * no default export still loads, and the harness says what is missing).
 */
export function runtimeModules(bundle: ScriptBundle): Record<string, string> {
  const agent = `import * as agent from ${JSON.stringify(`./${bundle.mainModule}`)};\nexport { agent };\n`;
  return { ...bundle.modules, [SETUP_MODULE]: SETUP_SOURCE, [AGENT_MODULE]: agent, [HARNESS_MODULE]: HARNESS_SOURCE };
}

/** The harness needs AsyncLocalStorage: `nodejs_als` unless the agent already has Node compatibility. */
export function runtimeFlags(bundle: ScriptBundle): string[] {
  const flags = bundle.compatibilityFlags;
  return flags.some((f) => f === "nodejs_compat" || f === "nodejs_compat_v2" || f === "nodejs_als") ? [...flags] : [...flags, "nodejs_als"];
}
