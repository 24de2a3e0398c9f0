// A fake OpenAI-compatible endpoint (runs in Node as Miniflare's outbound service): it answers
// POST https://llm.test/v1/chat/completions like the real API and checks what a client must send.
export const FAKE_LLM_KEY = "sk-test-fake-provider-key";

export async function fakeOpenAI(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (request.method !== "POST" || url.pathname !== "/v1/chat/completions") {
    return Response.json({ error: { message: "not found" } }, { status: 404 });
  }
  if (request.headers.get("authorization") !== `Bearer ${FAKE_LLM_KEY}`) {
    return Response.json({ error: { message: "Incorrect API key provided", type: "invalid_request_error" } }, { status: 401 });
  }
  const body = (await request.json()) as {
    model: string;
    messages: { role: string; content: string }[];
    max_tokens?: number;
    stream?: boolean;
    tools?: { type: string; function: { name: string } }[];
  };
  const last = body.messages.at(-1)?.content ?? "";
  const content = `fake:${body.model}:${last.toUpperCase()}`;
  const wanted = body.messages.at(-1)?.role === "user" ? body.tools?.find((t) => last.includes(`use ${t.function.name}`)) : undefined;
  if (body.stream) {
    // Chat completion chunks as server-sent events, the tool call's arguments split in two.
    const chunk = (delta: unknown, extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id: "chatcmpl-test", object: "chat.completion.chunk", created: 1_700_000_000, model: body.model, choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
    let events = "";
    if (wanted) {
      events += chunk({ role: "assistant", tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: wanted.function.name, arguments: '{"q":' } }] });
      events += chunk({ tool_calls: [{ index: 0, function: { arguments: "1}" } }] });
    } else {
      events += chunk({ role: "assistant", content: content.slice(0, 5) });
      events += chunk({ content: content.slice(5) });
    }
    events += `data: ${JSON.stringify({ id: "chatcmpl-test", object: "chat.completion.chunk", created: 1, model: body.model, choices: [], usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } })}\n\n`;
    events += "data: [DONE]\n\n";
    return new Response(events, { headers: { "content-type": "text/event-stream" } });
  }
  if (wanted) {
    return Response.json({
      id: "chatcmpl-test",
      object: "chat.completion",
      created: 1_700_000_000,
      model: body.model,
      choices: [{ index: 0, message: { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: wanted.function.name, arguments: '{"q":1}' } }] }, finish_reason: "tool_calls", logprobs: null }],
      usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 },
    });
  }
  return Response.json({
    id: "chatcmpl-test",
    object: "chat.completion",
    created: 1_700_000_000,
    model: body.model,
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop", logprobs: null }],
    usage: { prompt_tokens: body.messages.length * 7, completion_tokens: content.length, total_tokens: body.messages.length * 7 + content.length },
  });
}
