import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { admit, emptyState, nextMonthStart, release, type Limits } from "../dispatcher/src/quota/rules";

const limit = fc.option(fc.integer({ min: 0, max: 6 }), { nil: null });
const limits = fc.record({ requestsPerMinute: limit, concurrentRuns: limit, runsPerMonth: limit, llmTokensPerMonth: limit });
const op = fc.oneof(
  fc.record({ kind: fc.constant("run" as const), dt: fc.integer({ min: 0, max: 20_000 }) }),
  fc.record({ kind: fc.constant("request" as const), dt: fc.integer({ min: 0, max: 20_000 }) }),
  fc.record({ kind: fc.constant("release" as const), dt: fc.integer({ min: 0, max: 20_000 }), tokens: fc.integer({ min: 0, max: 5 }) }),
);

describe("quota arithmetic", () => {
  it("never admits past a limit, and a refusal changes no counter", () => {
    fc.assert(
      fc.property(limits, fc.array(op, { maxLength: 60 }), fc.integer({ min: 0, max: 2 ** 40 }), (l: Limits, ops, start) => {
        let now = start;
        const state = emptyState(now);
        const running: string[] = [];
        let n = 0;
        for (const o of ops) {
          now += o.dt;
          if (o.kind === "release") {
            const id = running.shift();
            if (id) release(state, id, o.tokens, now);
            continue;
          }
          const before = JSON.stringify({ ...state, windowStart: 0 });
          const id = `run_${n++}`;
          const decision = admit(state, l, now, o.kind === "run" ? { id, leaseMs: 10_000 } : undefined);
          if (decision.ok) {
            if (o.kind === "run") running.push(id);
          } else {
            // Only the windows may have rolled: compare with the windows normalised.
            const after = JSON.stringify({ ...state, windowStart: 0 });
            if (after !== before) {
              const b = JSON.parse(before);
              const a = JSON.parse(after);
              expect(a.runs <= b.runs && a.windowCount <= b.windowCount).toBe(true);
            }
            expect(decision.retryAfter).toBeGreaterThanOrEqual(1);
            expect(Number.isInteger(decision.retryAfter)).toBe(true);
          }
          if (l.runsPerMonth != null) expect(state.runs).toBeLessThanOrEqual(l.runsPerMonth);
          if (l.concurrentRuns != null) expect(Object.keys(state.active).length).toBeLessThanOrEqual(l.concurrentRuns);
          if (l.requestsPerMinute != null) expect(state.windowCount).toBeLessThanOrEqual(l.requestsPerMinute);
        }
      }),
      { numRuns: 500 },
    );
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
