// The test runtime's main Worker: both platform Workers behind one fetch, chosen by host name,
// so tests drive each through its real HTTP handler over the same local D1 and R2. The runtime's
// env is the root wrangler.toml's (the dispatcher's) plus the test bindings (vitest.config.ts);
// each Worker — and the dispatcher's Durable Objects and entrypoints — gets only its own part of
// it: the bindings its own wrangler config declares (its generated worker-bindings.ts) and the
// secrets and settings its env.ts lists. A binding a Worker's config lacks is missing in the tests
// too; the test-only bindings (TEST_MIGRATIONS, EXAMPLE_AGENT, …) reach test code alone.
import { CONTROL_PLANE_SETTINGS, type ControlPlaneEnv } from "../control-plane/src/env";
import controlPlane from "../control-plane/src/index";
import { CONTROL_PLANE_BINDINGS } from "../control-plane/worker-bindings";
import { OUTBOUND_SETTINGS, type OutboundEnv } from "../dispatcher/outbound/env";
import outboundWorker from "../dispatcher/outbound/index";
import { OUTBOUND_BINDINGS } from "../dispatcher/outbound/worker-bindings";
import { DISPATCHER_SETTINGS, type DispatcherEnv, type LedgerMessage, type RunMessage } from "../dispatcher/src/env";
import dispatcher, * as dispatcherExports from "../dispatcher/src/index";
import { DISPATCHER_BINDINGS } from "../dispatcher/worker-bindings";
import { FAKE_CF } from "./fakes/cloudflare-api";
import { gatewayConfig, secretNames, type GatewaySettings } from "../core/llm/config";

/** `env` cut down to `names`, then `over` on top (each of which must be one of `names` too). */
function own<E>(worker: string, names: readonly string[], env: object, over: Partial<E> = {}): E {
  const all = env as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const name of names) if (all[name] !== undefined) out[name] = all[name];
  for (const [name, value] of Object.entries(over)) {
    if (!names.includes(name)) throw new Error(`test/worker.ts: ${name} is not in the ${worker}'s env (its wrangler config or its env.ts list)`);
    out[name] = value;
  }
  return out as E;
}
const DISPATCHER_NAMES = [...DISPATCHER_BINDINGS, ...DISPATCHER_SETTINGS];
const CONTROL_PLANE_NAMES = [...CONTROL_PLANE_BINDINGS, ...CONTROL_PLANE_SETTINGS];
const OUTBOUND_NAMES = [...OUTBOUND_BINDINGS, ...OUTBOUND_SETTINGS];
/** The secrets the model gateway's configuration names: the dispatcher reads them by those names. */
const providerSecrets = (env: object) => secretNames(gatewayConfig(env as GatewaySettings)).map((s) => s.secret);
export const dispatcherEnv = (env: object, over?: Partial<DispatcherEnv>) => own<DispatcherEnv>("dispatcher", [...DISPATCHER_NAMES, ...providerSecrets(env)], env, over);
export const controlPlaneEnv = (env: object, over?: Partial<ControlPlaneEnv>) => own<ControlPlaneEnv>("control plane", CONTROL_PLANE_NAMES, env, over);
export const outboundEnv = (env: object, over?: Partial<OutboundEnv>) => own<OutboundEnv>("outbound Worker", OUTBOUND_NAMES, env, over);

// The dispatcher's Durable Objects and entrypoints, constructed with the dispatcher's env alone.
export class TenantObject extends dispatcherExports.TenantObject {
  constructor(ctx: DurableObjectState, env: DispatcherEnv) {
    super(ctx, dispatcherEnv(env));
  }
}
export class RunObject extends dispatcherExports.RunObject {
  constructor(ctx: DurableObjectState, env: DispatcherEnv) {
    super(ctx, dispatcherEnv(env));
  }
}
export class TenantEgress extends dispatcherExports.TenantEgress {
  constructor(ctx: ConstructorParameters<typeof dispatcherExports.TenantEgress>[0], env: DispatcherEnv) {
    super(ctx, dispatcherEnv(env));
  }
}
export class TenantLlm extends dispatcherExports.TenantLlm {
  constructor(ctx: ConstructorParameters<typeof dispatcherExports.TenantLlm>[0], env: DispatcherEnv) {
    super(ctx, dispatcherEnv(env));
  }
}
export class TenantStorage extends dispatcherExports.TenantStorage {
  constructor(ctx: ConstructorParameters<typeof dispatcherExports.TenantStorage>[0], env: DispatcherEnv) {
    super(ctx, dispatcherEnv(env));
  }
}

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
  binding(env: object): DispatchNamespace {
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
              const res = await outboundWorker.fetch(new Request(url), outboundEnv(env, options?.outbound));
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
} as unknown as DispatcherEnv["TENANTS"];

export default {
  fetch(request, env, ctx) {
    const host = new URL(request.url).hostname;
    if (host === CONTROL_PLANE_HOST) return controlPlane.fetch(request, controlPlaneEnv(env), ctx);
    if (host === CONTROL_PLANE_WFP_HOST) {
      const wfp = controlPlaneEnv(env, { PUBLISHER: "wfp", CF_ACCOUNT_ID: FAKE_CF.accountId, CF_API_TOKEN: FAKE_CF.token, DISPATCH_NAMESPACE: FAKE_CF.namespace });
      return controlPlane.fetch(request, wfp, ctx);
    }
    if (host === DISPATCHER_WFP_HOST) {
      return dispatcher.fetch(request, dispatcherEnv(env, { RUNTIME: "wfp", DISPATCHER: fakeNamespace.binding(env) }), ctx);
    }
    if (host === CONTROL_PLANE_SHORT_READ_HOST) return controlPlane.fetch(request, controlPlaneEnv(env, { BODY_READ_TIMEOUT_MS: String(SHORT_READ_TIMEOUT_MS) }), ctx);
    if (host === DISPATCHER_SHORT_READ_HOST) return dispatcher.fetch(request, dispatcherEnv(env, { BODY_READ_TIMEOUT_MS: String(SHORT_READ_TIMEOUT_MS) }), ctx);
    if (host === DISPATCHER_SANDBOX_HOST) return dispatcher.fetch(request, dispatcherEnv(env, { SANDBOX_TOKEN: TEST_SANDBOX_TOKEN }), ctx);
    if (host === DISPATCHER_LONG_RUNS_HOST) return dispatcher.fetch(request, dispatcherEnv(env, { RUN_TIMEOUT_MS: "15000" }), ctx);
    if (host === DISPATCHER_NO_QUOTA_HOST) return dispatcher.fetch(request, dispatcherEnv(env, { TENANTS: unreachableTenants }), ctx);
    return dispatcher.fetch(request, dispatcherEnv(env), ctx);
  },
  queue: (batch, env, ctx) => dispatcher.queue(batch, dispatcherEnv(env), ctx),
} satisfies ExportedHandler<Cloudflare.Env, RunMessage | LedgerMessage>;
