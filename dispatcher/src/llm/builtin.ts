import type { ChatProvider, ChatRequest, ChatResult } from "./types";

export const BUILTIN_MODEL = "isoplane-echo";

/** Roughly four characters a token, like the common heuristic; deterministic, so tests can assert on it. */
export function countTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * The embedded default model: answers `echo: <last user message>` so the whole run path works
 * offline and its output is predictable. Token counts follow `countTokens`.
 */
export class BuiltinProvider implements ChatProvider {
  async chat(request: ChatRequest): Promise<ChatResult> {
    const lastUser = [...request.messages].reverse().find((m) => m.role === "user");
    const content = `echo: ${lastUser?.content ?? ""}`;
    const inputTokens = request.messages.reduce((sum, m) => sum + countTokens(m.content), 0);
    return { content, model: BUILTIN_MODEL, usage: { inputTokens, outputTokens: countTokens(content) } };
  }
}
