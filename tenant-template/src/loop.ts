import type { AgentContext } from "./context";
import { MaxStepsExceeded, ToolError } from "./errors";
import { preview, report } from "./events";
import { toolImpl } from "./internal";
import type { Tool } from "./tools";
import type { ChatMessage, ChatRequest, ChatResult, ChatUsage, ToolCall } from "./types";

export interface RunToolsOptions extends Omit<ChatRequest, "tools"> {
  /** The tools offered to the model (default: the agent's `tools`). */
  tools?: readonly Tool[];
  /** Model calls allowed, at least 1 (default 8). */
  maxSteps?: number;
  /** Stream each model call: its text is emitted as `llm.delta` events as it is generated. */
  stream?: boolean;
  /** Called with each streamed text delta. */
  onDelta?: (text: string) => void;
}

/** One tool call the loop handled: the model's arguments, and the tool's result or the error fed back. */
export interface ToolCallRecord {
  id: string;
  name: string;
  arguments: string;
  result?: string;
  error?: string;
}

export interface RunToolsResult extends ChatResult {
  /** Usage summed over every model call. */
  usage: ChatUsage;
  /** The whole conversation: the messages given, each assistant turn and tool result, the final answer. */
  messages: ChatMessage[];
  /** Every tool call, in order. */
  calls: ToolCallRecord[];
  /** Model calls made. */
  steps: number;
}

/**
 * The bounded tool loop: ask the model (offering the tools), run each tool call it makes and
 * give it the results, until it answers without tool calls — at most `maxSteps` model calls,
 * then `MaxStepsExceeded`. Arguments that are not JSON or fail the tool's schema, unknown tools
 * and `ToolError`s thrown by a tool go back to the model as the tool's result (`Error: …`) so it
 * can correct itself; any other exception from a tool fails the run. Calls run one at a time,
 * in the order the model gave them, each reported as `tool.call` and `tool.result` events.
 */
export async function runTools(ctx: AgentContext, defaults: readonly Tool[], options: RunToolsOptions): Promise<RunToolsResult> {
  const { tools = defaults, maxSteps = 8, stream = false, onDelta, messages: given, ...request } = options;
  if (!Number.isInteger(maxSteps) || maxSteps < 1) throw new TypeError("runTools: maxSteps must be a positive integer");
  const byName = new Map<string, Tool>();
  for (const t of tools) {
    if (byName.has(t.name)) throw new TypeError(`runTools: two tools are named "${t.name}"`);
    byName.set(t.name, t);
  }
  const specs = tools.map((t) => toolImpl(t).spec());
  const messages: ChatMessage[] = [...given];
  const calls: ToolCallRecord[] = [];
  const usage: ChatUsage = { inputTokens: 0, outputTokens: 0 };
  for (let step = 1; ; step++) {
    const call: ChatRequest = { ...request, messages: [...messages], ...(specs.length ? { tools: specs } : {}) };
    const answer = stream ? await streamed(ctx, call, onDelta) : await ctx.llm.chat(call);
    usage.inputTokens += answer.usage.inputTokens;
    usage.outputTokens += answer.usage.outputTokens;
    const toolCalls = answer.toolCalls ?? [];
    if (toolCalls.length && step === maxSteps) throw new MaxStepsExceeded(maxSteps, messages, usage, toolCalls);
    messages.push({ role: "assistant", content: answer.content, ...(toolCalls.length ? { toolCalls } : {}) });
    if (!toolCalls.length) return { ...answer, toolCalls: [], usage, messages, calls, steps: step };
    for (const c of toolCalls) {
      const record = await invoke(ctx, byName, c);
      calls.push(record);
      messages.push({ role: "tool", toolCallId: c.id, content: record.error !== undefined ? `Error: ${record.error}` : record.result! });
    }
  }
}

async function streamed(ctx: AgentContext, request: ChatRequest, onDelta?: (text: string) => void): Promise<ChatResult> {
  const answer = ctx.llm.stream(request);
  for await (const text of answer) onDelta?.(text);
  return answer.result;
}

async function invoke(ctx: AgentContext, tools: Map<string, Tool>, call: ToolCall): Promise<ToolCallRecord> {
  const record: ToolCallRecord = { id: call.id, name: call.name, arguments: call.arguments };
  await report(ctx.env, "tool.call", { id: call.id, name: call.name, arguments: preview(call.arguments) });
  const done = async () => {
    const outcome = record.error !== undefined ? { error: preview(record.error) } : { result: preview(record.result!) };
    await report(ctx.env, "tool.result", { id: call.id, name: call.name, ...outcome });
    return record;
  };
  const t = tools.get(call.name);
  if (!t) {
    record.error = `there is no tool named "${call.name}" (tools: ${[...tools.keys()].join(", ") || "none"})`;
    return done();
  }
  const parsed = await toolImpl(t).parse(call.arguments);
  if (!parsed.ok) {
    record.error = parsed.error;
    return done();
  }
  try {
    record.result = resultText(await t.run(parsed.value, ctx));
  } catch (err) {
    record.error = err instanceof Error ? err.message : String(err);
    if (!(err instanceof ToolError)) {
      await done();
      throw err;
    }
  }
  return done();
}

/** A tool's return value as the text of a tool message. */
function resultText(value: unknown): string {
  if (typeof value === "string") return value;
  return JSON.stringify(value) ?? "null";
}
