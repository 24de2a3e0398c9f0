import { z } from "@hono/zod-openapi";

export const ChatMessage = z.strictObject({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string().max(1_000_000),
});

/** What `env.LLM.chat()` accepts from tenant code; validated because the caller is untrusted. */
export const ChatRequest = z.strictObject({
  model: z.string().min(1).max(200).optional(),
  messages: z.array(ChatMessage).min(1).max(1000),
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
  usage: ChatUsage;
}

/** A model provider. The provider's credentials stay inside it: tenant code only sees results. */
export interface ChatProvider {
  chat(request: ChatRequest): Promise<ChatResult>;
}
