import { logEvent } from "../../../core/log";
import { DurableObject } from "cloudflare:workers";
import { monthToDateMicros } from "../../../core/billing/spend";
import type { DispatcherEnv } from "../env";
import type { ProblemSlug } from "../../../core/http/problem";
import { tenantPrefix } from "../../../core/storage/keys";
import { admit, emptyState, monthOf, nextMonthStart, release, REFUSAL_SLUG, type Limits, type QuotaState } from "../quota/rules";
import {
  beginResync,
  emptyCounter,
  finishResync,
  lapsed,
  page,
  reserve,
  settle,
  settled,
  touch,
  usedBytes,
  type Resync,
  type StorageCounter,
  type StorageRefusal,
} from "../quota/storage-bytes";
import { leaseFor, runTimeoutMs } from "../runs/lease";
import type { RunPolicy } from "../runs/state";
import { runStub } from "../runs/stubs";
import type { AgentTarget } from "../runtime/types";
import { and, eq } from "drizzle-orm";
import { db } from "../../../core/db/client";
import { tenantSettings, type TenantSettings } from "../../../core/tenant-settings";
import { agents, agentVersions, providerKeys, tenants } from "../../../core/db/schema";

/** What a tenant with no row gets: every setting's default. */
const NO_SETTINGS = { quotas: "{}", egressAllow: "[]", retentionDays: null, queueWeight: null, defaultModel: null };

/** A key holds its first run this long; after that the same key starts a new run. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** Async runs of one tenant in flight at once when it sets no `concurrentRuns` (times its weight). */
export const DEFAULT_LANE_WIDTH = 4;

export interface TenantConfig extends TenantSettings {
  status: "active" | "suspended" | "deleted";
  /** Providers the tenant stored its own key for (the sealed keys stay in this object). */
  tenantKeys: string[];
}

/** An agent as admission sees it: the version runs get, and its default model. */
interface AgentEntry {
  target: AgentTarget;
  defaultModel: string | null;
}

export interface StartRequest {
  runId: string;
  agent: string;
  mode: "sync" | "stream" | "async";
  endUser: string | null;
  /** The scoped Idempotency-Key and the hash of the request it came with. */
  idempotency: { key: string; hash: string } | null;
  webhook: string | null;
  timeoutMs: number;
}

export type Refusal = { kind: "refused"; slug: ProblemSlug; detail: string; retryAfter?: number; extra?: Record<string, string | number> };
export type StartResult = { kind: "run"; target: AgentTarget; quotas: TenantConfig["quotas"] } | { kind: "replay"; runId: string; mode: string } | Refusal;
export type BeginResult = { kind: "ok"; quotas: TenantConfig["quotas"] } | { kind: "wait" } | Refusal;

/** A write that neither commits nor releases within this long is settled by asking R2 what the key holds. */
export const STORAGE_LEASE_MS = 60_000;
/** How long a write waits for the previous write to the same key before it is told to retry. */
export const STORAGE_KEY_WAIT_MS = 2_000;
/** The stored-bytes count is rebuilt from an R2 list this often (it picks up what was written around it). */
export const STORAGE_RESYNC_MS = 24 * 60 * 60 * 1000;

/** What the tenant's object answers a write that may change its stored bytes. */
export type StorageReservation =
  | { kind: "unmetered" }
  | { kind: "reserved"; id: string }
  | ({ kind: "refused" } & StorageRefusal)
  | { kind: "busy" };

/** The persisted count: `known` is false while the tenant has no `storageBytes` (nothing is counted then). */
interface StoredBytes {
  known: boolean;
  counter: StorageCounter;
  resyncedAt: number | null;
}

