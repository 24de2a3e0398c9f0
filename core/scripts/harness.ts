import { RESERVED_MODULE_PREFIX, type ScriptBundle } from "./bundle";

export const HARNESS_MODULE = `${RESERVED_MODULE_PREFIX}_harness.js`;
const SETUP_MODULE = `${RESERVED_MODULE_PREFIX}_setup.js`;
/** Header on the dispatcher → isolate request that carries `env.RUN`; the agent never sees it. */
export const RUN_HEADER = "x-isoplane-run";
/** Header the harness puts on the agent's outbound fetches: which run the egress policy charges. */
export const EGRESS_RUN_HEADER = "x-isoplane-run-id";
/** Set by the harness when the agent threw, so the dispatcher can tell a throw from a 500 the agent returned. */
export const AGENT_ERROR_HEADER = "x-isoplane-agent-error";

/**
 * Evaluated before any tenant module (the harness imports it first): every fetch() the agent
 * makes is tagged with the run it belongs to, so the platform's egress policy can count it and
 * log denials on that run. Tagging only attributes; the tenant is fixed by the platform.
 */
const setupSource = `import { AsyncLocalStorage } from "node:async_hooks";
export const currentRun = new AsyncLocalStorage();
const platformFetch = globalThis.fetch;
globalThis.fetch = function fetch(input, init) {
  const request = new Request(input, init);
  const run = currentRun.getStore();
  if (run) request.headers.set(${JSON.stringify(EGRESS_RUN_HEADER)}, run);
  return platformFetch(request);
};
`;

/**
 * The platform's main module inside every tenant isolate, locally and on Workers for Platforms.
 * It builds the env the agent sees for one run (`RUN`, `STORAGE`, `LLM`, `SECRETS`) and turns a
 * throw into a short message — never a stack. The isolate is cached per agent version, so
 * per-run facts arrive with each request. Every env entry besides the two platform bindings is
 * one of the agent's secrets (on Workers for Platforms they are the script's secret bindings).
 */
export function harnessSource(agentModule: string): string {
  return `import { currentRun } from "./${SETUP_MODULE}";
import * as agentModule from ${JSON.stringify(`./${agentModule}`)};
const agent = agentModule.default;
function short(err) {
  const text = err instanceof Error ? (err.name && err.name !== "Error" ? err.name + ": " : "") + err.message : String(err);
  const line = text.split("\\n")[0];
  return line.length > 500 ? line.slice(0, 497) + "..." : line;
}
export default {
  async fetch(request, env, ctx) {
    const run = Object.freeze(JSON.parse(request.headers.get(${JSON.stringify(RUN_HEADER)})));
    const id = run.id;
    const { STORAGE, LLM, ...secrets } = env;
    const scoped = Object.freeze({
      RUN: run,
      SECRETS: Object.freeze(secrets),
      STORAGE: Object.freeze({
        get: (key) => STORAGE.get(key, id),
        put: (key, value) => STORAGE.put(key, value, id),
        list: (prefix) => STORAGE.list(prefix ?? "", id),
      }),
      LLM: Object.freeze({ chat: (req) => LLM.chat(req, id) }),
    });
    const headers = new Headers(request.headers);
    headers.delete(${JSON.stringify(RUN_HEADER)});
    try {
      if (!agent || typeof agent.fetch !== "function") {
        throw new TypeError("the module's default export has no fetch(request, env) handler");
      }
      const inner = new Request(request.url, { method: request.method, headers, body: request.body });
      const response = await currentRun.run(id, () => agent.fetch(inner, scoped, ctx));
      if (!(response instanceof Response)) throw new TypeError("fetch() did not return a Response");
      return response;
    } catch (err) {
      return Response.json({ error: short(err) }, { status: 500, headers: { ${JSON.stringify(AGENT_ERROR_HEADER)}: "1" } });
    }
  },
};
`;
}

/** The modules an agent version runs as: the platform's harness and setup beside the tenant's own. */
export function runtimeModules(bundle: ScriptBundle): Record<string, string> {
  return { ...bundle.modules, [SETUP_MODULE]: setupSource, [HARNESS_MODULE]: harnessSource(bundle.mainModule) };
}

/** The harness needs AsyncLocalStorage: `nodejs_als` unless the agent already has Node compatibility. */
export function runtimeFlags(bundle: ScriptBundle): string[] {
  const flags = bundle.compatibilityFlags;
  return flags.some((f) => f === "nodejs_compat" || f === "nodejs_compat_v2" || f === "nodejs_als") ? [...flags] : [...flags, "nodejs_als"];
}
