import { DurableObject } from "cloudflare:workers";
import { admit, emptyState, release, type Decision, type Limits, type QuotaState } from "./rules";

/**
 * One per tenant: the single place its quota counters live. A Durable Object handles one call at
 * a time, so check-and-count is atomic — 40 concurrent run requests against `runsPerMonth: 5`
 * admit exactly 5 — and the state is written to its storage before the answer leaves.
 */
export class TenantQuota extends DurableObject {
  private state: QuotaState | undefined;

  private async load(now: number): Promise<QuotaState> {
    this.state ??= (await this.ctx.storage.get<QuotaState>("state")) ?? emptyState(now);
    return this.state;
  }

  async admit(limits: Limits, run?: { id: string; leaseMs: number }): Promise<Decision> {
    const now = Date.now();
    const state = await this.load(now);
    const decision = admit(state, limits, now, run);
    // Saved even on refusal: rolling the windows forward is a change worth keeping.
    await this.ctx.storage.put("state", state);
    return decision;
  }

  async release(runId: string, tokens: number): Promise<void> {
    const now = Date.now();
    const state = await this.load(now);
    release(state, runId, tokens, now);
    await this.ctx.storage.put("state", state);
  }

  /** For operators and tests: the counters as they stand. */
  async snapshot(): Promise<QuotaState> {
    return structuredClone(await this.load(Date.now()));
  }
}
