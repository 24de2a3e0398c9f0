import { cpuStatements } from "../../core/billing/ledger";
import { RUN_HEADER } from "../../core/scripts/harness";

/**
 * The tail consumer (production; `dispatcher/tail/wrangler.toml`): CPU metering for runs.
 *
 * Every agent script in the dispatch namespace names this Worker in its `tail_consumers`, so after
 * each invocation Workers hands `tail()` the invocation's trace: script name and tags, namespace,
 * outcome, CPU and wall time, uncaught exceptions, and the request with its headers. `tail()` only
 * picks out what belongs to a run and enqueues it; the queue consumer writes it to D1 with
 * retries, so a slow or unavailable D1 loses nothing. Locally nothing runs this Worker: runs keep
 * `cpuMs: null`, "not measured" — a CPU time is never estimated.
 */
export interface TailEnv {
  DB: D1Database;
  METERING: Queue<MeterMessage>;
  /** Only invocations of scripts in this dispatch namespace are metered. */
  DISPATCH_NAMESPACE?: string;
}

/** One measured invocation of an agent script, on its way to D1. */
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
 * trusted. The queue consumer checks the rest against D1.
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
      console.warn(JSON.stringify({ level: "warn", event: `tail-${result}`, script: item.scriptName, outcome: item.outcome }));
    }
  }
  for (let i = 0; i < messages.length; i += SEND_BATCH) await env.METERING.sendBatch(messages.slice(i, i + SEND_BATCH));
}

export type MeterResult = "recorded" | "duplicate" | "unknown";

/**
 * Writes one measurement: CPU time onto the run, its ledger row and its day's rollup (set once), a
 * `run.metered` event with CPU, wall time and outcome on the run's log, and — for a run that failed
 * because Workers stopped it — the precise reason. The run must exist for that tenant and have
 * run on exactly this script (the version the run recorded), so a trace from any other script is
 * ignored. One D1 batch, and every statement applies only while the run's CPU is unmeasured, so a
 * redelivered message changes nothing.
 */
export async function recordMeasurement(d1: D1Database, m: MeterMessage): Promise<MeterResult> {
  const run = await d1
    .prepare(
      `SELECT r.cpu_ms FROM runs r
       JOIN agent_versions v ON v.tenant_id = r.tenant_id AND v.agent = r.agent AND v.version = r.version
       WHERE r.id = ?1 AND r.tenant_id = ?2 AND v.script_name = ?3`,
    )
    .bind(m.runId, m.tenantId, m.script)
    .first<{ cpu_ms: number | null }>();
  if (!run) return "unknown";
  if (run.cpu_ms !== null) return "duplicate";
  const unmeasured = "EXISTS (SELECT 1 FROM runs WHERE id = ?1 AND tenant_id = ?2 AND cpu_ms IS NULL)";
  const data = { cpuMs: m.cpuMs, wallMs: m.wallMs, outcome: m.outcome, ...(m.exceptions.length ? { exceptions: m.exceptions } : {}) };
  const statements = [
    d1
      .prepare(
        `INSERT INTO run_events (run_id, seq, at, type, data)
         SELECT ?1, COALESCE((SELECT MAX(seq) FROM run_events WHERE run_id = ?1), 0) + 1, ?3, 'run.metered', ?4
         WHERE ${unmeasured}`,
      )
      .bind(m.runId, m.tenantId, Date.now(), JSON.stringify(data)),
  ];
  const reason = LIMIT_ERRORS[m.outcome];
  if (reason) {
    statements.push(
      d1
        .prepare(`UPDATE runs SET error = ?3 WHERE id = ?1 AND tenant_id = ?2 AND status = 'failed' AND cpu_ms IS NULL`)
        .bind(m.runId, m.tenantId, reason(m.cpuMs)),
    );
  }
  await d1.batch([...statements, ...cpuStatements(d1, m.runId, m.tenantId, m.cpuMs)]);
  return "recorded";
}

/** The queue consumer: each message is acknowledged once written, retried with backoff otherwise. */
export async function consumeMeasurements(batch: MessageBatch<MeterMessage>, env: TailEnv): Promise<void> {
  for (const message of batch.messages) {
    try {
      const result = await recordMeasurement(env.DB, message.body);
      if (result === "unknown") {
        console.warn(JSON.stringify({ level: "warn", event: "metering-unknown-run", runId: message.body.runId, script: message.body.script }));
      }
      message.ack();
    } catch (err) {
      console.error(JSON.stringify({ level: "error", event: "metering-write-failed", runId: message.body.runId, attempts: message.attempts, error: String(err) }));
      message.retry({ delaySeconds: Math.min(300, 2 ** message.attempts) });
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

function oneLine(text: unknown, max: number): string {
  const line = String(text ?? "").split("\n")[0]!.trim();
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

export default {
  tail: (events, env) => tailEvents(events, env),
  queue: (batch, env) => consumeMeasurements(batch, env),
} satisfies ExportedHandler<TailEnv, MeterMessage>;
