import type { z } from "@hono/zod-openapi";
import type { Run } from "../db/schema";
import type { RunRecord } from "./schemas";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The public shape of a run row: never the tenant id, never anything the caller did not send. */
export function runView(run: Run): z.infer<typeof RunRecord> {
  return {
    id: run.id,
    agent: run.agent,
    version: run.version,
    status: run.status,
    ...(run.error !== null ? { error: run.error } : {}),
    ...(run.endUser !== null ? { endUser: run.endUser } : {}),
    createdAt: iso(run.createdAt)!,
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
    usage: {
      wallMs: run.wallMs,
      cpuMs: run.cpuMs,
      llmCalls: run.llmCalls,
      inputTokens: run.inputTokens,
      outputTokens: run.outputTokens,
      storageReads: run.storageReads,
      storageWrites: run.storageWrites,
      bytesRead: run.bytesRead,
      bytesWritten: run.bytesWritten,
      subrequests: run.subrequests,
    },
  };
}

/** A `runs` row as raw SQL returns it (snake_case columns). */
export interface RunRow {
  id: string;
  tenant_id: string;
  agent: string;
  version: number;
  status: Run["status"];
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  wall_ms: number | null;
  cpu_ms: number | null;
  llm_calls: number;
  input_tokens: number;
  output_tokens: number;
  storage_reads: number;
  storage_writes: number;
  bytes_read: number;
  bytes_written: number;
  output_bytes: number | null;
  subrequests: number;
  end_user: string | null;
  model_usage: string;
}

/** Maps a raw row (hot paths skip the query builder) to the schema's camelCase shape. */
export function runFromRow(r: RunRow): Run {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    agent: r.agent,
    version: r.version,
    status: r.status,
    error: r.error,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    wallMs: r.wall_ms,
    cpuMs: r.cpu_ms,
    llmCalls: r.llm_calls,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    storageReads: r.storage_reads,
    storageWrites: r.storage_writes,
    bytesRead: r.bytes_read,
    bytesWritten: r.bytes_written,
    outputBytes: r.output_bytes,
    subrequests: r.subrequests,
    endUser: r.end_user,
    modelUsage: r.model_usage,
  };
}
