import { logEvent } from "../../../core/log";
import { DurableObject } from "cloudflare:workers";
import type { RunStatus } from "../../../core/db/schema";
import { decideEgress, platformHosts } from "../../../core/egress";
import type { DispatcherEnv } from "../env";
import { runView } from "../../../core/runs/record";
import { resultKey } from "../../../core/storage/keys";
import { runPriceMicros } from "../quota/spend";
import type { AgentTarget } from "../runtime/types";
import { SSE_KEEPALIVE, SSE_RETRY, sseFrame } from "./sse";
import { addUsage, deadlineOf, endState, isOpen, toRow, zeroUsage, type RunPolicy, type RunState, type UsageDelta } from "./state";
import { tenantStub } from "./stubs";

import { MAX_EVENT_BYTES_PER_RUN, MAX_EVENTS_PER_RUN } from "../../../core/contract.js";

export { MAX_EVENT_BYTES_PER_RUN, MAX_EVENTS_PER_RUN };
/** Platform-written events (egress denials, warnings) per run before they are only counted. */
export const MAX_PLATFORM_EVENTS = 100;
/** Facts the platform records after a run ended (webhook deliveries, CPU metering). */
const MAX_NOTES = 20;
/** A running run whose executor has not ended it this long after its budget was lost. */
export const LOST_MARGIN_MS = 5_000;
/** A queued run is re-offered to its tenant's lane this often, and failed after an hour. */
const QUEUED_CHECK_MS = 30_000;
export const QUEUED_MAX_MS = 60 * 60 * 1000;
/** Runs still going after this long are put in the run index before they end (quick ones only when they end). */
const INDEX_RUNNING_AFTER_MS = 250;
/** How long a finished run's log stays in the object before it moves to R2. */
const DEFAULT_ARCHIVE_AFTER_MS = 60_000;
const RETRY_MS = 5_000;
/** A run stopped from outside takes late charges of calls under way for this long before its ledger row. */
export const LATE_CHARGE_MS = 3_000;
/** A stream client this far behind is treated as gone. */
const MAX_FOLLOWER_BACKLOG_BYTES = 8 * 1024 * 1024;
const DAY_MS = 86_400_000;
const encoder = new TextEncoder();

/** Platform-only R2 key of a run's archived event log: no tenant key can address `runs/`. */
export const archiveKey = (tenantId: string, runId: string) => `runs/${tenantId}/${runId}/events.ndjson`;

/** Any JSON value (what an event's data is). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface StoredEvent {
  seq: number;
  at: number;
  type: string;
  data: Json;
}

/** A model call admitted: what the run has spent, its default model, the tenant's own keys, its deadline. */
export interface LlmBegun {
  ok: true;
  spentMicros: number;
  spendCapped: boolean;
  defaultModel: string | null;
  tenantKeys: string[];
  deadline: number | null;
}

export interface CreateRun {
  id: string;
  tenantId: string;
  target: AgentTarget;
  endUser: string | null;
  status: "queued" | "running";
  timeoutMs: number;
  policy: RunPolicy;
  webhook: string | null;
}

export interface Outcome {
  status: RunStatus;
  error?: string;
  output?: unknown;
  outputBytes?: number | null;
  wallMs?: number;
}

export type Caller = { tenantId: string; endUser: string | null };
export type EgressVerdict = { ok: true } | { ok: false; reason: string };
type RunViewShape = ReturnType<typeof runView>;

interface Follower {
  controller: ReadableStreamDefaultController<Uint8Array>;
}

/**
 * Runs: each one's record, state machine, event log, usage counters, cancellation, deadline and
 * retention, in SQLite. One object holds the runs of one tenant whose ids fall in its shard
 * (`RUN_SHARDS` per tenant, runs/shards.ts), so a hot tenant's runs spread over several objects, each object is
 * reused (no new object per run) and a run's calls never queue behind another tenant's. Callers
 * ask it to do things to one run (create, start, charge, append, cancel, close) through
 * `runStub()`; it is the only writer of its runs' state, and it hands each finished run to the
 * run index and ledger (the LEDGER queue) and to its tenant's object.
 */
