/**
 * Evaluated before any tenant module (the harness imports it first): every fetch() the agent
 * makes is tagged with the run it belongs to, so the platform's egress policy can count it and
 * log denials on that run. Tagging only attributes; the tenant is fixed by the platform.
 * Runs inside the tenant isolate, bundled as text by scripts/build-harness.mjs.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { EGRESS_CREDENTIALS_HEADER, EGRESS_RUN_HEADER } from "../contract.js";

/** The id of the run whose code is running now (the harness enters it for each run). */
export const currentRun = new AsyncLocalStorage<string>();

const platformFetch = globalThis.fetch;
globalThis.fetch = function fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  const run = currentRun.getStore();
  if (run) request.headers.set(EGRESS_RUN_HEADER, run);
  request.headers.delete(EGRESS_CREDENTIALS_HEADER);
  // The Request still has the URL as written; the runtime drops its user:pass@ on the way out.
  const url = new URL(request.url);
  if (url.username || url.password) {
    request.headers.set(EGRESS_CREDENTIALS_HEADER, "1");
    return platformFetch(new Request(request.url, { method: request.method, headers: request.headers }));
  }
  return platformFetch(request);
};
