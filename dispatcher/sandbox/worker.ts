/**
 * The sandbox Worker: runs one tenant's agent isolates in a workerd process of its own under
 * `npm start` (started and watched by scripts/sandboxes.mjs; see dispatcher/src/runtime/sandboxed.ts).
 * It holds no platform state: an isolate's code comes from the dispatcher, and its STORAGE, LLM
 * and egress calls go back to the dispatcher tagged with the tenant this isolate was started for.
 * What the egress policy lets through leaves through PUBLIC, a network that reaches only public
 * addresses, so an allowlisted name that resolves to loopback or a private address stays unreachable.
 */
import { WorkerEntrypoint } from "cloudflare:workers";
import { EGRESS_CREDENTIALS_HEADER, EGRESS_RUN_HEADER } from "../../core/contract.js";
import { tokensEqual } from "../../core/crypto";
import { problemResponse } from "../../core/http/problem";
import {
  SANDBOX_ROUTES,
  SANDBOX_TARGET_HEADER,
  SANDBOX_TENANT_HEADER,
  SANDBOX_TOKEN_HEADER,
  type SandboxBinding,
  type SandboxCode,
  type SandboxEgressQuery,
  type SandboxRpcError,
  type SandboxTarget,
} from "../src/runtime/sandbox-protocol";

export interface SandboxEnv {
  LOADER: WorkerLoader;
  /** The dispatcher (an external service: its direct socket on loopback). */
  PLATFORM: Fetcher;
  /** The only way out for tenant requests: workerd's network restricted to public addresses. */
  PUBLIC: Fetcher;
  SANDBOX_TOKEN: string;
}

interface TenantProps {
  tenantId: string;
}

const REFUSED =
  "the connection was not made: agents cannot reach loopback, private or link-local addresses, whatever name resolves to them (or the host is unreachable)";

/**
 * Calls into the dispatcher in flight at once from this sandbox (so from one tenant): the rest
 * wait here, in the tenant's own process, so a tenant flooding its bindings (thousands of model
 * calls or denied fetches) queues behind itself instead of ahead of every other tenant's requests
 * in the dispatcher's event loop.
 */
const MAX_PLATFORM_CALLS = 16;
let inFlight = 0;

/**
 * The largest call a sandbox forwards: a `STORAGE.put` value may be 25 MiB; anything larger is
 * refused here, before the dispatcher would spend its memory and CPU parsing it.
 */
const MAX_CALL_BYTES = 26 * 1024 * 1024;
/** URLs longer than this are refused before any verdict is asked (no real API needs them). */
const MAX_URL_BYTES = 16 * 1024;

