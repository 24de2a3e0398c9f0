import { DurableObject } from "cloudflare:workers";
import type { DispatcherEnv } from "../../../core/env";
import { admit, emptyState, monthOf, release, type Decision, type Limits, type QuotaState } from "./rules";

/** After this long without a call the counters are recounted from the run records (D1). */
export const RESYNC_AFTER_MS = 60_000;

interface Stored extends QuotaState {
  syncedAt: number;
}

/**
 * One per tenant: the single place its quota counters live. Each call is handled alone (the
 * recount runs under blockConcurrencyWhile, the rest is synchronous between storage operations),
 * so check-and-count is atomic: 40 concurrent run requests against `runsPerMonth: 5` admit
 * exactly 5. Tenants without run quotas skip admission entirely, so when a quota is first set —
 * and whenever the object has been idle — month-to-date figures are recounted from the run
 * records, which every run writes whether admitted here or not.
 */
export class TenantQuota extends DurableObject<DispatcherEnv> {
  private state: Stored | undefined;

  private async load(tenantId: string, now: number): Promise<Stored> {
    this.state ??= await this.ctx.storage.get<Stored>("state");
    if (!this.state || now - this.state.syncedAt > RESYNC_AFTER_MS) {
      await this.ctx.blockConcurrencyWhile(async () => {
        if (this.state && now - this.state.syncedAt <= RESYNC_AFTER_MS) return;
        this.state = { ...(await this.recount(tenantId, now)), syncedAt: now };
      });
    }
    this.state!.syncedAt = now;
    return this.state!;
  }

  /** Month-to-date runs and tokens, and the runs still going, from D1. */
  private async recount(tenantId: string, now: number): Promise<QuotaState> {
    const state = emptyState(now);
    const monthStart = Date.parse(`${monthOf(now)}-01T00:00:00Z`);
    const [totals, running] = await this.env.DB.batch<{ runs?: number; tokens?: number; id?: string; created_at?: number }>([
      this.env.DB.prepare(
        "SELECT COUNT(*) AS runs, COALESCE(SUM(input_tokens + output_tokens), 0) AS tokens FROM runs WHERE tenant_id = ? AND created_at >= ? AND status <> 'queued'",
      ).bind(tenantId, monthStart),
      this.env.DB.prepare("SELECT id, created_at FROM runs WHERE tenant_id = ? AND status = 'running'").bind(tenantId),
    ]);
    state.runs = totals?.results[0]?.runs ?? 0;
    state.tokens = totals?.results[0]?.tokens ?? 0;
    // A run found running keeps a slot until its lease would have lapsed (the longest budget).
    for (const r of running?.results ?? []) state.active[r.id!] = r.created_at! + 10 * 60_000;
    return state;
  }

  async admit(tenantId: string, limits: Limits, run?: { id: string; leaseMs: number }): Promise<Decision> {
    const now = Date.now();
    const state = await this.load(tenantId, now);
    const decision = admit(state, limits, now, run);
    // Saved even on refusal: rolling the windows forward is a change worth keeping.
    await this.ctx.storage.put("state", state);
    return decision;
  }

  async release(tenantId: string, runId: string, tokens: number, uncount = false): Promise<void> {
    const now = Date.now();
    const state = await this.load(tenantId, now);
    release(state, runId, tokens, now, uncount);
    await this.ctx.storage.put("state", state);
  }
}
