import { errorLine } from "../../../core/log";
import { WorkerEntrypoint } from "cloudflare:workers";
import { amountMicros, modelPrice, type PriceBook } from "../../../core/billing/prices";
import { priceBook } from "../../../core/billing/spend";
import type { DispatcherEnv } from "../env";
import { MAX_JSON_DEPTH, valueNestsDeeper } from "../../../core/http/body";
import { countTokens } from "../llm/builtin";
import { chatProvider } from "../llm/provider";
import { ChatRequest, type ChatChunk, type ChatResult, type StreamLine } from "../llm/types";
import { runStub, tenantStub } from "../runs/stubs";
import type { TenantProps } from "./storage";

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

const inputTokensOf = (request: ChatRequest) => request.messages.reduce((n, m) => n + countTokens(m.content), 0);

/**
 * `env.LLM` inside a tenant isolate. The provider key lives only here, in the platform's Worker;
 * tenant code sends messages and gets back text, tool calls and token usage, which is charged to
 * its run — by the platform, from the provider's own figures (or, for a stream cut short, an
 * estimate). A call is refused unless the named run of this tenant is running: otherwise it could
 * not be billed.
 */
export class TenantLlm extends WorkerEntrypoint<DispatcherEnv, TenantProps> {
  async chat(request: unknown, runId: string): Promise<ChatResult> {
    const parsed = parse(request, "chat");
    const budget = await this.admit(runId);
    if (budget && budget.remaining <= 0) throw new Error(SPEND_CAP_MESSAGE);
    const result = await chatProvider(this.env).chat(parsed);
    await this.charge(runId, result);
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
    const budget = await this.admit(runId);
    if (budget && budget.remaining <= 0) throw new Error(SPEND_CAP_MESSAGE);
    const chunks = chatProvider(this.env).stream(parsed)[Symbol.asyncIterator]();
    const encoder = new TextEncoder();
    const model = parsed.model ?? "*";
    const inputTokens = inputTokensOf(parsed);
    let content = "";
    let charged = false;
    let stopped = false;
    const chargeOnce = async (result: ChatResult) => {
      if (charged) return;
      charged = true;
      await this.charge(runId, result);
    };
    const estimate = () => ({ content, model, toolCalls: [], usage: { inputTokens, outputTokens: countTokens(content) } });
    const cutOff = async () => {
      await chargeOnce(estimate());
      await runStub(this.env, this.ctx.props.tenantId, runId).platform(this.ctx.props.tenantId, "spend-cap.reached", { model, outputTokens: countTokens(content) });
    };
    const line = (value: StreamLine) => encoder.encode(`${JSON.stringify(value)}\n`);
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
          } else if (budget) {
            // The provider reports usage at the end; until then, estimate what the stream has cost.
            content += chunk.content;
            const cost =
              amountMicros(inputTokens / 1000, modelPrice(budget.book.perThousandInputTokens, model)) +
              amountMicros(countTokens(content) / 1000, modelPrice(budget.book.perThousandOutputTokens, model));
            if (cost > budget.remaining) {
              stopped = true;
              await cutOff();
              await chunks.return?.();
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
          controller.enqueue(line({ type: "error", error: `LLM.stream: ${message}` }));
          controller.close();
        }
      },
      async cancel() {
        // The agent stopped reading: what was generated so far is still paid for.
        stopped = true;
        await chunks.return?.();
        await chargeOnce(estimate());
      },
    });
  }

  /**
   * Checks with the run's object that the run is this tenant's, running and under its
   * `llmCallsPerRun` (the call is counted there), and returns what it may still spend under the
   * tenant's monthly cap (null: no cap) — the cap, less the month's billed usage kept by the
   * tenant's object, less what this run has used so far.
   */
  private async admit(runId: string): Promise<{ remaining: number; book: PriceBook } | null> {
    const tenantId = this.ctx.props.tenantId;
    if (typeof runId !== "string" || !/^run_[0-9a-z]{20}$/.test(runId)) throw new Error("LLM: platform bindings only work during a run of this tenant (this run is not running)");
    const begun = await runStub(this.env, this.ctx.props.tenantId, runId).llmBegin(tenantId);
    if (!begun.ok) throw new Error(`LLM: ${begun.reason}`);
    if (!begun.spendCapped) return null;
    const remaining = await tenantStub(this.env, tenantId).remainingMicros(tenantId);
    if (remaining === null) return null;
    return { remaining: remaining - begun.spentMicros, book: priceBook(this.env) };
  }

  /** Tokens are charged to the run while it is open; after it ended (cancelled, timed out) they are refused. */
  private async charge(runId: string, result: ChatResult): Promise<void> {
    await runStub(this.env, this.ctx.props.tenantId, runId).charge(this.ctx.props.tenantId, {
      model: result.model,
      inputTokens: result.usage.inputTokens,
      outputTokens: result.usage.outputTokens,
    }, true);
  }
}
