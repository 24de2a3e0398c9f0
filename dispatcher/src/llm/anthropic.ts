import Anthropic, { APIError } from "@anthropic-ai/sdk";
import type { MessageParam, Tool } from "@anthropic-ai/sdk/resources/messages/messages";
import { ProviderError, retryAfterMs } from "./errors";
import { failureMessage, noAnswer } from "./failure";
import { cappedFetch } from "./fetch";
import { requireModel } from "./model";
import type { CallOptions, ChatChunk, ChatProvider, ChatRequest, ChatResult, ToolCall } from "./types";

/** The SDK's own per-request ceiling (the gateway aborts sooner, at the run's deadline). */
const CALL_TIMEOUT_MS = 10 * 60 * 1000;

/** A tool call's arguments as Anthropic's `input`: a JSON object, or the request is refused saying which call. */
function toolInput(call: ToolCall): Record<string, unknown> {
  let input: unknown;
  try {
    input = JSON.parse(call.arguments || "{}");
  } catch {
    throw new TypeError(`toolCalls: the arguments of call "${call.id}" are not JSON`);
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw new TypeError(`toolCalls: the arguments of call "${call.id}" are not a JSON object`);
  return input as Record<string, unknown>;
}

/** Anthropic requires max_tokens; this is what a request without one gets. */
const DEFAULT_MAX_TOKENS = 4096;

/**
 * The platform's chat shape in Anthropic's Messages API terms: system prompts move to `system`,
 * tool calls become `tool_use` blocks, tool results `tool_result` blocks in a user turn.
 */
function toAnthropic(request: ChatRequest): { system?: string; messages: MessageParam[] } {
  const system = request.messages.filter((m) => m.role === "system").map((m) => m.content);
  const messages: MessageParam[] = [];
  for (const m of request.messages) {
    if (m.role === "system") continue;
    if (m.role === "tool") {
      const block = { type: "tool_result" as const, tool_use_id: m.toolCallId, content: m.content };
      const last = messages.at(-1);
      // Consecutive tool results belong in one user turn.
      if (last?.role === "user" && Array.isArray(last.content) && last.content.every((b) => b.type === "tool_result")) last.content.push(block);
      else messages.push({ role: "user", content: [block] });
    } else if (m.role === "assistant" && m.toolCalls?.length) {
      messages.push({
        role: "assistant",
        content: [
          ...(m.content ? [{ type: "text" as const, text: m.content }] : []),
          ...m.toolCalls.map((c) => ({ type: "tool_use" as const, id: c.id, name: c.name, input: toolInput(c) })),
        ],
      });
    } else {
      messages.push({ role: m.role, content: m.content });
    }
  }
  return { ...(system.length ? { system: system.join("\n\n") } : {}), messages };
}

function tools(request: ChatRequest): Tool[] | undefined {
  return request.tools?.map((t) => ({
    name: t.name,
    ...(t.description ? { description: t.description } : {}),
    input_schema: { type: "object", ...t.parameters } as Tool["input_schema"],
  }));
}

/**
 * An `error` event mid-stream carries no HTTP status, only the error's type; these are the statuses
 * Anthropic documents for each type (https://docs.anthropic.com/en/api/errors), so an
 * `overloaded_error` halfway through a stream is as retryable as a 529 up front.
 */
const STATUS_OF_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

function providerError(error: unknown, secrets: readonly string[]): ProviderError {
  if (error instanceof ProviderError) return error;
  if (error instanceof APIError) {
    const status = typeof error.status === "number" ? error.status : error.type ? (STATUS_OF_TYPE[error.type] ?? null) : null;
    if (status !== null) {
      const detail = error.apiMessage ?? error.type ?? error.message.replace(/^\d{3}\s*/, "");
      return new ProviderError(failureMessage("anthropic", status, detail, secrets), status, retryAfterMs(error.headers));
    }
  }
  // APIConnectionError and its timeout, or the body breaking off.
  return noAnswer("anthropic", error, secrets);
}

/** The Anthropic Messages API, through the official SDK. */
export class AnthropicProvider implements ChatProvider {
  private readonly client: Anthropic;
  private readonly secrets: string[];

  constructor(options: { apiKey: string; baseURL?: string }) {
    // No SDK retries: the gateway decides on retries and fallbacks, with the whole picture.
    this.client = new Anthropic({ apiKey: options.apiKey, ...(options.baseURL ? { baseURL: options.baseURL } : {}), maxRetries: 0, fetch: cappedFetch("anthropic") });
    this.secrets = [options.apiKey];
  }

  private params(request: ChatRequest) {
    const t = tools(request);
    return {
      model: requireModel(request),
      max_tokens: request.maxTokens ?? DEFAULT_MAX_TOKENS,
      ...toAnthropic(request),
      ...(t ? { tools: t } : {}),
      ...(request.temperature !== undefined ? { temperature: Math.min(request.temperature, 1) } : {}),
    };
  }

  async chat(request: ChatRequest, options: CallOptions = {}): Promise<ChatResult> {
    // An explicit timeout: without one the SDK refuses large max_tokens unless streamed; the gateway bounds the call by its signal.
    const message = await this.client.messages.create(this.params(request), { signal: options.signal, timeout: CALL_TIMEOUT_MS }).catch((e: unknown) => {
      throw providerError(e, this.secrets);
    });
    const content = message.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("");
    const toolCalls: ToolCall[] = message.content.flatMap((b) => (b.type === "tool_use" ? [{ id: b.id, name: b.name, arguments: JSON.stringify(b.input) }] : []));
    return { content, model: message.model, toolCalls, usage: { inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens } };
  }

  /** The SDK parses the server-sent events; text deltas pass through, tool input JSON is assembled per block. */
  async *stream(request: ChatRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    const params = this.params(request);
    let content = "";
    let model = params.model;
    const usage = { inputTokens: 0, outputTokens: 0 };
    const blocks = new Map<number, ToolCall>();
    try {
      const events = await this.client.messages.create({ ...params, stream: true }, { signal: options.signal, timeout: CALL_TIMEOUT_MS });
      for await (const event of events) {
        if (event.type === "message_start") {
          model = event.message.model;
          usage.inputTokens = event.message.usage.input_tokens;
          usage.outputTokens = event.message.usage.output_tokens;
        } else if (event.type === "content_block_start" && event.content_block.type === "tool_use") {
          blocks.set(event.index, { id: event.content_block.id, name: event.content_block.name, arguments: "" });
        } else if (event.type === "content_block_delta") {
          if (event.delta.type === "text_delta") {
            content += event.delta.text;
            yield { type: "delta", content: event.delta.text };
          } else if (event.delta.type === "input_json_delta") {
            const block = blocks.get(event.index);
            if (block) block.arguments += event.delta.partial_json;
          }
        } else if (event.type === "message_delta") {
          usage.outputTokens = event.usage.output_tokens;
        }
      }
    } catch (e) {
      throw providerError(e, this.secrets);
    }
    const toolCalls = [...blocks.values()].map((c) => ({ ...c, arguments: c.arguments || "{}" }));
    yield { type: "done", content, model, toolCalls, usage };
  }
}
