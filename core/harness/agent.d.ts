/**
 * The tenant's main module, as the harness sees it: in the isolate, `./agent` is the module
 * `__isoplane_agent.js`, which re-exports the agent's main module as a namespace (see
 * core/harness/modules.ts). Its shape is the tenant's business, so it is checked at run time.
 */
export declare const agent: { default?: unknown };
