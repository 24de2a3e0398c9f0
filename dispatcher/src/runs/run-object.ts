import { DurableObject } from "cloudflare:workers";
import type { RunStatus } from "../../../core/db/schema";
import { decideEgress, platformHosts } from "../../../core/egress";
import type { DispatcherEnv } from "../../../core/env";
import { runView } from "../../../core/runs/record";
import { resultKey } from "../../../core/storage/keys";
import { runPriceMicros } from "../quota/spend";
import type { AgentTarget } from "../runtime/types";
import { SSE_KEEPALIVE, SSE_RETRY, sseFrame } from "./sse";
import { addUsage, endState, isOpen, toRow, zeroUsage, type RunPolicy, type RunState, type UsageDelta } from "./state";
import { tenantStub } from "./stubs";

/** A run's share of the event log: enough for long streamed runs, bounded for the platform. */
export const MAX_EVENTS_PER_RUN = 10_000;
export const MAX_EVENT_BYTES_PER_RUN = 8 * 1024 * 1024;
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
 * One run: its record, state machine, event log, usage counters, cancellation, deadline and
 * retention, in its own SQLite. Each run has its own object, so a hot tenant's runs spread over
 * as many objects as it has runs. Callers ask it to do things (create, start, charge, append,
 * cancel, close); it is the only writer of its state, and it hands the finished run to the run
 * index and ledger (the LEDGER queue) and to its tenant's object.
 */
export class RunObject extends DurableObject<DispatcherEnv> {
  private s: RunState | null = null;
  private followers = new Set<Follower>();
  private endWaiters: ((why: "cancelled" | "ended") => void)[] = [];
  /** The output of a run that just ended here, for its live streams' last frame. */
  private output: { present: boolean; value: unknown } = { present: false, value: null };
  private keepalive: ReturnType<typeof setInterval> | null = null;

