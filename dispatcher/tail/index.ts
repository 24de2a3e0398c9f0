import type { Bound } from "../../core/env";
import { backoffSeconds, errorLine, logEvent } from "../../core/log";
import { RUN_HEADER } from "../../core/contract.js";
import { runStub } from "../src/runs/stubs";

/**
 * The tail consumer (production; `dispatcher/tail/wrangler.toml`): CPU metering for runs.
 *
 * Every agent script in the dispatch namespace names this Worker in its `tail_consumers`, so after
 * each invocation Workers hands `tail()` the invocation's trace: script name and tags, namespace,
 * outcome, CPU and wall time, uncaught exceptions, and the request with its headers. `tail()` only
 * picks out what belongs to a run and enqueues it; the queue consumer hands it to the run's own
 * object with retries, so nothing is lost while that object is unreachable. Locally nothing runs this Worker: runs keep
 * `cpuMs: null`, "not measured" — a CPU time is never estimated.
 */
/** The tail Worker's bindings (generated from dispatcher/tail/wrangler.toml), narrowed to what they carry. */
export interface TailEnv extends Omit<TailBindings, "RUN_RECORDS" | "METERING" | "DISPATCH_NAMESPACE"> {
  /** The dispatcher's run objects (a Durable Object binding to the dispatcher's RunObject class). */
  RUN_RECORDS: Bound<TailBindings, "RUN_RECORDS", DurableObjectNamespace<import("../src/runs/run-object").RunObject>>;
  METERING: Bound<TailBindings, "METERING", Queue<MeterMessage>>;
  /** Only invocations of scripts in this dispatch namespace are metered. */
  DISPATCH_NAMESPACE?: TailBindings["DISPATCH_NAMESPACE"];
}

/** One measured invocation of an agent script, on its way to the run's object. */
export interface MeterMessage {
  runId: string;
  tenantId: string;
  /** The dispatch-namespace script that ran (`ip-…`): checked against the run's recorded version. */
  script: string;
  /** Workers' `EventOutcome`: `ok`, `exception`, `exceededCpu`, `exceededMemory`, `canceled`, … */
  outcome: string;
  cpuMs: number;
  wallMs: number;
  /** Uncaught exceptions, bounded: names and one-line messages, never stacks. */
  exceptions: { name: string; message: string }[];
}

const TENANT_TAG = "tenant-";
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_EXCEPTIONS = 3;
const MAX_MESSAGE = 300;
/** Queues' `sendBatch` takes at most 100 messages. */
const SEND_BATCH = 100;

/** Outcomes whose run, if it failed, gets a precise reason instead of what the dispatcher saw. */
const LIMIT_ERRORS: Record<string, (cpuMs: number) => string> = {
  exceededCpu: (cpuMs) => `The agent exceeded its CPU time limit (${cpuMs} ms of CPU used).`,
  exceededMemory: () => "The agent exceeded its memory limit.",
};

type Skip = "no-run-header" | "not-fetch" | "other-namespace" | "untagged" | "tag-mismatch" | "script-not-found" | "malformed";

/**
 * What to meter from one trace item, or why not. Only a fetch invocation of a script in the
 * platform's namespace that carries the dispatcher's run header counts, and the run's tenant must
 * be the one the control plane tagged the script with (`tenant-<id>`): the header alone is never
 * trusted. The run's object checks the rest (its tenant and the script it ran on).
 */
