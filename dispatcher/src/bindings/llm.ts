import { WorkerEntrypoint } from "cloudflare:workers";
import type { DispatcherEnv } from "../../../core/env";
import { chatProvider } from "../llm/provider";
import { ChatRequest, type ChatChunk, type ChatResult } from "../llm/types";
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
    const result = await chatProvider(this.env).chat(parse(request, "chat"));
    await this.charge(runId, result);
    return result;
  }

  /**
   * The same answer as a stream of newline-delimited JSON chunks (`delta`…, then one `done`),
   * returned over RPC as a ReadableStream so deltas reach the agent as they are generated.
   */
  async stream(request: unknown, runId: string): Promise<ReadableStream<Uint8Array>> {
    const chunks = chatProvider(this.env).stream(parse(request, "stream"));
    const encoder = new TextEncoder();
    const charge = (result: ChatResult) => this.charge(runId, result);
    return new ReadableStream<Uint8Array>({
      async start(controller) {
        try {
          for await (const chunk of chunks as AsyncIterable<ChatChunk>) {
            if (chunk.type === "done") await charge(chunk);
            controller.enqueue(encoder.encode(`${JSON.stringify(chunk)}\n`));
          }
          controller.close();
        } catch (err) {
          controller.error(err);
        }
      },
    });
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
