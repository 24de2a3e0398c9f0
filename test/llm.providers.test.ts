import { describe, expect, it } from "vitest";
import { AnthropicProvider } from "../dispatcher/src/llm/anthropic";
import { BuiltinProvider } from "../dispatcher/src/llm/builtin";
import { ProviderError } from "../dispatcher/src/llm/errors";
import { modalHeaders } from "../dispatcher/src/llm/modal";
import { OpenAICompatibleProvider } from "../dispatcher/src/llm/openai";
import type { ChatChunk, ChatRequest } from "../dispatcher/src/llm/types";
import { type AiBinding, WorkersAiProvider } from "../dispatcher/src/llm/workers-ai";
import { FAKE_ANTHROPIC_KEY } from "./fakes/anthropic";
import { FAKE_LLM_KEY, FAKE_MODAL_KEY, FAKE_MODAL_SECRET } from "./fakes/openai";
import { FakeAi } from "./fakes/workers-ai";

// The real binding fits the provider's structural interface.
const _realBindingFits: (ai: Ai) => AiBinding = (ai) => ai;
void _realBindingFits;

const tool = { name: "lookup", description: "Look something up", parameters: { type: "object", properties: { q: { type: "number" } } } };
const hello: ChatRequest["messages"] = [{ role: "system", content: "be brief" }, { role: "user", content: "hello" }];
const toolTurns = (id: string): ChatRequest["messages"] => [
  { role: "user", content: "use lookup" },
  { role: "assistant", content: "", toolCalls: [{ id, name: "lookup", arguments: '{"q":1}' }] },
  { role: "tool", toolCallId: id, content: "42" },
];

async function collect(stream: AsyncIterable<ChatChunk>) {
  const deltas: string[] = [];
  let done: ChatChunk | undefined;
  for await (const chunk of stream) {
    if (chunk.type === "delta") deltas.push(chunk.content);
    else done = chunk;
  }
  return { deltas, done };
}

/** Runs a stream until it fails; the deltas that came first, and the failure. */
async function failure(stream: AsyncIterable<ChatChunk>) {
  const deltas: string[] = [];
  try {
    for await (const chunk of stream) if (chunk.type === "delta") deltas.push(chunk.content);
  } catch (e) {
    expect(e).toBeInstanceOf(ProviderError);
    return { deltas, error: e as ProviderError };
  }
  throw new Error("the stream did not fail");
}

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

