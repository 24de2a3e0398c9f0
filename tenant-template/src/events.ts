import type { AgentEnv } from "./types";

/** Event payloads are capped by the platform (64 KiB a frame); previews stay well under it. */
const PREVIEW_CHARS = 4096;

/** Text for an event: cut to a preview, marked when cut. */
export function preview(text: string): string {
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}… (${text.length} characters)` : text;
}

/**
 * The SDK's own events (`llm.delta`, `tool.call`, `tool.result`) are progress reports: one that
 * cannot be delivered (the run is ending, a payload too large) must not fail the agent's work.
 */
export function report(env: AgentEnv, type: string, data: unknown): Promise<void> {
  try {
    return Promise.resolve(env.EMIT(type, data)).catch(() => {});
  } catch {
    return Promise.resolve();
  }
}
