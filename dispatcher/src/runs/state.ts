import type { Run, RunStatus } from "../../../core/db/schema";
import type { AgentTarget } from "../runtime/types";

/**
 * The run state machine, in one place. A run is `queued` (async, waiting for its tenant's lane)
 * or `running`, and ends exactly once in one of the terminal states. Only the run's own Durable
 * Object (runs/run-object.ts) applies these transitions; everything else asks it to.
 */
export const isOpen = (status: RunStatus) => status === "queued" || status === "running";

const TRANSITIONS: Record<RunStatus, readonly RunStatus[]> = {
  queued: ["running", "failed", "cancelled"],
  running: ["succeeded", "failed", "cancelled", "timed_out"],
  succeeded: [],
  failed: [],
  cancelled: [],
  timed_out: [],
};

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Counters a run accumulates while it runs; charged by the platform's bindings, never by tenant code. */
export interface UsageCounters {
  llmCalls: number;
  inputTokens: number;
  outputTokens: number;
  storageReads: number;
  storageWrites: number;
  bytesRead: number;
  bytesWritten: number;
  subrequests: number;
}

/** `tenantKey`: the tokens were served on the tenant's own provider key (billed to it by the provider, not here). */
export type UsageDelta = Partial<UsageCounters> & { model?: string; tenantKey?: boolean };

/**
 * Tokens of one model in a run: all of them, and (when any were) the part served on the tenant's
 * own key — counted and exported, never charged. JSON in `runs.model_usage` and `usage.model_usage`.
 */
export interface ModelTokens {
  input: number;
  output: number;
  tenantInput?: number;
  tenantOutput?: number;
}

export const zeroUsage = (): UsageCounters => ({
  llmCalls: 0,
  inputTokens: 0,
  outputTokens: 0,
  storageReads: 0,
  storageWrites: 0,
  bytesRead: 0,
  bytesWritten: 0,
  subrequests: 0,
});

/** What a run may do, fixed when it is admitted (the tenant's settings at that moment). */
export interface RunPolicy {
  egressAllow: string[];
  subrequestsPerRun: number | null;
  llmCallsPerRun: number | null;
  /** The tenant has a monthly spend cap: model calls ask the tenant's object what is left. */
  spendCapped: boolean;
  /** The tenant has a `storageBytes` quota: `env.STORAGE.put` reserves its bytes with the tenant's object. */
  storageMetered?: boolean;
  retentionDays: number;
  /** The model of a call that names none: the agent's default, else the tenant's (null: the platform's). */
  defaultModel?: string | null;
  /** Providers the tenant stored its own key for when the run was admitted. */
  tenantKeys?: string[];
}

/** Everything the run's Durable Object keeps about it (besides its event log). */
export interface RunState {
  id: string;
  tenantId: string;
  target: AgentTarget;
  endUser: string | null;
  status: RunStatus;
  error: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Wall-clock budget in ms, counted from `startedAt`. */
  timeoutMs: number;
  wallMs: number | null;
  cpuMs: number | null;
  usage: UsageCounters;
  modelUsage: Record<string, ModelTokens>;
  outputBytes: number | null;
  policy: RunPolicy;
  webhook: string | null;
  /** Log bookkeeping: the last seq given, what the log holds, and what was moved to R2. */
  seq: number;
  eventCount: number;
  eventBytes: number;
  platformEvents: number;
  /** Facts recorded after the run ended (webhook deliveries, metering). */
  notes?: number;
  truncated: boolean;
  archivedThrough: number;
  /** Delivery of the run's facts to others, retried by the alarm until done. */
  indexed: boolean;
  /** Until then a run stopped from outside still takes the charges of calls under way. */
  lateUntil: number | null;
  /** Model calls admitted and not yet charged: a run that ends with some open waits for their charges too. */
  llmOpen?: number;
  settled: { ledger: boolean; tenant: boolean; webhook: boolean };
  /** What the tenant's object was told this run used (late charges are sent on as the difference). */
  released?: { tokens: number; micros: number };
}

/** The `runs` row shape the run index and ledger in D1 are written from. */
export function toRow(s: RunState): Run {
  return {
    id: s.id,
    tenantId: s.tenantId,
    agent: s.target.agent,
    version: s.target.version,
    status: s.status,
    error: s.error,
    createdAt: s.createdAt,
    startedAt: s.startedAt,
    finishedAt: s.finishedAt,
    wallMs: s.wallMs,
    cpuMs: s.cpuMs,
    ...s.usage,
    outputBytes: s.outputBytes,
    endUser: s.endUser,
    modelUsage: JSON.stringify(s.modelUsage),
  };
}

/** When a running run's wall-clock budget ends (null before it starts). */
export function deadlineOf(s: Pick<RunState, "startedAt" | "timeoutMs">): number | null {
  return s.startedAt === null ? null : s.startedAt + s.timeoutMs;
}

/** Adds a usage delta to the counters (and the per-model token split). */
export function addUsage(s: RunState, delta: UsageDelta): void {
  for (const k of Object.keys(s.usage) as (keyof UsageCounters)[]) s.usage[k] += delta[k] ?? 0;
  if (delta.model !== undefined) {
    const m = (s.modelUsage[delta.model] ??= { input: 0, output: 0 });
    m.input += delta.inputTokens ?? 0;
    m.output += delta.outputTokens ?? 0;
    if (delta.tenantKey) {
      m.tenantInput = (m.tenantInput ?? 0) + (delta.inputTokens ?? 0);
      m.tenantOutput = (m.tenantOutput ?? 0) + (delta.outputTokens ?? 0);
    }
  }
}

/** Ends an open run: the single place a run gets its final status, error, end time and wall time. */
export function endState(s: RunState, status: RunStatus, error: string | null, now: number, extra: { outputBytes?: number | null; wallMs?: number } = {}): boolean {
  if (!isOpen(s.status) || !canTransition(s.status, status)) return false;
  s.status = status;
  s.error = error;
  s.finishedAt = now;
  s.wallMs = s.startedAt === null ? 0 : (extra.wallMs ?? now - s.startedAt);
  if (extra.outputBytes !== undefined) s.outputBytes = extra.outputBytes;
  return true;
}
