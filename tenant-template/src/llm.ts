import { report } from "./events";
import type { AgentEnv, ChatChunk, ChatRequest, ChatResult } from "./types";

/**
 * A streamed answer: iterate it (once) for the text as it is generated; `result` settles with
 * the whole answer — content, tool calls, usage — when the model is done. Reading starts at
 * once, whether or not anyone iterates, and every delta is also emitted as an `llm.delta` event
 * so a client following the run sees the tokens as they come.
 */
export interface LlmStream extends AsyncIterable<string> {
  readonly result: Promise<ChatResult>;
}

/** The lines of a newline-delimited JSON body, parsed, as they arrive. */
export async function* ndjson(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffered += decoder.decode(value, { stream: !done });
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) yield JSON.parse(line);
      }
      if (done) break;
    }
    if (buffered.trim()) yield JSON.parse(buffered);
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** `env.LLM.stream()` as text deltas plus the final result. */
export function streamChat(env: AgentEnv, request: ChatRequest): LlmStream {
  const queue: string[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  let failed = false;
  let failure: unknown;
  const notify = () => {
    wake?.();
    wake = null;
  };
  const result = (async (): Promise<ChatResult> => {
    try {
      let final: ChatResult | null = null;
      for await (const line of ndjson(await env.LLM.stream(request))) {
        const chunk = line as ChatChunk;
        if (chunk.type === "delta") {
          queue.push(chunk.content);
          notify();
          await report(env, "llm.delta", { content: chunk.content });
        } else if (chunk.type === "done") {
          final = { content: chunk.content, model: chunk.model, toolCalls: chunk.toolCalls ?? [], usage: chunk.usage };
        } else if (chunk.type === "error") {
          // The platform ended the stream (e.g. the tenant's spend cap): its reason becomes the error.
          throw new Error(chunk.error);
        }
      }
      if (!final) throw new Error("LLM.stream: the stream ended without a result");
      return final;
    } catch (err) {
      failed = true;
      failure = err;
      throw err;
    } finally {
      ended = true;
      notify();
    }
  })();
  // Whoever only iterates must not leave an unhandled rejection behind; `result` still rejects.
  result.catch(() => {});
  return {
    result,
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (queue.length) yield queue.shift()!;
        else if (ended) {
          if (failed) throw failure;
          return;
        } else await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}
