import { errorLine } from "../../../core/log";
import { WorkerEntrypoint } from "cloudflare:workers";
import { amountMicros, modelPrice, type PriceBook } from "../../../core/billing/prices";
import { priceBook } from "../../../core/billing/spend";
import type { DispatcherEnv } from "../env";
import { MAX_JSON_DEPTH, valueNestsDeeper } from "../../../core/http/body";
import { countTokens, inputTokensOf } from "../llm/builtin";
import { gatewayConfig, resolveModel, type ResolvedModel } from "../../../core/llm/config";
import { openProviderKey } from "../../../core/secrets";
import { type CallContext, ModelError, ModelGateway, type GatewayEnv, type Served } from "../llm/gateway";
import type { LlmBegun } from "../runs/run-object";
import { ChatRequest, type ChatChunk, type ChatResult, type StreamLine } from "../llm/types";
import { runStub, tenantStub } from "../runs/stubs";
import type { TenantProps } from "./storage";

/** How long an unread stream is kept when its run has no deadline (it always has one while running). */
const LAST_CHARGE_MS = 5 * 60 * 1000;

export const SPEND_CAP_MESSAGE = "LLM: the tenant's monthly spend cap is reached; the model call was cut off.";

function parse(request: unknown, method: string): ChatRequest {
  // Tool schemas are free-form JSON: a deep one would overflow the provider call's serialiser.
  if (valueNestsDeeper(request)) throw new TypeError(`LLM.${method}: the request nests deeper than ${MAX_JSON_DEPTH} levels`);
  const parsed = ChatRequest.safeParse(request);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`LLM.${method}: ${issue ? `${issue.path.join(".") || "request"}: ${issue.message}` : "invalid request"}`);
  }
  return parsed.data;
}

/** What an admitted call may spend, the model it goes to, and what it needs from its run. */
interface Admitted {
  budget: { remaining: number; book: PriceBook } | null;
  target: ResolvedModel;
  ctx: CallContext;
  /** The gateway, over the configuration the call was admitted under. */
  models: ModelGateway;
  /** The tenant stored its own key for the target's provider: the call costs the platform nothing, so a reached cap does not refuse it. */
  ownKey: boolean;
}

/**
 * `env.LLM` inside a tenant isolate: the model gateway's door. The provider keys live only here,
 * in the platform's Worker; tenant code names a model (`provider/model` or an alias; by default
 * its agent's, its tenant's or the platform's), sends messages and gets back text, tool calls and
 * token usage, which is charged to its run — by the platform, from the provider's own figures
 * (or, for a stream cut short, an estimate). A call is refused unless the named run of this
 * tenant is running: otherwise it could not be billed.
 */
export class TenantLlm extends WorkerEntrypoint<DispatcherEnv, TenantProps> {
  async chat(request: unknown, runId: string): Promise<ChatResult> {
    const parsed = parse(request, "chat");
    const { budget, target, ctx, ownKey, models } = await this.admit(runId, parsed, "chat");
    const { result, served } = await this.closingOnFailure(runId, () => {
      if (budget && budget.remaining <= 0 && !ownKey) throw new Error(SPEND_CAP_MESSAGE);
      return this.gateway("chat", () => models.chat(parsed, target, ctx));
    });
    await this.charge(runId, result, served);
    return result;
  }

