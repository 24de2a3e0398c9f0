// Miniflare's outbound service for the test runtime: every fetch() leaving the Workers lands here,
// and is answered by the fake for its host. Nothing reaches a network.
import { fakeCloudflare } from "./cloudflare-api.ts";
import { fakeFlyMachines } from "./fly-machines.ts";
import { fakeAnthropic } from "./anthropic.ts";
import { fakeModal, fakeOpenAI } from "./openai.ts";
import { webhookReceiver } from "./webhooks.ts";

export function outbound(request: Request): Promise<Response> | Response {
  const host = new URL(request.url).hostname;
  if (host === "llm.test") return fakeOpenAI(request);
  if (host === "modal.test") return fakeModal(request);
  if (host === "anthropic.test") return fakeAnthropic(request);
  if (host === "api.cloudflare.com") return fakeCloudflare(request);
  if (host === "api.machines.dev") return fakeFlyMachines(request);
  if (host === "hooks.example.test") return webhookReceiver(request);
  // A public API a tenant may allowlist: it echoes what reached it, so tests see what egress forwarded.
  if (host === "api.example.test" || host.endsWith(".example.test")) {
    return Response.json({ host, path: new URL(request.url).pathname, headers: Object.fromEntries(request.headers) });
  }
  return new Response(`no network in tests (${host})`, { status: 502 });
}
