import { describe, expect, it } from "vitest";
import { AnthropicProvider } from "../dispatcher/src/llm/anthropic";
import type { ChatChunk } from "../dispatcher/src/llm/types";
import { FAKE_ANTHROPIC_KEY } from "./fakes/anthropic";
import { BuiltinProvider } from "../dispatcher/src/llm/builtin";
import { OpenAICompatibleProvider } from "../dispatcher/src/llm/openai";
import { chatProvider } from "../dispatcher/src/llm/provider";
import { FAKE_LLM_KEY } from "./fakes/openai";

describe("model providers", () => {
  it("talks to an OpenAI-compatible endpoint and maps its usage", async () => {
    const provider = new OpenAICompatibleProvider({ baseURL: "https://llm.test/v1", apiKey: FAKE_LLM_KEY }, "gpt-test");
    const result = await provider.chat({ messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hello" }] });
    expect(result).toEqual({ content: "fake:gpt-test:HELLO", model: "gpt-test", toolCalls: [], usage: { inputTokens: 14, outputTokens: 19 } });
    const other = await provider.chat({ model: "other-model", messages: [{ role: "user", content: "x" }] });
    expect(other.model).toBe("other-model");
  });

  it("surfaces a provider's refusal as an error", async () => {
    const provider = new OpenAICompatibleProvider({ baseURL: "https://llm.test/v1", apiKey: "sk-wrong" }, "gpt-test");
    await expect(provider.chat({ messages: [{ role: "user", content: "x" }] })).rejects.toThrow(/401/);
  });

  it("is chosen by configuration, with the built-in model as the default", () => {
    expect(chatProvider({} as never)).toBeInstanceOf(BuiltinProvider);
    expect(chatProvider({ LLM_PROVIDER: "openai", LLM_BASE_URL: "https://llm.test/v1", LLM_API_KEY: "k", LLM_MODEL: "m" } as never)).toBeInstanceOf(
      OpenAICompatibleProvider,
    );
    expect(() => chatProvider({ LLM_PROVIDER: "openai" } as never)).toThrow(/LLM_BASE_URL/);
    expect(chatProvider({ LLM_PROVIDER: "anthropic", LLM_API_KEY: "k", LLM_MODEL: "m" } as never)).toBeInstanceOf(AnthropicProvider);
    expect(() => chatProvider({ LLM_PROVIDER: "anthropic" } as never)).toThrow(/LLM_API_KEY/);
    expect(() => chatProvider({ LLM_PROVIDER: "nope" } as never)).toThrow(/unknown LLM_PROVIDER/);
  });

  it("the built-in model echoes the last user message, deterministically", async () => {
    const result = await new BuiltinProvider().chat({
      messages: [
        { role: "user", content: "first" },
        { role: "assistant", content: "ok" },
        { role: "user", content: "second" },
      ],
    });
    expect(result).toEqual({ content: "echo: second", model: "isoplane-echo", toolCalls: [], usage: { inputTokens: 5, outputTokens: 3 } });
  });
});

const tool = { name: "lookup", description: "Look something up", parameters: { type: "object", properties: { q: { type: "number" } } } };

async function collect(stream: AsyncIterable<ChatChunk>) {
  const deltas: string[] = [];
  let done: ChatChunk | undefined;
  for await (const chunk of stream) {
    if (chunk.type === "delta") deltas.push(chunk.content);
    else done = chunk;
  }
  return { deltas, done };
}

describe("tools and streaming, for every provider", () => {
  const openai = () => new OpenAICompatibleProvider({ baseURL: "https://llm.test/v1", apiKey: FAKE_LLM_KEY }, "gpt-test");
  const anthropic = () => new AnthropicProvider({ apiKey: FAKE_ANTHROPIC_KEY, baseURL: "https://anthropic.test" }, "claude-test");

  it("OpenAI-compatible: tool calls, and streamed deltas and tool-call fragments", async () => {
    const call = await openai().chat({ messages: [{ role: "user", content: "please use lookup" }], tools: [tool] });
    expect(call.toolCalls).toEqual([{ id: "call_1", name: "lookup", arguments: '{"q":1}' }]);
    const streamed = await collect(openai().stream({ messages: [{ role: "user", content: "hi" }] }));
    expect(streamed.deltas.join("")).toBe("fake:gpt-test:HI");
    expect(streamed.done).toMatchObject({ type: "done", content: "fake:gpt-test:HI", usage: { inputTokens: 9, outputTokens: 4 } });
    const streamedCall = await collect(openai().stream({ messages: [{ role: "user", content: "use lookup" }], tools: [tool] }));
    expect(streamedCall.done).toMatchObject({ toolCalls: [{ id: "call_1", name: "lookup", arguments: '{"q":1}' }] });
  });

  it("Anthropic Messages API: system prompt, tool use and tool results, streaming", async () => {
    const answer = await anthropic().chat({ messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hello" }] });
    expect(answer).toEqual({ content: "claude:8:HELLO", model: "claude-test", toolCalls: [], usage: { inputTokens: 11, outputTokens: 7 } });
    const call = await anthropic().chat({ messages: [{ role: "user", content: "use lookup" }], tools: [tool] });
    expect(call.toolCalls).toEqual([{ id: "toolu_1", name: "lookup", arguments: '{"q":1}' }]);
    const after = await anthropic().chat({
      messages: [
        { role: "user", content: "use lookup" },
        { role: "assistant", content: "", toolCalls: call.toolCalls },
        { role: "tool", toolCallId: "toolu_1", content: "42" },
      ],
      tools: [tool],
    });
    expect(after.content).toBe("tool said: 42");
    const streamed = await collect(anthropic().stream({ messages: [{ role: "user", content: "hi" }] }));
    expect(streamed.deltas.join("")).toBe("claude:0:HI");
    expect(streamed.done).toMatchObject({ content: "claude:0:HI", usage: { inputTokens: 11, outputTokens: 7 } });
    const streamedCall = await collect(anthropic().stream({ messages: [{ role: "user", content: "use lookup" }], tools: [tool] }));
    expect(streamedCall.done).toMatchObject({ toolCalls: [{ id: "toolu_1", name: "lookup", arguments: '{"q":1}' }] });
    await expect(new AnthropicProvider({ apiKey: "wrong", baseURL: "https://anthropic.test" }, "m").chat({ messages: [{ role: "user", content: "x" }] })).rejects.toThrow(/401/);
  });

  it("the built-in model calls tools named in the message, then answers with their results, and streams", async () => {
    const builtin = new BuiltinProvider();
    const first = await builtin.chat({ messages: [{ role: "user", content: 'lookup({"q":2}) please' }], tools: [tool] });
    expect(first.toolCalls).toEqual([{ id: "call_1", name: "lookup", arguments: '{"q":2}' }]);
    const second = await builtin.chat({
      messages: [
        { role: "user", content: 'lookup({"q":2}) please' },
        { role: "assistant", content: "", toolCalls: first.toolCalls },
        { role: "tool", toolCallId: "call_1", content: "two" },
      ],
      tools: [tool],
    });
    expect(second.content).toBe('echo: lookup({"q":2}) please | lookup: two');
    const streamed = await collect(builtin.stream({ messages: [{ role: "user", content: "a b c" }] }));
    expect(streamed.deltas).toEqual(["echo: ", "a ", "b ", "c"]);
  });
});
