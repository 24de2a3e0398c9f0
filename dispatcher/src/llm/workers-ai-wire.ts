// What Workers AI's text-generation models answer, read defensively: the catalogue mixes two
// shapes (and the binding's types, AiTextGenerationOutput in @cloudflare/workers-types, allow both):
//   native       { response, tool_calls: [{ name, arguments }], usage: { prompt_tokens, completion_tokens } }
//                (https://developers.cloudflare.com/workers-ai/features/function-calling/traditional/ —
//                `arguments` is an object there, and the calls have no ids)
//   OpenAI-style { choices: [{ message: { content, tool_calls: [{ id, function: { name, arguments } }] } }], usage }
//                (newer models, e.g. gpt-oss, kimi)
// Streams are server-sent events in either shape, `data: {"response":"…"}` or `choices[0].delta`,
// usage on a late event, ending with `data: [DONE]`
// (Workers AI docs, "Streaming": developers.cloudflare.com/workers-ai/…/streaming).
import { ProviderError } from "./errors";
import { failureMessage } from "./failure";
import type { ChatResult, ChatUsage, ToolCall } from "./types";

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);
const str = (value: unknown): string => (typeof value === "string" ? value : "");

/** Text as the model produced it; some models answer JSON mode with an object. */
function text(value: unknown): string {
  if (typeof value === "string") return value;
  return value === null || value === undefined ? "" : JSON.stringify(value);
}

/** Tool arguments as JSON text: the native shape gives an object, the OpenAI shape a string. */
function argumentsText(value: unknown): string {
  if (typeof value === "string") return value;
  return value === null || value === undefined ? "" : JSON.stringify(value);
}

export function usageOf(value: unknown): ChatUsage | null {
  if (!isObject(value)) return null;
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  return { inputTokens: n(value.prompt_tokens), outputTokens: n(value.completion_tokens) };
}

/** One tool call of either shape: `{ name, arguments }` or `{ id, function: { name, arguments } }`. */
function callParts(item: unknown): { id: string; name: string; args: unknown; index: number | null } | null {
  if (!isObject(item)) return null;
  const fn = isObject(item.function) ? item.function : item;
  return { id: str(item.id), name: str(fn.name), args: fn.arguments ?? fn.parameters, index: typeof item.index === "number" ? item.index : null };
}

/** Calls without ids get `call_1`, `call_2`, …, so tool results can still name the call they answer. */
function finish(calls: Iterable<ToolCall>): ToolCall[] {
  return [...calls].map((c, i) => ({ id: c.id || `call_${i + 1}`, name: c.name, arguments: c.arguments || "{}" }));
}

/** A non-streamed answer in the platform's terms. */
export function resultOf(output: unknown, model: string): ChatResult {
  if (!isObject(output)) throw new ProviderError(failureMessage("workers-ai", 502, "unreadable answer", []), 502);
  const choices = Array.isArray(output.choices) ? output.choices : null;
  const message = choices && isObject(choices[0]) && isObject(choices[0].message) ? choices[0].message : null;
  const source = message ?? output;
  const calls = (Array.isArray(source.tool_calls) ? source.tool_calls : []).flatMap((item) => {
    const call = callParts(item);
    return call?.name ? [{ id: call.id, name: call.name, arguments: argumentsText(call.args) }] : [];
  });
  return {
    content: text(message ? message.content : output.response),
    model: str(output.model) || model,
    toolCalls: finish(calls),
    usage: usageOf(output.usage) ?? { inputTokens: 0, outputTokens: 0 },
  };
}

/**
 * Puts a streamed answer back together, one `data:` event at a time. Tool calls come either whole
 * (native: `{ name, arguments }` per event) or in OpenAI-style fragments keyed by `index`, the
 * first with id and name, the rest appending argument text; a trailing fragment with neither
 * name, id nor arguments only closes a call.
 */
export class StreamAssembler {
  private content = "";
  private usage: ChatUsage = { inputTokens: 0, outputTokens: 0 };
  private model = "";
  private readonly calls = new Map<string, ToolCall>();
  private lastKey: string | null = null;

  /** Takes one event's JSON; returns the text it adds ("" when none). */
  add(event: unknown): string {
    if (!isObject(event)) return "";
    this.usage = usageOf(event.usage) ?? this.usage;
    this.model = str(event.model) || this.model;
    let delta = text(event.response);
    this.addCalls(event.tool_calls);
    const choice = Array.isArray(event.choices) && isObject(event.choices[0]) ? event.choices[0] : null;
    if (choice && isObject(choice.delta)) {
      delta += str(choice.delta.content);
      this.addCalls(choice.delta.tool_calls);
    }
    this.content += delta;
    return delta;
  }

  private addCalls(items: unknown): void {
    if (!Array.isArray(items)) return;
    for (const item of items) {
      const part = callParts(item);
      if (!part) continue;
      const hasArgs = part.args !== undefined && part.args !== null && part.args !== "";
      if (!part.id && !part.name && !hasArgs) continue;
      // Without an index, a fragment naming a call starts one; a nameless one continues the last.
      const key = part.index !== null ? `#${part.index}` : part.id === "" && part.name === "" && this.lastKey !== null ? this.lastKey : `+${this.calls.size}`;
      const call = this.calls.get(key) ?? { id: "", name: "", arguments: "" };
      call.id ||= part.id;
      call.name ||= part.name;
      // A whole object is the whole arguments; text is a fragment of them.
      if (hasArgs) call.arguments = typeof part.args === "string" ? call.arguments + part.args : argumentsText(part.args);
      this.calls.set(key, call);
      this.lastKey = key;
    }
  }

  result(model: string): ChatResult {
    return { content: this.content, model: this.model || model, toolCalls: finish([...this.calls.values()].filter((c) => c.name)), usage: this.usage };
  }
}

/**
 * Workers AI's documented error codes and the HTTP status each stands for
 * (https://developers.cloudflare.com/workers-ai/platform/errors/). The binding throws plain
 * `Error`s whose message carries the code ("3040: Capacity temporarily exceeded, please try
 * again.", "5007: No such model … or task") but no status, so the code is all there is to decide on.
 */
const STATUS_OF_CODE: Record<number, number> = {
  5007: 400, // No such model
  5004: 400, // Invalid data
  3039: 400, // Finetune missing required files
  3003: 400, // Incomplete request
  5018: 403, // Account not allowed for private model
  5016: 403, // Model agreement not accepted
  3023: 403, // Account blocked
  3041: 403, // Account not allowed for private model
  5019: 405, // Deprecated SDK version
  5005: 405, // LoRA unsupported
  3042: 404, // Invalid model ID
  3006: 413, // Request too large
  3007: 408, // Timeout
  3008: 408, // Aborted
  3036: 429, // Account limited (daily free allocation used up)
  3040: 429, // Out of capacity
};

function codeOf(error: unknown, message: string): number | null {
  if (isObject(error) && typeof error.code === "number") return error.code;
  const match = /(?:^|[\s:])(\d{4}):/.exec(message);
  return match ? Number(match[1]) : null;
}

/**
 * A binding failure as a `ProviderError`. An undocumented code or none at all is taken for an
 * internal error (500, worth another attempt) unless the words say capacity or rate limit.
 */
export function bindingError(error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = codeOf(error, message);
  const status = (code !== null ? STATUS_OF_CODE[code] : undefined) ?? (/capacity|rate.?limit|too many requests/i.test(message) ? 429 : 500);
  return new ProviderError(failureMessage("workers-ai", status, message, []), status);
}
