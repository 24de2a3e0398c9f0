/**
 * The platform's main module inside every tenant isolate, locally and on Workers for Platforms
 * (bundled as text by scripts/build-harness.mjs into core/harness/bundled.ts). It builds the env
 * the agent sees for one run (`RUN`, `STORAGE`, `LLM`, `SECRETS`, `EMIT`) and answers with a
 * stream of newline-delimited JSON frames (`HarnessFrame`): `event` frames as the agent emits
 * them, then exactly one `output` (the agent's response body) or `error` (a one-line message,
 * never a stack). The isolate is cached per agent version, so per-run facts arrive with each
 * request. Every env entry besides the two platform bindings is one of the agent's secrets (on
 * Workers for Platforms they are the script's secret bindings).
 */
// setup first: it wraps fetch() before any of the agent's modules is evaluated.
import { currentRun } from "./setup";
import { agent as agentModule } from "./agent";
import { MAX_OUTPUT_BYTES, RUN_HEADER, type AgentEnv, type ChatRequest, type HarnessFrame, type RunInfo } from "../contract.js";
import { boundedText, checkModelRequest, EventLimiter, oneLineError } from "./frames";

/** The platform bindings as the isolate receives them: each call names the run it is for. */
interface PlatformEnv {
  STORAGE: {
    get(key: string, runId: string): Promise<string | null>;
    put(key: string, value: string, runId: string): Promise<void>;
    list(prefix: string, runId: string): Promise<string[]>;
  };
  LLM: {
    chat(request: ChatRequest, runId: string): Promise<Awaited<ReturnType<AgentEnv["LLM"]["chat"]>>>;
    stream(request: ChatRequest, runId: string): Promise<ReadableStream<Uint8Array>>;
  };
  [secret: string]: unknown;
}

type AgentHandler = { fetch(request: Request, env: AgentEnv, ctx: ExecutionContext): unknown };

const encoder = new TextEncoder();

function handlerOf(module: { default?: unknown }): AgentHandler | null {
  const agent = module.default as Partial<AgentHandler> | undefined;
  return agent && typeof agent.fetch === "function" ? (agent as AgentHandler) : null;
}

export default {
  async fetch(request: Request, env: PlatformEnv, ctx: ExecutionContext): Promise<Response> {
    const run = Object.freeze(JSON.parse(request.headers.get(RUN_HEADER) ?? "null") as RunInfo);
    const id = run.id;
    const { STORAGE, LLM, ...secrets } = env;
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    let open = true;
    // Frames written in one turn leave as one chunk: an agent emitting in a tight loop costs the
    // platform a write per turn, not one per event.
    let pending = "";
    let flushing: Promise<void> | null = null;
    const flush = (): Promise<void> => {
      flushing ??= Promise.resolve().then(() => {
        const chunk = pending;
        pending = "";
        flushing = null;
        return writer.write(encoder.encode(chunk));
      });
      return flushing;
    };
    const frame = (value: HarnessFrame): Promise<void> => {
      pending += `${JSON.stringify(value)}\n`;
      return flush();
    };
    const events = new EventLimiter();
    const emit = (type: string, data?: unknown): Promise<void> => {
      if (!open) return Promise.reject(new Error("EMIT: the run has ended"));
      let line: string | null;
      try {
        line = events.frame(type, data);
      } catch (err) {
        return Promise.reject(err);
      }
      if (line === null) return Promise.resolve();
      pending += `${line}\n`;
      return flush();
    };
    const scoped: AgentEnv = Object.freeze({
      RUN: run,
      SECRETS: Object.freeze(secrets as Record<string, string>),
      EMIT: emit,
      STORAGE: Object.freeze({
        get: (key: string) => STORAGE.get(key, id),
        put: (key: string, value: string) => STORAGE.put(key, value, id),
        list: (prefix?: string) => STORAGE.list(prefix ?? "", id),
      }),
      LLM: Object.freeze({
        chat: async (req: ChatRequest) => {
          checkModelRequest("LLM.chat", req);
          return LLM.chat(req, id);
        },
        stream: async (req: ChatRequest) => {
          checkModelRequest("LLM.stream", req);
          return LLM.stream(req, id);
        },
      }),
    });
    const headers = new Headers(request.headers);
    headers.delete(RUN_HEADER);
    const inner = new Request(request.url, { method: request.method, headers, body: request.body });
    const work = (async () => {
      try {
        const agent = handlerOf(agentModule);
        if (!agent) throw new TypeError("the module's default export has no fetch(request, env) handler");
        const response = await currentRun.run(id, () => agent.fetch(inner, scoped, ctx));
        if (!(response instanceof Response)) throw new TypeError("fetch() did not return a Response");
        if (!response.ok) {
          await response.body?.cancel();
          await frame({ type: "error", error: `The agent responded with HTTP ${response.status}.` });
        } else {
          const text = await boundedText(response.body);
          await frame(text === null ? { type: "error", error: `The agent's output is larger than ${MAX_OUTPUT_BYTES} bytes.` } : { type: "output", text });
        }
      } catch (err) {
        await frame({ type: "error", error: oneLineError(err) }).catch(() => {});
      } finally {
        open = false;
        await (flushing as Promise<void> | null)?.catch(() => {});
        await writer.close().catch(() => {});
      }
    })();
    ctx.waitUntil(work);
    return new Response(readable, { headers: { "content-type": "application/x-ndjson" } });
  },
};
