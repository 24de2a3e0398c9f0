import type { DispatcherEnv } from "../env";
import { AnthropicProvider } from "./anthropic";
import { BuiltinProvider } from "./builtin";
import { DefaultModelProvider } from "./model";
import { OpenAICompatibleProvider } from "./openai";
import type { ChatProvider } from "./types";

/** Picks the model provider from configuration; with none configured, the built-in model answers. */
export function chatProvider(env: DispatcherEnv): ChatProvider {
  const kind = env.LLM_PROVIDER ?? "builtin";
  if (kind === "builtin") return new BuiltinProvider();
  if (kind === "openai") {
    if (!env.LLM_BASE_URL || !env.LLM_API_KEY || !env.LLM_MODEL) {
      throw new Error("LLM_PROVIDER=openai needs LLM_BASE_URL, LLM_API_KEY and LLM_MODEL");
    }
    return new DefaultModelProvider(new OpenAICompatibleProvider({ baseURL: env.LLM_BASE_URL, apiKey: env.LLM_API_KEY }), env.LLM_MODEL);
  }
  if (kind === "anthropic") {
    if (!env.LLM_API_KEY || !env.LLM_MODEL) throw new Error("LLM_PROVIDER=anthropic needs LLM_API_KEY and LLM_MODEL");
    return new DefaultModelProvider(new AnthropicProvider({ apiKey: env.LLM_API_KEY, ...(env.LLM_BASE_URL ? { baseURL: env.LLM_BASE_URL } : {}) }), env.LLM_MODEL);
  }
  throw new Error(`unknown LLM_PROVIDER "${kind}" (expected builtin, openai or anthropic)`);
}
