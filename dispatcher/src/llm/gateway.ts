import { BUILTIN_PROVIDER, type GatewayConfig, type ProviderConfig, type ResolvedModel, resolveModel, takesTenantKeys } from "../../../core/llm/config";
import { backoffMs, errorLine } from "../../../core/log";
import { AnthropicProvider } from "./anthropic";
import { BuiltinProvider } from "./builtin";
import { ProviderError } from "./errors";
import { modalHeaders } from "./modal";
import { OpenAICompatibleProvider } from "./openai";
import { countTokens, inputTokensOf } from "./builtin";
import { type ChatChunk, type ChatProvider, type ChatRequest, type ChatResult, ToolCall } from "./types";
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
    const own = takesTenantKeys(p) ? await ctx.tenantKey(target.provider) : null;
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
        // Authenticated by its header secrets alone (Azure's api-key): the bearer token is unused.
        const apiKey = own === null && !p.apiKeySecret && Object.keys(headers).length ? "unused" : key(p.apiKeySecret);
        return { provider: new OpenAICompatibleProvider({ baseURL: p.baseUrl, apiKey, headers }), tenantKey: own !== null };
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
   * Each attempt is bounded by the run's deadline: its `Bound` aborts it then (closing the
   * provider's connection) and is released by whoever finishes with the answer.
   */
  private async serve<T>(target: ResolvedModel, ctx: CallContext, attempt: (provider: ChatProvider, model: string, bound: Bound) => Promise<T>): Promise<{ value: T; served: Served; bound: Bound }> {
    const { attempts, baseDelayMs, maxWaitMs } = this.config.retry;
    const sleep = ctx.sleep ?? defaultSleep;
    let current: ResolvedModel = target;
    for (let hop = 0; ; hop++) {
      const { provider, tenantKey } = await this.provider(current, ctx);
      let last: ProviderError | null = null;
      let tried = 0;
      for (let n = 1; n <= attempts; n++) {
        const left = ctx.deadline === null ? MAX_ATTEMPT_MS : ctx.deadline - Date.now();
        if (left <= 0) throw new ModelError(`${current.id}: the run's time is up${last ? ` (last: ${bare(last)})` : ""}`);
        tried = n;
        const bound = new Bound(Math.min(left, MAX_ATTEMPT_MS), current.id);
        try {
          return { value: await bound.race(attempt(provider, current.model, bound)), served: { id: current.id, tenantKey }, bound };
        } catch (err) {
          bound.release();
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
    const { value, served, bound } = await this.serve(target, ctx, async (provider, model, b) => checked(await provider.chat({ ...request, model }, { signal: b.signal }), request, model));
    bound.release();
    return { result: { ...value, model: served.id }, served };
  }

  /**
   * Opens a stream: retried and fallen over until the first chunk arrives; from then on the
   * answer is the agent's, and a failure ends the stream (a retry would repeat what it read).
   * The deadline still bounds the rest; `return()` aborts the provider's stream without waiting
   * for a chunk it may never send.
   */
  async stream(request: ChatRequest, target: ResolvedModel, ctx: CallContext): Promise<{ chunks: AsyncIterator<ChatChunk>; served: Served }> {
    const { value, served, bound } = await this.serve(target, ctx, async (provider, model, b) => {
      const it = provider.stream({ ...request, model }, { signal: b.signal })[Symbol.asyncIterator]();
      const first = await it.next();
      return { it, first, model };
    });
    const { it } = value;
    let first: IteratorResult<ChatChunk> | null = value.first;
    let content = "";
    const settle = (r: IteratorResult<ChatChunk>): IteratorResult<ChatChunk> => {
      if (r.done) {
        bound.release();
        return r;
      }
      if (r.value.type === "delta") {
        content += r.value.content;
        return r;
      }
      bound.release();
      const done = checked({ ...r.value, content: r.value.content || content }, request, value.model);
      return { done: false, value: { type: "done", ...done, model: served.id } };
    };
    const chunks: AsyncIterator<ChatChunk> = {
      next: async () => {
        if (first) {
          const r = first;
          first = null;
          return settle(r);
        }
        try {
          return settle(await bound.race(it.next()));
        } catch (err) {
          bound.release();
          throw err;
        }
      },
      return: async () => {
        bound.abort();
        bound.release();
        // Not awaited: a generator waiting on a chunk that never comes would hold this forever.
        void it.return?.()?.catch(() => undefined);
        return { done: true, value: undefined };
      },
    };
    return { chunks, served };
  }
}

/** The longest one attempt may take when the run sets no earlier deadline. */
const MAX_ATTEMPT_MS = 5 * 60 * 1000;
/** More tokens than one call could plausibly use: a count past it is the provider's error. */
const MAX_TOKENS_PER_CALL = 100_000_000;

/** One attempt's time limit: aborts the provider's call at the deadline and fails whatever waits on it. */
class Bound {
  private readonly controller = new AbortController();
  private readonly timer: ReturnType<typeof setTimeout>;
  private readonly expired: Promise<never>;

  constructor(ms: number, model: string) {
    let fail!: (err: ProviderError) => void;
    this.expired = new Promise<never>((_, reject) => (fail = reject));
    // Nobody may be waiting when it fires; the rejection is then nobody's to handle.
    this.expired.catch(() => undefined);
    this.timer = setTimeout(() => {
      fail(new ProviderError(`${model.split("/")[0]}: no answer within ${ms} ms`, null));
      this.controller.abort();
    }, ms);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The provider's promise, or the deadline's failure, whichever comes first (a provider may ignore the signal). */
  race<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.expired]);
  }

  abort(): void {
    this.controller.abort();
  }

  release(): void {
    clearTimeout(this.timer);
  }
}

const tokens = (n: unknown, estimate: number) => (typeof n === "number" && Number.isSafeInteger(n) && n >= 0 && n <= MAX_TOKENS_PER_CALL ? n : estimate);

/**
 * A provider's answer made safe to charge and hand on: token counts that are not whole,
 * non-negative and plausible are replaced by the platform's estimate (a provider's figures are
 * trusted for billing, not for arithmetic), and tool calls outside the contract's shape are the
 * provider's failure.
 */
function checked(result: ChatResult, request: ChatRequest, model: string): ChatResult {
  const calls = result.toolCalls ?? [];
  for (const call of calls) {
    if (!ToolCall.safeParse(call).success) throw new ProviderError(`${model}: the answer has a malformed tool call`, 502);
  }
  return {
    content: typeof result.content === "string" ? result.content : "",
    model: result.model,
    toolCalls: calls,
    usage: {
      inputTokens: tokens(result.usage?.inputTokens, inputTokensOf(request)),
      outputTokens: tokens(result.usage?.outputTokens, countTokens(typeof result.content === "string" ? result.content : "")),
    },
  };
}