async function platform(env: SandboxEnv, tenantId: string, path: string, body: unknown): Promise<Response> {
  const text = JSON.stringify(body);
  if (text.length > MAX_CALL_BYTES) throw new RangeError(`the call is larger than ${MAX_CALL_BYTES} bytes`);
  // Each binding call is a request of its own, and a promise one request resolves for another is
  // cancelled by workerd: a waiting call polls on its own timer instead (1 ms, up to 4 ms apart).
  for (let pause = 1; inFlight >= MAX_PLATFORM_CALLS; pause = Math.min(pause * 2, 4)) await new Promise((r) => setTimeout(r, pause));
  inFlight++;
  try {
    const res = await env.PLATFORM.fetch(`http://platform${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", [SANDBOX_TOKEN_HEADER]: env.SANDBOX_TOKEN, [SANDBOX_TENANT_HEADER]: tenantId },
      body: text,
    });
    // A stream (LLM.stream) holds no slot while the agent reads it: only the call itself counts.
    return res;
  } finally {
    inFlight--;
  }
}

/** Calls a platform binding's method in the dispatcher; its errors come back as the same class and message. */
async function rpc(env: SandboxEnv, tenantId: string, binding: SandboxBinding, method: string, args: unknown[]): Promise<Response> {
  const label = `${binding === "storage" ? "STORAGE" : "LLM"}.${method}`;
  let res: Response;
  try {
    res = await platform(env, tenantId, `${SANDBOX_ROUTES.rpc}/${binding}/${method}`, { args });
  } catch (err) {
    throw err instanceof RangeError ? new RangeError(`${label}: ${err.message}`) : err;
  }
  if (res.status === 422) {
    const { error } = (await res.json()) as SandboxRpcError;
    const Kind = error.name === "TypeError" ? TypeError : error.name === "RangeError" ? RangeError : Error;
    throw new Kind(error.message);
  }
  if (!res.ok) throw new Error(`${binding}.${method}: the platform answered ${res.status}`);
  return res;
}

async function value<T>(res: Promise<Response>): Promise<T> {
  return ((await (await res).json()) as { value: T }).value;
}

/** `env.STORAGE` in the sandbox's isolates: the same methods as the dispatcher's TenantStorage. */
export class SandboxStorage extends WorkerEntrypoint<SandboxEnv, TenantProps> {
  get(key: unknown, runId: unknown): Promise<string | null> {
    return value(rpc(this.env, this.ctx.props.tenantId, "storage", "get", [key, runId]));
  }
  put(key: unknown, data: unknown, runId: unknown): Promise<void> {
    return value(rpc(this.env, this.ctx.props.tenantId, "storage", "put", [key, data, runId]));
  }
  list(prefix: unknown, runId: unknown): Promise<string[]> {
    return value(rpc(this.env, this.ctx.props.tenantId, "storage", "list", [prefix, runId]));
  }
}

/** `env.LLM` in the sandbox's isolates: chat answers in JSON, stream as the dispatcher's NDJSON stream. */
export class SandboxLlm extends WorkerEntrypoint<SandboxEnv, TenantProps> {
  chat(request: unknown, runId: unknown): Promise<unknown> {
    return value(rpc(this.env, this.ctx.props.tenantId, "llm", "chat", [request, runId]));
  }
  async stream(request: unknown, runId: unknown): Promise<ReadableStream<Uint8Array>> {
    const res = await rpc(this.env, this.ctx.props.tenantId, "llm", "stream", [request, runId]);
    if (!res.body) throw new Error("LLM.stream: the platform sent no stream");
    return res.body;
  }
}

/** The isolates' `globalOutbound`: the dispatcher decides and counts, the public network carries. */
export class SandboxEgress extends WorkerEntrypoint<SandboxEnv, TenantProps> {
  override async fetch(request: Request): Promise<Response> {
    const tenantId = this.ctx.props.tenantId;
    if (request.url.length > MAX_URL_BYTES) {
      return problemResponse("egress-denied", `${request.method} (a URL of ${request.url.length} characters): URLs longer than ${MAX_URL_BYTES} are not allowed.`, { extra: { reason: "URL too long" } });
    }
    const query: SandboxEgressQuery = {
      method: request.method,
      url: request.url,
      runId: request.headers.get(EGRESS_RUN_HEADER),
      credentials: request.headers.has(EGRESS_CREDENTIALS_HEADER),
    };
    const verdict = await platform(this.env, tenantId, SANDBOX_ROUTES.egress, query);
    if (verdict.status !== 204) return verdict;
    const outbound = new Request(request);
    outbound.headers.delete(EGRESS_RUN_HEADER);
    try {
      return await this.env.PUBLIC.fetch(outbound);
    } catch {
      this.ctx.waitUntil(platform(this.env, tenantId, SANDBOX_ROUTES.egress, { ...query, failed: REFUSED }).then(() => undefined, () => undefined));
      const shown = new URL(request.url);
      return problemResponse("egress-denied", `${request.method} ${shown.protocol}//${shown.host}${shown.pathname}: ${REFUSED}.`, { extra: { reason: REFUSED } });
    }
  }
}

interface SandboxExports {
  SandboxStorage(options: { props: TenantProps }): Fetcher;
  SandboxLlm(options: { props: TenantProps }): Fetcher;
  SandboxEgress(options: { props: TenantProps }): Fetcher;
}

/** Runs whose answer is still streaming: the pool reads it from the ping to tell a run's CPU from leftover work. */
let runsInFlight = 0;

/** Counts a run in flight from its request until its answer's body ends, fails or is cancelled. */
async function counted(answer: () => Promise<Response>): Promise<Response> {
  runsInFlight++;
  let counting = true;
  const end = () => {
    if (!counting) return;
    counting = false;
    runsInFlight--;
  };
  let response: Response;
  try {
    response = await answer();
  } catch (err) {
    end();
    throw err;
  }
  if (!response.body) {
    end();
    return response;
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          end();
          controller.close();
        } else controller.enqueue(value);
      } catch (err) {
        end();
        controller.error(err);
      }
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  });
  return new Response(body, response);
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/_ping") return Response.json({ runsInFlight });
    const token = request.headers.get(SANDBOX_TOKEN_HEADER);
    if (token === null || !tokensEqual(token, env.SANDBOX_TOKEN)) return new Response("not found", { status: 404 });
    const target = JSON.parse(request.headers.get(SANDBOX_TARGET_HEADER) ?? "null") as SandboxTarget | null;
    if (!target) return new Response("no target", { status: 400 });
    const exports = (ctx as unknown as { exports: SandboxExports }).exports;
    const worker = env.LOADER.get(target.id, async () => {
      const res = await platform(env, target.tenantId, SANDBOX_ROUTES.code, target);
      if (!res.ok) throw new Error(`the agent's code could not be loaded (${res.status})`);
      const { secrets, ...code } = (await res.json()) as SandboxCode;
      const props = { props: { tenantId: target.tenantId } };
      return {
        ...code,
        env: { ...secrets, STORAGE: exports.SandboxStorage(props), LLM: exports.SandboxLlm(props) },
        globalOutbound: exports.SandboxEgress(props),
      };
    });
    const headers = new Headers(request.headers);
    headers.delete(SANDBOX_TOKEN_HEADER);
    headers.delete(SANDBOX_TARGET_HEADER);
    return counted(() => worker.getEntrypoint(undefined, { limits: target.limits }).fetch(new Request(request, { headers })));
  },
} satisfies ExportedHandler<SandboxEnv>;
