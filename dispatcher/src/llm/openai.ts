import OpenAI from "openai";
import type { ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import type { ChatChunk, ChatProvider, ChatRequest, ChatResult, ToolCall } from "./types";

function messages(request: ChatRequest): ChatCompletionMessageParam[] {
  return request.messages.map((m): ChatCompletionMessageParam => {
    if (m.role === "tool") return { role: "tool", tool_call_id: m.toolCallId, content: m.content };
    if (m.role === "assistant") {
      return {
        role: "assistant",
        content: m.content,
        ...(m.toolCalls?.length
          ? { tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: "function" as const, function: { name: c.name, arguments: c.arguments } })) }
          : {}),
      };
    }
    return { role: m.role, content: m.content };
  });
}

function tools(request: ChatRequest): ChatCompletionTool[] | undefined {
  return request.tools?.map((t) => ({
    type: "function",
    function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.parameters },
  }));
}

/** Any OpenAI-compatible chat completions endpoint (OpenAI, Groq, Together, vLLM, Ollama, …). */
export class OpenAICompatibleProvider implements ChatProvider {
  private readonly client: OpenAI;

  constructor(
    options: { baseURL: string; apiKey: string },
    private readonly defaultModel: string,
  ) {
    this.client = new OpenAI({ baseURL: options.baseURL, apiKey: options.apiKey, maxRetries: 2 });
  }

  private params(request: ChatRequest) {
    const t = tools(request);
    return {
      model: request.model ?? this.defaultModel,
      messages: messages(request),
      ...(t ? { tools: t } : {}),
      ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    };
  }

  async chat(request: ChatRequest): Promise<ChatResult> {
    const completion = await this.client.chat.completions.create(this.params(request));
    const message = completion.choices[0]?.message;
    const toolCalls: ToolCall[] = (message?.tool_calls ?? []).flatMap((c) =>
      c.type === "function" ? [{ id: c.id, name: c.function.name, arguments: c.function.arguments }] : [],
    );
    return {
      content: message?.content ?? "",
      model: completion.model,
      toolCalls,
      usage: { inputTokens: completion.usage?.prompt_tokens ?? 0, outputTokens: completion.usage?.completion_tokens ?? 0 },
    };
  }

  /** Server-sent chunks, parsed by the `openai` client; tool-call fragments are assembled by index. */
  async *stream(request: ChatRequest): AsyncIterable<ChatChunk> {
    const stream = await this.client.chat.completions.create({ ...this.params(request), stream: true, stream_options: { include_usage: true } });
    let content = "";
    let model = request.model ?? this.defaultModel;
    let usage = { inputTokens: 0, outputTokens: 0 };
    const calls = new Map<number, ToolCall>();
    for await (const chunk of stream) {
      model = chunk.model || model;
      if (chunk.usage) usage = { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens };
      const delta = chunk.choices[0]?.delta;
      if (delta?.content) {
        content += delta.content;
        yield { type: "delta", content: delta.content };
      }
      for (const part of delta?.tool_calls ?? []) {
        const call = calls.get(part.index) ?? { id: "", name: "", arguments: "" };
        call.id ||= part.id ?? "";
        call.name += part.function?.name ?? "";
        call.arguments += part.function?.arguments ?? "";
        calls.set(part.index, call);
      }
    }
    yield { type: "done", content, model, toolCalls: [...calls.values()], usage };
  }
}