const admissionLimits = (q: TenantConfig["quotas"]): Limits => ({
  requestsPerMinute: q.requestsPerMinute,
  concurrentRuns: q.concurrentRuns,
  runsPerMonth: q.runsPerMonth,
  llmTokensPerMonth: q.llmTokensPerMonth,
});

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * One per tenant: the single place where its runs are admitted. It keeps the quota counters and
 * leases, the month's spend, the `Idempotency-Key`s, the async lane (its own queue of waiting
 * runs), and caches of the tenant's settings and agents' active versions that the control plane
 * invalidates before its answer — so a run never sees a stale version after an upload or
 * rollback answered, and D1 is read only when the object is cold or something changed.
 *
 * Each call is handled alone between storage operations, so check-and-count is atomic: 40
 * concurrent run requests against `runsPerMonth: 5` admit exactly 5. This object is the tenant's
 * one point of consistency, which caps one tenant at the ~1,000 calls/s one object serves (two
 * calls a run: start and release); the README's architecture section says why and what sharding
 * would take.
 */
export class TenantObject extends DurableObject<DispatcherEnv> {
  private tenantId: string | null = null;
  private config: TenantConfig | null = null;
  private configGen = 0;
  private agents = new Map<string, AgentEntry | null>();
  /** The tenant's sealed provider keys, read with its settings. */
  private keys = new Map<string, string>();
  private agentGen = new Map<string, number>();
  private quota!: QuotaState;
  private spend: { month: string; micros: number } | null = null;
  private stored!: StoredBytes;
  /** The recount under way, if any, and the first one's promise (writes wait for it). */
  private resync: Resync | null = null;
  private building: Promise<void> | null = null;
  /** Keys with a write under way (one at a time per key), and the writes waiting for each. */
  private held = new Set<string>();
  private waiting = new Map<string, (() => boolean)[]>();
  private sweeping = new Set<string>();

