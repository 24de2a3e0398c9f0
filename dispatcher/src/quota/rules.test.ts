import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { admit, emptyState, nextMonthStart, release, type AdmissionQuota, type Decision, type Limits, type QuotaState } from "./rules";

const limit = fc.option(fc.integer({ min: 0, max: 6 }), { nil: null });
const limits = fc.record({ requestsPerMinute: limit, concurrentRuns: limit, runsPerMonth: limit, llmTokensPerMonth: limit });
const dt = fc.oneof(fc.integer({ min: 0, max: 20_000 }), fc.constant(0), fc.integer({ min: 0, max: 120_000 }));
const op = fc.oneof(
  // A plain request, counted against the rate only.
  fc.record({ kind: fc.constant("request" as const), dt }),
  // A run, admitted with or without the rate (the tenant object counts the request first, then the run without it).
  fc.record({ kind: fc.constant("run" as const), dt, rate: fc.boolean(), leaseMs: fc.integer({ min: 1, max: 30_000 }) }),
  // The end of some run admitted earlier (maybe lapsed, maybe released already), or of one never admitted.
  fc.record({ kind: fc.constant("release" as const), dt, pick: fc.nat(), tokens: fc.integer({ min: 0, max: 5 }), uncount: fc.boolean() }),
);
/** Anywhere in time, or just before a UTC month boundary so the month counters roll during the sequence. */
const start = fc.oneof(
  fc.integer({ min: 0, max: 2 ** 40 }),
  fc.tuple(fc.integer({ min: 1, max: 1200 }), fc.integer({ min: 0, max: 10 * 60_000 })).map(([months, before]) => Date.UTC(1970, months, 1) - before),
);

/**
 * The rules written independently of rules.ts, from what they promise, as a log of what was
 * admitted: a verdict is computed from the log at the moment it is asked for, never from counters.
 */
class Model {
  /** Times at which a request was counted against the rate. */
  private counted: number[] = [];
  private runs: { id: string; at: number; until: number; released: boolean }[] = [];
  /** +1 for each admitted run, -1 for each admission taken back, at the time it happened. */
  private runCounts: { at: number; d: 1 | -1 }[] = [];
  private tokens: { at: number; tokens: number }[] = [];

  static month = (t: number) => {
    const d = new Date(t);
    return d.getUTCFullYear() * 12 + d.getUTCMonth();
  };
  static minute = (t: number) => Math.floor(t / 60_000);

  windowCount(now: number): number {
    return this.counted.filter((t) => Model.minute(t) === Model.minute(now)).length;
  }
  runsThisMonth(now: number): number {
    // Replayed in time order: a take-back never makes the count negative.
    let n = 0;
    for (const c of this.runCounts) if (Model.month(c.at) === Model.month(now)) n = Math.max(0, n + c.d);
    return n;
  }
  tokensThisMonth(now: number): number {
    return this.tokens.filter((x) => Model.month(x.at) === Model.month(now)).reduce((sum, x) => sum + x.tokens, 0);
  }
  active(now: number) {
    return this.runs.filter((r) => !r.released && r.until > now);
  }
  ids(): string[] {
    return this.runs.map((r) => r.id);
  }

