/**
 * The shapes an agent exchanges with the platform. They mirror what `env.LLM` validates
 * (dispatcher/src/llm/types.ts) and what the harness puts in `env`; they are restated here so
 * an agent bundle needs nothing from the platform's source.
 */

export interface RunInfo {
  id: string;
  tenantId: string;
  agent: string;
  version: number;
}

/** A tool call the model asks for; `arguments` is JSON text, exactly as the model wrote it. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

export type ChatMessage =
  | { role: "system" | "user"; content: string }
  | { role: "assistant"; content: string; toolCalls?: ToolCall[] }
  | { role: "tool"; toolCallId: string; content: string };

/** A tool as the model sees it: a name (`^[a-zA-Z0-9_-]{1,64}$`), what it does, JSON Schema of its arguments. */
export interface ToolSpec {
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
}

export interface ChatRequest {
  model?: string;
  messages: ChatMessage[];
  tools?: ToolSpec[];
  maxTokens?: number;
  temperature?: number;
}

export interface ChatUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface ChatResult {
  content: string;
  model: string;
  /** Calls the model asks for; empty when it answered in text. */
  toolCalls: ToolCall[];
  usage: ChatUsage;
}

/** One line of `env.LLM.stream()`: text as it is generated, then the whole result once. */
export type ChatChunk = { type: "delta"; content: string } | ({ type: "done" } & ChatResult) | { type: "error"; error: string };

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
