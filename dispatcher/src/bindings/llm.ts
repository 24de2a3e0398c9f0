import { WorkerEntrypoint } from "cloudflare:workers";
import type { DispatcherEnv } from "../../../core/env";
import { chatProvider } from "../llm/provider";
import { ChatRequest, type ChatChunk, type ChatResult, type StreamLine } from "../llm/types";
import { countTokens } from "../llm/builtin";
import { amountMicros, modelPrice, type PriceBook } from "../../../core/billing/prices";
import { priceBook } from "../../../core/billing/spend";
import { parseQuotas } from "../../../core/quotas";
import { remainingMicros } from "../quota/spend-cap";
import { appendRunEvent } from "../runs/events";

export const SPEND_CAP_MESSAGE = "LLM: the tenant's monthly spend cap is reached; the model call was cut off.";
import { addUsage } from "../runs/usage";
import type { TenantProps } from "./storage";

function parse(request: unknown, method: string): ChatRequest {
  const parsed = ChatRequest.safeParse(request);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`LLM.${method}: ${issue ? `${issue.path.join(".") || "request"}: ${issue.message}` : "invalid request"}`);
  }
  return parsed.data;
}

/**
 * `env.LLM` inside a tenant isolate. The provider key lives only here, in the platform's Worker;
 * tenant code sends messages and gets back text, tool calls and token usage, which is charged to
 * its run — by the platform, from the provider's own figures.
 */
export class TenantLlm extends WorkerEntrypoint<DispatcherEnv, TenantProps> {
  async chat(request: unknown, runId: string): Promise<ChatResult> {
    const parsed = parse(request, "chat");
    const budget = await this.budget(runId);
    if (budget && budget.remaining <= 0) throw new Error(SPEND_CAP_MESSAGE);
    const result = await chatProvider(this.env).chat(parsed);
    await this.charge(runId, result);
    return result;
  }

  /**
   * The same answer as a stream of newline-delimited JSON chunks (`delta`…, then one `done`),
   * returned over RPC as a ReadableStream so deltas reach the agent as they are generated.
   */
  async stream(request: unknown, runId: string): Promise<ReadableStream<Uint8Array>> {
    const parsed = parse(request, "stream");
    const budget = await this.budget(runId);
    if (budget && budget.remaining <= 0) throw new Error(SPEND_CAP_MESSAGE);
    const chunks = chatProvider(this.env).stream(parsed);
    const encoder = new TextEncoder();
    const charge = (result: ChatResult) => this.charge(runId, result);
    const cutOff = (model: string, content: string) => this.cutOff(runId, parsed, model, content);
    const inputTokens = parsed.messages.reduce((n, m) => n + countTokens(m.content), 0);
    const model = parsed.model ?? "*";
    return new ReadableStream<Uint8Array>({
      async start(controller) {
        let content = "";
        try {
          for await (const chunk of chunks as AsyncIterable<ChatChunk>) {
            if (chunk.type === "done") await charge(chunk);
            else if (budget) {
              // The provider reports usage at the end; until then, estimate what the stream has cost.
              content += chunk.content;
              const estimate =
                amountMicros(inputTokens / 1000, modelPrice(budget.book.perThousandInputTokens, model)) +
                amountMicros(countTokens(content) / 1000, modelPrice(budget.book.perThousandOutputTokens, model));
              if (estimate > budget.remaining) {
                await cutOff(model, content);
                controller.enqueue(encoder.encode(`${JSON.stringify({ type: "error", error: SPEND_CAP_MESSAGE } satisfies StreamLine)}\n`));
                controller.close();
                return;
              }
            }
            controller.enqueue(encoder.encode(`${JSON.stringify(chunk)}\n`));
          }
          controller.close();
        } catch (err) {
          const message = err instanceof Error ? err.message.split("\n")[0]! : String(err);
          controller.enqueue(encoder.encode(`${JSON.stringify({ type: "error", error: `LLM.stream: ${message}` } satisfies StreamLine)}\n`));
          controller.close();
        }
      },
    });
  }

  /**
   * What the run may still spend under the tenant's monthly cap (null: no cap): the cap, less the
   * month's billed usage, less what this run has used so far at the price book's rates.
   */
  private async budget(runId: string): Promise<{ remaining: number; book: PriceBook } | null> {
    const row = await this.env.DB.prepare(
      "SELECT t.quotas, r.model_usage FROM tenants t JOIN runs r ON r.tenant_id = t.id WHERE t.id = ? AND r.id = ?",
    )
      .bind(this.ctx.props.tenantId, runId)
      .first<{ quotas: string; model_usage: string }>();
    const remaining = await remainingMicros(this.env, this.ctx.props.tenantId, row ? parseQuotas(row.quotas).monthlySpendCapUsd : null);
    if (remaining === null || !row) return null;
    const book = priceBook(this.env);
    let spent = amountMicros(1, book.perRun);
    for (const [model, used] of Object.entries(JSON.parse(row.model_usage) as Record<string, { input: number; output: number }>)) {
      spent += amountMicros(used.input / 1000, modelPrice(book.perThousandInputTokens, model));
      spent += amountMicros(used.output / 1000, modelPrice(book.perThousandOutputTokens, model));
    }
    return { remaining: remaining - spent, book };
  }

  /** Charges what a cut-off stream used (estimated) and marks the run's log. */
  private async cutOff(runId: string, request: ChatRequest, model: string, content: string): Promise<void> {
    const usage = { inputTokens: request.messages.reduce((n, m) => n + countTokens(m.content), 0), outputTokens: countTokens(content) };
    await this.charge(runId, { content, model, toolCalls: [], usage });
    await appendRunEvent(this.env.DB, this.ctx.props.tenantId, runId, "spend-cap.reached", { model, outputTokens: usage.outputTokens });
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
