import Anthropic from "@anthropic-ai/sdk";
import type { MessageParam, Tool } from "@anthropic-ai/sdk/resources/messages/messages";
import type { ChatChunk, ChatProvider, ChatRequest, ChatResult, ToolCall } from "./types";

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
          ...m.toolCalls.map((c) => ({ type: "tool_use" as const, id: c.id, name: c.name, input: JSON.parse(c.arguments || "{}") as Record<string, unknown> })),
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

/** The Anthropic Messages API, through the official SDK. */
export class AnthropicProvider implements ChatProvider {
  private readonly client: Anthropic;

  constructor(
    options: { apiKey: string; baseURL?: string },
    private readonly defaultModel: string,
  ) {
    this.client = new Anthropic({ apiKey: options.apiKey, ...(options.baseURL ? { baseURL: options.baseURL } : {}), maxRetries: 2 });
  }

  private params(request: ChatRequest) {
    const t = tools(request);
    return {
      model: request.model ?? this.defaultModel,
      max_tokens: request.maxTokens ?? DEFAULT_MAX_TOKENS,
      ...toAnthropic(request),
      ...(t ? { tools: t } : {}),
      ...(request.temperature !== undefined ? { temperature: Math.min(request.temperature, 1) } : {}),
    };
  }

  async chat(request: ChatRequest): Promise<ChatResult> {
    const message = await this.client.messages.create(this.params(request));
    const content = message.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("");
    const toolCalls: ToolCall[] = message.content.flatMap((b) => (b.type === "tool_use" ? [{ id: b.id, name: b.name, arguments: JSON.stringify(b.input) }] : []));
    return { content, model: message.model, toolCalls, usage: { inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens } };
  }

  /** The SDK parses the server-sent events; text deltas pass through, tool input JSON is assembled per block. */
  async *stream(request: ChatRequest): AsyncIterable<ChatChunk> {
    const events = await this.client.messages.create({ ...this.params(request), stream: true });
    let content = "";
    let model = request.model ?? this.defaultModel;
    const usage = { inputTokens: 0, outputTokens: 0 };
    const blocks = new Map<number, ToolCall>();
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
    const toolCalls = [...blocks.values()].map((c) => ({ ...c, arguments: c.arguments || "{}" }));
    yield { type: "done", content, model, toolCalls, usage };
  }
}
