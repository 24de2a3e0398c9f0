const DEFAULT_MAX = 10_000;

/**
 * A small TTL cache for one isolate; entries past their time are refetched, the oldest evicted
 * when full. `registry`, when given, lets its owner clear a family of caches at once.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number; refreshing: boolean }>();
  constructor(
    private readonly ttlMs: number,
    registry?: Set<{ clear(): void }>,
    private readonly max = DEFAULT_MAX,
  ) {
    registry?.add(this);
  }

  async get(key: string, load: () => Promise<V>, now = Date.now()): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.until > now) {
      // Refresh ahead: in an entry's last fifth, the first request to see it loads it again
      // while every other one keeps the cached value, so a steady stream of requests never
      // misses all at once when the entry expires. A value is still never older than the TTL.
      if (hit.refreshing || now < hit.until - this.ttlMs / 5) return hit.value;
      hit.refreshing = true;
      try {
        return await this.fill(key, load, now);
      } catch (err) {
        hit.refreshing = false;
        throw err;
      }
    }
    // Concurrent misses each load: a promise shared across requests would run one request's
    // continuation in another's I/O context, which workerd refuses.
    return this.fill(key, load, now);
  }

  private async fill(key: string, load: () => Promise<V>, now: number): Promise<V> {
    const value = await load();
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, until: now + this.ttlMs, refreshing: false });
    return value;
  }

  clear(): void {
    this.entries.clear();
  }
}