export class RunObject extends DurableObject<DispatcherEnv> {
  /** Open runs (and ones read recently), by id; ended runs are read from storage when asked. */
  private runs = new Map<string, RunState>();
  private followers = new Map<string, Set<Follower>>();
  private endWaiters = new Map<string, ((why: "cancelled" | "ended") => void)[]>();
  private keepalive: ReturnType<typeof setInterval> | null = null;

  constructor(ctx: DurableObjectState, env: DispatcherEnv) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const sql = ctx.storage.sql;
      sql.exec("CREATE TABLE IF NOT EXISTS events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, seq))");
      sql.exec("CREATE TABLE IF NOT EXISTS due (run_id TEXT PRIMARY KEY, at INTEGER NOT NULL)");
      sql.exec("CREATE INDEX IF NOT EXISTS due_at ON due (at)");
    });
  }

  private async load(runId: string): Promise<RunState | null> {
    const cached = this.runs.get(runId);
    if (cached) return cached;
    const stored = (await this.ctx.storage.get<RunState>(`run:${runId}`)) ?? null;
    if (stored && isOpen(stored.status)) this.runs.set(runId, stored);
    return stored;
  }

  // ---- lifecycle ----

  /** Records a new run (idempotent for the same id) with its first event. */
  async create(runId: string, init: CreateRun): Promise<RunViewShape> {
    const existing = await this.load(runId);
    if (existing) return runView(toRow(existing));
    const now = Date.now();
    const s: RunState = {
      id: init.id,
      tenantId: init.tenantId,
      target: init.target,
      endUser: init.endUser,
      status: init.status,
      error: null,
      createdAt: now,
      startedAt: init.status === "running" ? now : null,
      finishedAt: null,
      timeoutMs: init.timeoutMs,
      wallMs: null,
      cpuMs: null,
      usage: zeroUsage(),
      modelUsage: {},
      outputBytes: null,
      policy: init.policy,
      webhook: init.webhook,
      seq: 0,
      eventCount: 0,
      eventBytes: 0,
      platformEvents: 0,
      truncated: false,
      archivedThrough: 0,
      // Queued runs are listed at once (they may wait); running ones once they outlast a quarter second.
      indexed: init.status === "queued",
      lateUntil: null,
      settled: { ledger: false, tenant: false, webhook: init.webhook === null },
    };
    this.runs.set(runId, s);
    this.store(s, init.status === "queued" ? "run.queued" : "run.started", { id: init.id, agent: init.target.agent, version: init.target.version }, now, true);
    await this.save(s);
    if (init.status === "queued") await this.sendIndex(s);
    return runView(toRow(s));
  }

  /** queued → running, for the queue consumer; null when the run is no longer queued. */
  async start(runId: string): Promise<RunState | null> {
    const s = await this.load(runId);
    if (!s || s.status !== "queued") return null;
    const now = Date.now();
    s.status = "running";
    s.startedAt = now;
    // The index has it as queued: it is listed again, as running, once it outlasts a quarter second.
    s.indexed = false;
    this.store(s, "run.started", { id: s.id, agent: s.target.agent, version: s.target.version }, now, true);
    await this.save(s);
    return s;
  }

  /** Resolves when the run is cancelled or ends; the executor stops at once on "cancelled". */
  async waitForEnd(runId: string): Promise<"cancelled" | "ended"> {
    const s = await this.load(runId);
    if (!s || !isOpen(s.status)) return s?.status === "cancelled" ? "cancelled" : "ended";
    return new Promise((resolve) => {
      const waiters = this.endWaiters.get(runId) ?? [];
      waiters.push(resolve);
      this.endWaiters.set(runId, waiters);
    });
  }

  /** The executor's end of the run. A run already ended (cancelled, lost) keeps its outcome. */
  async close(runId: string, outcome: Outcome): Promise<{ view: RunViewShape; output: unknown } | null> {
    const s = await this.load(runId);
    if (!s) return null;
    const output = outcome.output !== undefined ? { value: outcome.output } : undefined;
    await this.end(s, outcome.status, outcome.error ?? null, { outputBytes: outcome.outputBytes ?? null, ...(outcome.wallMs !== undefined ? { wallMs: outcome.wallMs } : {}) }, output);
    return { view: runView(toRow(s)), output: s.status === "succeeded" && output ? output.value : null };
  }

  /** Cancels a queued or running run of this caller: "ended" if it already has. */
  async cancel(runId: string, caller: Caller | null): Promise<RunViewShape | "ended" | null> {
    const s = this.visible(await this.load(runId), caller);
    if (!s) return null;
    if (!isOpen(s.status)) return "ended";
    await this.end(s, "cancelled", "The run was cancelled.");
    return runView(toRow(s));
  }

  /** Ends a run the platform gave up on (refused when its lane started it, agent deleted…). */
  async fail(runId: string, error: string): Promise<void> {
    const s = await this.load(runId);
    if (s) await this.end(s, "failed", error);
  }

  private async end(s: RunState, status: RunStatus, error: string | null, extra: { outputBytes?: number | null; wallMs?: number } = {}, output?: { value: unknown }): Promise<void> {
    const now = Date.now();
    if (!endState(s, status, error, now, extra)) return;
    // Stopped from outside: calls still under way may charge what they used for a moment longer.
    if (status === "cancelled" || status === "timed_out" || extra.wallMs === undefined) s.lateUntil = now + LATE_CHARGE_MS;
    // Ended with model calls still open (an agent that read part of a stream and returned): their
    // charges come at the latest at the run's deadline, and the ledger row waits for them (or until then).
    if ((s.llmOpen ?? 0) > 0) s.lateUntil = Math.max(s.lateUntil ?? 0, (deadlineOf(s) ?? now + s.timeoutMs) + LATE_CHARGE_MS);
    const view = runView(toRow(s));
    if (status === "cancelled") this.store(s, "run.cancelled", { id: s.id, reason: error }, now, true);
    const seq = this.store(s, status === "succeeded" ? "run.completed" : "run.failed", view, now, true);
    await this.save(s);
    for (const resolve of this.endWaiters.get(s.id)?.splice(0) ?? []) resolve(status === "cancelled" ? "cancelled" : "ended");
    this.endWaiters.delete(s.id);
    const followers = this.followers.get(s.id);
    if (followers?.size) {
      const last = sseFrame(status === "succeeded" ? "run.completed" : "run.failed", { ...view, output: status === "succeeded" ? (output ? output.value : await this.storedOutput(s)) : null }, seq ?? undefined);
      for (const f of [...followers]) this.push(s.id, f, last, true);
    }
    // The tenant's slot and spend are settled before the caller has its answer (the next run must
    // see them); the ledger row and webhook after it. The alarm retries whatever failed.
    await this.settle(s, true);
    this.ctx.waitUntil(this.settle(s).then(() => void this.runs.delete(s.id)));
  }

  /** Hands the ended run to the run index and ledger, its tenant and its webhook. */
  private async settle(s: RunState, tenantOnly = false): Promise<void> {
    if (isOpen(s.status)) return;
    const row = toRow(s);
    const tasks: Promise<void>[] = [];
    if (!tenantOnly && !s.settled.ledger && (s.lateUntil === null || Date.now() >= s.lateUntil)) tasks.push(this.env.LEDGER.send({ kind: "run", run: row, final: true }).then(() => void (s.settled.ledger = true)));
    if (!s.settled.tenant) {
      const micros = runPriceMicros(this.env, row);
      const tokens = row.inputTokens + row.outputTokens;
      tasks.push(
        tenantStub(this.env, s.tenantId)
          .release(s.id, { tokens, micros, started: s.startedAt !== null })
          .then(() => {
            s.settled.tenant = true;
            s.released = { tokens, micros };
          }),
      );
    } else if (!tenantOnly && !s.settled.ledger && s.released && (s.lateUntil === null || Date.now() >= s.lateUntil)) {
      // Late charges (calls under way when the run was stopped) reach the tenant's totals too.
      const tokens = row.inputTokens + row.outputTokens - s.released.tokens;
      const micros = runPriceMicros(this.env, row) - s.released.micros;
      if (tokens > 0 || micros > 0) {
        tasks.push(
          tenantStub(this.env, s.tenantId)
            .adjust({ tokens, micros })
            .then(() => void (s.released = { tokens: tokens + s.released!.tokens, micros: micros + s.released!.micros })),
        );
      }
    }
    if (!tenantOnly && !s.settled.webhook && s.webhook) {
      tasks.push(this.env.RUNS.send({ kind: "webhook", runId: s.id, tenantId: s.tenantId, url: s.webhook }).then(() => void (s.settled.webhook = true)));
    }
    const results = await Promise.allSettled(tasks);
    for (const r of results) if (r.status === "rejected") logEvent("error", "run-settle-failed", { runId: s.id, error: String(r.reason) });
    await this.save(s);
  }

  // ---- usage ----

  /**
   * Charges an operation to this run of this tenant, or refuses it (not running). `late`: what a
   * call already under way when the run was cancelled or timed out still consumed (a model
   * stream's tokens) lands in the run's usage within a few seconds of its end, before the ledger
   * row is written; later than that it is refused.
   */
  async charge(runId: string, tenantId: string, delta: UsageDelta, late = false, closesLlmCall = false): Promise<boolean> {
    const s = await this.load(runId);
    if (!s || s.tenantId !== tenantId) return false;
    if (closesLlmCall) s.llmOpen = Math.max(0, (s.llmOpen ?? 0) - 1);
    const lateOk = late && !isOpen(s.status) && s.lateUntil !== null && Date.now() < s.lateUntil && !s.settled.ledger;
    if (s.status !== "running" && !lateOk) {
      if (closesLlmCall) await this.save(s);
      return false;
    }
    addUsage(s, delta);
    // The last open call of an ended run has charged: its ledger row need not wait any longer.
    const lastOpen = closesLlmCall && !isOpen(s.status) && (s.llmOpen ?? 0) === 0 && s.lateUntil !== null && s.lateUntil > Date.now() + LATE_CHARGE_MS;
    if (lastOpen) s.lateUntil = Date.now();
    await this.save(s);
    if (lastOpen) this.ctx.waitUntil(this.settle(s));
    return true;
  }

  /**
   * An `env.STORAGE.put` about to be made: refused unless running. Without a `storageBytes` quota
   * (the run's policy) it is charged now ("charged"); with one, nothing is charged yet
   * ("metered"): the binding reserves the bytes with the tenant's object and charges the write
   * once it is stored, so a refused put costs the run nothing.
   */
  async storageBegin(runId: string, tenantId: string, bytes: number): Promise<"refused" | "charged" | "metered"> {
    const s = await this.load(runId);
    if (!s || s.tenantId !== tenantId || s.status !== "running") return "refused";
    if (s.policy.storageMetered) return "metered";
    addUsage(s, { storageWrites: 1, bytesWritten: bytes });
    await this.save(s);
    return "charged";
  }

  /**
   * A model call about to start: refused unless running and under `llmCallsPerRun`; counted now,
   * and open until its charge (`closesLlmCall`) arrives.
   * Returns what the run has spent so far (for the spend cap's remaining budget).
   */
  async llmBegin(runId: string, tenantId: string): Promise<LlmBegun | { ok: false; reason: string }> {
    const s = await this.load(runId);
    if (!s || s.tenantId !== tenantId || s.status !== "running") return { ok: false, reason: "platform bindings only work during a run of this tenant (this run is not running)" };
    const limit = s.policy.llmCallsPerRun;
    if (limit !== null && s.usage.llmCalls >= limit) return { ok: false, reason: `the run has used its ${limit} model calls (llmCallsPerRun)` };
    s.usage.llmCalls += 1;
    s.llmOpen = (s.llmOpen ?? 0) + 1;
    await this.save(s);
    return {
      ok: true,
      spentMicros: runPriceMicros(this.env, toRow(s)),
      spendCapped: s.policy.spendCapped,
      defaultModel: s.policy.defaultModel ?? null,
      tenantKeys: s.policy.tenantKeys ?? [],
      deadline: deadlineOf(s),
    };
  }

  /**
   * Decides one outbound request of this run by its policy; counts it only if it is let through
   * (past `subrequestsPerRun` it is refused), and logs a refusal on the run.
   */
  async egress(runId: string, tenantId: string, method: string, url: string, redacted: string): Promise<EgressVerdict> {
    const s = await this.load(runId);
    if (!s || s.tenantId !== tenantId || s.status !== "running") return { ok: false, reason: "the run is not running" };
    const decision = decideEgress(url, s.policy.egressAllow, platformHosts(this.env));
    const limit = s.policy.subrequestsPerRun;
    const verdict: EgressVerdict = !decision.ok ? decision : limit !== null && s.usage.subrequests >= limit ? { ok: false, reason: `the run has used its ${limit} subrequests` } : { ok: true };
    if (verdict.ok) s.usage.subrequests += 1;
    // A denial past the log's cap only moves a counter kept in memory: a flood of them writes nothing.
    else if (!this.platformEvent(s, "egress.denied", { method, url: redacted, reason: verdict.reason })) return verdict;
    await this.save(s);
    return verdict;
  }

  /**
   * CPU time measured after the run (production tail events), set once: on the record, a
   * `run.metered` note on the log, the precise reason for a run Workers stopped, and — if the
   * run's ledger row was already sent — the row again, which the ledger writer applies to the
   * index, the usage row and the day's rollup (only while their CPU is unmeasured).
   */
  async meter(
    runId: string,
    tenantId: string,
    script: string,
    m: { cpuMs: number; wallMs: number; outcome: string; reason?: string; exceptions?: { name: string; message: string }[] },
  ): Promise<"recorded" | "duplicate" | "unknown"> {
    const s = await this.load(runId);
    if (!s || s.tenantId !== tenantId || s.target.scriptName !== script) return "unknown";
    if (s.cpuMs !== null) return "duplicate";
    s.cpuMs = m.cpuMs;
    if (m.reason && s.status === "failed") s.error = m.reason;
    this.note(s, "run.metered", { cpuMs: m.cpuMs, wallMs: m.wallMs, outcome: m.outcome, ...(m.exceptions?.length ? { exceptions: m.exceptions } : {}) });
    await this.save(s);
    if (s.settled.ledger) await this.env.LEDGER.send({ kind: "run", run: toRow(s), final: true });
    return "recorded";
  }

  // ---- events ----

  /**
   * The agent's events, in order. Refused once the run has ended (a late `waitUntil` cannot add to
   * a closed log); past the log's bounds only an `events.truncated` marker is kept. Returns how many
   * were stored, and whether the run is still open.
   */
  async append(runId: string, tenantId: string, events: { type: string; data: unknown; at: number }[]): Promise<{ stored: number; open: boolean }> {
    const s = await this.load(runId);
    if (!s || s.tenantId !== tenantId || !isOpen(s.status)) return { stored: 0, open: false };
    let stored = 0;
    for (const e of events) if (this.store(s, e.type, e.data, e.at) !== null) stored++;
    await this.save(s);
    return { stored, open: true };
  }

  /** A platform-written event of a running run (a denial, a warning): bounded separately, then only counted. */
  async platform(runId: string, tenantId: string, type: string, data: unknown): Promise<void> {
    const s = await this.load(runId);
    if (!s || s.tenantId !== tenantId || !isOpen(s.status)) return;
    this.platformEvent(s, type, data);
    await this.save(s);
  }

  /** A fact recorded after the run ended (webhook delivery): a few at most. */
  async recordNote(runId: string, tenantId: string, type: string, data: unknown): Promise<void> {
    const s = await this.load(runId);
    if (!s || s.tenantId !== tenantId) return;
    this.note(s, type, data);
    await this.save(s);
  }

  /** Logs or only counts a platform event; true when something was written to the log. */
  private platformEvent(s: RunState, type: string, data: unknown): boolean {
    s.platformEvents += 1;
    if (s.platformEvents <= MAX_PLATFORM_EVENTS) return this.store(s, type, data, Date.now()) !== null;
    if (s.platformEvents === MAX_PLATFORM_EVENTS + 1) return this.store(s, "events.suppressed", { after: MAX_PLATFORM_EVENTS, type }, Date.now(), true) !== null;
    return false;
  }

  private note(s: RunState, type: string, data: unknown): void {
    if (isOpen(s.status)) return void this.store(s, type, data, Date.now(), true);
    s.notes = (s.notes ?? 0) + 1;
    if (s.notes <= MAX_NOTES) this.store(s, type, data, Date.now(), true);
  }

  /** Stores one event under the run's next seq, within the log's bounds; returns its seq (null if refused). */
  private store(s: RunState, type: string, data: unknown, at: number, always = false): number | null {
    const text = JSON.stringify(data ?? null);
    // Bytes, as stored: a log of multi-byte text is bounded like any other.
    const size = encoder.encode(type).byteLength + encoder.encode(text).byteLength;
    if (!always && (s.truncated || s.eventCount >= MAX_EVENTS_PER_RUN || s.eventBytes + size > MAX_EVENT_BYTES_PER_RUN)) {
      if (!s.truncated) {
        s.truncated = true;
        this.store(s, "events.truncated", { stored: s.eventCount, limit: { events: MAX_EVENTS_PER_RUN, bytes: MAX_EVENT_BYTES_PER_RUN } }, at, true);
      }
      return null;
    }
    const seq = ++s.seq;
    if (!always) {
      s.eventCount += 1;
      s.eventBytes += size;
    }
    this.ctx.storage.sql.exec("INSERT INTO events (run_id, seq, at, type, data) VALUES (?, ?, ?, ?, ?)", s.id, seq, at, type, text);
    const terminal = type === "run.completed" || type === "run.failed";
    const followers = this.followers.get(s.id);
    if (!terminal && followers?.size) {
      const frame = sseFrame(type, data ?? null, seq);
      for (const f of [...followers]) this.push(s.id, f, frame, false);
    }
    return seq;
  }

  /** Events after `after`, from the object or, once archived, from R2. */
  private async eventsAfter(s: RunState, after: number, limit: number): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    if (after < s.archivedThrough) {
      const object = await this.env.BUCKET.get(archiveKey(s.tenantId, s.id));
      if (object) {
        for (const line of (await object.text()).split("\n")) {
          if (!line) continue;
          const e = JSON.parse(line) as StoredEvent;
          if (e.seq > after && out.length < limit) out.push(e);
        }
      }
    }
    const from = Math.max(after, out.at(-1)?.seq ?? 0);
    for (const r of this.ctx.storage.sql.exec<{ seq: number; at: number; type: string; data: string }>(
      "SELECT seq, at, type, data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
      s.id,
      from,
      limit - out.length,
    )) {
      out.push({ seq: r.seq, at: r.at, type: r.type, data: JSON.parse(r.data) as Json });
    }
    return out;
  }

  // ---- reads ----

  private visible(s: RunState | null, caller: Caller | null): RunState | null {
    if (!s) return null;
    if (caller && (s.tenantId !== caller.tenantId || (caller.endUser !== null && s.endUser !== caller.endUser))) return null;
    return s;
  }

  async view(runId: string, caller: Caller): Promise<RunViewShape | null> {
    const s = this.visible(await this.load(runId), caller);
    return s ? runView(toRow(s)) : null;
  }

  /** The record as the platform needs it (queue consumer, webhooks); null when unknown. */
  async state(runId: string): Promise<RunState | null> {
    return this.load(runId);
  }

  /** A page of the log; each event's data as JSON text (what the API sends on). */
  async events(runId: string, caller: Caller | null, after: number, limit: number): Promise<{ events: { seq: number; at: number; type: string; data: string }[]; next: number | null } | null> {
    const s = this.visible(await this.load(runId), caller);
    if (!s) return null;
    const rows = await this.eventsAfter(s, after, limit + 1);
    const events = rows.slice(0, limit);
    return { events: events.map((e) => ({ ...e, data: JSON.stringify(e.data) })), next: rows.length > limit ? events.at(-1)!.seq : null };
  }

  /**
   * The run's log as server-sent events from after `after`, then live until the run ends: the
   * same ids as the first stream, so a client resumes with `Last-Event-ID`. The last event
   * (`run.completed` / `run.failed`) carries the whole run and its output.
   */
  async follow(runId: string, caller: Caller, after: number): Promise<ReadableStream<Uint8Array> | null> {
    const s = this.visible(await this.load(runId), caller);
    if (!s) return null;
    const replay = await this.eventsAfter(s, after, MAX_EVENTS_PER_RUN + MAX_PLATFORM_EVENTS + MAX_NOTES + 10);
    let follower: Follower | null = null;
    const terminalOf = (e: StoredEvent) => e.type === "run.completed" || e.type === "run.failed";
    const terminal = replay.find(terminalOf);
    const output = terminal ? await this.storedOutput(s) : null;
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          controller.enqueue(SSE_RETRY);
          for (const e of replay) {
            if (terminalOf(e)) {
              controller.enqueue(sseFrame(e.type, { ...(e.data as object), output }, e.seq));
              controller.close();
              return;
            }
            controller.enqueue(sseFrame(e.type, e.data, e.seq));
          }
          if (!isOpen(s.status)) {
            // Resumed after the terminal event: nothing more will come.
            controller.close();
            return;
          }
          follower = { controller };
          const set = this.followers.get(s.id) ?? new Set<Follower>();
          set.add(follower);
          this.followers.set(s.id, set);
          this.keepalive ??= setInterval(() => {
            for (const [id, set] of this.followers) for (const f of [...set]) this.push(id, f, SSE_KEEPALIVE, false);
          }, 15_000);
        },
        cancel: () => {
          if (follower) this.drop(s.id, follower);
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
    );
  }

  private push(runId: string, f: Follower, frame: Uint8Array, last: boolean): void {
    try {
      f.controller.enqueue(frame);
      if (last) {
        f.controller.close();
        this.drop(runId, f);
      } else if ((f.controller.desiredSize ?? 0) < -MAX_FOLLOWER_BACKLOG_BYTES) {
        // A client far behind would make the object buffer without bound: it is cut off and
        // can resume from its last id.
        f.controller.error(new Error("the stream client fell too far behind"));
        this.drop(runId, f);
      }
    } catch {
      this.drop(runId, f);
    }
  }

  private drop(runId: string, f: Follower): void {
    const set = this.followers.get(runId);
    set?.delete(f);
    if (set && set.size === 0) this.followers.delete(runId);
    if (this.followers.size === 0 && this.keepalive !== null) {
      clearInterval(this.keepalive);
      this.keepalive = null;
    }
  }

  private async storedOutput(s: RunState): Promise<unknown> {
    if (s.status !== "succeeded") return null;
    const object = await this.env.BUCKET.get(resultKey(s.tenantId, s.id, ["output.json"]));
    return object ? object.json() : null;
  }

  // ---- time ----

  /** Every run whose next step is due: its deadline, a queue check, indexing, delivery, archive, retention. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const due = this.ctx.storage.sql.exec<{ run_id: string }>("SELECT run_id FROM due WHERE at <= ? ORDER BY at LIMIT 200", now).toArray();
    for (const { run_id } of due) {
      const s = await this.load(run_id);
      if (!s) {
        this.ctx.storage.sql.exec("DELETE FROM due WHERE run_id = ?", run_id);
        continue;
      }
      try {
        await this.step(s, now);
      } catch (err) {
        logEvent("error", "run-alarm-failed", { runId: run_id, error: String(err) });
        this.ctx.storage.sql.exec("UPDATE due SET at = ? WHERE run_id = ?", now + RETRY_MS, run_id);
      }
    }
    await this.rearm();
  }

  private async step(s: RunState, now: number): Promise<void> {
    if (s.status === "running" && now >= deadlineOf(s)! + LOST_MARGIN_MS) {
      await this.end(s, "failed", "The platform lost this run (its executor stopped before it ended).");
    } else if (s.status === "queued" && now >= s.createdAt + QUEUED_MAX_MS) {
      await this.end(s, "failed", "The run waited in the queue too long and was never started.");
    } else if (s.status === "queued") {
      // Its queue message may have been lost: the tenant's lane offers it again (a duplicate finds it started).
      await tenantStub(this.env, s.tenantId).redispatch(s.tenantId, s.id).catch(() => {});
    }
    if (isOpen(s.status) && !s.indexed && now >= (s.startedAt ?? s.createdAt) + INDEX_RUNNING_AFTER_MS) await this.sendIndex(s);
    if (!isOpen(s.status)) {
      if (!s.settled.ledger || !s.settled.tenant || !s.settled.webhook) await this.settle(s);
      if (s.seq > s.archivedThrough && now >= s.finishedAt! + this.archiveAfterMs()) await this.archive(s);
      if (now >= s.finishedAt! + s.policy.retentionDays * DAY_MS) {
        await this.env.BUCKET.delete(archiveKey(s.tenantId, s.id));
        this.ctx.storage.sql.exec("DELETE FROM events WHERE run_id = ?", s.id);
        this.ctx.storage.sql.exec("DELETE FROM due WHERE run_id = ?", s.id);
        await this.ctx.storage.delete(`run:${s.id}`);
        this.runs.delete(s.id);
        return;
      }
    }
    await this.save(s);
  }

  private archiveAfterMs(): number {
    const n = Number(this.env.EVENT_ARCHIVE_AFTER_MS);
    return Number.isFinite(n) && n >= 0 && this.env.EVENT_ARCHIVE_AFTER_MS !== undefined ? n : DEFAULT_ARCHIVE_AFTER_MS;
  }

  /** Moves the run's log to R2 (one NDJSON object, rewritten with any later notes) and out of the object. */
  private async archive(s: RunState): Promise<void> {
    const events = await this.eventsAfter(s, 0, Number.MAX_SAFE_INTEGER);
    await this.env.BUCKET.put(archiveKey(s.tenantId, s.id), events.map((e) => JSON.stringify(e)).join("\n") + "\n", {
      httpMetadata: { contentType: "application/x-ndjson" },
    });
    s.archivedThrough = s.seq;
    this.ctx.storage.sql.exec("DELETE FROM events WHERE run_id = ? AND seq <= ?", s.id, s.seq);
  }

  private async sendIndex(s: RunState): Promise<void> {
    try {
      await this.env.LEDGER.send({ kind: "run", run: toRow(s), final: false });
      s.indexed = true;
      await this.save(s);
    } catch (err) {
      logEvent("error", "run-index-failed", { runId: s.id, error: String(err) });
    }
  }

  /** When the run's next step is due, or null when it has none left (deleted). */
  private nextDue(s: RunState): number {
    const due: number[] = [];
    if (s.status === "running") due.push(deadlineOf(s)! + LOST_MARGIN_MS);
    if (s.status === "queued") due.push(Math.min(Date.now() + QUEUED_CHECK_MS, s.createdAt + QUEUED_MAX_MS));
    if (isOpen(s.status) && !s.indexed) due.push((s.startedAt ?? s.createdAt) + INDEX_RUNNING_AFTER_MS);
    if (!isOpen(s.status)) {
      if (!s.settled.ledger && s.lateUntil !== null) due.push(s.lateUntil);
      if (!s.settled.ledger || !s.settled.tenant || !s.settled.webhook) due.push(Date.now() + RETRY_MS);
      if (s.seq > s.archivedThrough) due.push(s.finishedAt! + this.archiveAfterMs());
      due.push(s.finishedAt! + s.policy.retentionDays * DAY_MS);
    }
    return Math.min(...due);
  }

  /** The object's one alarm: the earliest step due over all its runs. */
  private async rearm(): Promise<void> {
    const next = this.ctx.storage.sql.exec<{ at: number | null }>("SELECT MIN(at) AS at FROM due").one().at;
    if (next === null) return void (await this.ctx.storage.deleteAlarm());
    if ((await this.ctx.storage.getAlarm()) !== next) await this.ctx.storage.setAlarm(next);
  }

  private async save(s: RunState): Promise<void> {
    await this.ctx.storage.put(`run:${s.id}`, s);
    const at = this.nextDue(s);
    const current = this.ctx.storage.sql.exec<{ at: number }>("SELECT at FROM due WHERE run_id = ?", s.id).toArray()[0]?.at;
    if (current === at) return;
    this.ctx.storage.sql.exec("INSERT INTO due (run_id, at) VALUES (?, ?) ON CONFLICT (run_id) DO UPDATE SET at = excluded.at", s.id, at);
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || at < alarm) await this.ctx.storage.setAlarm(at);
  }
}
