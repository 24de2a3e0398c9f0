import { eq } from "drizzle-orm";
import { db } from "../../../core/db/client";
import { runs, type Run, type RunStatus } from "../../../core/db/schema";
import { intSetting, type DispatcherEnv } from "../../../core/env";
import { resultKey } from "../../../core/storage/keys";
import { AGENT_ERROR_HEADER, RUN_HEADER } from "../../../core/scripts/harness";
import type { AgentTarget, RunLimits, TenantRuntime } from "../runtime/types";

/** The agent's JSON response becomes the run's output; larger outputs belong in `results/`. */
export const MAX_OUTPUT_BYTES = 10 * 1024 * 1024;
const DEFAULT_RUN_TIMEOUT_MS = 300_000;

/**
 * Looks up the agent's active version and records the run as `running` on it — one D1 batch,
 * so the version recorded is exactly the version that runs. Null when there is no such agent
 * for this tenant (another tenant's agent included).
 */
export async function startRun(
  d1: D1Database,
  run: { id: string; tenantId: string; agent: string; endUser: string | null },
): Promise<AgentTarget | null> {
  const active = `FROM agents a JOIN agent_versions v ON v.tenant_id = a.tenant_id AND v.agent = a.name AND v.version = a.active_version
                  WHERE a.tenant_id = ?1 AND a.name = ?2`;
  const [target] = await d1.batch<{ version: number; sha256: string; bundle_key: string; script_name: string | null; secrets_rev: number }>([
    d1.prepare(`SELECT v.version, v.sha256, v.bundle_key, v.script_name, a.secrets_rev ${active}`).bind(run.tenantId, run.agent),
    d1
      .prepare(`INSERT INTO runs (id, tenant_id, agent, version, status, created_at, end_user) SELECT ?3, ?1, ?2, v.version, 'running', ?4, ?5 ${active}`)
      .bind(run.tenantId, run.agent, run.id, Date.now(), run.endUser),
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

/**
 * Runs one agent version to completion: records the run, boots the isolate, waits for its answer
 * within the run's time budget, stores the output under `results/<runId>/output.json` and closes
 * the record. Whatever the agent does, the run ends in a terminal state with its usage kept.
 */
export async function executeRun(
  env: DispatcherEnv,
  runtime: TenantRuntime,
  target: AgentTarget,
  runId: string,
  input: unknown,
  limits: RunLimits,
): Promise<{ run: Run; output: unknown }> {
  const d = db(env.DB);
  const startedAt = Date.now();
  const outcome = await invoke(env, runtime, target, runId, input, limits);
  let outputBytes: number | null = null;
  if (outcome.status === "succeeded") {
    const body = JSON.stringify(outcome.output ?? null);
    outputBytes = new TextEncoder().encode(body).byteLength;
    await env.BUCKET.put(resultKey(target.tenantId, runId, ["output.json"]), body, {
      httpMetadata: { contentType: "application/json" },
    });
  }
  const finishedAt = Date.now();
  const [run] = await d
    .update(runs)
    .set({
      status: outcome.status,
      error: outcome.error ?? null,
      finishedAt,
      wallMs: finishedAt - startedAt,
      outputBytes,
    })
    .where(eq(runs.id, runId))
    .returning();
  return { run: run!, output: outcome.status === "succeeded" ? (outcome.output ?? null) : null };
}

async function invoke(
  env: DispatcherEnv,
  runtime: TenantRuntime,
  target: AgentTarget,
  runId: string,
  input: unknown,
  limits: RunLimits,
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
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const response = await Promise.race([runtime.fetch(target, { request, runId, limits }), timeout]);
    if (response === "timeout") {
      return { status: "timed_out", error: `The run did not finish within ${timeoutMs} ms.` };
    }
    return await readOutcome(response);
  } catch (err) {
    return { status: "failed", error: shortMessage(err) };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

async function readOutcome(response: Response): Promise<Outcome> {
  if (response.headers.get(AGENT_ERROR_HEADER)) {
    const body = await response.json<{ error?: string }>().catch(() => ({ error: undefined }));
    return { status: "failed", error: body.error ?? "The agent threw an error." };
  }
  if (!response.ok) {
    await response.body?.cancel();
    return { status: "failed", error: `The agent responded with HTTP ${response.status}.` };
  }
  const text = await readText(response, MAX_OUTPUT_BYTES);
  if (text === null) return { status: "failed", error: `The agent's output is larger than ${MAX_OUTPUT_BYTES} bytes.` };
  if (text.trim() === "") return { status: "succeeded", output: null };
  try {
    return { status: "succeeded", output: JSON.parse(text) };
  } catch {
    return { status: "failed", error: "The agent's response is not JSON." };
  }
}

async function readText(response: Response, limit: number): Promise<string | null> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let size = 0;
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
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