describe("OpenAI-compatible endpoints", () => {
  const openai = (apiKey = FAKE_LLM_KEY) => new OpenAICompatibleProvider({ baseURL: "https://llm.test/v1", apiKey });

  it("chats and maps usage; the model is always the request's", async () => {
    const result = await openai().chat({ model: "gpt-test", messages: hello });
    expect(result).toEqual({ content: "fake:gpt-test:HELLO", model: "gpt-test", toolCalls: [], usage: { inputTokens: 14, outputTokens: 19 } });
    expect((await openai().chat({ model: "other-model", messages: [{ role: "user", content: "x" }] })).model).toBe("other-model");
    await expect(openai().chat({ messages: hello })).rejects.toThrow(TypeError);
  });

  it("tool calls, and streamed deltas and tool-call fragments", async () => {
    const call = await openai().chat({ model: "gpt-test", messages: [{ role: "user", content: "please use lookup" }], tools: [tool] });
    expect(call.toolCalls).toEqual([{ id: "call_1", name: "lookup", arguments: '{"q":1}' }]);
    const streamed = await collect(openai().stream({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] }));
    expect(streamed.deltas.join("")).toBe("fake:gpt-test:HI");
    expect(streamed.done).toMatchObject({ type: "done", content: "fake:gpt-test:HI", usage: { inputTokens: 9, outputTokens: 4 } });
    const streamedCall = await collect(openai().stream({ model: "gpt-test", messages: [{ role: "user", content: "use lookup" }], tools: [tool] }));
    expect(streamedCall.done).toMatchObject({ toolCalls: [{ id: "call_1", name: "lookup", arguments: '{"q":1}' }] });
  });

  it("a 429 is retryable after its Retry-After (or retry-after-ms); a 503 is retryable", async () => {
    const limited = await rejection(openai().chat({ model: "rate-limited", messages: hello }));
    expect(limited).toMatchObject({ status: 429, retryAfterMs: 1000, retryable: true, message: "openai: 429 Rate limit reached for requests" });
    expect(await rejection(openai().chat({ model: "rate-limited-ms", messages: hello }))).toMatchObject({ status: 429, retryAfterMs: 250 });
    expect(await rejection(openai().chat({ model: "unavailable", messages: hello }))).toMatchObject({ status: 503, retryAfterMs: null, retryable: true });
    // Streams fail the same way before the first chunk…
    expect((await failure(openai().stream({ model: "rate-limited", messages: hello }))).error).toMatchObject({ status: 429, retryAfterMs: 1000 });
  });

  it("…and an error event mid-stream is a failure without an answer", async () => {
    const { deltas, error } = await failure(openai().stream({ model: "midstream-error", messages: hello }));
    expect(deltas).toEqual(["partial"]);
    expect(error).toMatchObject({ status: null, retryable: true });
    expect(error.message).toMatch(/^openai: .*server had an error/);
  });

  it("a refused key is not retryable, and the key is not repeated in the message", async () => {
    const error = await rejection(openai("sk-wrong-key").chat({ model: "gpt-test", messages: hello }));
    expect(error).toMatchObject({ status: 401, retryable: false });
    expect(error.message).toMatch(/^openai: 401 Incorrect API key provided/);
    expect(error.message).not.toContain("sk-wrong-key");
  });

  it("nobody answering is a failure with no status", async () => {
    // The outbound fake answers unknown hosts with 502, like a gateway in front of a dead upstream.
    expect(await rejection(new OpenAICompatibleProvider({ baseURL: "https://nowhere.test/v1", apiKey: "k" }).chat({ model: "m", messages: hello }))).toMatchObject({
      status: 502,
      retryable: true,
    });
  });
});

describe("Modal endpoints (vLLM behind proxy auth)", () => {
  const modal = (headers?: Record<string, string>) => new OpenAICompatibleProvider({ baseURL: "https://modal.test/v1", apiKey: "modal", ...(headers ? { headers } : {}) });

  it("sends the proxy auth token as Modal-Key / Modal-Secret", async () => {
    expect(modalHeaders("wk-1", "ws-1")).toEqual({ "Modal-Key": "wk-1", "Modal-Secret": "ws-1" });
    const provider = modal(modalHeaders(FAKE_MODAL_KEY, FAKE_MODAL_SECRET));
    expect(await provider.chat({ model: "llama", messages: hello })).toMatchObject({ content: "fake:llama:HELLO", model: "llama" });
    const streamed = await collect(provider.stream({ model: "llama", messages: [{ role: "user", content: "use lookup" }], tools: [tool] }));
    expect(streamed.done).toMatchObject({ toolCalls: [{ id: "call_1", name: "lookup", arguments: '{"q":1}' }] });
  });

  it("without the token, or with a wrong one, Modal's proxy answers 401", async () => {
    const missing = await rejection(modal().chat({ model: "llama", messages: hello }));
    expect(missing).toMatchObject({ status: 401, retryable: false, message: "openai: 401 modal-http: missing credentials for proxy authorization" });
    const wrong = await rejection(modal(modalHeaders(FAKE_MODAL_KEY, "ws-wrong-secret")).chat({ model: "llama", messages: hello }));
    expect(wrong).toMatchObject({ status: 401 });
    expect(wrong.message).not.toContain("ws-wrong-secret");
  });
});