  /**
   * The same answer as a stream of newline-delimited JSON lines (`delta`…, then one `done`, or an
   * `error` line when the platform ends it), returned over RPC as a ReadableStream so deltas reach
   * the agent as they are generated. Whatever way the stream ends — done, cut off at the spend
   * cap, cancelled by the reader, failed — the tokens are charged exactly once.
   */
  async stream(request: unknown, runId: string): Promise<ReadableStream<Uint8Array>> {
    const parsed = parse(request, "stream");
    const { budget, target, ctx, ownKey, models } = await this.admit(runId, parsed, "stream");
    const { chunks, served } = await this.closingOnFailure(runId, () => {
      if (budget && budget.remaining <= 0 && !ownKey) throw new Error(SPEND_CAP_MESSAGE);
      return this.gateway("stream", () => models.stream(parsed, target, ctx));
    });
    const encoder = new TextEncoder();
    const model = served.id;
    const inputTokens = inputTokensOf(parsed);
    let content = "";
    let charged = false;
    let stopped = false;
    let settled!: () => void;
    // The stream outlives the call that returned it, and an agent that drops it (returning with it
    // unread, or cancelling) is not always seen: this context is kept until the stream's charge is
    // made, which happens at the latest at the run's deadline, for what was handed over by then.
    this.ctx.waitUntil(new Promise<void>((resolve) => (settled = resolve)));
    const lastCall = setTimeout(() => {
      stopped = true;
      void chargeOnce(estimate()).catch(() => undefined);
      void chunks.return?.();
    }, Math.max(0, (ctx.deadline ?? Date.now() + LAST_CHARGE_MS) - Date.now()));
    const chargeOnce = async (result: ChatResult) => {
      if (charged) return;
      charged = true;
      clearTimeout(lastCall);
      await this.charge(runId, result, served).finally(settled);
    };
    const estimate = () => ({ content, model, toolCalls: [], usage: { inputTokens, outputTokens: countTokens(content) } });
    const cutOff = async () => {
      await chargeOnce(estimate());
      await runStub(this.env, this.ctx.props.tenantId, runId).platform(this.ctx.props.tenantId, "spend-cap.reached", { model, outputTokens: countTokens(content) });
    };
    const line = (value: StreamLine) => encoder.encode(`${JSON.stringify(value)}\n`);
    // Tokens on the tenant's own key cost the platform nothing: the spend cap does not watch them.
    const watch = served.tenantKey ? null : budget;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (stopped) return;
        try {
          const next = await chunks.next();
          if (next.done) {
            stopped = true;
            await chargeOnce(estimate());
            controller.close();
            return;
          }
          const chunk: ChatChunk = next.value;
          if (chunk.type === "done") {
            await chargeOnce(chunk);
          } else if (watch) {
            // The provider reports usage at the end; until then, estimate what the stream has cost.
            content += chunk.content;
            const cost =
              amountMicros(inputTokens / 1000, modelPrice(watch.book.perThousandInputTokens, model)) +
              amountMicros(countTokens(content) / 1000, modelPrice(watch.book.perThousandOutputTokens, model));
            if (cost > watch.remaining) {
              stopped = true;
              await cutOff();
              void chunks.return?.();
              controller.enqueue(line({ type: "error", error: SPEND_CAP_MESSAGE }));
              controller.close();
              return;
            }
          } else {
            content += chunk.content;
          }
          controller.enqueue(line(chunk));
        } catch (err) {
          stopped = true;
          await chargeOnce(estimate());
          const message = errorLine(err, { named: false });
          controller.enqueue(line({ type: "error", error: `LLM.stream: ${model}: ${message}` }));
          controller.close();
        }
      },
      async cancel() {
        // The agent stopped reading: what was generated so far is still paid for, and the
        // provider's stream is closed (not waited on: it may be stalled).
        stopped = true;
        await chargeOnce(estimate());
        void chunks.return?.();
      },
    });
  }

  /** An admitted call that fails before it has anything to charge still closes on the run's record. */
  private async closingOnFailure<T>(runId: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      await runStub(this.env, this.ctx.props.tenantId, runId).charge(this.ctx.props.tenantId, {}, true, true);
      throw err;
    }
  }

  /** Runs a gateway call; its refusals reach the agent as one clear line naming the method. */
  private async gateway<T>(method: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof ModelError) throw new Error(`LLM.${method}: ${err.message}`);
      throw new Error(`LLM.${method}: ${errorLine(err, { named: false })}`);
    }
  }

  /**
   * Checks with the run's object that the run is this tenant's, running and under its
   * `llmCallsPerRun` (the call is counted there); resolves the model the call goes to; and
   * returns what it may still spend under the tenant's monthly cap (null: no cap) — the cap,
   * less the month's billed usage kept by the tenant's object, less what this run has used so far.
   */
  private async admit(runId: string, request: ChatRequest, method: string): Promise<Admitted> {
    const tenantId = this.ctx.props.tenantId;
    if (typeof runId !== "string" || !/^run_[0-9a-z]{20}$/.test(runId)) throw new Error("LLM: platform bindings only work during a run of this tenant (this run is not running)");
    let config;
    try {
      config = gatewayConfig(this.env);
    } catch (err) {
      // The operator's mistake, said as such: the agent cannot fix it.
      throw new Error(`LLM.${method}: the platform's model configuration is invalid (${errorLine(err, { named: false })})`);
    }
    const run = runStub(this.env, tenantId, runId);
    const begun = await run.llmBegin(tenantId);
    if (!begun.ok) throw new Error(`LLM: ${begun.reason}`);
    return this.closingOnFailure(runId, () => this.prepare(config, request, begun, method, runId));
  }

  /** The call's model, its context and what it may spend, once the run has admitted it. */
  private async prepare(config: ReturnType<typeof gatewayConfig>, request: ChatRequest, begun: LlmBegun, method: string, runId: string): Promise<Admitted> {
    const tenantId = this.ctx.props.tenantId;
    const run = runStub(this.env, tenantId, runId);
    const target = this.target(config, request, begun, method);
    const ctx: CallContext = {
      deadline: begun.deadline,
      event: (type, data) => run.platform(tenantId, type, data),
      tenantKey: async (provider) => {
        if (!begun.tenantKeys.includes(provider)) return null;
        const sealed = await tenantStub(this.env, tenantId).providerKey(tenantId, provider);
        // Removed since the run began: its calls are not moved onto the platform's key (and bill).
        if (sealed === null) throw new ModelError(`provider "${provider}": the tenant's own key was removed during this run`);
        return openProviderKey(this.env.SECRETS_KEY, tenantId, provider, sealed);
      },
    };
    const call = { target, ctx, ownKey: begun.tenantKeys.includes(target.provider), models: new ModelGateway(config, this.env as unknown as GatewayEnv) };
    if (!begun.spendCapped) return { budget: null, ...call };
    const remaining = await tenantStub(this.env, tenantId).remainingMicros(tenantId);
    if (remaining === null) return { budget: null, ...call };
    return { budget: { remaining: remaining - begun.spentMicros, book: priceBook(this.env) }, ...call };
  }

  /** The model a call names, else its agent's or tenant's default, else the platform's; an unknown one is refused, never replaced. */
  private target(config: ReturnType<typeof gatewayConfig>, request: ChatRequest, begun: LlmBegun, method: string): ResolvedModel {
    const [name, whose] = request.model !== undefined ? [request.model, "model"] : begun.defaultModel !== null ? [begun.defaultModel, "the default model"] : [config.defaultModel, "the platform's default model"];
    const resolved = resolveModel(config, name);
    if (!resolved.ok) throw new TypeError(`LLM.${method}: ${whose === "model" ? "" : `${whose}: `}${resolved.error}`);
    return resolved;
  }

  /** Tokens are charged to the run while it is open; after it ended (cancelled, timed out) they are refused. */
  private async charge(runId: string, result: ChatResult, served: Served): Promise<void> {
    await runStub(this.env, this.ctx.props.tenantId, runId).charge(this.ctx.props.tenantId, {
      model: served.id,
      inputTokens: result.usage.inputTokens,
      outputTokens: result.usage.outputTokens,
      ...(served.tenantKey ? { tenantKey: true } : {}),
    }, true, true);
  }
}
