import type { QuotaName } from "../../../core/quotas";

/** The quotas admission enforces, each refusal with a problem type of its own. */
export type AdmissionQuota = Extract<QuotaName, "requestsPerMinute" | "concurrentRuns" | "runsPerMonth" | "llmTokensPerMonth">;

export const REFUSAL_SLUG = {
  requestsPerMinute: "quota-requests-per-minute",
  concurrentRuns: "quota-concurrent-runs",
  runsPerMonth: "quota-runs-per-month",
  llmTokensPerMonth: "quota-llm-tokens-per-month",
} as const satisfies Record<AdmissionQuota, string>;

export type Limits = Partial<Record<AdmissionQuota, number | null>>;

/** Everything admission remembers for one tenant; pure data, so the rules below are plain functions. */
export interface QuotaState {
  /** `YYYY-MM` (UTC) the monthly counters belong to. */
  month: string;
  runs: number;
  tokens: number;
  /** Start (ms) of the current minute window and the requests admitted in it. */
  windowStart: number;
  windowCount: number;
  /** Admitted runs not yet released, with the time their lease lapses (a lost release cannot leak a slot). */
  active: Record<string, number>;
  /** The month (`YYYY-MM`) each active run was admitted in: a take-back only uncounts that month's run. */
  admittedIn?: Record<string, string>;
}

export type Decision = { ok: true } | { ok: false; quota: AdmissionQuota; retryAfter: number; limit: number };

export const emptyState = (now: number): QuotaState => ({
  month: monthOf(now),
  runs: 0,
  tokens: 0,
  windowStart: minuteOf(now),
  windowCount: 0,
  active: {},
});

export function monthOf(now: number): string {
  return new Date(now).toISOString().slice(0, 7);
}

const minuteOf = (now: number) => now - (now % 60_000);

export function nextMonthStart(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** Moves the windows forward to `now`: a new minute resets the rate window, a new month the counters. */
export function roll(state: QuotaState, now: number): void {
  if (minuteOf(now) !== state.windowStart) {
    state.windowStart = minuteOf(now);
    state.windowCount = 0;
  }
  if (monthOf(now) !== state.month) {
    state.month = monthOf(now);
    state.runs = 0;
    state.tokens = 0;
  }
  for (const [id, until] of Object.entries(state.active)) {
    if (until > now) continue;
    delete state.active[id];
    if (state.admittedIn) delete state.admittedIn[id];
  }
}

/**
 * Decides one admission and, only when it is admitted, counts it. Every limit is checked before
 * anything is counted, so a refusal consumes nothing. `run` is absent for a plain request.
 */
export function admit(state: QuotaState, limits: Limits, now: number, run?: { id: string; leaseMs: number }): Decision {
  roll(state, now);
  const rpm = limits.requestsPerMinute;
  if (rpm != null && state.windowCount >= rpm) {
    return { ok: false, quota: "requestsPerMinute", limit: rpm, retryAfter: seconds(state.windowStart + 60_000 - now) };
  }
  if (run) {
    const monthEnd = seconds(nextMonthStart(now) - now);
    if (limits.runsPerMonth != null && state.runs >= limits.runsPerMonth) {
      return { ok: false, quota: "runsPerMonth", limit: limits.runsPerMonth, retryAfter: monthEnd };
    }
    if (limits.llmTokensPerMonth != null && state.tokens >= limits.llmTokensPerMonth) {
      return { ok: false, quota: "llmTokensPerMonth", limit: limits.llmTokensPerMonth, retryAfter: monthEnd };
    }
    if (limits.concurrentRuns != null && Object.keys(state.active).length >= limits.concurrentRuns) {
      const soonest = Math.min(...Object.values(state.active));
      return { ok: false, quota: "concurrentRuns", limit: limits.concurrentRuns, retryAfter: Math.min(seconds(soonest - now), 5) };
    }
    state.runs += 1;
    state.active[run.id] = now + run.leaseMs;
    (state.admittedIn ??= {})[run.id] = state.month;
  }
  // A run admitted after its request was counted (rate left out of `limits`) is not a second request.
  if (run === undefined || rpm != null) state.windowCount += 1;
  return { ok: true };
}

/**
 * Ends a run's lease and charges its model tokens. `uncount` takes back the admission of a run
 * that never became one (unknown agent, cancelled before it started): it used nothing.
 */
export function release(state: QuotaState, runId: string, tokens: number, now: number, uncount = false): void {
  roll(state, now);
  // A state stored before admittedIn existed knows no month: its runs count as this month's.
  const month = state.admittedIn?.[runId] ?? state.month;
  if (uncount && runId in state.active && month === state.month) state.runs = Math.max(0, state.runs - 1);
  delete state.active[runId];
  if (state.admittedIn) delete state.admittedIn[runId];
  state.tokens += tokens;
}