export function meterMessage(item: TraceItem, namespace: string | undefined): MeterMessage | Skip {
  const event = item.event;
  if (!event || !("request" in event)) return "not-fetch";
  if (namespace !== undefined && item.dispatchNamespace !== namespace) return "other-namespace";
  const header = headerValue(event.request.headers, RUN_HEADER);
  if (header === undefined) return "no-run-header";
  // Nothing ran: there is no CPU time to attribute, and no tags to trust the header with.
  if (item.outcome === "scriptNotFound") return "script-not-found";
  const run = parseRun(header);
  if (!run || !item.scriptName) return "malformed";
  const tenantTags = (item.scriptTags ?? []).filter((t) => t.startsWith(TENANT_TAG));
  if (tenantTags.length === 0) return "untagged";
  if (tenantTags.length !== 1 || tenantTags[0] !== `${TENANT_TAG}${run.tenantId}`) return "tag-mismatch";
  return {
    runId: run.id,
    tenantId: run.tenantId,
    script: item.scriptName,
    outcome: item.outcome,
    cpuMs: milliseconds(item.cpuTime),
    wallMs: milliseconds(item.wallTime),
    exceptions: (item.exceptions ?? []).slice(0, MAX_EXCEPTIONS).map((e) => ({ name: oneLine(e.name, 100), message: oneLine(e.message, MAX_MESSAGE) })),
  };
}

/** The tail() handler: enqueues what belongs to runs, and does nothing else (it is billed for CPU too). */
export async function tailEvents(events: TraceItem[], env: TailEnv): Promise<void> {
  const messages: MessageSendRequest<MeterMessage>[] = [];
  for (const item of events) {
    const result = meterMessage(item, env.DISPATCH_NAMESPACE);
    if (typeof result !== "string") messages.push({ body: result, contentType: "json" });
    else if (result === "tag-mismatch" || result === "script-not-found" || result === "malformed") {
      // Worth an operator's look: a published version's script is gone, or a trace disagrees with its tags.
      logEvent("warn", `tail-${result}`, { script: item.scriptName, outcome: item.outcome });
    }
  }
  for (let i = 0; i < messages.length; i += SEND_BATCH) await env.METERING.sendBatch(messages.slice(i, i + SEND_BATCH));
}

export type MeterResult = "recorded" | "duplicate" | "unknown";

/**
 * Writes one measurement to the run's own object: CPU time (set once), a `run.metered` note with
 * CPU, wall time and outcome, and — for a run that failed because Workers stopped it — the precise
 * reason. The run must be that tenant's and have run on exactly this script (the version it
 * recorded), so a trace from any other script is ignored; a redelivered message changes nothing.
 * The run's object hands the figure on to the ledger in D1.
 */
export async function recordMeasurement(env: Pick<TailEnv, "RUN_RECORDS">, m: MeterMessage): Promise<MeterResult> {
  if (!ID.test(m.runId)) return "unknown";
  const reason = LIMIT_ERRORS[m.outcome]?.(m.cpuMs);
  return runStub(env, m.tenantId, m.runId).meter(m.tenantId, m.script, {
    cpuMs: m.cpuMs,
    wallMs: m.wallMs,
    outcome: m.outcome,
    ...(reason ? { reason } : {}),
    exceptions: m.exceptions,
  });
}

/** The queue consumer: each message is acknowledged once written, retried with backoff otherwise. */
export async function consumeMeasurements(batch: MessageBatch<MeterMessage>, env: TailEnv): Promise<void> {
  for (const message of batch.messages) {
    try {
      const result = await recordMeasurement(env, message.body);
      if (result === "unknown") {
        logEvent("warn", "metering-unknown-run", { runId: message.body.runId, script: message.body.script });
      }
      message.ack();
    } catch (err) {
      logEvent("error", "metering-write-failed", { runId: message.body.runId, attempts: message.attempts, error: String(err) });
      message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    }
  }
}

function headerValue(headers: Record<string, string>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

function parseRun(header: string): { id: string; tenantId: string } | null {
  try {
    const run = JSON.parse(header) as { id?: unknown; tenantId?: unknown };
    if (typeof run.id === "string" && typeof run.tenantId === "string" && ID.test(run.id) && ID.test(run.tenantId)) {
      return { id: run.id, tenantId: run.tenantId };
    }
  } catch {}
  return null;
}

function milliseconds(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.round(value) : 0;
}

const oneLine = (text: unknown, max: number): string => errorLine(text, { max, named: false });

export default {
  tail: (events, env) => tailEvents(events, env),
  queue: (batch, env) => consumeMeasurements(batch, env),
} satisfies ExportedHandler<TailEnv, MeterMessage>;
