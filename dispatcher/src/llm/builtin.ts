import type { ChatChunk, ChatProvider, ChatRequest, ChatResult, ToolCall } from "./types";

export const BUILTIN_MODEL = "isoplane-echo";

/** Roughly four characters a token, like the common heuristic; deterministic, so tests can assert on it. */
export function countTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** The platform's estimate of a request's input tokens, where the provider gives no figure to trust. */
export function inputTokensOf(request: Pick<ChatRequest, "messages">): number {
  return request.messages.reduce((n, m) => n + countTokens(m.content), 0);
}

/** Tool calls written in the last user message as `name({...json})` or `name()`. */
function requestedCalls(text: string, tools: NonNullable<ChatRequest["tools"]>): ToolCall[] {
  const calls: ToolCall[] = [];
  for (const tool of tools) {
    const pattern = new RegExp(`\\b${tool.name.replace(/[-]/g, "\\-")}\\((\\{.*?\\})?\\)`, "g");
    for (const m of text.matchAll(pattern)) calls.push({ id: `call_${calls.length + 1}`, name: tool.name, arguments: m[1] ?? "{}" });
  }
  return calls;
}

/**
 * The embedded default model, deterministic so the whole run path works offline and tests can
 * assert on it. It answers `echo: <last user message>`; when tools are offered it calls those the
 * last user message names as `tool({...})`, then, once their results are in, answers
 * `echo: <message> | <tool>: <result> …`. Token counts follow `countTokens`.
 */
export class BuiltinProvider implements ChatProvider {
  async chat(request: ChatRequest): Promise<ChatResult> {
    const messages = request.messages;
    const lastUserIndex = messages.findLastIndex((m) => m.role === "user");
    const lastUser = lastUserIndex >= 0 ? messages[lastUserIndex]!.content : "";
    const after = messages.slice(lastUserIndex + 1);
    const inputTokens = messages.reduce((sum, m) => sum + countTokens(m.content) + ("toolCalls" in m && m.toolCalls ? m.toolCalls.reduce((s, c) => s + countTokens(c.arguments), 0) : 0), 0);
    const calls = request.tools?.length && after.length === 0 ? requestedCalls(lastUser, request.tools) : [];
    if (calls.length) {
      const outputTokens = calls.reduce((s, c) => s + countTokens(c.name + c.arguments), 0);
      return { content: "", model: BUILTIN_MODEL, toolCalls: calls, usage: { inputTokens, outputTokens } };
    }
    const callNames = new Map(after.flatMap((m) => (m.role === "assistant" ? (m.toolCalls ?? []).map((c) => [c.id, c.name] as const) : [])));
    const results = after.filter((m) => m.role === "tool").map((m) => `${callNames.get(m.toolCallId) ?? m.toolCallId}: ${m.content}`);
    const content = `echo: ${lastUser}${results.length ? ` | ${results.join(" | ")}` : ""}`;
    return { content, model: BUILTIN_MODEL, toolCalls: [], usage: { inputTokens, outputTokens: countTokens(content) } };
  }

  /** Streams the same answer a word at a time. */
  async *stream(request: ChatRequest): AsyncIterable<ChatChunk> {
    const result = await this.chat(request);
    for (const piece of result.content.match(/\S+\s*|\s+/g) ?? []) yield { type: "delta", content: piece };
    yield { type: "done", ...result };
  }
}
