import { z } from "@hono/zod-openapi";

export const RunRequest = z
  .strictObject({ input: z.unknown().openapi({ description: "Any JSON value, handed to the agent as `input`." }) })
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
    usage: RunUsage,
  })
  .openapi("Run");

export const RunResult = RunRecord.extend({ output: z.unknown() }).openapi("RunResult");

export const ContextObject = z
  .object({ key: z.string(), size: z.number().int(), etag: z.string() })
  .openapi("ContextObject");

export const ContextList = z
  .object({
    objects: z.array(z.object({ key: z.string(), size: z.number().int(), uploadedAt: z.string().datetime() })),
    cursor: z.string().nullable(),
  })
  .openapi("ContextList");
