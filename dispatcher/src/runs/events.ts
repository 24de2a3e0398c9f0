/**
 * Appends an event to a run's log. The sequence number is taken inside the statement, which D1
 * runs atomically, so concurrent appends to one run never collide. Scoped by tenant.
 */
export function appendStatement(d1: D1Database, tenantId: string, runId: string, type: string, data: unknown, at = Date.now()): D1PreparedStatement {
  return d1
    .prepare(
      `INSERT INTO run_events (run_id, seq, at, type, data)
       SELECT ?1, COALESCE((SELECT MAX(seq) FROM run_events WHERE run_id = ?1), 0) + 1, ?2, ?3, ?4
       WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?1 AND tenant_id = ?5)`,
    )
    .bind(runId, at, type, JSON.stringify(data ?? null), tenantId);
}

export async function appendRunEvent(d1: D1Database, tenantId: string, runId: string, type: string, data: unknown): Promise<void> {
  await appendStatement(d1, tenantId, runId, type, data).run();
}

/** A run's share of the event log: enough for long streamed runs, bounded for the shared database. */
export const MAX_EVENTS_PER_RUN = 10_000;
export const MAX_EVENT_BYTES_PER_RUN = 8 * 1024 * 1024;

/**
 * A run's events on their way to D1: buffered and written in batches (a streamed answer can
 * emit hundreds of deltas), flushed when the buffer fills, when a quarter second has passed
 * since the last write, and at the end of the run.
 */
export class EventLog {
  private buffer: { type: string; data: unknown; at: number }[] = [];
  private lastFlush = Date.now();
  private writing: Promise<void> = Promise.resolve();
  private count = 0;
  private bytes = 0;
  private truncated = false;

  constructor(
    private readonly d1: D1Database,
    private readonly tenantId: string,
    private readonly runId: string,
  ) {}

  /**
   * Buffers an event; false once the run has used its share of the log (events are stored in the
   * one database every tenant shares, so a run may not flood it). The first refused event leaves
   * an `events.truncated` marker.
   */
  add(type: string, data: unknown): boolean {
    const size = type.length + JSON.stringify(data ?? null).length;
    if (this.count >= MAX_EVENTS_PER_RUN || this.bytes + size > MAX_EVENT_BYTES_PER_RUN) {
      if (!this.truncated) {
        this.truncated = true;
        this.buffer.push({ type: "events.truncated", data: { stored: this.count, limit: { events: MAX_EVENTS_PER_RUN, bytes: MAX_EVENT_BYTES_PER_RUN } }, at: Date.now() });
      }
      return false;
    }
    this.count += 1;
    this.bytes += size;
    this.buffer.push({ type, data, at: Date.now() });
    if (this.buffer.length >= 50 || Date.now() - this.lastFlush >= 250) void this.flush();
    return true;
  }

  /** Writes what is buffered; writes happen one after another, so the log keeps its order. */
  flush(): Promise<void> {
    const batch = this.buffer;
    this.buffer = [];
    this.lastFlush = Date.now();
    if (batch.length) {
      this.writing = this.writing
        .then(() => this.d1.batch(batch.map((e) => appendStatement(this.d1, this.tenantId, this.runId, e.type, e.data, e.at))))
        .then(
          () => undefined,
          (err) => console.error(JSON.stringify({ level: "error", event: "run-events-write-failed", runId: this.runId, error: String(err) })),
        );
    }
    return this.writing;
  }
}
