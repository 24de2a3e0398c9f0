import { errorLine, logEvent } from "../../../core/log";
import type { DispatcherEnv } from "../env";
import { jsonNestsDeeper, MAX_JSON_DEPTH } from "../../../core/http/body";
import { EVENT_TYPE, MAX_OUTPUT_BYTES, RUN_HEADER, type HarnessFrame } from "../../../core/contract.js";

export { MAX_OUTPUT_BYTES };
import { resultKey } from "../../../core/storage/keys";
import type { AgentTarget, RunLimits, TenantRuntime } from "../runtime/types";
import type { RunRecord } from "../../../core/runs/schemas";
import type { z } from "@hono/zod-openapi";
import type { Outcome } from "./run-object";

type RunView = z.infer<typeof RunRecord>;
import { runStub } from "./stubs";


type Stub = ReturnType<typeof runStub>;

/**
 * A run's events on their way to its object: one append in flight at a time, and whatever arrived
 * meanwhile goes in the next — a streamed answer's deltas reach live streams at once, in order,
 * batched only as much as the object is busy.
 */
class EventSink {
  private buffer: { type: string; data: unknown; at: number }[] = [];
  private writing: Promise<void> | null = null;
  open = true;

  constructor(
    private readonly stub: Stub,
    private readonly tenantId: string,
  ) {}

  add(type: string, data: unknown): void {
    if (!this.open) return;
    this.buffer.push({ type, data, at: Date.now() });
    this.writing ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.buffer.length && this.open) {
        const batch = this.buffer.splice(0, 500);
        const { open } = await this.stub.append(this.tenantId, batch);
        this.open = open;
      }
    } catch (err) {
      logEvent("error", "run-events-write-failed", { error: String(err) });
    } finally {
      this.writing = null;
    }
  }

  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.buffer.length && this.open) await (this.writing = this.drain());
  }
}

/**
 * Runs one admitted, recorded agent version to its end: boots the isolate, sends its events to
 * the run's object, enforces the time budget, stops at once when the object says the run was
 * cancelled, stores the output under `results/<runId>/output.json` and closes the run. Whatever
 * the agent does, the run ends in a terminal state with its usage kept.
 */
export async function executeRun(
  env: DispatcherEnv,
  runtime: TenantRuntime,
  target: AgentTarget,
  runId: string,
  input: unknown,
  limits: RunLimits,
  timeoutMs: number,
): Promise<{ view: RunView; output: unknown }> {
  const stub = runStub(env, target.tenantId, runId);
  const startedAt = Date.now();
  try {
    const sink = new EventSink(stub, target.tenantId);
    const outcome = await invoke(runtime, stub, target, runId, input, limits, timeoutMs, (type, data) => sink.add(type, data));
    await sink.flush();
    if (outcome.status === "succeeded") {
      const body = JSON.stringify(outcome.output ?? null);
      outcome.outputBytes = new TextEncoder().encode(body).byteLength;
      await env.BUCKET.put(resultKey(target.tenantId, runId, ["output.json"]), body, { httpMetadata: { contentType: "application/json" } });
    }
    outcome.wallMs = Date.now() - startedAt;
    const closed = await stub.close(outcome);
    if (!closed) throw new Error(`run ${runId} has no record`);
    return closed;
  } catch (err) {
    // The platform itself failed (storage, the run's object): the run still ends, with its usage.
    logEvent("error", "run-execution-failed", { runId, error: String(err) });
    await stub.close({ status: "failed", error: "The platform failed while running this run.", wallMs: Date.now() - startedAt }).catch(() => null);
    throw err;
  }
}

async function invoke(
  runtime: TenantRuntime,
  stub: Stub,
  target: AgentTarget,
  runId: string,
  input: unknown,
  limits: RunLimits,
  timeoutMs: number,
  emit: (type: string, data: unknown) => void,
): Promise<Outcome> {
  const request = new Request("https://agent.isoplane.internal/run", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      [RUN_HEADER]: JSON.stringify({ id: runId, tenantId: target.tenantId, agent: target.agent, version: target.version }),
    },
    body: JSON.stringify({ runId, input }),
  });
  let stopped: Outcome | null = null;
  let halt!: () => void;
  const aborted = new Promise<"stop">((resolve) => (halt = () => resolve("stop")));
  const stop = (outcome: Outcome) => {
    stopped ??= outcome;
    halt();
  };
  const timer = setTimeout(() => stop({ status: "timed_out", error: `The run did not finish within ${timeoutMs} ms.` }), timeoutMs);
  // Cancellation is pushed by the run's object the moment it happens: no polling.
  stub.waitForEnd().then(
    (why) => why === "cancelled" && stop({ status: "cancelled", error: "The run was cancelled." }),
    () => {},
  );
  try {
    const response = await Promise.race([runtime.fetch(target, { request, runId, limits }), aborted]);
    if (response === "stop") return stopped!;
    const outcome = await readFrames(response, emit, aborted);
    return stopped ?? outcome;
  } catch (err) {
    return stopped ?? { status: "failed", error: shortMessage(err) };
  } finally {
    clearTimeout(timer);
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
        const frame = parseFrame(line);
        if (typeof frame === "string") return { status: "failed", error: frame };
        if (frame.type === "event") emit(frame.event.type, frame.event.data);
        else if (frame.type === "error") return { status: "failed", error: shortMessage(frame.error) };
        else return parseOutput(frame.text);
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/**
 * One line of the harness's stream, checked: the harness runs beside tenant code, which can tamper
 * with the globals it uses, so a line is trusted no more than the agent. An event's data nests at
 * most `MAX_JSON_DEPTH` levels (the harness already refuses deeper `EMIT`s; the frame adds two),
 * checked before the line is parsed. Returns the frame, or why the run fails.
 */
function parseFrame(line: string): HarnessFrame | string {
  if (jsonNestsDeeper(line, MAX_JSON_DEPTH + 2)) return `The agent sent an event that nests deeper than ${MAX_JSON_DEPTH} levels.`;
  let frame: unknown;
  try {
    frame = JSON.parse(line);
  } catch {
    return "The agent's response is not the platform's frame stream.";
  }
  const f = frame as Partial<Record<string, unknown>> | null;
  if (f?.type === "event") {
    const event = f.event as { type?: unknown } | null | undefined;
    if (typeof event === "object" && event !== null && typeof event.type === "string" && EVENT_TYPE.test(event.type)) return frame as HarnessFrame;
  } else if ((f?.type === "output" && typeof f.text === "string") || (f?.type === "error" && typeof f.error === "string")) {
    return frame as HarnessFrame;
  }
  return "The agent's response is not the platform's frame stream.";
}

function parseOutput(text: string): Outcome {
  if (new TextEncoder().encode(text).byteLength > MAX_OUTPUT_BYTES) {
    return { status: "failed", error: `The agent's output is larger than ${MAX_OUTPUT_BYTES} bytes.` };
  }
  if (text.trim() === "") return { status: "succeeded", output: null };
  if (jsonNestsDeeper(text)) return { status: "failed", error: `The agent's output nests deeper than ${MAX_JSON_DEPTH} levels.` };
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
export function shortMessage(err: unknown): string {
  return errorLine(err, { named: false }) || "The run failed.";
}
