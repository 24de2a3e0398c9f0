import { isoTime } from "../log";
import type { z } from "@hono/zod-openapi";
import type { Run } from "../db/schema";
import type { RunRecord } from "./schemas";


/** The public shape of a run row: never the tenant id, never anything the caller did not send. */
export function runView(run: Run): z.infer<typeof RunRecord> {
  return {
    id: run.id,
    agent: run.agent,
    version: run.version,
    status: run.status,
    ...(run.error !== null ? { error: run.error } : {}),
    ...(run.endUser !== null ? { endUser: run.endUser } : {}),
    createdAt: isoTime(run.createdAt),
    startedAt: isoTime(run.startedAt),
    finishedAt: isoTime(run.finishedAt),
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
