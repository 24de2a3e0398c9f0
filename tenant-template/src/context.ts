import type { $ZodType, input } from "zod/v4/core";
import { AgentError, ToolError } from "./errors";
import { streamChat, type LlmStream } from "./llm";
import { runTools, type RunToolsOptions, type RunToolsResult } from "./loop";
import { callRemote, type RemoteTool } from "./remote/tool";
import type { RemoteToolResult, RemoteToolRunner } from "./remote/types";
import type { Tool } from "./tools";
import type { AgentEnv, ChatRequest, ChatResult, RunInfo } from "./types";

/** Everything an agent's `run(input, ctx)` works with; all of it scoped to the tenant by the platform. */
export interface AgentContext {
  run: RunInfo;
  /** The raw bindings, for what the SDK does not wrap. */
  env: AgentEnv;
  /** The agent's secrets (`env.SECRETS`). */
  secrets: Readonly<Record<string, string>>;
  /** The tenant's context documents (`tenants/<tenant>/context/…`). */
  context: {
    get(key: string): Promise<string | null>;
    /** Keys under `prefix`, relative to `context/`. */
    list(prefix?: string): Promise<string[]>;
  };
  /** Files written next to the run's output (`results/<runId>/<name>`); objects are stored as JSON. */
  results: { put(name: string, value: string | object): Promise<void> };
  /** An `agent.event` on the run's log (and, live, to a client following the run). */
  emit(data: unknown): Promise<void>;
  llm: {
    chat(request: ChatRequest): Promise<ChatResult>;
    /** Text deltas as they are generated (each also emitted as `llm.delta`); `.result` is the whole answer. */
    stream(request: ChatRequest): LlmStream;
    /** The bounded tool loop; see `RunToolsOptions`. */
    runTools(options: RunToolsOptions): Promise<RunToolsResult>;
  };
  tools: {
    /** Runs a remote tool's command on the agent's runner; a non-zero exit throws `RemoteToolError`. */
    remote<S extends $ZodType>(tool: RemoteTool<S>, args: input<S>): Promise<RemoteToolResult>;
    /** The agent's `RemoteToolRunner` (made on first use from `defineAgent({ runner })`). */
    readonly runner: RemoteToolRunner;
  };
}

export interface ContextOptions {
  /** Tools `ctx.llm.runTools` offers when it is given none. */
  tools?: readonly Tool[];
  /** Where remote tools run: a runner, or a function making one from the context (e.g. with a secret). */
  runner?: RemoteToolRunner | ((ctx: AgentContext) => RemoteToolRunner);
}

const CONTEXT = "context/";

/** The `ctx` for one run over the platform's `env` (or a stand-in for it, in tests). */
export function createContext(env: AgentEnv, options: ContextOptions = {}): AgentContext {
  const runId = env.RUN.id;
  let runner: RemoteToolRunner | undefined;
  let remoteCalls = 0;
  const ctx: AgentContext = {
    run: env.RUN,
    env,
    secrets: env.SECRETS ?? {},
    context: {
      get: (key) => env.STORAGE.get(CONTEXT + key),
      list: async (prefix = "") => (await env.STORAGE.list(CONTEXT + prefix)).map((k) => k.slice(CONTEXT.length)),
    },
    results: {
      put: (name, value) => env.STORAGE.put(`results/${runId}/${name}`, typeof value === "string" ? value : JSON.stringify(value)),
    },
    emit: async (data) => {
      if (typeof env.EMIT !== "function") throw new AgentError("this platform does not take events (env.EMIT is missing)");
      await env.EMIT("agent.event", data);
    },
    llm: {
      chat: (request) => env.LLM.chat(request),
      stream: (request) => streamChat(env, request),
      runTools: (opts) => runTools(ctx, options.tools ?? [], opts),
    },
    tools: {
      remote: (tool, args) => callRemote(ctx, tool, args, `remote_${++remoteCalls}`),
      get runner() {
        if (!runner) {
          const source = options.runner;
          if (!source) throw new ToolError("no remote tool runner: give defineAgent({ runner }) to use remote tools");
          runner = typeof source === "function" ? source(ctx) : source;
        }
        return runner;
      },
    },
  };
  return ctx;
}
