import { z } from "@hono/zod-openapi";
import { AgentName } from "../../core/names";
import { NextCursor } from "../../core/http/pagination";
import { RunRecord } from "../../core/runs/schemas";
import { IDEMPOTENCY_KEY_PATTERN } from "./runs/idempotency";

export { RunList, RunRecord, RunStatus, RunUsage } from "../../core/runs/schemas";

export const RunMode = z.enum(["sync", "stream", "async"]);

export const RunRequest = z
  .strictObject({
    input: z.unknown().openapi({ description: "Any JSON value, handed to the agent as `input`." }),
    mode: RunMode.default("sync").openapi({
      description: "`sync`: answer when the run ends. `stream`: text/event-stream of the run's events. `async`: 202 at once; the run is queued.",
    }),
    cancelOnDisconnect: z.boolean().optional().openapi({ description: "stream only: closing the connection cancels the run (by default the run goes on and the stream can be resumed)." }),
    webhook: z
      .strictObject({ url: z.string().url().max(2048) })
      .optional()
      .openapi({ description: "async only: POSTed the result when the run ends, signed (Isoplane-Signature)." }),
  })
  .openapi("RunRequest");

export const RunResult = RunRecord.extend({ output: z.unknown() }).openapi("RunResult");

export const RunQueued = z.object({ id: z.string(), status: z.literal("queued") }).openapi("RunQueued");

export { LastEventIdHeader, RunEvent, RunEvents, RunIdParam } from "../../core/runs/read";

export const ContextObject = z
  .object({ key: z.string(), size: z.number().int(), etag: z.string() })
  .openapi("ContextObject");

export const ContextList = z
  .object({
    objects: z.array(z.object({ key: z.string(), size: z.number().int(), uploadedAt: z.string().datetime() })),
    cursor: NextCursor,
  })
  .openapi("ContextList");

export const AgentParam = z.object({ agent: AgentName.openapi({ param: { name: "agent", in: "path" } }) });

export const IdempotencyHeader = z.object({
  "idempotency-key": z
    .string()
    .regex(IDEMPOTENCY_KEY_PATTERN, "1 to 255 visible ASCII characters.")
    .optional()
    .openapi({ description: "Repeats within 24 h return the first run instead of starting another." }),
});
