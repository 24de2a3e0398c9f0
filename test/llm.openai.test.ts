import { describe, expect, it } from "vitest";
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
