// A stand-in for the `env` the platform's harness gives an agent, for unit tests of the SDK in
// the Workers test runtime: no platform, a scripted (or built-in) model, events and storage kept
// in memory.
import { BuiltinProvider } from "../../dispatcher/src/llm/builtin";
import type { AgentEnv, ChatChunk, ChatRequest, ChatResult } from "../src/index";

export interface FakeEnv extends AgentEnv {
  events: { type: string; data: unknown }[];
  requests: ChatRequest[];
  storage: Map<string, string>;
}

export type Model = (request: ChatRequest, call: number) => ChatResult | Promise<ChatResult>;

/** The platform's own deterministic model (dispatcher/src/llm/builtin.ts). */
export const builtin: Model = (request) => new BuiltinProvider().chat(request as Parameters<BuiltinProvider["chat"]>[0]);

export function answer(content: string, toolCalls: ChatResult["toolCalls"] = [], usage = { inputTokens: 10, outputTokens: 5 }): ChatResult {
  return { content, model: "scripted", toolCalls, usage };
}

/** NDJSON bytes of a streamed answer, cut into `pieces` reads at arbitrary byte offsets. */
export function ndjsonBody(chunks: ChatChunk[], cut = 7): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(chunks.map((c) => `${JSON.stringify(c)}\n`).join(""));
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + cut));
      offset += cut;
    },
  });
}

/** Splits an answer into word deltas and a done chunk, like the built-in model's stream. */
export function chunksOf(result: ChatResult): ChatChunk[] {
  return [...(result.content.match(/\S+\s*|\s+/g) ?? []).map((content) => ({ type: "delta" as const, content })), { type: "done", ...result }];
}

export function fakeEnv(model: Model = builtin, options: { secrets?: Record<string, string> } = {}): FakeEnv {
  const events: FakeEnv["events"] = [];
  const requests: ChatRequest[] = [];
  const storage = new Map<string, string>();
  let calls = 0;
  const ask = async (request: ChatRequest) => {
    requests.push(structuredClone(request));
    return model(request, ++calls);
  };
  return {
    events,
    requests,
    storage,
    RUN: { id: "run_unit", tenantId: "ten_unit", agent: "unit", version: 1 },
    SECRETS: options.secrets ?? {},
    EMIT: async (type, data) => {
      events.push({ type, data: data ?? null });
    },
    STORAGE: {
      get: async (key) => storage.get(key) ?? null,
      put: async (key, value) => {
        storage.set(key, value);
      },
      list: async (prefix = "") => [...storage.keys()].filter((k) => k.startsWith(prefix)).sort(),
    },
    LLM: {
      chat: ask,
      stream: async (request) => ndjsonBody(chunksOf(await ask(request))),
    },
  };
}
