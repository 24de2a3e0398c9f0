import { MAX_JSON_DEPTH } from "../http/body";
import { RESERVED_MODULE_PREFIX, type ScriptBundle } from "./bundle";

export const HARNESS_MODULE = `${RESERVED_MODULE_PREFIX}_harness.js`;
const SETUP_MODULE = `${RESERVED_MODULE_PREFIX}_setup.js`;
/** Header on the dispatcher → isolate request that carries `env.RUN`; the agent never sees it. */
export const RUN_HEADER = "x-isoplane-run";
/** Header the harness puts on the agent's outbound fetches: which run the egress policy charges. */
export const EGRESS_RUN_HEADER = "x-isoplane-run-id";
/** The agent's JSON response becomes the run's output; larger outputs belong in `results/`. */
export const MAX_OUTPUT_BYTES = 10 * 1024 * 1024;
/** A run's share of the event log: enough for long streamed runs, bounded for the platform. */
export const MAX_EVENTS_PER_RUN = 10_000;
export const MAX_EVENT_BYTES_PER_RUN = 8 * 1024 * 1024;
/** The largest event frame an agent may emit (the whole output has its own, larger cap). */
export const MAX_EVENT_BYTES = 64 * 1024;
/** Event types an agent may emit: `run.*` is the platform's own. */
export const EVENT_TYPE = /^(?!run\.)[a-z][a-z0-9_.-]{0,63}$/;
/**
 * Header the harness puts on an outbound fetch whose URL carried credentials (`user:pass@`): the
 * runtime strips them before the egress policy sees the URL, so the harness, which sees the URL as
 * the agent wrote it, marks the request, and the policy refuses and logs it on the run.
 */
export const EGRESS_CREDENTIALS_HEADER = "x-isoplane-url-credentials";

/** What the harness streams back for one run, one JSON object per line. */
export type HarnessFrame =
  | { type: "event"; event: { type: string; data: unknown } }
  | { type: "output"; text: string }
  | { type: "error"; error: string };

/**
 * Evaluated before any tenant module (the harness imports it first): every fetch() the agent
 * makes is tagged with the run it belongs to, so the platform's egress policy can count it and
 * log denials on that run. Tagging only attributes; the tenant is fixed by the platform.
 */
const setupSource = `import { AsyncLocalStorage } from "node:async_hooks";
export const currentRun = new AsyncLocalStorage();
const platformFetch = globalThis.fetch;
globalThis.fetch = function fetch(input, init) {
  const request = new Request(input, init);
  const run = currentRun.getStore();
  if (run) request.headers.set(${JSON.stringify(EGRESS_RUN_HEADER)}, run);
  request.headers.delete(${JSON.stringify(EGRESS_CREDENTIALS_HEADER)});
  // The Request still has the URL as written; the runtime drops its user:pass@ on the way out.
  const url = new URL(request.url);
  if (url.username || url.password) {
    request.headers.set(${JSON.stringify(EGRESS_CREDENTIALS_HEADER)}, "1");
    return platformFetch(new Request(request.url, { method: request.method, headers: request.headers }));
  }
  return platformFetch(request);
};
`;

/**
 * The platform's main module inside every tenant isolate, locally and on Workers for Platforms.
 * It builds the env the agent sees for one run (`RUN`, `STORAGE`, `LLM`, `SECRETS`, `EMIT`) and
 * answers with a stream of newline-delimited JSON frames: `event` frames as the agent emits them,
 * then exactly one `output` (the agent's response body) or `error` (a one-line message, never a
 * stack). The isolate is cached per agent version, so per-run facts arrive with each request.
 * Every env entry besides the two platform bindings is one of the agent's secrets (on Workers
 * for Platforms they are the script's secret bindings).
 */
