// A fake Anthropic Messages API (host anthropic.test): POST /v1/messages, plain or streamed as
// server-sent events, with tool use when the last user turn says `use <tool>`. Some model names
// answer failures: `claude-overloaded` (529 overloaded_error), `claude-rate-limited` (429,
// retry-after: 1) and `claude-overloaded-midstream` (an overloaded_error event after the first text).
export const FAKE_ANTHROPIC_KEY = "sk-ant-test-fake";

interface Body {
  model: string;
  max_tokens: number;
  system?: string;
  messages: { role: string; content: string | { type: string; text?: string; content?: string }[] }[];
  tools?: { name: string; input_schema: unknown }[];
  stream?: boolean;
}

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export async function fakeAnthropic(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (request.method !== "POST" || url.pathname !== "/v1/messages") return Response.json({ type: "error", error: { type: "not_found_error", message: "not found" } }, { status: 404 });
  // The SDK (1.x, anthropic-version 2026-10-21) sends the key as a bearer token; older clients use x-api-key.
  if (request.headers.get("x-api-key") !== FAKE_ANTHROPIC_KEY && request.headers.get("authorization") !== `Bearer ${FAKE_ANTHROPIC_KEY}`) {
    return Response.json({ type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } }, { status: 401 });
  }
  if (!request.headers.get("anthropic-version")) return Response.json({ type: "error", error: { type: "invalid_request_error", message: "anthropic-version required" } }, { status: 400 });
  const body = (await request.json()) as Body;
  if (typeof body.max_tokens !== "number" || body.messages.some((m) => m.role === "system")) {
    return Response.json({ type: "error", error: { type: "invalid_request_error", message: "bad request" } }, { status: 400 });
  }
  const error = (status: number, type: string, message: string, headers: Record<string, string> = {}) =>
    Response.json({ type: "error", error: { type, message } }, { status, headers: { "request-id": "req_test", ...headers } });
  if (body.model === "claude-overloaded") return error(529, "overloaded_error", "Overloaded");
  if (body.model === "claude-rate-limited") return error(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", { "retry-after": "1" });
  const last = body.messages.at(-1)!;
  const lastText = typeof last.content === "string" ? last.content : last.content.map((b) => b.text ?? b.content ?? "").join(" ");
  const toolResults = typeof last.content === "string" ? [] : last.content.filter((b) => b.type === "tool_result");
  const wanted = toolResults.length ? undefined : body.tools?.find((t) => lastText.includes(`use ${t.name}`));
  const text = toolResults.length ? `tool said: ${toolResults.map((b) => b.content).join(",")}` : `claude:${(body.system ?? "").length}:${lastText.toUpperCase()}`;
  const content = wanted ? [{ type: "tool_use", id: "toolu_1", name: wanted.name, input: { q: 1 } }] : [{ type: "text", text }];
  const usage = { input_tokens: 11, output_tokens: 7 };
  if (!body.stream) {
    return Response.json({ id: "msg_1", type: "message", role: "assistant", model: body.model, content, stop_reason: wanted ? "tool_use" : "end_turn", stop_sequence: null, usage });
  }
  let events = sse("message_start", { type: "message_start", message: { id: "msg_1", type: "message", role: "assistant", model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 11, output_tokens: 1 } } });
  if (body.model === "claude-overloaded-midstream") {
    events += sse("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
    events += sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "partial" } });
    events += sse("error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
    return new Response(events, { headers: { "content-type": "text/event-stream" } });
  }
  if (wanted) {
    events += sse("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: "toolu_1", name: wanted.name, input: {} } });
    events += sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: '{"q":' } });
    events += sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: "1}" } });
  } else {
    events += sse("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
    const half = Math.ceil(text.length / 2);
    for (const piece of [text.slice(0, half), text.slice(half)]) events += sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: piece } });
  }
  events += sse("content_block_stop", { type: "content_block_stop", index: 0 });
  events += sse("message_delta", { type: "message_delta", delta: { stop_reason: wanted ? "tool_use" : "end_turn", stop_sequence: null }, usage: { output_tokens: 7 } });
  events += sse("message_stop", { type: "message_stop" });
  return new Response(events, { headers: { "content-type": "text/event-stream" } });
}
