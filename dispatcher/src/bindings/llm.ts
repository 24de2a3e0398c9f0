import { WorkerEntrypoint } from "cloudflare:workers";
import { amountMicros, modelPrice, type PriceBook } from "../../../core/billing/prices";
import { priceBook } from "../../../core/billing/spend";
import type { DispatcherEnv } from "../../../core/env";
import { parseQuotas } from "../../../core/quotas";
import { countTokens } from "../llm/builtin";
import { chatProvider } from "../llm/provider";
import { ChatRequest, type ChatChunk, type ChatResult, type StreamLine } from "../llm/types";
import { remainingMicros } from "../quota/spend-cap";
import { appendRunEvent } from "../runs/events";
import { addUsage } from "../runs/usage";
import type { TenantProps } from "./storage";

export const SPEND_CAP_MESSAGE = "LLM: the tenant's monthly spend cap is reached; the model call was cut off.";
const NOT_RUNNING = "LLM: platform bindings only work during a run of this tenant (this run is not running)";

function parse(request: unknown, method: string): ChatRequest {
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
      await appendRunEvent(this.env.DB, this.ctx.props.tenantId, runId, "spend-cap.reached", { model, outputTokens: countTokens(content) });
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
          const message = err instanceof Error ? err.message.split("\n")[0]! : String(err);
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
   * Checks that the run is this tenant's and running, and returns what it may still spend under
   * the tenant's monthly cap (null: no cap) — the cap, less the month's billed usage, less what
   * this run has used so far at the price book's rates.
   */
  private async admit(runId: string): Promise<{ remaining: number; book: PriceBook } | null> {
    const row = await this.env.DB.prepare(
      "SELECT t.quotas, r.model_usage, r.status FROM tenants t JOIN runs r ON r.tenant_id = t.id WHERE t.id = ? AND r.id = ?",
    )
      .bind(this.ctx.props.tenantId, runId)
      .first<{ quotas: string; model_usage: string; status: string }>();
    if (!row || row.status !== "running") throw new Error(NOT_RUNNING);
    const remaining = await remainingMicros(this.env, this.ctx.props.tenantId, parseQuotas(row.quotas).monthlySpendCapUsd);
    if (remaining === null) return null;
    const book = priceBook(this.env);
    let spent = amountMicros(1, book.perRun);
    for (const [model, used] of Object.entries(JSON.parse(row.model_usage) as Record<string, { input: number; output: number }>)) {
      spent += amountMicros(used.input / 1000, modelPrice(book.perThousandInputTokens, model));
      spent += amountMicros(used.output / 1000, modelPrice(book.perThousandOutputTokens, model));
    }
    return { remaining: remaining - spent, book };
  }

  private charge(runId: string, result: ChatResult): Promise<void> {
    return addUsage(this.env.DB, this.ctx.props.tenantId, runId, {
      model: result.model,
      llmCalls: 1,
      inputTokens: result.usage.inputTokens,
      outputTokens: result.usage.outputTokens,
    });
  }
}
