import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  beginResync,
  commit,
  compareKeys,
  emptyCounter,
  finishResync,
  page,
  release,
  reserve,
  settle,
  settled,
  touch,
  usedBytes,
  type Resync,
  type StorageCounter,
} from "./storage-bytes";

// Keys whose UTF-8 order differs from JavaScript's UTF-16 order ("😀" sorts after "\uFFFD" in R2).
const KEYS = ["a", "b", "context/x", "é", "\uFFFD", "😀", "z"];
const PAGE = 2;

/** R2's order, computed independently of the module: UTF-8 byte order is code point order. */
function r2Order(a: string, b: string): number {
  const x = [...a].map((ch) => ch.codePointAt(0)!);
  const y = [...b].map((ch) => ch.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

const op = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("put" as const), key: fc.nat(KEYS.length - 1), size: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 60 })) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("land" as const), i: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("commit" as const), i: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("fail" as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("lapse" as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("resync" as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("fetch" as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("process" as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("finish" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("limit" as const), limit: fc.integer({ min: 0, max: 200 }) }) },
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

interface Write {
  id: string;
  key: string;
  old: number;
  size: number;
  landed: boolean;
}

/**
 * A model of R2 and of the tenant's object: writes are reserved (one at a time per key, as the
 * object's key lock makes them), land in R2 some time later or never, and are committed,
 * released or lapse; recounts list R2 a page at a time, each page a snapshot taken when fetched,
 * with any of the above between fetching a page and processing it.
 */
class Model {
  r2 = new Map<string, number>();
  c: StorageCounter = emptyCounter();
  writes: Write[] = [];
  rs: Resync | null = null;
  fetched: { objects: { key: string; size: number }[]; truncated: boolean } | null = null;
  listed = false;
  n = 0;

  constructor(
    public limit: number,
    initial: Map<string, number>,
  ) {
    this.r2 = new Map(initial);
    // The first count: writes wait for it, so nothing happens in between.
    this.resync();
    while (!this.listed) {
      this.fetch();
      this.process();
    }
    this.finish();
  }

  stored(): number {
    let n = 0;
    for (const size of this.r2.values()) n += size;
    return n;
  }

  /** What R2 holds beyond what settled writes say: the landed writes not yet committed. */
  landedDelta(): number {
    return this.writes.filter((w) => w.landed).reduce((n, w) => n + w.size - w.old, 0);
  }

  put(key: string, size: number): void {
    if (this.writes.some((w) => w.key === key)) return; // waits for the key
    const old = this.r2.get(key) ?? 0;
    const id = `w${this.n++}`;
    const before = structuredClone(this.c);
    const decision = reserve(this.c, id, { key, old, size, until: 0 }, this.limit);
    if (!decision.ok) {
      expect(this.c).toEqual(before); // a refusal changes nothing
      expect(decision.delta).toBe(size - old);
      expect(decision.used + decision.delta).toBeGreaterThan(this.limit);
      return;
    }
    if (size > old) expect(usedBytes(this.c)).toBeLessThanOrEqual(this.limit);
    if (this.rs) touch(this.rs, key, old);
    this.writes.push({ id, key, old, size, landed: false });
  }

  pick(i: number, landed?: boolean): Write | undefined {
    const candidates = this.writes.filter((w) => landed === undefined || w.landed === landed);
    return candidates.length ? candidates[i % candidates.length] : undefined;
  }

  done(w: Write, actual: number): void {
    if (this.rs) settled(this.rs, w.key, actual);
    this.writes.splice(this.writes.indexOf(w), 1);
  }

  apply(o: Op): void {
    switch (o.kind) {
      case "put":
        return this.put(KEYS[o.key]!, o.size);
      case "land": {
        const w = this.pick(o.i, false);
        if (!w) return;
        w.landed = true;
        if (w.size === 0) this.r2.delete(w.key);
        else this.r2.set(w.key, w.size);
        return;
      }
      case "commit": {
        const w = this.pick(o.i, true);
        if (w && commit(this.c, w.id)) this.done(w, w.size);
        return;
      }
      case "fail": {
        const w = this.pick(o.i, false);
        if (w && release(this.c, w.id)) this.done(w, w.old);
        return;
      }
      case "lapse": {
        // The writer never came back: R2 says what the key holds, and a write not landed never will.
        const w = this.pick(o.i);
        if (!w) return;
        const actual = this.r2.get(w.key) ?? 0;
        settle(this.c, w.id, actual);
        this.done(w, actual);
        return;
      }
      case "resync":
        return this.resync();
      case "fetch":
        return this.fetch();
      case "process":
        return this.process();
      case "finish":
        return this.finish();
      case "limit":
        this.limit = o.limit;
        return;
    }
  }

  resync(): void {
    if (this.rs) return;
    this.rs = beginResync(this.c);
    this.fetched = null;
    this.listed = false;
  }

  fetch(): void {
    if (!this.rs || this.fetched || this.listed) return;
    const cursor = this.rs.cursor;
    const after = [...this.r2.keys()].filter((k) => cursor === null || r2Order(k, cursor) > 0).sort(r2Order);
    this.fetched = { objects: after.slice(0, PAGE).map((key) => ({ key, size: this.r2.get(key)! })), truncated: after.length > PAGE };
  }

  process(): void {
    if (!this.rs || !this.fetched) return;
    page(this.rs, this.fetched.objects);
    this.listed = !this.fetched.truncated;
    this.fetched = null;
  }

  finish(): void {
    if (!this.rs || !this.listed) return;
    finishResync(this.c, this.rs);
    this.rs = null;
  }
}

const initial = fc.dictionary(fc.constantFrom(...KEYS), fc.integer({ min: 1, max: 60 }), { maxKeys: KEYS.length }).map((d) => new Map(Object.entries(d)));

describe("storageBytes arithmetic", () => {
  it("keeps an exact count through any interleaving of puts, deletes, failures, lapses and recounts, never negative, never past the quota", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), initial, fc.array(op, { minLength: 10, maxLength: 150, size: "max" }), (limit, r2, ops) => {
        const m = new Model(limit, r2);
        // The first count is what R2 holds.
        expect(m.c.bytes).toBe(m.stored());
        let lowered = false;
        const withinFrom = m.stored() <= limit;
        for (const o of ops) {
          if (o.kind === "limit") lowered = true;
          m.apply(o);
          expect(m.c.bytes).toBeGreaterThanOrEqual(0);
          // Exact: settled writes plus the landed ones not yet settled are what R2 holds.
          expect(m.c.bytes + m.landedDelta()).toBe(m.stored());
          // Never below what R2 holds, so never lets a put past the quota unseen.
          expect(usedBytes(m.c)).toBeGreaterThanOrEqual(m.stored());
          if (!lowered && withinFrom) expect(usedBytes(m.c)).toBeLessThanOrEqual(limit);
        }
        // Once every write has settled, the count is R2's total.
        for (const w of [...m.writes]) {
          if (w.landed) commit(m.c, w.id);
          else release(m.c, w.id);
          m.done(w, w.landed ? w.size : w.old);
        }
        expect(m.c.bytes).toBe(m.stored());
        expect(usedBytes(m.c)).toBe(m.stored());
      }),
      { numRuns: 1000 },
    );
  });

  it("reserve/commit/release alone: growth is admitted only within the limit, shrinks always, and the counter never goes negative", () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant("reserve" as const), old: fc.nat(100), size: fc.nat(100) }),
      fc.record({ kind: fc.constant("commit" as const), i: fc.nat() }),
      fc.record({ kind: fc.constant("release" as const), i: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 150 }), fc.array(step, { maxLength: 80, size: "max" }), (limit, steps) => {
        const c = emptyCounter();
        const open: string[] = [];
        let n = 0;
        for (const s of steps) {
          if (s.kind === "reserve") {
            const used = usedBytes(c);
            const id = `r${n++}`;
            const d = reserve(c, id, { key: id, old: s.old, size: s.size, until: 0 }, limit);
            const grows = s.size > s.old;
            expect(d.ok).toBe(!grows || used + (s.size - s.old) <= limit);
            if (d.ok) open.push(id);
            else expect(usedBytes(c)).toBe(used);
          } else if (open.length) {
            const id = open.splice(s.i % open.length, 1)[0]!;
            if (s.kind === "commit") commit(c, id);
            else release(c, id);
          }
          expect(c.bytes).toBeGreaterThanOrEqual(0);
          // Commits and releases only ever lower what is used, so it never passes the limit.
          expect(usedBytes(c)).toBeLessThanOrEqual(limit);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("compares keys in R2's order (UTF-8 bytes), not JavaScript's", () => {
    expect("😀" < "\uFFFD").toBe(true);
    expect(compareKeys("😀", "\uFFFD")).toBeGreaterThan(0);
    expect(compareKeys("a", "ab")).toBeLessThan(0);
    expect(compareKeys("é", "é")).toBe(0);
  });
});
