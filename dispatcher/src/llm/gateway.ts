import { BUILTIN_PROVIDER, type GatewayConfig, type ProviderConfig, type ResolvedModel, resolveModel, TENANT_KEY_TYPES } from "../../../core/llm/config";
import { errorLine } from "../../../core/log";
import { AnthropicProvider } from "./anthropic";
import { BuiltinProvider } from "./builtin";
import { ProviderError } from "./errors";
import { modalHeaders } from "./modal";
import { OpenAICompatibleProvider } from "./openai";
import type { ChatChunk, ChatProvider, ChatRequest, ChatResult } from "./types";
import { type AiBinding, WorkersAiProvider } from "./workers-ai";

/** What served a call: the model's id (`provider/model`) and whether the tenant's own key paid for it. */
export interface Served {
  id: string;
  tenantKey: boolean;
}

/** What one call needs from the run around it. */
export interface CallContext {
  /** The tenant's own key for a provider, if it stored one (null: use the platform's). */
  tenantKey(provider: string): Promise<string | null>;
  /** Records `llm.retry` / `llm.fallback` on the run. */
  event(type: "llm.retry" | "llm.fallback", data: Record<string, unknown>): Promise<void>;
  /** The run's deadline (epoch ms): no wait is started that would end past it. */
  deadline: number | null;
  /** Waits (a test passes a clock that does not). */
  sleep?(ms: number): Promise<void>;
}

/** The settings and bindings providers are built from: secrets by name, and the Workers AI binding. */
export type GatewayEnv = Record<string, unknown> & { AI?: AiBinding };

/** A failure that is the configuration's or the caller's, not the provider's: never retried. */
export class ModelError extends Error {
  override readonly name = "ModelError";
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A provider's message without the provider kind it starts with: the model id before it says more. */
const bare = (err: ProviderError) => errorLine(err, { named: false }).replace(/^(openai|anthropic|workers-ai|modal): /, "");

/** Exponential backoff with jitter (half to all of base·2^(n−1)), when the provider names no wait. */
export function backoffMs(attempt: number, baseMs: number, random = Math.random): number {
  return Math.round(baseMs * 2 ** (attempt - 1) * (0.5 + random() / 2));
}

function secret(env: GatewayEnv, name: string | undefined): string | null {
  if (!name) return null;
  const value = env[name];
  return typeof value === "string" && value !== "" ? value : null;
}

/**
 * Routes model calls to their providers by name, retries a provider's 429s and 5xx with backoff
 * (a `Retry-After` is honoured), then falls over to the configured fallback model. Each retry and
 * fallback is an event on the run; only the attempt that answered is charged.
 */
export class ModelGateway {
  constructor(
    private readonly config: GatewayConfig,
    private readonly env: GatewayEnv,
  ) {}

  private async provider(target: ResolvedModel, ctx: CallContext): Promise<{ provider: ChatProvider; tenantKey: boolean }> {
    if (target.provider === BUILTIN_PROVIDER) return { provider: new BuiltinProvider(), tenantKey: false };
    const p: ProviderConfig = this.config.providers[target.provider]!;
    const own = TENANT_KEY_TYPES.includes(p.type) ? await ctx.tenantKey(target.provider) : null;
    const key = (name: string | undefined) => {
      const value = own ?? secret(this.env, name);
      if (value === null) {
        throw new ModelError(
          name
            ? `provider "${target.provider}": the platform's key (${name}) is not set`
            : `provider "${target.provider}" takes tenants' own keys only, and this tenant stored none (PUT /v1/provider-keys/${target.provider})`,
        );
      }
      return value;
    };
    switch (p.type) {
      case "openai": {
        const headers: Record<string, string> = {};
        for (const [header, name] of Object.entries(p.headerSecrets ?? {})) {
          const value = secret(this.env, name);
          if (value === null) throw new ModelError(`provider "${target.provider}": the secret ${name} (header ${header}) is not set`);
          headers[header] = value;
        }
        return { provider: new OpenAICompatibleProvider({ baseURL: p.baseUrl, apiKey: key(p.apiKeySecret), headers }), tenantKey: own !== null };
      }
      case "modal": {
        const id = secret(this.env, p.keySecret);
        const token = secret(this.env, p.secretSecret);
        if (id === null || token === null) throw new ModelError(`provider "${target.provider}": Modal's proxy-auth token (${p.keySecret}, ${p.secretSecret}) is not set`);
        // vLLM ignores the bearer token unless started with --api-key; Modal's proxy checks the headers.
        return { provider: new OpenAICompatibleProvider({ baseURL: p.baseUrl, apiKey: secret(this.env, p.apiKeySecret) ?? "modal", headers: modalHeaders(id, token) }), tenantKey: false };
      }
      case "anthropic":
        return { provider: new AnthropicProvider({ apiKey: key(p.apiKeySecret), ...(p.baseUrl ? { baseURL: p.baseUrl } : {}) }), tenantKey: own !== null };
      case "workers-ai":
        if (!this.env.AI) throw new ModelError(`provider "${target.provider}" (workers-ai) needs the dispatcher's AI binding`);
        return { provider: new WorkersAiProvider(this.env.AI), tenantKey: false };
    }
  }

