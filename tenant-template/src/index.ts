/**
 * The Isoplane agent SDK. `defineAgent` turns a `run(input, ctx)` function into the module an
 * agent version is: the platform POSTs `{ runId, input }` to its default export's `fetch`, and
 * the JSON it returns is the run's output. Everything in `ctx` is scoped to the tenant by the
 * platform; the SDK only makes it pleasant.
 */

export interface RunInfo {
  id: string;
  tenantId: string;
  agent: string;
  version: number;
}

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatRequest {
  model?: string;
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
}

export interface ChatResponse {
  content: string;
  model: string;
  usage: { inputTokens: number; outputTokens: number };
}

/** What the platform puts in `env` for every run (a plain module sees the same). */
export interface AgentEnv {
  RUN: RunInfo;
  STORAGE: {
    get(key: string): Promise<string | null>;
    put(key: string, value: string): Promise<void>;
    list(prefix?: string): Promise<string[]>;
  };
  LLM: { chat(request: ChatRequest): Promise<ChatResponse> };
}

export interface AgentContext {
  run: RunInfo;
  /** The tenant's context documents (`tenants/<tenant>/context/…`), read-only by convention. */
  context: {
    get(key: string): Promise<string | null>;
    /** Keys under `prefix`, relative to `context/`. */
    list(prefix?: string): Promise<string[]>;
  };
  /** Files written next to the run's output (`results/<runId>/<name>`). Objects are stored as JSON. */
  results: { put(name: string, value: string | object): Promise<void> };
  llm: { chat(request: ChatRequest): Promise<ChatResponse> };
  env: AgentEnv;
}

export interface AgentDefinition<I, O> {
  run(input: I, ctx: AgentContext): O | Promise<O>;
}

/** Throw this for an expected failure: its message becomes the run's `error`. */
export class AgentError extends Error {
  override name = "AgentError";
}

const CONTEXT = "context/";

export function defineAgent<I = unknown, O = unknown>(definition: AgentDefinition<I, O>) {
  return {
    async fetch(request: Request, env: AgentEnv): Promise<Response> {
      const { runId, input } = (await request.json()) as { runId: string; input: I };
      const ctx: AgentContext = {
        run: env.RUN,
        context: {
          get: (key) => env.STORAGE.get(CONTEXT + key),
          list: async (prefix = "") => (await env.STORAGE.list(CONTEXT + prefix)).map((k) => k.slice(CONTEXT.length)),
        },
        results: {
          put: (name, value) => env.STORAGE.put(`results/${runId}/${name}`, typeof value === "string" ? value : JSON.stringify(value)),
        },
        llm: { chat: (req) => env.LLM.chat(req) },
        env,
      };
      const output = await definition.run(input, ctx);
      return Response.json(output ?? null);
    },
  };
}
