/**
 * The shapes an agent exchanges with the platform: what the harness puts in `env`, and (from
 * dispatcher/src/llm/types.ts, as types only) what `env.LLM` validates.
 */

export interface RunInfo {
  id: string;
  tenantId: string;
  agent: string;
  version: number;
}

// The model wire shapes are the dispatcher's own (type-only: nothing of the platform's code is
// bundled into an agent), so the SDK and the binding that validates them cannot drift apart.
export type { ChatMessage, ChatRequest, ChatResult, ChatUsage, ToolCall, ToolSpec } from "../../dispatcher/src/llm/types";
/** One line of `env.LLM.stream()`: text as it is generated, then the whole result once — or an error. */
export type { StreamLine as ChatChunk } from "../../dispatcher/src/llm/types";
import type { ChatRequest, ChatResult } from "../../dispatcher/src/llm/types";

/** What the platform puts in `env` for every run (a plain module sees the same). */
export interface AgentEnv {
  RUN: RunInfo;
  /** The agent's secrets (`PUT /v1/agents/{agent}/secrets/{NAME}` on the control plane). */
  SECRETS: Readonly<Record<string, string>>;
  /** Appends an event to the run's log (and to a streamed run's response). Types may not start with `run.`. */
  EMIT(type: string, data?: unknown): Promise<void>;
  /** The tenant's slice of R2; keys are relative to `tenants/<tenantId>/`. */
  STORAGE: {
    get(key: string): Promise<string | null>;
    put(key: string, value: string): Promise<void>;
    list(prefix?: string): Promise<string[]>;
  };
  LLM: {
    chat(request: ChatRequest): Promise<ChatResult>;
    /** Newline-delimited JSON `ChatChunk`s: `delta`…, then one `done` — or an `error` if the platform cut the stream. */
    stream(request: ChatRequest): Promise<ReadableStream<Uint8Array>>;
  };
}
