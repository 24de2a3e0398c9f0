import { RESERVED_MODULE_PREFIX } from "../../../core/scripts/bundle";

export const HARNESS_MODULE = `${RESERVED_MODULE_PREFIX}_harness.js`;
/** Header on the dispatcher → isolate request that carries `env.RUN`; the agent never sees it. */
export const RUN_HEADER = "x-isoplane-run";
/** Set by the harness when the agent threw, so the dispatcher can tell a throw from a 500 the agent returned. */
export const AGENT_ERROR_HEADER = "x-isoplane-agent-error";

/**
 * The platform's main module inside every tenant isolate. It builds the env the agent sees for
 * one run (`RUN`, `STORAGE`, `LLM`) and turns a throw into a short message — never a stack.
 * The isolate is cached per agent version, so per-run facts arrive with each request.
 */
export function harnessSource(agentModule: string): string {
  return `import * as agentModule from ${JSON.stringify(`./${agentModule}`)};
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
    const scoped = Object.freeze({
      RUN: run,
      STORAGE: Object.freeze({
        get: (key) => env.STORAGE.get(key, id),
        put: (key, value) => env.STORAGE.put(key, value, id),
        list: (prefix) => env.STORAGE.list(prefix ?? "", id),
      }),
      LLM: Object.freeze({ chat: (req) => env.LLM.chat(req, id) }),
    });
    const headers = new Headers(request.headers);
    headers.delete(${JSON.stringify(RUN_HEADER)});
    try {
      if (!agent || typeof agent.fetch !== "function") {
        throw new TypeError("the module's default export has no fetch(request, env) handler");
      }
      const response = await agent.fetch(new Request(request.url, { method: request.method, headers, body: request.body }), scoped, ctx);
      if (!(response instanceof Response)) throw new TypeError("fetch() did not return a Response");
      return response;
    } catch (err) {
      return Response.json({ error: short(err) }, { status: 500, headers: { ${JSON.stringify(AGENT_ERROR_HEADER)}: "1" } });
    }
  },
};
`;
}