  constructor(ctx: DurableObjectState, env: DispatcherEnv) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL)");
      this.s = (await ctx.storage.get<RunState>("run")) ?? null;
    });
  }

  // ---- lifecycle ----

  /** Records a new run (idempotent for the same id) with its first event. */
  async create(init: CreateRun): Promise<RunViewShape> {
    if (this.s) return runView(toRow(this.s));
    const now = Date.now();
    this.s = {
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
    this.store(init.status === "queued" ? "run.queued" : "run.started", { id: init.id, agent: init.target.agent, version: init.target.version }, now, true);
    await this.save();
    if (init.status === "queued") await this.sendIndex();
    return runView(toRow(this.s));
  }

  /** queued → running, for the queue consumer; null when the run is no longer queued. */
  async start(): Promise<RunState | null> {
    const s = this.s;
    if (!s || s.status !== "queued") return null;
    const now = Date.now();
    s.status = "running";
    s.startedAt = now;
    this.store("run.started", { id: s.id, agent: s.target.agent, version: s.target.version }, now, true);
    await this.save();
    return s;
  }

  /** Resolves when the run is cancelled or ends; the executor stops at once on "cancelled". */
  waitForEnd(): Promise<"cancelled" | "ended"> {
    if (!this.s || !isOpen(this.s.status)) return Promise.resolve(this.s?.status === "cancelled" ? "cancelled" : "ended");
    return new Promise((resolve) => this.endWaiters.push(resolve));
  }

  /** The executor's end of the run. A run already ended (cancelled, lost) keeps its outcome. */
  async close(outcome: Outcome): Promise<{ view: RunViewShape; output: unknown } | null> {
    const s = this.s;
    if (!s) return null;
    if (outcome.output !== undefined) this.output = { present: true, value: outcome.output };
    await this.end(outcome.status, outcome.error ?? null, { outputBytes: outcome.outputBytes ?? null, ...(outcome.wallMs !== undefined ? { wallMs: outcome.wallMs } : {}) });
    return { view: runView(toRow(s)), output: s.status === "succeeded" && this.output.present ? this.output.value : null };
  }

  /** Cancels a queued or running run of this caller: "ended" if it already has. */
  async cancel(caller: Caller | null): Promise<RunViewShape | "ended" | null> {
    const s = this.visible(caller);
    if (!s) return null;
    if (!isOpen(s.status)) return "ended";
    await this.end("cancelled", "The run was cancelled.");
    return runView(toRow(s));
  }

  /** Ends a run the platform gave up on (refused when its lane started it, agent deleted…). */
  async fail(error: string): Promise<void> {
    await this.end("failed", error);
  }

  private async end(status: RunStatus, error: string | null, extra: { outputBytes?: number | null; wallMs?: number } = {}): Promise<void> {
    const s = this.s;
    if (!s) return;
    const now = Date.now();
    if (!endState(s, status, error, now, extra)) return;
    // Stopped from outside: calls still under way may charge what they used for a moment longer.
    if (status === "cancelled" || status === "timed_out" || extra.wallMs === undefined) s.lateUntil = now + LATE_CHARGE_MS;
    const view = runView(toRow(s));
    if (status === "cancelled") this.store("run.cancelled", { id: s.id, reason: error }, now, true);
    const seq = this.store(status === "succeeded" ? "run.completed" : "run.failed", view, now, true);
    await this.save();
    for (const resolve of this.endWaiters.splice(0)) resolve(status === "cancelled" ? "cancelled" : "ended");
    const last = this.terminalFrame(seq, view);
    for (const f of [...this.followers]) this.push(f, last, true);
    // The tenant's slot and spend are settled before the caller has its answer (the next run must
    // see them); the ledger row and webhook after it. The alarm retries whatever failed.
    await this.settle(true);
    this.ctx.waitUntil(this.settle());
  }

  /** Hands the ended run to the run index and ledger, its tenant and its webhook. */
  private async settle(tenantOnly = false): Promise<void> {
    const s = this.s;
    if (!s || isOpen(s.status)) return;
    const row = toRow(s);
    const tasks: Promise<void>[] = [];
    if (!tenantOnly && !s.settled.ledger && (s.lateUntil === null || Date.now() >= s.lateUntil)) tasks.push(this.env.LEDGER.send({ kind: "run", run: row, final: true }).then(() => void (s.settled.ledger = true)));
    if (!s.settled.tenant) {
      const micros = runPriceMicros(this.env, row);
      tasks.push(tenantStub(this.env, s.tenantId).release(s.id, { tokens: row.inputTokens + row.outputTokens, micros, started: s.startedAt !== null }).then(() => void (s.settled.tenant = true)));
    }
    if (!tenantOnly && !s.settled.webhook && s.webhook) {
      tasks.push(this.env.RUNS.send({ kind: "webhook", runId: s.id, tenantId: s.tenantId, url: s.webhook }).then(() => void (s.settled.webhook = true)));
    }
    const results = await Promise.allSettled(tasks);
    for (const r of results) if (r.status === "rejected") console.error(JSON.stringify({ level: "error", event: "run-settle-failed", runId: s.id, error: String(r.reason) }));
    await this.save();
  }

  // ---- usage ----

  /**
   * Charges an operation to this run of this tenant, or refuses it (not running). `late`: what a
   * call already under way when the run was cancelled or timed out still consumed (a model
   * stream's tokens) lands in the run's usage within a few seconds of its end, before the ledger
   * row is written; later than that it is refused.
   */
  async charge(tenantId: string, delta: UsageDelta, late = false): Promise<boolean> {
    const s = this.s;
    if (!s || s.tenantId !== tenantId) return false;
    const lateOk = late && !isOpen(s.status) && s.lateUntil !== null && Date.now() < s.lateUntil && !s.settled.ledger;
    if (s.status !== "running" && !lateOk) return false;
    addUsage(s, delta);
    await this.save();
    return true;
  }

  /**
   * A model call about to start: refused unless running and under `llmCallsPerRun`; counted now.
   * Returns what the run has spent so far (for the spend cap's remaining budget).
   */
  async llmBegin(tenantId: string): Promise<{ ok: true; spentMicros: number; spendCapped: boolean } | { ok: false; reason: string }> {
    const s = this.s;
    if (!s || s.tenantId !== tenantId || s.status !== "running") return { ok: false, reason: "platform bindings only work during a run of this tenant (this run is not running)" };
    const limit = s.policy.llmCallsPerRun;
    if (limit !== null && s.usage.llmCalls >= limit) return { ok: false, reason: `the run has used its ${limit} model calls (llmCallsPerRun)` };
    s.usage.llmCalls += 1;
    await this.save();
    return { ok: true, spentMicros: runPriceMicros(this.env, toRow(s)), spendCapped: s.policy.spendCapped };
  }

  /**
   * Decides one outbound request of this run by its policy; counts it only if it is let through
   * (past `subrequestsPerRun` it is refused), and logs a refusal on the run.
   */
  async egress(tenantId: string, method: string, url: string, redacted: string): Promise<EgressVerdict> {
    const s = this.s;
    let verdict: EgressVerdict;
    if (!s || s.tenantId !== tenantId || s.status !== "running") verdict = { ok: false, reason: "the run is not running" };
    else {
      const decision = decideEgress(url, s.policy.egressAllow, platformHosts(this.env));
      const limit = s.policy.subrequestsPerRun;
      verdict = !decision.ok ? decision : limit !== null && s.usage.subrequests >= limit ? { ok: false, reason: `the run has used its ${limit} subrequests` } : { ok: true };
      if (verdict.ok) s.usage.subrequests += 1;
      else this.platformEvent("egress.denied", { method, url: redacted, reason: verdict.reason });
      await this.save();
    }
    return verdict;
  }

  /**
   * CPU time measured after the run (production tail events), set once: on the record, a
   * `run.metered` note on the log, the precise reason for a run Workers stopped, and — if the
   * run's ledger row was already sent — the row again, which the ledger writer applies to the
   * index, the usage row and the day's rollup (only while their CPU is unmeasured).
   */
  async meter(
    tenantId: string,
    script: string,
    m: { cpuMs: number; wallMs: number; outcome: string; reason?: string; exceptions?: { name: string; message: string }[] },
  ): Promise<"recorded" | "duplicate" | "unknown"> {
    const s = this.s;
    if (!s || s.tenantId !== tenantId || s.target.scriptName !== script) return "unknown";
    if (s.cpuMs !== null) return "duplicate";
    s.cpuMs = m.cpuMs;
    if (m.reason && s.status === "failed") s.error = m.reason;
    this.note("run.metered", { cpuMs: m.cpuMs, wallMs: m.wallMs, outcome: m.outcome, ...(m.exceptions?.length ? { exceptions: m.exceptions } : {}) });
    await this.save();
    if (s.settled.ledger) await this.env.LEDGER.send({ kind: "run", run: toRow(s), final: true });
    return "recorded";
  }

  // ---- events ----

  /**
   * The agent's events, in order. Refused once the run has ended (a late `waitUntil` cannot add to
   * a closed log); past the log's bounds only an `events.truncated` marker is kept. Returns how many
   * were stored, and whether the run is still open.
   */
  async append(tenantId: string, events: { type: string; data: unknown; at: number }[]): Promise<{ stored: number; open: boolean }> {
    const s = this.s;
    if (!s || s.tenantId !== tenantId || !isOpen(s.status)) return { stored: 0, open: false };
    let stored = 0;
    for (const e of events) if (this.store(e.type, e.data, e.at) !== null) stored++;
    await this.save();
    return { stored, open: true };
  }

  /** A platform-written event of a running run (a denial, a warning): bounded separately, then only counted. */
  async platform(tenantId: string, type: string, data: unknown): Promise<void> {
    const s = this.s;
    if (!s || s.tenantId !== tenantId || !isOpen(s.status)) return;
    this.platformEvent(type, data);
    await this.save();
  }

  /** A fact recorded after the run ended (webhook delivery): a few at most. */
  async recordNote(tenantId: string, type: string, data: unknown): Promise<void> {
    if (!this.s || this.s.tenantId !== tenantId) return;
    this.note(type, data);
    await this.save();
  }

  private platformEvent(type: string, data: unknown): void {
    const s = this.s!;
    s.platformEvents += 1;
    if (s.platformEvents <= MAX_PLATFORM_EVENTS) this.store(type, data, Date.now());
    else if (s.platformEvents === MAX_PLATFORM_EVENTS + 1) this.store("events.suppressed", { after: MAX_PLATFORM_EVENTS, type }, Date.now(), true);
  }

  private note(type: string, data: unknown): void {
    const s = this.s!;
    const notes = Number(this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM events WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM events WHERE type IN ('run.completed', 'run.failed'))").one().n);
    if (isOpen(s.status) || notes < MAX_NOTES) this.store(type, data, Date.now(), true);
  }

  /** Stores one event under the next seq, within the log's bounds; returns its seq (null if refused). */
  private store(type: string, data: unknown, at: number, always = false): number | null {
    const s = this.s!;
    const text = JSON.stringify(data ?? null);
    const size = type.length + text.length;
    if (!always && (s.truncated || s.eventCount >= MAX_EVENTS_PER_RUN || s.eventBytes + size > MAX_EVENT_BYTES_PER_RUN)) {
      if (!s.truncated) {
        s.truncated = true;
        this.store("events.truncated", { stored: s.eventCount, limit: { events: MAX_EVENTS_PER_RUN, bytes: MAX_EVENT_BYTES_PER_RUN } }, at, true);
      }
      return null;
    }
    const seq = ++s.seq;
    if (!always) {
      s.eventCount += 1;
      s.eventBytes += size;
    }
    this.ctx.storage.sql.exec("INSERT INTO events (seq, at, type, data) VALUES (?, ?, ?, ?)", seq, at, type, text);
    const terminal = type === "run.completed" || type === "run.failed";
    if (!terminal) {
      const frame = sseFrame(type, data ?? null, seq);
      for (const f of [...this.followers]) this.push(f, frame, false);
    }
    return seq;
  }

  /** Events after `after`, from the object or, once archived, from R2. */
  private async eventsAfter(after: number, limit: number): Promise<StoredEvent[]> {
    const s = this.s!;
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
    for (const r of this.ctx.storage.sql.exec<{ seq: number; at: number; type: string; data: string }>("SELECT seq, at, type, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?", from, limit - out.length)) {
      out.push({ seq: r.seq, at: r.at, type: r.type, data: JSON.parse(r.data) as Json });
    }
    return out;
  }

  // ---- reads ----

  private visible(caller: Caller | null): RunState | null {
    const s = this.s;
    if (!s) return null;
    if (caller && (s.tenantId !== caller.tenantId || (caller.endUser !== null && s.endUser !== caller.endUser))) return null;
    return s;
  }

  async view(caller: Caller): Promise<RunViewShape | null> {
    const s = this.visible(caller);
    return s ? runView(toRow(s)) : null;
  }

  /** The record as the platform needs it (queue consumer, webhooks); null when unknown. */
  async state(): Promise<RunState | null> {
    return this.s;
  }

  /** A page of the log; each event's data as JSON text (what the API sends on). */
  async events(caller: Caller | null, after: number, limit: number): Promise<{ events: { seq: number; at: number; type: string; data: string }[]; next: number | null } | null> {
    if (!this.visible(caller)) return null;
    const rows = await this.eventsAfter(after, limit + 1);
    const events = rows.slice(0, limit);
    return { events: events.map((e) => ({ ...e, data: JSON.stringify(e.data) })), next: rows.length > limit ? events.at(-1)!.seq : null };
  }

  /**
   * The run's log as server-sent events from after `after`, then live until the run ends: the
   * same ids as the first stream, so a client resumes with `Last-Event-ID`. The last event
   * (`run.completed` / `run.failed`) carries the whole run and its output.
   */
  async follow(caller: Caller, after: number): Promise<ReadableStream<Uint8Array> | null> {
    const s = this.visible(caller);
    if (!s) return null;
    const replay = await this.eventsAfter(after, MAX_EVENTS_PER_RUN + MAX_PLATFORM_EVENTS + MAX_NOTES + 10);
    let follower: Follower | null = null;
    const terminalOf = (e: StoredEvent) => e.type === "run.completed" || e.type === "run.failed";
    const terminal = replay.find(terminalOf);
    const output = terminal ? await this.storedOutput() : null;
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
          this.followers.add(follower);
          this.keepalive ??= setInterval(() => {
            for (const f of [...this.followers]) this.push(f, SSE_KEEPALIVE, false);
          }, 15_000);
        },
        cancel: () => {
          if (follower) this.drop(follower);
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
    );
  }

  private push(f: Follower, frame: Uint8Array, last: boolean): void {
    try {
      f.controller.enqueue(frame);
      if (last) {
        f.controller.close();
        this.drop(f);
      } else if ((f.controller.desiredSize ?? 0) < -MAX_FOLLOWER_BACKLOG_BYTES) {
        // A client far behind would make the object buffer without bound: it is cut off and
        // can resume from its last id.
        f.controller.error(new Error("the stream client fell too far behind"));
        this.drop(f);
      }
    } catch {
      this.drop(f);
    }
  }

  private drop(f: Follower): void {
    this.followers.delete(f);
    if (this.followers.size === 0 && this.keepalive !== null) {
      clearInterval(this.keepalive);
      this.keepalive = null;
    }
  }

  private terminalFrame(seq: number | null, view: RunViewShape): Uint8Array {
    const output = this.s!.status === "succeeded" && this.output.present ? this.output.value : null;
    return sseFrame(this.s!.status === "succeeded" ? "run.completed" : "run.failed", { ...view, output }, seq ?? undefined);
  }

  private async storedOutput(): Promise<unknown> {
    const s = this.s!;
    if (s.status !== "succeeded") return null;
    if (this.output.present) return this.output.value;
    const object = await this.env.BUCKET.get(resultKey(s.tenantId, s.id, ["output.json"]));
    return object ? object.json() : null;
  }

  // ---- time ----

  override async alarm(): Promise<void> {
    const s = this.s;
    if (!s) return;
    const now = Date.now();
    if (s.status === "running" && now >= s.startedAt! + s.timeoutMs + LOST_MARGIN_MS) {
      await this.end("failed", "The platform lost this run (its executor stopped before it ended).");
    } else if (s.status === "queued" && now >= s.createdAt + QUEUED_MAX_MS) {
      await this.end("failed", "The run waited in the queue too long and was never started.");
    } else if (s.status === "queued") {
      // Its queue message may have been lost: the tenant's lane offers it again (a duplicate finds it started).
      await tenantStub(this.env, s.tenantId).redispatch(s.tenantId, s.id).catch(() => {});
    }
    if (isOpen(s.status) && !s.indexed && now >= (s.startedAt ?? s.createdAt) + INDEX_RUNNING_AFTER_MS) await this.sendIndex();
    if (!isOpen(s.status)) {
      if (!s.settled.ledger || !s.settled.tenant || !s.settled.webhook) await this.settle();
      if (s.seq > s.archivedThrough && now >= s.finishedAt! + this.archiveAfterMs()) await this.archive();
      if (now >= s.finishedAt! + s.policy.retentionDays * DAY_MS) {
        await this.env.BUCKET.delete(archiveKey(s.tenantId, s.id));
        await this.ctx.storage.deleteAlarm();
        await this.ctx.storage.deleteAll();
        this.s = null;
        return;
      }
    }
    await this.schedule();
  }

  private archiveAfterMs(): number {
    const n = Number(this.env.EVENT_ARCHIVE_AFTER_MS);
    return Number.isFinite(n) && n >= 0 && this.env.EVENT_ARCHIVE_AFTER_MS !== undefined ? n : DEFAULT_ARCHIVE_AFTER_MS;
  }

  /** Moves the log to R2 (one NDJSON object, rewritten with any later notes) and out of the object. */
  private async archive(): Promise<void> {
    const s = this.s!;
    const events = await this.eventsAfter(0, Number.MAX_SAFE_INTEGER);
    await this.env.BUCKET.put(archiveKey(s.tenantId, s.id), events.map((e) => JSON.stringify(e)).join("\n") + "\n", {
      httpMetadata: { contentType: "application/x-ndjson" },
    });
    s.archivedThrough = s.seq;
    this.ctx.storage.sql.exec("DELETE FROM events WHERE seq <= ?", s.seq);
    await this.save();
  }

  private async sendIndex(): Promise<void> {
    const s = this.s!;
    try {
      await this.env.LEDGER.send({ kind: "run", run: toRow(s), final: false });
      s.indexed = true;
      await this.save();
    } catch (err) {
      console.error(JSON.stringify({ level: "error", event: "run-index-failed", runId: s.id, error: String(err) }));
    }
  }

  /** The one alarm: the next thing due — the deadline, a queue check, indexing, delivery, archive, retention. */
  private async schedule(): Promise<void> {
    const s = this.s;
    if (!s) return;
    const due: number[] = [];
    if (s.status === "running") due.push(s.startedAt! + s.timeoutMs + LOST_MARGIN_MS);
    if (s.status === "queued") due.push(Math.min(Date.now() + QUEUED_CHECK_MS, s.createdAt + QUEUED_MAX_MS));
    if (isOpen(s.status) && !s.indexed) due.push((s.startedAt ?? s.createdAt) + INDEX_RUNNING_AFTER_MS);
    if (!isOpen(s.status)) {
      if (!s.settled.ledger && s.lateUntil !== null) due.push(s.lateUntil);
      if (!s.settled.ledger || !s.settled.tenant || !s.settled.webhook) due.push(Date.now() + RETRY_MS);
      if (s.seq > s.archivedThrough) due.push(s.finishedAt! + this.archiveAfterMs());
      due.push(s.finishedAt! + s.policy.retentionDays * DAY_MS);
    }
    const next = Math.min(...due);
    if ((await this.ctx.storage.getAlarm()) !== next) await this.ctx.storage.setAlarm(next);
  }

  private async save(): Promise<void> {
    if (!this.s) return;
    await this.ctx.storage.put("run", this.s);
    await this.schedule();
  }
}
