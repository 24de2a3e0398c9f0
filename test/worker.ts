// The test runtime's main Worker: both platform Workers behind one fetch, chosen by host name,
// so tests drive each through its real HTTP handler over the same local D1 and R2.
import controlPlane from "../control-plane/src/index";
import dispatcher from "../dispatcher/src/index";
import outboundWorker from "../dispatcher/outbound/index";
import type { LedgerMessage, RunMessage } from "../dispatcher/src/env";
import { FAKE_CF } from "./fakes/cloudflare-api";

export { RunObject, TenantEgress, TenantLlm, TenantObject, TenantStorage } from "../dispatcher/src/index";

export const CONTROL_PLANE_HOST = "control-plane.test";
/** The control plane configured with PUBLISHER=wfp against the fake Cloudflare API. */
export const CONTROL_PLANE_WFP_HOST = "control-plane-wfp.test";
/** The dispatcher with its tenants' Durable Objects unreachable (every call throws). */
export const DISPATCHER_NO_QUOTA_HOST = "dispatcher-no-quota.test";

/** Both Workers with a 600 ms body read timeout (BODY_READ_TIMEOUT_MS), for bodies that never arrive. */
export const DISPATCHER_SHORT_READ_HOST = "dispatcher-short-read.test";
export const CONTROL_PLANE_SHORT_READ_HOST = "control-plane-short-read.test";
export const SHORT_READ_TIMEOUT_MS = 600;

/** The dispatcher with SANDBOX_TOKEN set: the routes `npm start`'s sandboxes call back exist. */
export const DISPATCHER_SANDBOX_HOST = "dispatcher-sandbox.test";
export const TEST_SANDBOX_TOKEN = "test-sandbox-token-0123456789";

/** The dispatcher with a 15 s run budget (the tests' default is 3 s): runs watched while they run. */
export const DISPATCHER_LONG_RUNS_HOST = "dispatcher-long-runs.test";

/** The dispatcher with RUNTIME=wfp over a fake dispatch namespace that records every get(). */
export const DISPATCHER_WFP_HOST = "dispatcher-wfp.test";

export interface NamespaceCall {
  name: string;
  args: unknown;
  options: { limits?: Record<string, number>; outbound?: Record<string, string> } | undefined;
}

/**
 * A stand-in for a dispatch_namespaces binding: records calls; each script answers with what it
 * received. A script whose input has `fetch: [url, …]` first fetches each URL the way a user Worker
 * in the namespace does in production: through the namespace's outbound Worker, with the outbound
 * parameters `get()` was given in its env; it reports each response's status and body.
 */
export const fakeNamespace = {
  calls: [] as NamespaceCall[],
  /** The binding as the dispatcher sees it; `env` is the outbound Worker's env (its bindings). */
  binding(env: Cloudflare.Env): DispatchNamespace {
    const get = (name: string, args?: unknown, options?: NamespaceCall["options"]) => {
      this.calls.push({ name, args, options });
      return {
        // Answers in the harness's frame protocol, as a published script would.
        fetch: async (request: Request) => {
          const body = await request.json<{ input?: { fetch?: string[] } }>();
          const output: Record<string, unknown> = { script: name, run: JSON.parse(request.headers.get("x-isoplane-run") ?? "null"), body };
          if (Array.isArray(body.input?.fetch)) {
            const fetched = [];
            for (const url of body.input.fetch) {
              const res = await outboundWorker.fetch(new Request(url), { ...env, ...options?.outbound });
              const text = await res.text();
              let parsed: unknown = text;
              try {
                parsed = JSON.parse(text);
              } catch {}
              fetched.push({ url, status: res.status, body: parsed });
            }
            output.fetched = fetched;
          }
          return new Response(`${JSON.stringify({ type: "output", text: JSON.stringify(output) })}\n`, { headers: { "content-type": "application/x-ndjson" } });
        },
      };
    };
    return { get } as unknown as DispatchNamespace;
  },
};

const unreachable = () => Promise.reject(new Error("Durable Object unreachable"));
const unreachableTenants = {
  idFromName: (name: string) => ({ name }),
  get: () => ({ start: unreachable, request: unreachable, begin: unreachable, release: unreachable, storageReserve: unreachable, storageCommit: unreachable, storageRelease: unreachable }),
} as unknown as Cloudflare.Env["TENANTS"];

export default {
  fetch(request, env, ctx) {
    const host = new URL(request.url).hostname;
    if (host === CONTROL_PLANE_HOST) return controlPlane.fetch(request, env, ctx);
    if (host === CONTROL_PLANE_WFP_HOST) {
      const wfp = { ...env, PUBLISHER: "wfp", CF_ACCOUNT_ID: FAKE_CF.accountId, CF_API_TOKEN: FAKE_CF.token, DISPATCH_NAMESPACE: FAKE_CF.namespace };
      return controlPlane.fetch(request, wfp, ctx);
    }
    if (host === DISPATCHER_WFP_HOST) {
      return dispatcher.fetch(request, { ...env, RUNTIME: "wfp", DISPATCHER: fakeNamespace.binding(env) }, ctx);
    }
    if (host === CONTROL_PLANE_SHORT_READ_HOST) return controlPlane.fetch(request, { ...env, BODY_READ_TIMEOUT_MS: String(SHORT_READ_TIMEOUT_MS) }, ctx);
    if (host === DISPATCHER_SHORT_READ_HOST) return dispatcher.fetch(request, { ...env, BODY_READ_TIMEOUT_MS: String(SHORT_READ_TIMEOUT_MS) }, ctx);
    if (host === DISPATCHER_SANDBOX_HOST) return dispatcher.fetch(request, { ...env, SANDBOX_TOKEN: TEST_SANDBOX_TOKEN }, ctx);
    if (host === DISPATCHER_LONG_RUNS_HOST) return dispatcher.fetch(request, { ...env, RUN_TIMEOUT_MS: "15000" }, ctx);
    if (host === DISPATCHER_NO_QUOTA_HOST) return dispatcher.fetch(request, { ...env, TENANTS: unreachableTenants }, ctx);
    return dispatcher.fetch(request, env, ctx);
  },
  queue: (batch, env, ctx) => dispatcher.queue(batch, env, ctx),
} satisfies ExportedHandler<Cloudflare.Env, RunMessage | LedgerMessage>;
