import { RUN_STATES } from "../contract.js";
import { z } from "@hono/zod-openapi";

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

export const RunStatus = z.enum(RUN_STATES);

export const RunRecord = z
  .object({
    id: z.string(),
    agent: z.string(),
    version: z.number().int(),
    status: RunStatus,
    error: z.string().optional(),
    createdAt: z.string().datetime(),
    startedAt: z.string().datetime().nullable(),
    finishedAt: z.string().datetime().nullable(),
    endUser: z.string().optional().openapi({ description: "The `sub` of the end-user token the run was made with." }),
    usage: RunUsage,
  })
  .openapi("Run");


export const RunList = z.object({ runs: z.array(RunRecord), cursor: z.string().nullable() }).openapi("RunList");