describe("Anthropic Messages API", () => {
  const anthropic = (apiKey = FAKE_ANTHROPIC_KEY) => new AnthropicProvider({ apiKey, baseURL: "https://anthropic.test" });

  it("system prompt, tool use and tool results, streaming", async () => {
    const answer = await anthropic().chat({ model: "claude-test", messages: hello });
    expect(answer).toEqual({ content: "claude:8:HELLO", model: "claude-test", toolCalls: [], usage: { inputTokens: 11, outputTokens: 7 } });
    const call = await anthropic().chat({ model: "claude-test", messages: [{ role: "user", content: "use lookup" }], tools: [tool] });
    expect(call.toolCalls).toEqual([{ id: "toolu_1", name: "lookup", arguments: '{"q":1}' }]);
    expect((await anthropic().chat({ model: "claude-test", messages: toolTurns("toolu_1"), tools: [tool] })).content).toBe("tool said: 42");
    const streamed = await collect(anthropic().stream({ model: "claude-test", messages: [{ role: "user", content: "hi" }] }));
    expect(streamed.deltas.join("")).toBe("claude:0:HI");
    expect(streamed.done).toMatchObject({ content: "claude:0:HI", usage: { inputTokens: 11, outputTokens: 7 } });
    const streamedCall = await collect(anthropic().stream({ model: "claude-test", messages: [{ role: "user", content: "use lookup" }], tools: [tool] }));
    expect(streamedCall.done).toMatchObject({ toolCalls: [{ id: "toolu_1", name: "lookup", arguments: '{"q":1}' }] });
    await expect(anthropic().chat({ messages: hello })).rejects.toThrow(TypeError);
  });

  it("529 overloaded and 429 are retryable, 401 is not", async () => {
    expect(await rejection(anthropic().chat({ model: "claude-overloaded", messages: hello }))).toMatchObject({ status: 529, retryable: true, message: "anthropic: 529 Overloaded" });
    expect(await rejection(anthropic().chat({ model: "claude-rate-limited", messages: hello }))).toMatchObject({ status: 429, retryAfterMs: 1000, retryable: true });
    const refused = await rejection(anthropic("sk-ant-wrong").chat({ model: "claude-test", messages: hello }));
    expect(refused).toMatchObject({ status: 401, retryable: false, message: "anthropic: 401 invalid x-api-key" });
    expect((await failure(anthropic().stream({ model: "claude-overloaded", messages: hello }))).error).toMatchObject({ status: 529 });
  });

  it("an overloaded_error event mid-stream is as retryable as a 529", async () => {
    const { deltas, error } = await failure(anthropic().stream({ model: "claude-overloaded-midstream", messages: hello }));
    expect(deltas).toEqual(["partial"]);
    expect(error).toMatchObject({ status: 529, retryable: true, message: "anthropic: 529 Overloaded" });
  });
});

