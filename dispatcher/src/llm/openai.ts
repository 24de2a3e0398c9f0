import OpenAI from "openai";
import type { ChatProvider, ChatRequest, ChatResult } from "./types";

/** Any OpenAI-compatible chat completions endpoint (OpenAI, Groq, Together, vLLM, Ollama, …). */
export class OpenAICompatibleProvider implements ChatProvider {
  private readonly client: OpenAI;

  constructor(
    options: { baseURL: string; apiKey: string },
    private readonly defaultModel: string,
  ) {
    this.client = new OpenAI({ baseURL: options.baseURL, apiKey: options.apiKey, maxRetries: 2 });
  }

  async chat(request: ChatRequest): Promise<ChatResult> {
    const completion = await this.client.chat.completions.create({
      model: request.model ?? this.defaultModel,
      messages: request.messages,
      ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    });
    return {
      content: completion.choices[0]?.message?.content ?? "",
      model: completion.model,
      usage: {
        inputTokens: completion.usage?.prompt_tokens ?? 0,
        outputTokens: completion.usage?.completion_tokens ?? 0,
      },
    };
  }
}