  /** The verdict the rules must give, in their order: rate, runs this month, tokens this month, concurrency. */
  verdict(l: Limits, now: number, run?: { id: string; leaseMs: number }): Decision {
    const secondsUntil = (t: number) => Math.max(1, Math.ceil((t - now) / 1000));
    const refuse = (quota: AdmissionQuota, limit: number, retryAfter: number): Decision => ({ ok: false, quota, limit, retryAfter });
    const rpm = l.requestsPerMinute ?? null;
    if (rpm !== null && this.windowCount(now) >= rpm) return refuse("requestsPerMinute", rpm, secondsUntil((Model.minute(now) + 1) * 60_000));
    if (run) {
      const d = new Date(now);
      const monthEnd = secondsUntil(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
      if (l.runsPerMonth != null && this.runsThisMonth(now) >= l.runsPerMonth) return refuse("runsPerMonth", l.runsPerMonth, monthEnd);
      if (l.llmTokensPerMonth != null && this.tokensThisMonth(now) >= l.llmTokensPerMonth) return refuse("llmTokensPerMonth", l.llmTokensPerMonth, monthEnd);
      const active = this.active(now);
      if (l.concurrentRuns != null && active.length >= l.concurrentRuns) {
        // Retry when the soonest lease lapses, but never later than 5 s (a release usually comes sooner).
        const soonest = active.length ? Math.min(...active.map((r) => secondsUntil(r.until))) : Infinity;
        return refuse("concurrentRuns", l.concurrentRuns, Math.min(soonest, 5));
      }
    }
    return { ok: true };
  }

  /** Records an admission the model said yes to. */
  admitted(l: Limits, now: number, run?: { id: string; leaseMs: number }): void {
    if (run) {
      this.runs.push({ id: run.id, at: now, until: now + run.leaseMs, released: false });
      this.runCounts.push({ at: now, d: 1 });
    }
    if (!run || l.requestsPerMinute != null) this.counted.push(now);
  }

  release(id: string, tokens: number, now: number, uncount: boolean): void {
    const r = this.runs.find((x) => x.id === id);
    // Taking back the admission of a run that never became one: only while it still holds its slot,
    // and only from the month it was admitted in (a run admitted at 23:59:59 and given back after
    // midnight was never counted in the new month, so it frees none of the new month's runs).
    if (r && uncount && !r.released && r.until > now && Model.month(r.at) === Model.month(now)) this.runCounts.push({ at: now, d: -1 });
    if (r) r.released = true;
    this.tokens.push({ at: now, tokens });
  }
}

/** What the state says, read at `now` (the rules roll the windows forward on every call). */
function observed(state: QuotaState) {
  return { windowCount: state.windowCount, runs: state.runs, tokens: state.tokens, active: Object.keys(state.active).sort() };
}

describe("quota arithmetic", () => {
  it("admits exactly what the model admits, refuses exactly what it refuses, and a refusal changes no counter", () => {
    const refusals: Record<string, number> = { requestsPerMinute: 0, concurrentRuns: 0, runsPerMonth: 0, llmTokensPerMonth: 0 };
    let admitted = 0;
    fc.assert(
      fc.property(limits, fc.array(op, { maxLength: 60 }), start, (l: Limits, ops, t0) => {
        let now = t0;
        const state = emptyState(now);
        const model = new Model();
        let n = 0;
        for (const o of ops) {
          now += o.dt;
          if (o.kind === "release") {
            const ids = model.ids();
            const id = o.pick % (ids.length + 1) === ids.length ? "run_never_admitted" : ids[o.pick % (ids.length + 1)]!;
            release(state, id, o.tokens, now, o.uncount);
            model.release(id, o.tokens, now, o.uncount);
          } else {
            const runLimits = o.kind === "run" && !o.rate ? { ...l, requestsPerMinute: null } : l;
            const run = o.kind === "run" ? { id: `run_${n++}`, leaseMs: o.leaseMs } : undefined;
            const expected = model.verdict(runLimits, now, run);
            const decision = admit(state, runLimits, now, run);
            // Both ways, unconditionally: the same yes, or the same refusal (quota, limit, Retry-After).
            expect(decision, JSON.stringify({ op: o, now })).toEqual(expected);
            if (expected.ok) {
              model.admitted(runLimits, now, run);
              admitted++;
            } else {
              refusals[expected.quota]!++;
            }
          }
          // The counters are the model's, after an admission and after a refusal (which counts nothing).
          expect(observed(state), JSON.stringify({ op: o, now })).toEqual({
            windowCount: model.windowCount(now),
            runs: model.runsThisMonth(now),
            tokens: model.tokensThisMonth(now),
            active: model.active(now).map((r) => r.id).sort(),
          });
          if (l.runsPerMonth != null) expect(state.runs).toBeLessThanOrEqual(l.runsPerMonth);
          if (l.concurrentRuns != null) expect(Object.keys(state.active).length).toBeLessThanOrEqual(l.concurrentRuns);
          if (l.requestsPerMinute != null) expect(state.windowCount).toBeLessThanOrEqual(l.requestsPerMinute);
        }
      }),
      { numRuns: 500 },
    );
    // The sequences reached every refusal, and admissions too.
    for (const [quota, count] of Object.entries(refusals)) expect(count, quota).toBeGreaterThan(20);
    expect(admitted).toBeGreaterThan(500);
  });

  it("month counters reset at the UTC month boundary; retry-after points at it", () => {
    const now = Date.UTC(2026, 10, 30, 23, 59, 0);
    const state = emptyState(now);
    expect(admit(state, { runsPerMonth: 1 }, now, { id: "a", leaseMs: 1 }).ok).toBe(true);
    const refused = admit(state, { runsPerMonth: 1 }, now + 1, { id: "b", leaseMs: 1 });
    expect(refused).toMatchObject({ ok: false, quota: "runsPerMonth", retryAfter: 60 });
    expect(nextMonthStart(now)).toBe(Date.UTC(2026, 11, 1));
    expect(admit(state, { runsPerMonth: 1 }, Date.UTC(2026, 11, 1), { id: "c", leaseMs: 1 }).ok).toBe(true);
  });

  it("an unreleased lease lapses, so a lost release cannot hold a slot forever", () => {
    const state = emptyState(0);
    expect(admit(state, { concurrentRuns: 1 }, 0, { id: "a", leaseMs: 1000 }).ok).toBe(true);
    expect(admit(state, { concurrentRuns: 1 }, 500, { id: "b", leaseMs: 1000 }).ok).toBe(false);
    expect(admit(state, { concurrentRuns: 1 }, 1000, { id: "c", leaseMs: 1000 }).ok).toBe(true);
  });
});

describe("a take-back across a month boundary", () => {
  it("frees none of the new month's runs: the run was counted in the month it was admitted in", () => {
    const before = Date.UTC(2026, 10, 30, 23, 59, 59);
    const after = Date.UTC(2026, 11, 1, 0, 0, 1);
    const state = emptyState(before);
    const limits = { runsPerMonth: 1 };
    expect(admit(state, limits, before, { id: "run_nov", leaseMs: 60_000 })).toEqual({ ok: true });
    expect(admit(state, limits, after, { id: "run_dec", leaseMs: 60_000 })).toEqual({ ok: true });
    // November's run never became one: taking it back must not give December a second run.
    release(state, "run_nov", 0, after + 1, true);
    expect(state.runs).toBe(1);
    expect(admit(state, limits, after + 2, { id: "run_dec2", leaseMs: 60_000 })).toMatchObject({ ok: false, quota: "runsPerMonth" });
    // Within a month a take-back does free the run.
    release(state, "run_dec", 0, after + 3, true);
    expect(admit(state, limits, after + 4, { id: "run_dec3", leaseMs: 60_000 })).toEqual({ ok: true });
  });
});
