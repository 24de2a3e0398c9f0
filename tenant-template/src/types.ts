/**
 * The shapes an agent exchanges with the platform: what the harness puts in `env` and what
 * `env.LLM` validates. They are the platform's wire contract (core/contract.js, types only:
 * nothing of the platform's code is bundled into an agent), so the SDK, the harness and the
 * binding that validates them cannot drift apart.
 */
export type { AgentEnv, ChatMessage, ChatRequest, ChatResult, ChatUsage, RunInfo, ToolCall, ToolSpec } from "../../core/contract.js";
/** One line of `env.LLM.stream()`: text as it is generated, then the whole result once — or an error. */
export type { StreamLine as ChatChunk } from "../../core/contract.js";
