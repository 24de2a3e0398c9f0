const DEFAULT_MAX = 10_000;

/**
 * A small TTL cache for one isolate; entries past their time are refetched, the oldest evicted
 * when full. `registry`, when given, lets its owner clear a family of caches at once.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  /** Loads under way: concurrent misses of one key share one load (no stampede when an entry lapses). */
  private readonly loading = new Map<string, Promise<V>>();
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
    const pending = this.loading.get(key);
    if (pending) return pending;
    const loaded = load().then(
      (value) => {
        this.loading.delete(key);
        if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
        this.entries.set(key, { value, until: now + this.ttlMs });
        return value;
      },
      (err: unknown) => {
        this.loading.delete(key);
        throw err;
      },
    );
    this.loading.set(key, loaded);
    return loaded;
  }

  clear(): void {
    this.entries.clear();
    this.loading.clear();
  }
}