  constructor(ctx: DurableObjectState, env: DispatcherEnv) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const sql = ctx.storage.sql;
      sql.exec("CREATE TABLE IF NOT EXISTS idem (key TEXT PRIMARY KEY, hash TEXT NOT NULL, run_id TEXT NOT NULL, mode TEXT NOT NULL, created_at INTEGER NOT NULL, ended INTEGER NOT NULL DEFAULT 0)");
      sql.exec("CREATE INDEX IF NOT EXISTS idem_created ON idem (created_at)");
      sql.exec("CREATE TABLE IF NOT EXISTS lane (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE, dispatched_at INTEGER)");
      this.quota = (await ctx.storage.get<QuotaState>("quota")) ?? emptyState(Date.now());
      this.spend = (await ctx.storage.get<{ month: string; micros: number }>("spend")) ?? null;
      this.tenantId = (await ctx.storage.get<string>("tenantId")) ?? null;
      this.stored = (await ctx.storage.get<StoredBytes>("storageBytes")) ?? { known: false, counter: emptyCounter(), resyncedAt: null };
      for (const r of Object.values(this.stored.counter.pending)) this.held.add(r.key);
    });
  }

  // ---- caches the control plane keeps exact ----

  private async loadConfig(tenantId: string): Promise<TenantConfig> {
    if (this.tenantId === null) {
      this.tenantId = tenantId;
      await this.ctx.storage.put("tenantId", tenantId);
    }
    for (;;) {
      if (this.config) return this.config;
      const gen = this.configGen;
      const d = db(this.env.DB);
      // One round trip: the settings and the provider keys, read together.
      const [rows, keyRows] = await d.batch([
        d
          .select({ status: tenants.status, quotas: tenants.quotas, egressAllow: tenants.egressAllow, retentionDays: tenants.retentionDays, queueWeight: tenants.queueWeight, defaultModel: tenants.defaultModel })
          .from(tenants)
          .where(eq(tenants.id, tenantId)),
        d.select({ provider: providerKeys.provider, sealed: providerKeys.sealed }).from(providerKeys).where(eq(providerKeys.tenantId, tenantId)),
      ]);
      const row = rows[0];
      const config: TenantConfig = row
        ? { status: row.status, ...tenantSettings(row), tenantKeys: keyRows.map((k) => k.provider).sort() }
        : { status: "deleted", ...tenantSettings(NO_SETTINGS), tenantKeys: [] };
      // An invalidation that arrived while D1 was read means the row read may be older: read again.
      if (gen === this.configGen) {
        this.config = config;
        this.keys = new Map(row ? keyRows.map((k) => [k.provider, k.sealed]) : []);
        if (config.quotas.storageBytes === null) this.forgetStored();
      }
    }
  }

  private async loadAgent(tenantId: string, agent: string): Promise<AgentEntry | null> {
    for (;;) {
      if (this.agents.has(agent)) return this.agents.get(agent)!;
      const gen = this.agentGen.get(agent) ?? 0;
      const row = await db(this.env.DB)
        .select({
          version: agentVersions.version,
          sha256: agentVersions.sha256,
          bundleKey: agentVersions.bundleKey,
          scriptName: agentVersions.scriptName,
          secretsRev: agents.secretsRev,
          defaultModel: agents.defaultModel,
        })
        .from(agents)
        .innerJoin(agentVersions, and(eq(agentVersions.tenantId, agents.tenantId), eq(agentVersions.agent, agents.name), eq(agentVersions.version, agents.activeVersion)))
        .where(and(eq(agents.tenantId, tenantId), eq(agents.name, agent)))
        .get();
      const entry = row
        ? {
            target: { tenantId, agent, version: row.version, sha256: row.sha256, bundleKey: row.bundleKey, scriptName: row.scriptName, secretsRev: row.secretsRev },
            defaultModel: row.defaultModel,
          }
        : null;
      if (gen === (this.agentGen.get(agent) ?? 0)) {
        if (this.agents.size >= 1000) this.agents.delete(this.agents.keys().next().value!);
        this.agents.set(agent, entry);
      }
    }
  }

  /** The control plane changed an agent (upload, rollback, deletion, secrets) or the tenant's settings. */
  async invalidate(change: { agent?: string; config?: boolean }): Promise<void> {
    if (change.agent !== undefined) {
      this.agents.delete(change.agent);
      this.agentGen.set(change.agent, (this.agentGen.get(change.agent) ?? 0) + 1);
    }
    if (change.config) {
      this.config = null;
      this.configGen += 1;
      // Read now, before the control plane answers: a storageBytes quota removed stops the count
      // at once (puts are not counted without one), so setting one again starts from R2.
      // (If D1 cannot be read now, the next call reads it.)
      if (this.tenantId) await this.loadConfig(this.tenantId).catch(() => undefined);
      // A newly set spend cap needs the month's figure from the ledger.
      this.ctx.waitUntil(this.dispatch());
    }
  }

  /** Answers at once: the control plane's health check that it can reach the dispatcher's objects. */
  async ping(): Promise<"pong"> {
    return "pong";
  }

  /** The tenant's settings, for the platform (egress policy, retention). */
  async settings(tenantId: string): Promise<TenantConfig> {
    return this.loadConfig(tenantId);
  }

  /** The tenant's sealed key for a model provider, for the LLM binding to open (null: none stored). */
  async providerKey(tenantId: string, provider: string): Promise<string | null> {
    await this.loadConfig(tenantId);
    return this.keys.get(provider) ?? null;
  }

  // ---- admission ----

  /**
   * Everything a new run needs, in one atomic step: the tenant is active, the agent's active
   * version, the `Idempotency-Key` (replay, 409 while the first runs, 422 when reused with another
   * request), the quotas and spend cap; then the run's object is created (queued async runs join
   * the tenant's lane). A refusal consumes nothing.
   */
  async start(tenantId: string, req: StartRequest): Promise<StartResult> {
    const config = await this.loadConfig(tenantId);
    if (config.status !== "active") return { kind: "refused", slug: config.status === "deleted" ? "unauthorized" : "forbidden", detail: `The tenant is ${config.status}.` };
    const now = Date.now();
    // Every request counts against the rate, whatever becomes of it; only admitted runs count as runs.
    const limited = this.decide(admit(this.quota, { requestsPerMinute: config.quotas.requestsPerMinute }, now));
    if (limited) {
      await this.ctx.storage.put("quota", this.quota);
      return limited;
    }
    const entry = await this.loadAgent(tenantId, req.agent);
    if (!entry) return { kind: "refused", slug: "not-found", detail: `No agent named "${req.agent}".` };
    const { target } = entry;
    // Everything that waits on I/O comes first: from the key's lookup to its claim below nothing
    // awaits, so two duplicates can never both pass the lookup.
    const spendRefusal = await this.checkSpend(config, now);
    if (req.idempotency) {
      const sql = this.ctx.storage.sql;
      sql.exec("DELETE FROM idem WHERE rowid IN (SELECT rowid FROM idem WHERE created_at < ? LIMIT 100)", now - IDEMPOTENCY_TTL_MS);
      const first = sql.exec<{ hash: string; run_id: string; mode: string; ended: number }>("SELECT hash, run_id, mode, ended FROM idem WHERE key = ?", req.idempotency.key).toArray()[0];
      if (first) {
        if (first.hash !== req.idempotency.hash) {
          return { kind: "refused", slug: "idempotency-key-reused", detail: "This Idempotency-Key was first used with a different agent or body.", extra: { runId: first.run_id } };
        }
        if (!first.ended && first.mode !== "async") {
          return { kind: "refused", slug: "idempotency-key-in-use", detail: "The first request with this Idempotency-Key is still running.", retryAfter: 1, extra: { runId: first.run_id } };
        }
        return { kind: "replay", runId: first.run_id, mode: first.mode };
      }
    }
    const runLimits = { ...admissionLimits(config.quotas), requestsPerMinute: null };
    const refused =
      spendRefusal ??
      (req.mode === "async" ? null : this.decide(admit(this.quota, runLimits, now, leaseFor(req.runId, req.timeoutMs))));
    if (!refused && req.idempotency) {
      this.ctx.storage.sql.exec("INSERT INTO idem (key, hash, run_id, mode, created_at) VALUES (?, ?, ?, ?, ?)", req.idempotency.key, req.idempotency.hash, req.runId, req.mode, now);
    }
    await this.ctx.storage.put("quota", this.quota);
    if (refused) return refused;
    const policy: RunPolicy = {
      egressAllow: config.egressAllow,
      subrequestsPerRun: config.quotas.subrequestsPerRun,
      llmCallsPerRun: config.quotas.llmCallsPerRun ?? null,
      spendCapped: config.quotas.monthlySpendCapUsd !== null,
      storageMetered: config.quotas.storageBytes !== null,
      retentionDays: config.retentionDays,
      defaultModel: entry.defaultModel ?? config.defaultModel,
      tenantKeys: config.tenantKeys,
    };
    try {
      await runStub(this.env, tenantId, req.runId).create({
        id: req.runId,
        tenantId,
        target,
        endUser: req.endUser,
        status: req.mode === "async" ? "queued" : "running",
        timeoutMs: req.timeoutMs,
        policy,
        webhook: req.webhook,
      });
    } catch (err) {
      // Never a run: the admission and the key are given back.
      if (req.mode !== "async") release(this.quota, req.runId, 0, Date.now(), true);
      if (req.idempotency) this.ctx.storage.sql.exec("DELETE FROM idem WHERE key = ? AND run_id = ?", req.idempotency.key, req.runId);
      await this.ctx.storage.put("quota", this.quota);
      throw err;
    }
    if (req.mode === "async") {
      this.ctx.storage.sql.exec("INSERT OR IGNORE INTO lane (run_id) VALUES (?)", req.runId);
      await this.dispatch();
    }
    return { kind: "run", target, quotas: config.quotas };
  }

  /** Counts a request that is not a run against `requestsPerMinute`. */
  async request(tenantId: string): Promise<Refusal | null> {
    const config = await this.loadConfig(tenantId);
    const refused = this.decide(admit(this.quota, { requestsPerMinute: config.quotas.requestsPerMinute }, Date.now()));
    await this.ctx.storage.put("quota", this.quota);
    return refused;
  }

  /**
   * A queued run's turn in the lane has come (the queue consumer): admitted against the run quotas
   * now. A busy `concurrentRuns` slot puts it back at the head of the lane until a run ends.
   */
  async begin(tenantId: string, runId: string, agent: string): Promise<BeginResult> {
    const config = await this.loadConfig(tenantId);
    if (config.status !== "active") {
      this.laneDone(runId);
      return { kind: "refused", slug: "forbidden", detail: `The tenant is ${config.status}.` };
    }
    if (!(await this.loadAgent(tenantId, agent))) {
      this.laneDone(runId);
      return { kind: "refused", slug: "not-found", detail: "The agent was deleted before the run could start." };
    }
    const now = Date.now();
    // A redelivered message for a run already admitted: the same admission, counted once.
    if (runId in this.quota.active) return { kind: "ok", quotas: config.quotas };
    const spendRefusal = await this.checkSpend(config, now);
    // Cancelled (or otherwise ended) while this message was on its way: nothing to admit.
    if (!this.ctx.storage.sql.exec("SELECT 1 FROM lane WHERE run_id = ?", runId).toArray().length) {
      return { kind: "refused", slug: "conflict", detail: "The run is no longer waiting in its lane." };
    }
    const refused =
      spendRefusal ??
      this.decide(admit(this.quota, { ...admissionLimits(config.quotas), requestsPerMinute: null }, now, leaseFor(runId, runTimeoutMs(this.env))));
    await this.ctx.storage.put("quota", this.quota);
    if (refused?.slug === "quota-concurrent-runs") {
      this.ctx.storage.sql.exec("UPDATE lane SET dispatched_at = NULL WHERE run_id = ?", runId);
      return { kind: "wait" };
    }
    if (refused) {
      this.laneDone(runId);
      this.ctx.waitUntil(this.dispatch());
      return refused;
    }
    return { kind: "ok", quotas: config.quotas };
  }

  /** A run ended: its lease ends, its tokens and price are counted, its lane place and key are freed. */
  async release(runId: string, used: { tokens: number; micros: number; started: boolean }): Promise<void> {
    const now = Date.now();
    release(this.quota, runId, used.tokens, now, !used.started);
    if (this.spend && this.spend.month === monthOf(now)) {
      this.spend.micros += used.micros;
      await this.ctx.storage.put("spend", this.spend);
    }
    await this.ctx.storage.put("quota", this.quota);
    this.ctx.storage.sql.exec("UPDATE idem SET ended = 1 WHERE run_id = ?", runId);
    this.laneDone(runId);
    await this.dispatch();
  }

  /**
   * What a run was charged after it ended (calls under way when it was stopped from outside),
   * added to the month's tokens and spend once its ledger row is written.
   */
  async adjust(used: { tokens: number; micros: number }): Promise<void> {
    this.quota.tokens += used.tokens;
    if (this.spend && this.spend.month === monthOf(Date.now())) {
      this.spend.micros += used.micros;
      await this.ctx.storage.put("spend", this.spend);
    }
    await this.ctx.storage.put("quota", this.quota);
  }

  /** A queued run asks to be offered again (its queue message may have been lost). */
  async redispatch(tenantId: string, runId: string): Promise<void> {
    await this.loadConfig(tenantId);
    const sql = this.ctx.storage.sql;
    const row = sql.exec<{ dispatched_at: number | null }>("SELECT dispatched_at FROM lane WHERE run_id = ?", runId).toArray()[0];
    if (!row) sql.exec("INSERT OR IGNORE INTO lane (run_id) VALUES (?)", runId);
    else if (row.dispatched_at !== null && this.tenantId) await this.env.RUNS.send({ kind: "run", runId, tenantId: this.tenantId });
    await this.dispatch();
  }

  /** The month's billed usage so far, for the spend cap (read from the ledger once a month). */
  async remainingMicros(tenantId: string): Promise<number | null> {
    const config = await this.loadConfig(tenantId);
    const cap = config.quotas.monthlySpendCapUsd;
    if (cap === null) return null;
    return Math.round(cap * 1_000_000) - (await this.monthSpend(tenantId, Date.now()));
  }

  private async monthSpend(tenantId: string, now: number): Promise<number> {
    const month = monthOf(now);
    if (this.spend?.month !== month) {
      this.spend = { month, micros: await monthToDateMicros(this.env.DB, this.env, tenantId, new Date(now)) };
      await this.ctx.storage.put("spend", this.spend);
    }
    return this.spend.micros;
  }

  private async checkSpend(config: TenantConfig, now: number): Promise<Refusal | null> {
    const cap = config.quotas.monthlySpendCapUsd;
    if (cap === null || !this.tenantId) return null;
    const spent = await this.monthSpend(this.tenantId, now);
    if (spent < Math.round(cap * 1_000_000)) return null;
    const retryAfter = seconds(nextMonthStart(now) - now);
    return {
      kind: "refused",
      slug: "quota-spend-cap",
      detail: `This month's usage has reached the spend cap of $${cap} (billed so far: $${(spent / 1_000_000).toFixed(6)}).`,
      retryAfter,
      extra: { quota: "monthlySpendCapUsd", limit: cap, retryAfter },
    };
  }

  private decide(decision: ReturnType<typeof admit>): Refusal | null {
    if (decision.ok) return null;
    return {
      kind: "refused",
      slug: REFUSAL_SLUG[decision.quota],
      detail: `The ${decision.quota} quota (${decision.limit}) is used up.`,
      retryAfter: decision.retryAfter,
      extra: { quota: decision.quota, limit: decision.limit, retryAfter: decision.retryAfter },
    };
  }

  // ---- stored bytes (`storageBytes`) ----

  /**
   * A write of `size` bytes at `key` (relative to `tenants/<id>/`; 0 for a delete) is about to be
   * made. Without a `storageBytes` quota nothing is counted ("unmetered"). Otherwise the write
   * waits its turn behind any other write to the same key, reads the key's size from R2, and is
   * admitted (its growth reserved) or refused in one step with no await between check and count.
   * The caller commits or releases the reservation; a reservation never settled lapses after
   * `STORAGE_LEASE_MS` and is settled by what R2 then holds.
   */
  async storageReserve(tenantId: string, key: string, size: number): Promise<StorageReservation> {
    const config = await this.loadConfig(tenantId);
    if (config.quotas.storageBytes === null) return { kind: "unmetered" };
    if (!this.stored.known) await this.buildStored();
    await this.sweepLapsed(Date.now());
    if (!(await this.lockKey(key))) return { kind: "busy" };
    let holding = true;
    try {
      const head = await this.env.BUCKET.head(tenantPrefix(tenantId) + key);
      const old = head?.size ?? 0;
      // Settings may have changed while R2 answered.
      const limit = (await this.loadConfig(tenantId)).quotas.storageBytes;
      if (limit === null || !this.stored.known) {
        this.unlockKey(key);
        holding = false;
        return this.storageReserve(tenantId, key, size);
      }
      // From here to the reservation nothing awaits: the check and the count are one step.
      const id = crypto.randomUUID();
      const decision = reserve(this.stored.counter, id, { key, old, size, until: Date.now() + STORAGE_LEASE_MS }, limit);
      if (!decision.ok) return { kind: "refused", limit: decision.limit, used: decision.used, delta: decision.delta, old, size };
      if (this.resync) touch(this.resync, key, old);
      holding = false; // the reservation holds the key until it is settled
      await this.saveStored();
      return { kind: "reserved", id };
    } finally {
      if (holding) this.unlockKey(key);
    }
  }

  /** The reserved write is stored. */
  async storageCommit(id: string): Promise<void> {
    if (this.settleWrite(id, "commit")) await this.saveStored();
  }

  /** The reserved write failed: the key holds what it held. */
  async storageRelease(id: string): Promise<void> {
    if (this.settleWrite(id, "release")) await this.saveStored();
  }

  /** The count as the object keeps it (tests, operators): null while the tenant has no `storageBytes`. */
  async storedBytes(tenantId: string): Promise<{ bytes: number; used: number; pending: number; resyncedAt: number | null } | null> {
    const config = await this.loadConfig(tenantId);
    if (config.quotas.storageBytes === null) return null;
    if (!this.stored.known) await this.buildStored();
    const c = this.stored.counter;
    return { bytes: c.bytes, used: usedBytes(c), pending: Object.keys(c.pending).length, resyncedAt: this.stored.resyncedAt };
  }

  /** Rebuilds the count from an R2 list now (the daily alarm does this; so can an operator or a test). */
  async resyncStorage(tenantId: string): Promise<void> {
    const config = await this.loadConfig(tenantId);
    if (config.quotas.storageBytes === null) return;
    if (!this.stored.known) return this.buildStored();
    if (this.building) return this.building;
    if (!this.resync) await this.recount();
  }

  /** The daily recount while the tenant has a `storageBytes` quota. */
  override async alarm(): Promise<void> {
    if (!this.tenantId) return;
    const config = await this.loadConfig(this.tenantId);
    if (config.quotas.storageBytes === null) return;
    await this.sweepLapsed(Date.now());
    await this.resyncStorage(this.tenantId);
    await this.ctx.storage.setAlarm(Date.now() + STORAGE_RESYNC_MS);
  }

  private settleWrite(id: string, how: "commit" | "release" | number): boolean {
    const r = this.stored.counter.pending[id];
    if (!r) return false;
    const actual = how === "commit" ? r.size : how === "release" ? r.old : how;
    settle(this.stored.counter, id, actual);
    if (this.resync) settled(this.resync, r.key, actual);
    this.unlockKey(r.key);
    return true;
  }

  /** Reservations whose writer never came back are settled by what R2 holds for the key now. */
  private async sweepLapsed(now: number): Promise<void> {
    const ids = lapsed(this.stored.counter, now).filter((id) => !this.sweeping.has(id));
    if (!ids.length || !this.tenantId) return;
    const prefix = tenantPrefix(this.tenantId);
    for (const id of ids) this.sweeping.add(id);
    try {
      await Promise.all(
        ids.map(async (id) => {
          const r = this.stored.counter.pending[id];
          if (r) this.settleWrite(id, (await this.env.BUCKET.head(prefix + r.key))?.size ?? 0);
        }),
      );
    } finally {
      for (const id of ids) this.sweeping.delete(id);
    }
    await this.saveStored();
  }

  /** The first count, which every write waits for (one R2 list call per 1,000 objects). */
  private async buildStored(): Promise<void> {
    this.building ??= this.recount().finally(() => {
      this.building = null;
    });
    await this.building;
  }

  /**
   * Counts every object under `tenants/<id>/`. Writes through this object go on meanwhile (after
   * the first count): the recount swaps what the list saw of each key they touched for what they
   * left, so each is counted once (`quota/storage-bytes.ts`).
   */
  private async recount(): Promise<void> {
    const tenantId = this.tenantId;
    if (!tenantId) return;
    const rs = beginResync(this.stored.counter);
    this.resync = rs;
    const prefix = tenantPrefix(tenantId);
    try {
      for (let cursor: string | undefined; ; ) {
        const listed = await this.env.BUCKET.list({ prefix, limit: 1000, ...(cursor ? { cursor } : {}) });
        if (this.resync !== rs) return; // the quota was removed meanwhile
        page(rs, listed.objects.map((o) => ({ key: o.key.slice(prefix.length), size: o.size })));
        if (!listed.truncated) break;
        cursor = listed.cursor;
      }
      finishResync(this.stored.counter, rs);
      const first = !this.stored.known;
      this.stored.known = true;
      this.stored.resyncedAt = Date.now();
      this.resync = null;
      await this.saveStored();
      if (first && (await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + STORAGE_RESYNC_MS);
    } finally {
      if (this.resync === rs) this.resync = null;
    }
  }

  /** No quota: nothing is counted, and a quota set later starts from a fresh count of R2. */
  private forgetStored(): void {
    if (!this.stored.known && this.resync === null) return;
    this.stored.known = false;
    this.stored.counter.bytes = 0;
    this.resync = null;
    void this.saveStored();
  }

  private async saveStored(): Promise<void> {
    await this.ctx.storage.put("storageBytes", this.stored);
  }

  /** Waits (at most `STORAGE_KEY_WAIT_MS`) until no other write to `key` is under way; then the caller holds it. */
  private lockKey(key: string): Promise<boolean> {
    if (!this.held.has(key)) {
      this.held.add(key);
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const queue = this.waiting.get(key) ?? [];
      this.waiting.set(key, queue);
      let done = false;
      const wake = () => {
        if (done) return false;
        done = true;
        clearTimeout(timer);
        resolve(true);
        return true;
      };
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        const at = queue.indexOf(wake);
        if (at >= 0) queue.splice(at, 1);
        resolve(false);
      }, STORAGE_KEY_WAIT_MS);
      queue.push(wake);
    });
  }

  /** Hands the key to the next waiting write, or frees it. */
  private unlockKey(key: string): void {
    const queue = this.waiting.get(key);
    while (queue?.length) if (queue.shift()!()) return;
    this.waiting.delete(key);
    this.held.delete(key);
  }

  // ---- the async lane ----

  private laneDone(runId: string): void {
    this.ctx.storage.sql.exec("DELETE FROM lane WHERE run_id = ?", runId);
  }

  /**
   * Offers the lane's next runs to the platform's queue, at most the lane's width in flight: the
   * shared queue never holds more than that of one tenant, so a tenant's backlog of thousands waits
   * here and another tenant's run is never queued behind it.
   */
  private async dispatch(): Promise<void> {
    if (!this.tenantId) return;
    const config = await this.loadConfig(this.tenantId);
    const base = config.quotas.concurrentRuns ?? DEFAULT_LANE_WIDTH;
    const width = Math.max(1, Math.round(base * config.queueWeight));
    const sql = this.ctx.storage.sql;
    const inFlight = Number(sql.exec("SELECT COUNT(*) AS n FROM lane WHERE dispatched_at IS NOT NULL").one().n);
    if (inFlight >= width) return;
    const next = sql.exec<{ run_id: string }>("SELECT run_id FROM lane WHERE dispatched_at IS NULL ORDER BY seq LIMIT ?", width - inFlight).toArray();
    if (!next.length) return;
    const now = Date.now();
    for (const r of next) sql.exec("UPDATE lane SET dispatched_at = ? WHERE run_id = ?", now, r.run_id);
    try {
      await this.env.RUNS.sendBatch(next.map((r) => ({ body: { kind: "run" as const, runId: r.run_id, tenantId: this.tenantId! } })));
    } catch (err) {
      // Offered again by each run's own queue check.
      for (const r of next) sql.exec("UPDATE lane SET dispatched_at = NULL WHERE run_id = ?", r.run_id);
      logEvent("error", "lane-dispatch-failed", { tenantId: this.tenantId, error: String(err) });
    }
  }
}
