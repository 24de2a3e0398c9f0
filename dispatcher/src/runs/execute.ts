import type { Run, RunStatus } from "../../../core/db/schema";
import { intSetting, type DispatcherEnv } from "../../../core/env";
import { RUN_HEADER, type HarnessFrame } from "../../../core/scripts/harness";
import { resultKey } from "../../../core/storage/keys";
import type { AgentTarget, RunLimits, TenantRuntime } from "../runtime/types";
import { ledgerStatements } from "../../../core/billing/ledger";
import { EventLog } from "./events";
import { runFromRow, type RunRow } from "../../../core/runs/record";

/** The agent's JSON response becomes the run's output; larger outputs belong in `results/`. */
export const MAX_OUTPUT_BYTES = 10 * 1024 * 1024;
const DEFAULT_RUN_TIMEOUT_MS = 300_000;
/** How often a running run looks for a cancellation made elsewhere (`POST /v1/runs/{id}/cancel`). */
const CANCEL_POLL_MS = 1000;

/**
 * Looks up the agent's active version and records the run on it — one D1 batch, so the version
 * recorded is exactly the version that runs. Null when there is no such agent for this tenant
 * (another tenant's agent included).
 */
export async function startRun(
  d1: D1Database,
  run: { id: string; tenantId: string; agent: string; endUser: string | null; status?: "running" | "queued" },
): Promise<AgentTarget | null> {
  const active = `FROM agents a JOIN agent_versions v ON v.tenant_id = a.tenant_id AND v.agent = a.name AND v.version = a.active_version
                  WHERE a.tenant_id = ?1 AND a.name = ?2`;
  const [target] = await d1.batch<{ version: number; sha256: string; bundle_key: string; script_name: string | null; secrets_rev: number }>([
    d1.prepare(`SELECT v.version, v.sha256, v.bundle_key, v.script_name, a.secrets_rev ${active}`).bind(run.tenantId, run.agent),
    d1
      .prepare(
        `INSERT INTO runs (id, tenant_id, agent, version, status, created_at, started_at, end_user)
         SELECT ?3, ?1, ?2, v.version, ?6, ?4, CASE WHEN ?6 = 'running' THEN ?4 END, ?5 ${active}`,
      )
      .bind(run.tenantId, run.agent, run.id, Date.now(), run.endUser, run.status ?? "running"),
    // The log's first event, written with the record so it comes first whatever follows.
    d1
      .prepare(
        `INSERT INTO run_events (run_id, seq, at, type, data)
         SELECT ?3, 1, ?4, ?5, json_object('id', ?3, 'agent', ?2, 'version', v.version) ${active}`,
      )
      .bind(run.tenantId, run.agent, run.id, Date.now(), run.status === "queued" ? "run.queued" : "run.started"),
  ]);
  const row = target?.results[0];
  if (!row) return null;
  return {
    tenantId: run.tenantId,
    agent: run.agent,
    version: row.version,
    sha256: row.sha256,
    bundleKey: row.bundle_key,
    scriptName: row.script_name,
    secretsRev: row.secrets_rev,
  };
}

/** The wall-clock budget of one run. */
export function runTimeoutMs(env: DispatcherEnv): number {
  return intSetting(env.RUN_TIMEOUT_MS, DEFAULT_RUN_TIMEOUT_MS);
}

interface Outcome {
  status: RunStatus;
  output?: unknown;
  error?: string;
}

export interface RunObserver {
  /** Each event as it happens (the stream mode forwards them to the client). */
  onEvent?(type: string, data: unknown): void;
  /** Aborting cancels the run (the stream mode's client went away). */
  signal?: AbortSignal;
}

/**
 * Runs one admitted, recorded agent version to its end: boots the isolate, relays and logs its
 * events, enforces the time budget, notices cancellation, stores the output under
 * `results/<runId>/output.json` and closes the record. Whatever the agent does, the run ends in a
 * terminal state with its usage kept.
 */
