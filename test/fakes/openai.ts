// A fake OpenAI-compatible endpoint (runs in Node as Miniflare's outbound service): it answers
// POST https://llm.test/v1/chat/completions like the real API and checks what a client must send.
// Some model names answer failures: `rate-limited` (429, Retry-After: 1), `rate-limited-ms`
// (429, retry-after-ms: 250), `unavailable` (503) and `midstream-error` (an error event after the
// first streamed chunk).
export const FAKE_LLM_KEY = "sk-test-fake-provider-key";

export async function fakeOpenAI(request: Request, options: { requireKey?: boolean } = {}): Promise<Response> {
  const url = new URL(request.url);
  if (request.method !== "POST" || url.pathname !== "/v1/chat/completions") {
    return Response.json({ error: { message: "not found" } }, { status: 404 });
  }
  const auth = request.headers.get("authorization");
  // Azure OpenAI's form, `api-key: <key>`, is accepted too.
  if ((options.requireKey ?? true) && auth !== `Bearer ${FAKE_LLM_KEY}` && request.headers.get("api-key") !== FAKE_LLM_KEY) {
    // OpenAI quotes the key it was sent, which is why providers redact their messages.
    return Response.json({ error: { message: `Incorrect API key provided: ${auth?.replace(/^Bearer /, "") ?? ""}.`, type: "invalid_request_error", code: "invalid_api_key" } }, { status: 401 });
  }
  const body = (await request.json()) as {
    model: string;
    messages: { role: string; content: string }[];
    max_tokens?: number;
    stream?: boolean;
    tools?: { type: string; function: { name: string } }[];
  };
  const failure = failureFor(body.model);
  if (failure) return failure;
  const last = body.messages.at(-1)?.content ?? "";
  const content = `fake:${body.model}:${last.toUpperCase()}`;
  const wanted = body.messages.at(-1)?.role === "user" ? body.tools?.find((t) => last.includes(`use ${t.function.name}`)) : undefined;
  if (body.stream) {
    // Chat completion chunks as server-sent events, the tool call's arguments split in two.
    const chunk = (delta: unknown, extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id: "chatcmpl-test", object: "chat.completion.chunk", created: 1_700_000_000, model: body.model, choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
    let events = "";
    if (body.model === "midstream-error") {
      events += chunk({ role: "assistant", content: "partial" });
      events += `data: ${JSON.stringify({ error: { message: "The server had an error while processing your request.", type: "server_error" } })}\n\n`;
      return new Response(events, { headers: { "content-type": "text/event-stream" } });
    }
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

/** The failures OpenAI answers, with the headers it sends along. */
function failureFor(model: string): Response | Promise<Response> | null {
  const rateLimited = { error: { message: "Rate limit reached for requests", type: "requests", code: "rate_limit_exceeded" } };
  if (model === "rate-limited") return Response.json(rateLimited, { status: 429, headers: { "retry-after": "1" } });
  if (model === "rate-limited-ms") return Response.json(rateLimited, { status: 429, headers: { "retry-after-ms": "250", "retry-after": "1" } });
  if (model === "unavailable") return Response.json({ error: { message: "The engine is currently overloaded, please try again later", type: "server_error" } }, { status: 503 });
  // What a broken or hostile endpoint answers: a 200 that is no completion, token counts no one
  // should bill, a malformed tool call, a stream that stalls after its first chunk.
  if (model === "not-a-completion") return new Response("<html>502 Bad Gateway</html>", { headers: { "content-type": "text/html" } });
  const completion = (message: unknown, usage: unknown) =>
    Response.json({ id: "chatcmpl-test", object: "chat.completion", created: 1, model, choices: [{ index: 0, message, finish_reason: "stop", logprobs: null }], usage });
  if (model === "bad-usage") return completion({ role: "assistant", content: "twelve chars" }, { prompt_tokens: -100_000_000, completion_tokens: "abc", total_tokens: 1e308 });
  if (model === "bad-tool-call") return completion({ role: "assistant", content: null, tool_calls: [{ id: "", type: "function", function: { name: "x".repeat(500), arguments: "{}" } }] }, { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 });
  if (model === "stall-stream") {
    const first = `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta: { role: "assistant", content: "first " }, finish_reason: null }] })}\n\n`;
    return new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode(first)) }), { headers: { "content-type": "text/event-stream" } });
  }
  if (model === "hang") return new Promise<Response>(() => undefined);
  // 9 MiB of content: past what the dispatcher takes from a provider (8 MiB).
  if (model === "huge") return completion({ role: "assistant", content: "x".repeat(9 * 1024 * 1024) }, { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 });
  if (model === "huge-stream") {
    const piece = `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta: { content: "y".repeat(64 * 1024) }, finish_reason: null }] })}\n\n`;
    let sent = 0;
    return new Response(new ReadableStream({ pull: (c) => (sent++ < 200 ? c.enqueue(new TextEncoder().encode(piece)) : c.close()) }), { headers: { "content-type": "text/event-stream" } });
  }
  return null;
}

// A Modal web endpoint serving vLLM's OpenAI-compatible API with proxy auth required: Modal's proxy
// answers 401 in plain text before the request reaches the container
// (https://modal.com/docs/guide/webhook-proxy-auth); vLLM itself was started without --api-key.
export const FAKE_MODAL_KEY = "wk-test-modal-key";
export const FAKE_MODAL_SECRET = "ws-test-modal-secret";

export function fakeModal(request: Request): Promise<Response> | Response {
  if (request.headers.get("modal-key") !== FAKE_MODAL_KEY || request.headers.get("modal-secret") !== FAKE_MODAL_SECRET) {
    return new Response("modal-http: missing credentials for proxy authorization", { status: 401, headers: { "content-type": "text/plain" } });
  }
  return fakeOpenAI(request, { requireKey: false });
}
