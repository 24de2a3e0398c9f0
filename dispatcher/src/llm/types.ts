import { z } from "@hono/zod-openapi";
import type * as Contract from "../../../core/contract.js";

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

// The validators accept exactly the contract's shapes (core/contract.js), both ways: a field added
// to one and not the other fails the type check.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Same shape and the same fields (an optional field only one side has would still be assignable). */
type Exact<A, B> = Same<A, B> extends true ? Same<keyof A, keyof B> : false;
type Role = ChatMessage["role"];
type ByRole<M, R> = M extends { role: infer X } ? (R extends X ? M : never) : never;
const _sameRequest: Exact<ChatRequest, Contract.ChatRequest> = true;
const _sameMessages: { [R in Role]: Exact<ByRole<ChatMessage, R>, ByRole<Contract.ChatMessage, R>> } = { system: true, user: true, assistant: true, tool: true };
const _sameTool: Exact<ToolSpec, Contract.ToolSpec> & Exact<ToolCall, Contract.ToolCall> = true;
void _sameRequest;
void _sameMessages;
void _sameTool;

/** What a model call returns, and a streamed answer's pieces: the wire contract's shapes. */
import type { ChatChunk, ChatResult } from "../../../core/contract.js";
export type { ChatChunk, ChatResult, ChatUsage, StreamLine } from "../../../core/contract.js";

/**
 * A model provider. The provider's credentials stay inside it: tenant code only sees results.
 * `stream` yields deltas and ends with exactly one `done` chunk carrying the usage.
 */
export interface ChatProvider {
  chat(request: ChatRequest, options?: CallOptions): Promise<ChatResult>;
  stream(request: ChatRequest, options?: CallOptions): AsyncIterable<ChatChunk>;
}

/** What bounds one attempt: the gateway aborts it at the run's deadline (providers close their connection on it). */
export interface CallOptions {
  signal?: AbortSignal;
}