export function harnessSource(agentModule: string): string {
  return `import { currentRun } from "./${SETUP_MODULE}";
import * as agentModule from ${JSON.stringify(`./${agentModule}`)};
const agent = agentModule.default;
const encoder = new TextEncoder();
const EVENT_TYPE = ${EVENT_TYPE.toString()};
const MAX_EVENT_BYTES = ${MAX_EVENT_BYTES};
const MAX_OUTPUT_BYTES = ${MAX_OUTPUT_BYTES};
const MAX_EVENTS_PER_RUN = ${MAX_EVENTS_PER_RUN};
const MAX_EVENT_BYTES_PER_RUN = ${MAX_EVENT_BYTES_PER_RUN};
const MAX_DEPTH = ${MAX_JSON_DEPTH};
// The platform's JSON depth rule (core/http/body.ts jsonNestsDeeper), on the text: no recursion.
function nestsDeeper(text, max) {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
// The same rule on a value (core/http/body.ts valueNestsDeeper): shared objects measured once.
function valueNestsDeeper(value, max) {
  if (value === null || typeof value !== "object") return false;
  const height = new Map();
  const onStack = new Set();
  const stack = [];
  const open = (node) => {
    onStack.add(node);
    stack.push({ node, children: Array.isArray(node) ? node : Object.values(node), next: 0, max: 0 });
  };
  open(value);
  while (stack.length) {
    const top = stack[stack.length - 1];
    if (top.next < top.children.length) {
      const child = top.children[top.next++];
      if (child === null || typeof child !== "object") continue;
      if (onStack.has(child)) return true;
      const known = height.get(child);
      if (known !== undefined) {
        if (stack.length + known > max) return true;
        if (known > top.max) top.max = known;
        continue;
      }
      if (stack.length >= max) return true;
      open(child);
      continue;
    }
    stack.pop();
    onStack.delete(top.node);
    const h = top.max + 1;
    height.set(top.node, h);
    if (stack.length && h > stack[stack.length - 1].max) stack[stack.length - 1].max = h;
  }
  return false;
}
/** The response's text, or null as soon as it passes MAX_OUTPUT_BYTES: an oversized output is never buffered whole. */
async function boundedText(response) {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_OUTPUT_BYTES) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}
const tooDeep = (what) => new RangeError(what + " nests deeper than " + MAX_DEPTH + " levels");
function short(err) {
  const text = err instanceof Error ? (err.name && err.name !== "Error" ? err.name + ": " : "") + err.message : String(err);
  const line = text.split("\\n")[0];
  return line.length > 500 ? line.slice(0, 497) + "..." : line;
}
export default {
  async fetch(request, env, ctx) {
    const run = Object.freeze(JSON.parse(request.headers.get(${JSON.stringify(RUN_HEADER)})));
    const id = run.id;
    const { STORAGE, LLM, ...secrets } = env;
    const { readable, writable } = new TransformStream();
    const writer = writable.getWriter();
    let open = true;
    // Frames written in one turn leave as one chunk: an agent emitting in a tight loop costs the
    // platform a write per turn, not one per event.
    let pending = "";
    let flushing = null;
    const flush = () => {
      flushing ??= Promise.resolve().then(() => {
        const chunk = pending;
        pending = "";
        flushing = null;
        return writer.write(encoder.encode(chunk));
      });
      return flushing;
    };
    const frame = (value) => {
      pending += JSON.stringify(value) + "\\n";
      return flush();
    };
    // Past the log's limits the platform keeps nothing more (it marks the log truncated): one
    // frame over them reaches it, the rest are dropped here.
    let emitted = 0;
    let emittedBytes = 0;
    const emit = (type, data) => {
      if (!open) return Promise.reject(new Error("EMIT: the run has ended"));
      if (typeof type !== "string" || !EVENT_TYPE.test(type)) return Promise.reject(new TypeError("EMIT: invalid event type"));
      let line;
      try {
        if (valueNestsDeeper(data, MAX_DEPTH)) return Promise.reject(tooDeep("EMIT: data"));
        line = JSON.stringify({ type: "event", event: { type, data: data ?? null } });
      } catch (err) {
        return Promise.reject(new TypeError("EMIT: data is not serialisable as JSON (" + short(err) + ")"));
      }
      if (line.length > MAX_EVENT_BYTES) return Promise.reject(new RangeError("EMIT: event larger than " + MAX_EVENT_BYTES + " bytes"));
      // The event frame wraps the data in two levels.
      if (nestsDeeper(line, MAX_DEPTH + 2)) return Promise.reject(tooDeep("EMIT: data"));
      if (emitted > MAX_EVENTS_PER_RUN || emittedBytes > MAX_EVENT_BYTES_PER_RUN) return Promise.resolve();
      emitted++;
      emittedBytes += line.length;
      pending += line + "\\n";
      return flush();
    };
    const scoped = Object.freeze({
      RUN: run,
      SECRETS: Object.freeze(secrets),
      EMIT: emit,
      STORAGE: Object.freeze({
        get: (key) => STORAGE.get(key, id),
        put: (key, value) => STORAGE.put(key, value, id),
        list: (prefix) => STORAGE.list(prefix ?? "", id),
      }),
      // Checked before the RPC hop: a deep request would overflow its serialiser (the platform checks again).
      LLM: Object.freeze({
        chat: async (req) => {
          if (valueNestsDeeper(req, MAX_DEPTH)) throw new TypeError("LLM.chat: the request nests deeper than " + MAX_DEPTH + " levels");
          return LLM.chat(req, id);
        },
        stream: async (req) => {
          if (valueNestsDeeper(req, MAX_DEPTH)) throw new TypeError("LLM.stream: the request nests deeper than " + MAX_DEPTH + " levels");
          return LLM.stream(req, id);
        },
      }),
    });
    const headers = new Headers(request.headers);
    headers.delete(${JSON.stringify(RUN_HEADER)});
    const inner = new Request(request.url, { method: request.method, headers, body: request.body });
    const work = (async () => {
      try {
        if (!agent || typeof agent.fetch !== "function") {
          throw new TypeError("the module's default export has no fetch(request, env) handler");
        }
        const response = await currentRun.run(id, () => agent.fetch(inner, scoped, ctx));
        if (!(response instanceof Response)) throw new TypeError("fetch() did not return a Response");
        if (!response.ok) {
          await response.body?.cancel();
          await frame({ type: "error", error: "The agent responded with HTTP " + response.status + "." });
        } else {
          const text = await boundedText(response);
          await frame(text === null ? { type: "error", error: "The agent's output is larger than " + MAX_OUTPUT_BYTES + " bytes." } : { type: "output", text });
        }
      } catch (err) {
        await frame({ type: "error", error: short(err) }).catch(() => {});
      } finally {
        open = false;
        await flushing?.catch(() => {});
        await writer.close().catch(() => {});
      }
    })();
    ctx.waitUntil(work);
    return new Response(readable, { headers: { "content-type": "application/x-ndjson" } });
  },
};
`;
}

/** The modules an agent version runs as: the platform's harness and setup beside the tenant's own. */
export function runtimeModules(bundle: ScriptBundle): Record<string, string> {
  return { ...bundle.modules, [SETUP_MODULE]: setupSource, [HARNESS_MODULE]: harnessSource(bundle.mainModule) };
}

/** The harness needs AsyncLocalStorage: `nodejs_als` unless the agent already has Node compatibility. */
export function runtimeFlags(bundle: ScriptBundle): string[] {
  const flags = bundle.compatibilityFlags;
  return flags.some((f) => f === "nodejs_compat" || f === "nodejs_compat_v2" || f === "nodejs_als") ? [...flags] : [...flags, "nodejs_als"];
}
