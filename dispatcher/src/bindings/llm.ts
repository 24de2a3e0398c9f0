import { WorkerEntrypoint } from "cloudflare:workers";
import type { DispatcherEnv } from "../../../core/env";
import { chatProvider } from "../llm/provider";
import { ChatRequest, type ChatResult } from "../llm/types";
import { addUsage } from "../runs/usage";
import type { TenantProps } from "./storage";

/**
 * `env.LLM` inside a tenant isolate. The provider key lives only here, in the platform's Worker;
 * tenant code sends messages and gets back text and token usage, which is charged to its run.
 */
export class TenantLlm extends WorkerEntrypoint<DispatcherEnv, TenantProps> {
  async chat(request: unknown, runId: string): Promise<Omit<ChatResult, "model"> & { model: string }> {
    const parsed = ChatRequest.safeParse(request);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TypeError(`LLM.chat: ${issue ? `${issue.path.join(".") || "request"}: ${issue.message}` : "invalid request"}`);
    }
    const result = await chatProvider(this.env).chat(parsed.data);
    await addUsage(this.env.DB, this.ctx.props.tenantId, runId, {
      llmCalls: 1,
      inputTokens: result.usage.inputTokens,
      outputTokens: result.usage.outputTokens,
    });
    return result;
  }
}
