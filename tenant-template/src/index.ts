/**
 * The Isoplane agent SDK. `defineAgent` turns a `run(input, ctx)` function into the module an
 * agent version is; `ctx` wraps what the platform puts in `env` — context documents, result
 * files, events, the model (chat, streaming, a bounded tool loop) and remote tools. Everything
 * in it is scoped to the tenant by the platform; the SDK only makes it pleasant.
 * See tenant-template/README.md.
 */
export { defineAgent, type Agent, type AgentDefinition } from "./agent";
export { createContext, type AgentContext, type ContextOptions } from "./context";
export { AgentError, MaxStepsExceeded, RemoteToolError, ToolError } from "./errors";
export { ndjson, type LlmStream } from "./llm";
export type { RunToolsOptions, RunToolsResult, ToolCallRecord } from "./loop";
export { FlyMachinesRunner, type FlyMachinesOptions } from "./remote/fly";
export { remoteTool, type RemoteTool, type RemoteToolOptions } from "./remote/tool";
export type { RemoteToolRequest, RemoteToolResult, RemoteToolRunner } from "./remote/types";
export { tool, toolSpec, type Tool } from "./tools";
export type {
  AgentEnv,
  ChatChunk,
  ChatMessage,
  ChatRequest,
  ChatResult,
  ChatUsage,
  RunInfo,
  ToolCall,
  ToolSpec,
} from "./types";
/** @deprecated use ChatResult */
export type { ChatResult as ChatResponse } from "./types";
