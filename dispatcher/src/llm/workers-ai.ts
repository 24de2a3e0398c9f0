import { EventSourceParserStream } from "eventsource-parser/stream";
import { requireModel } from "./model";
import type { ChatChunk, ChatProvider, ChatRequest, ChatResult } from "./types";
import { bindingError, resultOf, StreamAssembler } from "./workers-ai-wire";

/**
 * What the provider needs of `env.AI`: structural, so the real `Ai` binding, a service binding
 * with a `run` method and a test fake all fit.
 */
export interface AiBinding {
  run(model: string, inputs: Record<string, unknown>, options?: Record<string, unknown>): Promise<unknown>;
}

/** A streamed answer is model text; more than this buffered in one event means a broken stream. */
const MAX_EVENT_CHARS = 4_000_000;

/**
 * The platform's messages in Workers AI's scoped-prompt terms. Tool results carry the tool's name
 * too: older function-calling models (e.g. hermes-2-pro) match results to calls by name.
 */
function messages(request: ChatRequest): Record<string, unknown>[] {
  const names = new Map<string, string>();
  return request.messages.map((m) => {
    if (m.role === "assistant") {
      for (const c of m.toolCalls ?? []) names.set(c.id, c.name);
      return {
        role: "assistant",
        content: m.content,
        ...(m.toolCalls?.length ? { tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) } : {}),
      };
    }
    if (m.role === "tool") {
      const name = names.get(m.toolCallId);
      return { role: "tool", content: m.content, tool_call_id: m.toolCallId, ...(name ? { name } : {}) };
    }
    return { role: m.role, content: m.content };
  });
}

/** Workers AI's model catalogue and Cloudflare's own AI SDK provider send tools in the OpenAI form. */
function inputs(request: ChatRequest, stream: boolean): Record<string, unknown> {
  return {
    messages: messages(request),
    ...(request.tools?.length
      ? { tools: request.tools.map((t) => ({ type: "function", function: { name: t.name, description: t.description ?? "", parameters: t.parameters } })) }
      : {}),
    ...(stream ? { stream: true } : {}),
    // Left out, most models stop at their default (often 256 tokens).
    ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
  };
}

/** Cloudflare Workers AI through the `AI` binding: no key, no egress, billed to the account. */
export class WorkersAiProvider implements ChatProvider {
  constructor(private readonly binding: AiBinding) {}

  private async run(model: string, request: ChatRequest, stream: boolean): Promise<unknown> {
    try {
      return await this.binding.run(model, inputs(request, stream));
    } catch (e) {
      throw bindingError(e);
    }
  }

  async chat(request: ChatRequest): Promise<ChatResult> {
    const model = requireModel(request);
    return resultOf(await this.run(model, request, false), model);
  }

  async *stream(request: ChatRequest): AsyncIterable<ChatChunk> {
    const model = requireModel(request);
    const output = await this.run(model, request, true);
    if (!(output instanceof ReadableStream)) {
      // A model that does not stream answers whole; pass it on as one piece.
      const result = resultOf(output, model);
      if (result.content) yield { type: "delta", content: result.content };
      yield { type: "done", ...result };
      return;
    }
    const assembler = new StreamAssembler();
    const events = (output as ReadableStream<Uint8Array>)
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(new EventSourceParserStream({ maxBufferSize: MAX_EVENT_CHARS }));
    try {
      for await (const event of events) {
        if (event.data === "[DONE]") break;
        let data: unknown;
        try {
          data = JSON.parse(event.data);
        } catch {
          continue; // a keep-alive or a stray line, not part of the answer
        }
        const delta = assembler.add(data);
        if (delta) yield { type: "delta", content: delta };
      }
    } catch (e) {
      throw bindingError(e);
    }
    yield { type: "done", ...assembler.result(model) };
  }
}