  /** The model a call is served by after `target`'s retries, if the operator configured one. */
  private fallback(target: ResolvedModel): ResolvedModel | null {
    if (!Object.hasOwn(this.config.fallbacks, target.id)) return null;
    const to = this.config.fallbacks[target.id]!;
    const r = resolveModel(this.config, to);
    return r.ok ? r : null;
  }

  /**
   * Runs `attempt` against the target, then its fallback, retrying what a provider may answer
   * differently next time. What does not deserve a retry (a 400, a missing key) fails at once.
   */
  private async serve<T>(target: ResolvedModel, ctx: CallContext, attempt: (provider: ChatProvider, model: string) => Promise<T>): Promise<{ value: T; served: Served }> {
    const { attempts, baseDelayMs, maxWaitMs } = this.config.retry;
    const sleep = ctx.sleep ?? defaultSleep;
    let current: ResolvedModel = target;
    for (let hop = 0; ; hop++) {
      const { provider, tenantKey } = await this.provider(current, ctx);
      let last: ProviderError | null = null;
      let tried = 0;
      for (let n = 1; n <= attempts; n++) {
        tried = n;
        try {
          return { value: await attempt(provider, current.model), served: { id: current.id, tenantKey } };
        } catch (err) {
          if (!(err instanceof ProviderError)) throw err;
          if (!err.retryable) throw new ModelError(`${current.id}: ${bare(err)}`);
          last = err;
          if (n === attempts) break;
          const wait = err.retryAfterMs ?? backoffMs(n, baseDelayMs);
          // A wait longer than the gateway accepts, or past the run's end, is not worth starting.
          if (wait > maxWaitMs || (ctx.deadline !== null && Date.now() + wait >= ctx.deadline)) break;
          await ctx.event("llm.retry", { model: current.id, attempt: n, status: err.status, waitMs: wait, error: err.message });
          await sleep(wait);
        }
      }
      const next = hop === 0 ? this.fallback(current) : null;
      if (!next) throw new ModelError(`${current.id}: ${last ? bare(last) : "failed"}${tried > 1 ? ` (after ${tried} attempts)` : ""}`);
      await ctx.event("llm.fallback", { from: current.id, to: next.id, status: last?.status ?? null, error: last?.message ?? null });
      current = next;
    }
  }

  async chat(request: ChatRequest, target: ResolvedModel, ctx: CallContext): Promise<{ result: ChatResult; served: Served }> {
    const { value, served } = await this.serve(target, ctx, (provider, model) => provider.chat({ ...request, model }));
    return { result: { ...value, model: served.id }, served };
  }

  /**
   * Opens a stream: retried and fallen over until the first chunk arrives; from then on the
   * answer is the agent's, and a failure ends the stream (a retry would repeat what it read).
   */
  async stream(request: ChatRequest, target: ResolvedModel, ctx: CallContext): Promise<{ chunks: AsyncIterator<ChatChunk>; served: Served }> {
    const { value, served } = await this.serve(target, ctx, async (provider, model) => {
      const it = provider.stream({ ...request, model })[Symbol.asyncIterator]();
      const first = await it.next();
      return { it, first };
    });
    const { it } = value;
    let first: IteratorResult<ChatChunk> | null = value.first;
    const rename = (r: IteratorResult<ChatChunk>): IteratorResult<ChatChunk> => (r.done || r.value.type !== "done" ? r : { done: false, value: { ...r.value, model: served.id } });
    const chunks: AsyncIterator<ChatChunk> = {
      next: async () => {
        if (first) {
          const r = first;
          first = null;
          return rename(r);
        }
        return rename(await it.next());
      },
      return: async () => (await it.return?.()) ?? { done: true, value: undefined },
    };
    return { chunks, served };
  }
}
