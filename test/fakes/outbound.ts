// Miniflare's outbound service for the test runtime: every fetch() leaving the Workers lands here,
// and is answered by the fake for its host. Nothing reaches a network.
import { fakeCloudflare } from "./cloudflare-api.ts";
import { fakeOpenAI } from "./openai.ts";

export function outbound(request: Request): Promise<Response> | Response {
  const host = new URL(request.url).hostname;
  if (host === "llm.test") return fakeOpenAI(request);
  if (host === "api.cloudflare.com") return fakeCloudflare(request);
  return new Response(`no network in tests (${host})`, { status: 502 });
}