export async function executeRun(
  env: DispatcherEnv,
  runtime: TenantRuntime,
  target: AgentTarget,
  runId: string,
  input: unknown,
  limits: RunLimits,
  observer: RunObserver = {},
): Promise<{ run: Run; output: unknown }> {
  const startedAt = Date.now();
  const log = new EventLog(env.DB, target.tenantId, runId);
  // Only stored events go live, so a stream's event ids always match the stored log.
  const emit = (type: string, data: unknown) => {
    if (log.add(type, data)) observer.onEvent?.(type, data);
  };
  // Recorded with the run (startRun); here it only reaches the live observer.
  observer.onEvent?.("run.started", { id: runId, agent: target.agent, version: target.version });
  const outcome = await invoke(env, runtime, target, runId, input, limits, emit, observer.signal);
  let outputBytes: number | null = null;
  if (outcome.status === "succeeded") {
    const body = JSON.stringify(outcome.output ?? null);
    outputBytes = new TextEncoder().encode(body).byteLength;
    await env.BUCKET.put(resultKey(target.tenantId, runId, ["output.json"]), body, { httpMetadata: { contentType: "application/json" } });
  }
  const finishedAt = Date.now();
  await log.flush();
  // One round trip closes the record and logs its end. A run already cancelled through the API
  // keeps its status (SET expressions see the old row); only its wall time is added.
  const [closed] = await env.DB.batch<RunRow>([
    env.DB.prepare(
      `UPDATE runs SET
         status = CASE WHEN status IN ('running', 'queued') THEN ?1 ELSE status END,
         error = CASE WHEN status IN ('running', 'queued') THEN ?2 ELSE error END,
         finished_at = CASE WHEN status IN ('running', 'queued') THEN ?3 ELSE finished_at END,
         output_bytes = CASE WHEN status IN ('running', 'queued') THEN ?4 ELSE output_bytes END,
         wall_ms = ?5
       WHERE id = ?6 RETURNING *`,
    ).bind(outcome.status, outcome.error ?? null, finishedAt, outputBytes, finishedAt - startedAt, runId),
    env.DB.prepare(
      `INSERT INTO run_events (run_id, seq, at, type, data)
       SELECT r.id, COALESCE((SELECT MAX(seq) FROM run_events WHERE run_id = r.id), 0) + 1, ?2,
              CASE WHEN r.status = 'succeeded' THEN 'run.completed' ELSE 'run.failed' END,
              json_object('id', r.id, 'status', r.status, 'error', r.error)
       FROM runs r WHERE r.id = ?1`,
    ).bind(runId, finishedAt),
    // The run's usage row and its day's rollup, in the same transaction.
    ...ledgerStatements(env.DB, runId, finishedAt),
  ]);
  const run = runFromRow(closed!.results[0]!);
  return { run, output: run.status === "succeeded" ? (outcome.output ?? null) : null };
}

async function invoke(
  env: DispatcherEnv,
  runtime: TenantRuntime,
  target: AgentTarget,
  runId: string,
  input: unknown,
  limits: RunLimits,
  emit: (type: string, data: unknown) => void,
  signal: AbortSignal | undefined,
): Promise<Outcome> {
  const request = new Request("https://agent.isoplane.internal/run", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      [RUN_HEADER]: JSON.stringify({ id: runId, tenantId: target.tenantId, agent: target.agent, version: target.version }),
    },
    body: JSON.stringify({ runId, input }),
  });
  const timeoutMs = runTimeoutMs(env);
  const stop = new AbortController();
  const timers: ReturnType<typeof setTimeout>[] = [];
  let stopped: Outcome | null = null;
  const halt = (outcome: Outcome) => {
    stopped ??= outcome;
    stop.abort();
  };
  timers.push(setTimeout(() => halt({ status: "timed_out", error: `The run did not finish within ${timeoutMs} ms.` }), timeoutMs));
  const poll = setInterval(async () => {
    const status = await env.DB.prepare("SELECT status FROM runs WHERE id = ?").bind(runId).first<string>("status").catch(() => null);
    if (status === "cancelled") halt({ status: "cancelled", error: "The run was cancelled." });
  }, CANCEL_POLL_MS);
  const onAbort = () => halt({ status: "cancelled", error: "The run was cancelled: the client went away." });
  signal?.addEventListener("abort", onAbort);
  const aborted = new Promise<"stop">((resolve) => stop.signal.addEventListener("abort", () => resolve("stop")));
  try {
    const response = await Promise.race([runtime.fetch(target, { request, runId, limits }), aborted]);
    if (response === "stop") return stopped!;
    const outcome = await readFrames(response, emit, aborted);
    return stopped ?? outcome;
  } catch (err) {
    return stopped ?? { status: "failed", error: shortMessage(err) };
  } finally {
    for (const t of timers) clearTimeout(t);
    clearInterval(poll);
    signal?.removeEventListener("abort", onAbort);
  }
}

/** Reads the harness's newline-delimited frames until the output or error frame (or a stop). */
async function readFrames(response: Response, emit: (type: string, data: unknown) => void, stop: Promise<"stop">): Promise<Outcome> {
  if (!response.body) return { status: "failed", error: "The agent sent no response." };
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), stop]);
      if (next === "stop") return { status: "cancelled" };
      if (next.done) return { status: "failed", error: "The agent's response ended without an output." };
      buffered += decoder.decode(next.value, { stream: true });
      if (buffered.length > MAX_OUTPUT_BYTES * 1.5) return { status: "failed", error: `The agent's output is larger than ${MAX_OUTPUT_BYTES} bytes.` };
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (!line) continue;
        const frame = JSON.parse(line) as HarnessFrame;
        if (frame.type === "event") emit(frame.event.type, frame.event.data);
        else if (frame.type === "error") return { status: "failed", error: frame.error };
        else return parseOutput(frame.text);
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

function parseOutput(text: string): Outcome {
  if (new TextEncoder().encode(text).byteLength > MAX_OUTPUT_BYTES) {
    return { status: "failed", error: `The agent's output is larger than ${MAX_OUTPUT_BYTES} bytes.` };
  }
  if (text.trim() === "") return { status: "succeeded", output: null };
  try {
    return { status: "succeeded", output: JSON.parse(text) };
  } catch {
    return { status: "failed", error: "The agent's response is not JSON." };
  }
}

/**
 * A bounded, single-line message. Stack frames are dropped: a platform error can carry internals
 * that callers must not see, and a caller needs the reason, not the trace.
 */
function shortMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const line = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^at\s/.test(l))
    .join(" ");
  return line.length > 500 ? `${line.slice(0, 497)}...` : line || "The run failed.";
}
