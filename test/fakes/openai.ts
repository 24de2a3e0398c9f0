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
  const body = (await request.json()) as { model: string; messages: { role: string; content: string }[]; max_tokens?: number };
  const last = body.messages.at(-1)?.content ?? "";
  const content = `fake:${body.model}:${last.toUpperCase()}`;
  return Response.json({
    id: "chatcmpl-test",
    object: "chat.completion",
    created: 1_700_000_000,
    model: body.model,
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop", logprobs: null }],
    usage: { prompt_tokens: body.messages.length * 7, completion_tokens: content.length, total_tokens: body.messages.length * 7 + content.length },
  });
}
