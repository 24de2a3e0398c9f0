import { z } from "@hono/zod-openapi";

/** A tool the model may call: a name, what it does, and JSON Schema for its arguments. */
export const ToolSpec = z.strictObject({
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/),
  description: z.string().max(4000).optional(),
  parameters: z.record(z.string(), z.unknown()),
});
export type ToolSpec = z.infer<typeof ToolSpec>;

export const ToolCall = z.strictObject({
  id: z.string().min(1).max(200),
  name: z.string().min(1).max(64),
  /** The arguments as the model produced them (JSON text). */
  arguments: z.string().max(1_000_000),
});
export type ToolCall = z.infer<typeof ToolCall>;

export const ChatMessage = z.discriminatedUnion("role", [
  z.strictObject({ role: z.enum(["system", "user"]), content: z.string().max(1_000_000) }),
  z.strictObject({ role: z.literal("assistant"), content: z.string().max(1_000_000), toolCalls: z.array(ToolCall).max(64).optional() }),
  z.strictObject({ role: z.literal("tool"), toolCallId: z.string().min(1).max(200), content: z.string().max(1_000_000) }),
]);
export type ChatMessage = z.infer<typeof ChatMessage>;

/** What `env.LLM.chat()` / `env.LLM.stream()` accept from tenant code; validated because the caller is untrusted. */
export const ChatRequest = z.strictObject({
  model: z.string().min(1).max(200).optional(),
  messages: z.array(ChatMessage).min(1).max(1000),
  tools: z.array(ToolSpec).max(64).optional(),
  maxTokens: z.number().int().positive().max(1_000_000).optional(),
  temperature: z.number().min(0).max(2).optional(),
});
export type ChatRequest = z.infer<typeof ChatRequest>;

export interface ChatUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface ChatResult {
  content: string;
  model: string;
  /** Calls the model asks for; empty when it answered in text. */
  toolCalls: ToolCall[];
  usage: ChatUsage;
}

/** One piece of a streamed answer: text as it is generated, then the whole result once. */
export type ChatChunk = { type: "delta"; content: string } | ({ type: "done" } & ChatResult);

/**
 * What `env.LLM.stream()` sends: the chunks, or a final `error` line when the platform ends the
 * stream itself (an error thrown into a stream does not survive the RPC hop with its message).
 */
export type StreamLine = ChatChunk | { type: "error"; error: string };

/**
 * A model provider. The provider's credentials stay inside it: tenant code only sees results.
 * `stream` yields deltas and ends with exactly one `done` chunk carrying the usage.
 */
export interface ChatProvider {
  chat(request: ChatRequest): Promise<ChatResult>;
  stream(request: ChatRequest): AsyncIterable<ChatChunk>;
}
