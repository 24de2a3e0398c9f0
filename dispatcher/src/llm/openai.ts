import OpenAI, { APIError } from "openai";
import type { ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { ProviderError, retryAfterMs } from "./errors";
import { failureMessage, noAnswer } from "./failure";
import { cappedFetch } from "./fetch";
import { requireModel } from "./model";
import type { CallOptions, ChatChunk, ChatProvider, ChatRequest, ChatResult, ToolCall } from "./types";

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

/** The SDK's failures in the gateway's terms; the `error` body's own message is the clearest reason. */
function providerError(error: unknown, secrets: readonly string[]): ProviderError {
  if (error instanceof ProviderError) return error;
  if (error instanceof APIError && typeof error.status === "number") {
    const body = error.error as { message?: unknown } | undefined;
    const detail = typeof body?.message === "string" ? body.message : error.message.replace(/^\d{3}\s*/, "");
    return new ProviderError(failureMessage("openai", error.status, detail, secrets), error.status, retryAfterMs(error.headers));
  }
  // APIConnectionError and its timeout, an error event mid-stream, or the body breaking off.
  return noAnswer("openai", error, secrets);
}

export interface OpenAICompatibleOptions {
  baseURL: string;
  apiKey: string;
  /** Sent with every request, e.g. Modal's proxy auth tokens (`modalHeaders`). */
  headers?: Record<string, string>;
}

/** Any OpenAI-compatible chat completions endpoint (OpenAI, Groq, Together, vLLM on Modal, Ollama, …). */
export class OpenAICompatibleProvider implements ChatProvider {
  private readonly client: OpenAI;
  private readonly secrets: string[];

  constructor(options: OpenAICompatibleOptions) {
    // No SDK retries: the gateway decides on retries and fallbacks, with the whole picture.
    this.client = new OpenAI({ baseURL: options.baseURL, apiKey: options.apiKey, maxRetries: 0, fetch: cappedFetch("openai"), ...(options.headers ? { defaultHeaders: options.headers } : {}) });
    this.secrets = [options.apiKey, ...Object.values(options.headers ?? {})];
  }

  private params(request: ChatRequest) {
    const t = tools(request);
    return {
      model: requireModel(request),
      messages: messages(request),
      ...(t ? { tools: t } : {}),
      ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    };
  }

  async chat(request: ChatRequest, options: CallOptions = {}): Promise<ChatResult> {
    const params = this.params(request);
    const completion = await this.client.chat.completions.create(params, { signal: options.signal }).catch((e: unknown) => {
      throw providerError(e, this.secrets);
    });
    // A 200 that is not a completion (an HTML error page, `{}`) is the endpoint's failure, worth another try.
    if (!completion || !Array.isArray(completion.choices)) throw new ProviderError(failureMessage("openai", 502, "the answer is not a chat completion", this.secrets), 502);
    const message = completion.choices[0]?.message;
    const toolCalls: ToolCall[] = (message?.tool_calls ?? []).flatMap((c) =>
      c.type === "function" ? [{ id: c.id, name: c.function.name, arguments: c.function.arguments }] : [],
    );
    return {
      content: message?.content ?? "",
      model: completion.model || params.model,
      toolCalls,
      usage: { inputTokens: completion.usage?.prompt_tokens ?? 0, outputTokens: completion.usage?.completion_tokens ?? 0 },
    };
  }

  /** Server-sent chunks, parsed by the `openai` client; tool-call fragments are assembled by index. */
  async *stream(request: ChatRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    const params = this.params(request);
    let content = "";
    let model = params.model;
    let usage = { inputTokens: 0, outputTokens: 0 };
    const calls = new Map<number, ToolCall>();
    try {
      const stream = await this.client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } }, { signal: options.signal });
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
    } catch (e) {
      throw providerError(e, this.secrets);
    }
    yield { type: "done", content, model, toolCalls: [...calls.values()], usage };
  }
}
