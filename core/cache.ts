const DEFAULT_MAX = 10_000;

/**
 * A small TTL cache for one isolate; entries past their time are refetched, the oldest evicted
 * when full. `registry`, when given, lets its owner clear a family of caches at once.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  constructor(
    private readonly ttlMs: number,
    registry?: Set<{ clear(): void }>,
    private readonly max = DEFAULT_MAX,
  ) {
    registry?.add(this);
  }

  async get(key: string, load: () => Promise<V>, now = Date.now()): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.until > now) return hit.value;
    // Concurrent misses each load: a promise shared across requests would run one request's
    // continuation in another's I/O context, which workerd refuses.
    const value = await load();
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, until: now + this.ttlMs });
    return value;
  }

  clear(): void {
    this.entries.clear();
  }
}
