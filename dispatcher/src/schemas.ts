import { z } from "@hono/zod-openapi";

export const RunMode = z.enum(["sync", "stream", "async"]);

export const RunRequest = z
  .strictObject({
    input: z.unknown().openapi({ description: "Any JSON value, handed to the agent as `input`." }),
    mode: RunMode.default("sync").openapi({
      description: "`sync`: answer when the run ends. `stream`: text/event-stream of the run's events. `async`: 202 at once; the run is queued.",
    }),
    webhook: z
      .strictObject({ url: z.string().url().max(2048) })
      .optional()
      .openapi({ description: "async only: POSTed the result when the run ends, signed (Isoplane-Signature)." }),
  })
  .openapi("RunRequest");

export const RunUsage = z
  .object({
    wallMs: z.number().int().nullable(),
    cpuMs: z.number().int().nullable().openapi({ description: "Null when not measured (always, locally)." }),
    llmCalls: z.number().int(),
    inputTokens: z.number().int(),
    outputTokens: z.number().int(),
    storageReads: z.number().int(),
    storageWrites: z.number().int(),
    bytesRead: z.number().int(),
    bytesWritten: z.number().int(),
    subrequests: z.number().int(),
  })
  .openapi("RunUsage");

export const RunStatus = z.enum(["queued", "running", "succeeded", "failed", "cancelled", "timed_out"]);

export const RunRecord = z
  .object({
    id: z.string(),
    agent: z.string(),
    version: z.number().int(),
    status: RunStatus,
    error: z.string().optional(),
    createdAt: z.string().datetime(),
    finishedAt: z.string().datetime().nullable(),
    endUser: z.string().optional().openapi({ description: "The `sub` of the end-user token the run was made with." }),
    usage: RunUsage,
  })
  .openapi("Run");

export const RunResult = RunRecord.extend({ output: z.unknown() }).openapi("RunResult");

export const RunQueued = z.object({ id: z.string(), status: z.literal("queued") }).openapi("RunQueued");

export const RunList = z.object({ runs: z.array(RunRecord), cursor: z.string().nullable() }).openapi("RunList");

export const RunEvent = z
  .object({ seq: z.number().int(), at: z.string().datetime(), type: z.string(), data: z.unknown() })
  .openapi("RunEvent");

export const RunEvents = z
  .object({ events: z.array(RunEvent), next: z.number().int().nullable().openapi({ description: "Pass as `after` to read on; null at the end." }) })
  .openapi("RunEvents");

export const ContextObject = z
  .object({ key: z.string(), size: z.number().int(), etag: z.string() })
  .openapi("ContextObject");

export const ContextList = z
  .object({
    objects: z.array(z.object({ key: z.string(), size: z.number().int(), uploadedAt: z.string().datetime() })),
    cursor: z.string().nullable(),
  })
  .openapi("ContextList");
