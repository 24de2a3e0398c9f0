// A fake Workers AI binding (`env.AI`) answering in the shapes Cloudflare publishes:
//   @cf/test/native        { response, tool_calls: [{ name, arguments: {…} }], usage } — calls without ids,
//                          as in https://developers.cloudflare.com/workers-ai/features/function-calling/traditional/
//   @cf/test/openai-style  { choices: [{ message: { content, tool_calls } }], usage }, like the newer models
//   @cf/test/busy          throws "3040: Capacity temporarily exceeded, please try again."
//   @cf/test/broken        throws an internal error without a documented code
// Any other model throws the documented "5007: No such model … or task". Streams
// (`stream: true`) are server-sent event bytes, cut at awkward places, usage on a late event, then
// `data: [DONE]` (Workers AI docs, "Streaming": developers.cloudflare.com/workers-ai/…/streaming). A call is for
// a tool when the last message is the user's and says `use <tool>`.
interface Message {
  role: string;
  content: string;
  tool_call_id?: string;
}
interface Inputs {
  messages?: Message[];
  tools?: { type: string; function: { name: string } }[];
  stream?: boolean;
  max_tokens?: number;
  temperature?: number;
}

export const WORKERS_AI_USAGE = { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 };

const sse = (events: unknown[]) => events.map((e) => `data: ${typeof e === "string" ? e : JSON.stringify(e)}\n\n`).join("") + "data: [DONE]\n\n";

/** The bytes in slices of 7, so events and even multi-byte characters straddle chunks. */
function byteStream(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + 7));
      at += 7;
    },
  });
}

function answer(model: string, inputs: Inputs): unknown {
  const messages = inputs.messages ?? [];
  const last = messages.at(-1);
  const tool = last?.role === "user" ? inputs.tools?.find((t) => last.content.includes(`use ${t.function.name}`))?.function.name : undefined;
  const text = last?.role === "tool" ? `tool said: ${last.content}` : `wai:${model.split("/").at(-1)}:${(last?.content ?? "").toUpperCase()}`;
  const half = Math.ceil(text.length / 2);
  if (model === "@cf/test/openai-style") {
    if (inputs.stream) {
      const delta = (d: unknown) => ({ id: "chatcmpl-wai", object: "chat.completion.chunk", model, choices: [{ index: 0, delta: d, finish_reason: null }] });
      const events = tool
        ? [
            delta({ role: "assistant", tool_calls: [{ index: 0, id: "chatcmpl-tool-1", type: "function", function: { name: tool, arguments: "" } }] }),
            delta({ tool_calls: [{ index: 0, function: { arguments: '{"q":' } }] }),
            delta({ tool_calls: [{ index: 0, function: { arguments: "1}" } }] }),
          ]
        : [delta({ role: "assistant", content: text.slice(0, half) }), delta({ content: text.slice(half) })];
      return byteStream(sse([...events, { id: "chatcmpl-wai", object: "chat.completion.chunk", model, choices: [], usage: WORKERS_AI_USAGE }]));
    }
    const message = tool
      ? { role: "assistant", content: null, tool_calls: [{ id: "chatcmpl-tool-1", type: "function", function: { name: tool, arguments: '{"q":1}' } }] }
      : { role: "assistant", content: text };
    return { id: "chatcmpl-wai", object: "chat.completion", model, choices: [{ index: 0, message, finish_reason: tool ? "tool_calls" : "stop" }], usage: WORKERS_AI_USAGE };
  }
  if (inputs.stream) {
    // Native streams send tool calls as fragments under `tool_calls`, then a null fragment closing them.
    const events = tool
      ? [
          { response: "", tool_calls: [{ id: null, type: "function", index: 0, function: { name: tool, arguments: "" } }] },
          { response: "", tool_calls: [{ index: 0, function: { arguments: '{"q":' } }] },
          { response: "", tool_calls: [{ index: 0, function: { arguments: "1}" } }] },
          { response: "", tool_calls: [{ id: null, type: null, function: { name: null } }] },
        ]
      : [{ response: text.slice(0, half), p: "abc" }, { response: text.slice(half), p: "abcdef" }];
    return byteStream(sse([...events, { response: "", usage: WORKERS_AI_USAGE }]));
  }
  return tool ? { response: null, tool_calls: [{ name: tool, arguments: { q: 1 } }], usage: WORKERS_AI_USAGE } : { response: text, tool_calls: [], usage: WORKERS_AI_USAGE };
}

/** Stands in for `env.AI`; `calls` records what each run was sent. */
export class FakeAi {
  readonly calls: { model: string; inputs: Inputs }[] = [];

  async run(model: string, inputs: Record<string, unknown>): Promise<unknown> {
    const sent = structuredClone(inputs) as Inputs;
    this.calls.push({ model, inputs: sent });
    if (model === "@cf/test/busy") throw new Error("3040: Capacity temporarily exceeded, please try again.");
    if (model === "@cf/test/broken") throw new Error("InferenceUpstreamError: internal server error");
    if (!model.startsWith("@cf/test/")) throw new Error(`5007: No such model ${model} or task`);
    if (!Array.isArray(sent.messages)) throw new Error("3003: Request is missing headers or body: messages");
    return answer(model, sent);
  }
}
