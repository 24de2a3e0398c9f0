// @ts-check
/**
 * The platform's wire contract: what its Workers, the agent SDK (tenant-template/), the harness
 * inside every tenant isolate and the CLI (cli/) must agree on. Plain JavaScript with JSDoc types,
 * so the CLI imports it under any Node and TypeScript code imports its values and types alike;
 * it imports nothing. Everything here is only ever added to: clients switch on these names.
 */

// ---- problems (RFC 9457) ----

/** The stable part of every problem's `type` URI. */
export const PROBLEM_BASE = "https://isoplane.dev/problems/";

/** Every problem type the platform can answer with, its status and title. */
export const PROBLEMS = /** @type {const} */ ({
  "invalid-request": { status: 400, title: "The request is not valid" },
  "malformed-json": { status: 400, title: "The body is not valid JSON" },
  "invalid-name": { status: 400, title: "The name is not valid" },
  "invalid-key": { status: 400, title: "The storage key is not valid" },
  "invalid-script": { status: 400, title: "The script is not valid" },
  "unknown-model": { status: 400, title: "No configured provider serves this model" },
  "script-quota-exceeded": { status: 400, title: "The script is larger than the tenant's scriptBytes quota" },
  unauthorized: { status: 401, title: "Missing or unknown credentials" },
  forbidden: { status: 403, title: "The credentials do not allow this" },
  "egress-denied": { status: 403, title: "The platform's egress policy denied this request" },
  "not-found": { status: 404, title: "Not found" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  conflict: { status: 409, title: "The request conflicts with the current state" },
  "idempotency-key-in-use": { status: 409, title: "A request with this Idempotency-Key is still running" },
  "idempotency-key-reused": { status: 422, title: "This Idempotency-Key was used with a different request" },
  "payload-too-large": { status: 413, title: "The body is too large" },
  "quota-storage-bytes": { status: 413, title: "The tenant's storageBytes quota would be exceeded" },
  "quota-requests-per-minute": { status: 429, title: "The tenant's requestsPerMinute quota is used up" },
  "quota-concurrent-runs": { status: 429, title: "The tenant's concurrentRuns quota is used up" },
  "quota-runs-per-month": { status: 429, title: "The tenant's runsPerMonth quota is used up" },
  "quota-llm-tokens-per-month": { status: 429, title: "The tenant's llmTokensPerMonth quota is used up" },
  "quota-spend-cap": { status: 429, title: "The tenant's monthly spend cap is reached" },
  "unsupported-media-type": { status: 415, title: "Unsupported content type" },
  "internal-error": { status: 500, title: "Internal error" },
  "publish-failed": { status: 502, title: "Publishing to the runtime failed" },
  unavailable: { status: 503, title: "Temporarily unavailable" },
});

/** @typedef {keyof typeof PROBLEMS} ProblemSlug */

// ---- names ----

/** Agent names: what the URL path and the CLI accept. */
export const AGENT_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Event types an agent may emit: `run.*` is the platform's own. */
export const EVENT_TYPE = /^(?!run\.)[a-z][a-z0-9_.-]{0,63}$/;

// ---- headers ----

/** On the answer to `POST /v1/agents/{agent}/runs` in every mode: the run's id. */
export const RUN_ID_HEADER = "x-isoplane-run-id";
/** On the dispatcher → isolate request: the run (`env.RUN`) as JSON; the agent never sees it. */
export const RUN_HEADER = "x-isoplane-run";
/** The harness puts it on the agent's outbound fetches: which run the egress policy charges. */
export const EGRESS_RUN_HEADER = "x-isoplane-run-id";
/**
 * The harness puts it on an outbound fetch whose URL carried credentials (`user:pass@`): the
 * runtime strips them before the egress policy sees the URL, so the harness marks the request.
 */
export const EGRESS_CREDENTIALS_HEADER = "x-isoplane-url-credentials";

// ---- runs ----

/** Every state a run can be in; a run in a terminal state never changes again. */
export const RUN_STATES = /** @type {const} */ (["queued", "running", "succeeded", "failed", "cancelled", "timed_out"]);
/** @typedef {(typeof RUN_STATES)[number]} RunStatus */
export const TERMINAL_STATES = /** @type {const} */ (["succeeded", "failed", "cancelled", "timed_out"]);

/** @param {string} status @returns {boolean} */
export const isTerminal = (status) => /** @type {readonly string[]} */ (TERMINAL_STATES).includes(status);

/** Event types the platform itself writes to a run's log. */
export const PLATFORM_EVENTS = /** @type {const} */ ({
  started: "run.started",
  failed: "run.failed",
  cancelled: "run.cancelled",
  metered: "run.metered",
  egressDenied: "egress.denied",
  /** A model call's provider answered 429/5xx (or not at all) and the call is tried again after `waitMs`. */
  llmRetry: "llm.retry",
  /** A model's retries are used up and the call goes to its configured fallback model. */
  llmFallback: "llm.fallback",
  truncated: "events.truncated",
  suppressed: "events.suppressed",
});

/**
 * What a run used, as the run view reports it.
 * @typedef {{ wallMs: number | null, cpuMs: number | null, llmCalls: number, inputTokens: number,
 *   outputTokens: number, storageReads: number, storageWrites: number, bytesRead: number,
 *   bytesWritten: number, subrequests: number }} RunUsage
 */
/**
 * A run as `GET /v1/runs/{id}` shows it (`output` only on a sync answer and `/result`).
 * @typedef {{ id: string, agent: string, version: number, status: RunStatus, error?: string,
 *   createdAt: string, startedAt: string | null, finishedAt: string | null, endUser?: string,
 *   usage: RunUsage, output?: unknown }} RunView
 */

// ---- limits ----

/** The agent's JSON response becomes the run's output; larger outputs belong in `results/`. */
export const MAX_OUTPUT_BYTES = 10 * 1024 * 1024;
/** The largest event frame an agent may emit (the whole output has its own, larger cap). */
export const MAX_EVENT_BYTES = 64 * 1024;
/** A run's share of the event log: enough for long streamed runs, bounded for the platform. */
export const MAX_EVENTS_PER_RUN = 10_000;
export const MAX_EVENT_BYTES_PER_RUN = 8 * 1024 * 1024;
/** JSON nesting the platform accepts anywhere: bodies, run inputs, outputs, events, model requests. */
export const MAX_JSON_DEPTH = 64;

// ---- the harness and the agent ----

/**
 * The harness's answer to the dispatcher: newline-delimited frames, `event`s as the agent emits
 * them, then exactly one `output` (the agent's response body) or `error` (a one-line message).
 * @typedef {{ type: "event", event: { type: string, data: unknown } } | { type: "output", text: string } | { type: "error", error: string }} HarnessFrame
 */

/** @typedef {{ id: string, tenantId: string, agent: string, version: number }} RunInfo */

/** @typedef {{ name: string, description?: string, parameters: Record<string, unknown> }} ToolSpec */
/** @typedef {{ id: string, name: string, arguments: string }} ToolCall */
/**
 * @typedef {{ role: "system" | "user", content: string }
 *   | { role: "assistant", content: string, toolCalls?: ToolCall[] }
 *   | { role: "tool", toolCallId: string, content: string }} ChatMessage
 */
/**
 * What `env.LLM.chat()` / `env.LLM.stream()` accept.
 * @typedef {{ model?: string, messages: ChatMessage[], tools?: ToolSpec[], maxTokens?: number, temperature?: number }} ChatRequest
 */
/** @typedef {{ inputTokens: number, outputTokens: number }} ChatUsage */
/** @typedef {{ content: string, model: string, toolCalls: ToolCall[], usage: ChatUsage }} ChatResult */
/** One piece of a streamed answer: text as it is generated, then the whole result once. @typedef {{ type: "delta", content: string } | ({ type: "done" } & ChatResult)} ChatChunk */
/** What `env.LLM.stream()` sends: chunks, or a final `error` line when the platform ends the stream. @typedef {ChatChunk | { type: "error", error: string }} StreamLine */

/**
 * What the platform puts in `env` for every run.
 * @typedef {{
 *   RUN: RunInfo,
 *   SECRETS: Readonly<Record<string, string>>,
 *   EMIT(type: string, data?: unknown): Promise<void>,
 *   STORAGE: { get(key: string): Promise<string | null>, put(key: string, value: string): Promise<void>, list(prefix?: string): Promise<string[]> },
 *   LLM: { chat(request: ChatRequest): Promise<ChatResult>, stream(request: ChatRequest): Promise<ReadableStream<Uint8Array>> },
 * }} AgentEnv
 */

export {};