describe("Workers AI through the AI binding", () => {
  const setup = () => {
    const ai = new FakeAi();
    return { ai, provider: new WorkersAiProvider(ai) };
  };

  it("native shape: chat, with what was sent", async () => {
    const { ai, provider } = setup();
    const result = await provider.chat({ model: "@cf/test/native", messages: hello, maxTokens: 100, temperature: 0.2 });
    expect(result).toEqual({ content: "wai:native:HELLO", model: "@cf/test/native", toolCalls: [], usage: { inputTokens: 12, outputTokens: 5 } });
    expect(ai.calls).toEqual([{ model: "@cf/test/native", inputs: { messages: hello, max_tokens: 100, temperature: 0.2 } }]);
    await expect(provider.chat({ messages: hello })).rejects.toThrow(TypeError);
  });

  it("native shape: tools sent in the OpenAI form, calls without ids get call_1…, results go back by id and name", async () => {
    const { ai, provider } = setup();
    const call = await provider.chat({ model: "@cf/test/native", messages: [{ role: "user", content: "use lookup" }], tools: [tool] });
    expect(call).toMatchObject({ content: "", toolCalls: [{ id: "call_1", name: "lookup", arguments: '{"q":1}' }] });
    expect(ai.calls[0]!.inputs.tools).toEqual([{ type: "function", function: tool }]);
    const after = await provider.chat({ model: "@cf/test/native", messages: toolTurns("call_1"), tools: [tool] });
    expect(after.content).toBe("tool said: 42");
    expect(ai.calls[1]!.inputs.messages!.slice(1)).toEqual([
      { role: "assistant", content: "", tool_calls: [{ id: "call_1", type: "function", function: { name: "lookup", arguments: '{"q":1}' } }] },
      { role: "tool", content: "42", tool_call_id: "call_1", name: "lookup" },
    ]);
  });

  it("native shape: streamed text, usage from a late event, and streamed tool-call fragments", async () => {
    const { ai, provider } = setup();
    const streamed = await collect(provider.stream({ model: "@cf/test/native", messages: [{ role: "user", content: "hi ünïcode" }] }));
    expect(streamed.deltas.join("")).toBe("wai:native:HI ÜNÏCODE");
    expect(streamed.deltas.length).toBeGreaterThan(1);
    expect(streamed.done).toEqual({ type: "done", content: "wai:native:HI ÜNÏCODE", model: "@cf/test/native", toolCalls: [], usage: { inputTokens: 12, outputTokens: 5 } });
    expect(ai.calls[0]!.inputs.stream).toBe(true);
    const streamedCall = await collect(provider.stream({ model: "@cf/test/native", messages: [{ role: "user", content: "use lookup" }], tools: [tool] }));
    expect(streamedCall.deltas).toEqual([]);
    expect(streamedCall.done).toMatchObject({ content: "", toolCalls: [{ id: "call_1", name: "lookup", arguments: '{"q":1}' }], usage: { inputTokens: 12 } });
  });

  it("OpenAI-style models: chat, tools and streams", async () => {
    const { provider } = setup();
    const model = "@cf/test/openai-style";
    expect(await provider.chat({ model, messages: hello })).toEqual({ content: "wai:openai-style:HELLO", model, toolCalls: [], usage: { inputTokens: 12, outputTokens: 5 } });
    const call = await provider.chat({ model, messages: [{ role: "user", content: "use lookup" }], tools: [tool] });
    expect(call.toolCalls).toEqual([{ id: "chatcmpl-tool-1", name: "lookup", arguments: '{"q":1}' }]);
    const streamed = await collect(provider.stream({ model, messages: [{ role: "user", content: "hi" }] }));
    expect(streamed.deltas.join("")).toBe("wai:openai-style:HI");
    expect(streamed.done).toMatchObject({ content: "wai:openai-style:HI", usage: { inputTokens: 12, outputTokens: 5 } });
    const streamedCall = await collect(provider.stream({ model, messages: [{ role: "user", content: "use lookup" }], tools: [tool] }));
    expect(streamedCall.done).toMatchObject({ toolCalls: [{ id: "chatcmpl-tool-1", name: "lookup", arguments: '{"q":1}' }] });
  });

  it("binding errors by their documented codes: capacity 429, no such model 400, internal 500", async () => {
    const { provider } = setup();
    const busy = await rejection(provider.chat({ model: "@cf/test/busy", messages: hello }));
    expect(busy).toMatchObject({ status: 429, retryable: true, retryAfterMs: null, message: "workers-ai: 429 3040: Capacity temporarily exceeded, please try again." });
    expect((await failure(provider.stream({ model: "@cf/test/busy", messages: hello }))).error).toMatchObject({ status: 429 });
    const unknown = await rejection(provider.chat({ model: "@cf/meta/no-such-model", messages: hello }));
    expect(unknown).toMatchObject({ status: 400, retryable: false });
    expect(unknown.message).toContain("5007: No such model @cf/meta/no-such-model");
    expect(await rejection(provider.chat({ model: "@cf/test/broken", messages: hello }))).toMatchObject({ status: 500, retryable: true });
  });
});

describe("the built-in model", () => {
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
