/**
 * The `storageBytes` arithmetic: a running count of what a tenant keeps under `tenants/<id>/`,
 * kept by the tenant's object. Pure data and plain functions, so the rules can be checked by
 * properties (`test/storage-bytes.property.test.ts`); the object does the I/O around them.
 *
 * A put is three steps: `reserve` (before the R2 put: the key's size now is `old`, the new one
 * `size`; growth beyond the quota is refused, nothing counted), then `commit` once stored or
 * `release` if the put failed. Puts to one key are serialised by the object, so each counts its
 * exact delta, `size - old`. A delete is a put of size 0. Growth in flight counts against the
 * quota at once; a shrink counts once it is stored (so the count is never below what R2 holds).
 */

export interface Reservation {
  /** The key, relative to `tenants/<id>/`. */
  key: string;
  /** Bytes the key held when the reservation was made (0 if absent). */
  old: number;
  /** Bytes it holds once the write is stored (0 for a delete). */
  size: number;
  /** When the reservation lapses if neither commit nor release arrives (ms since the epoch). */
  until: number;
}

export interface StorageCounter {
  /** Bytes stored as far as settled writes say. */
  bytes: number;
  /** Writes under way, by reservation id. */
  pending: Record<string, Reservation>;
}

export const emptyCounter = (): StorageCounter => ({ bytes: 0, pending: {} });

/** What a reservation can still add. */
export const growth = (r: Reservation): number => Math.max(0, r.size - r.old);

/** What the quota is checked against: stored bytes plus the growth of writes under way. */
export function usedBytes(c: StorageCounter): number {
  let used = c.bytes;
  for (const r of Object.values(c.pending)) used += growth(r);
  return used;
}

export type ReserveDecision = { ok: true } | { ok: false; limit: number; used: number; delta: number };

/**
 * Admits a write or refuses it, atomically (no I/O): it is refused only if it grows the key and
 * the growth would take the used bytes over `limit`. A shrink or a same-size overwrite is always
 * admitted, even over the quota (so a tenant over a lowered quota can make room). A refusal
 * changes nothing.
 */
export function reserve(c: StorageCounter, id: string, r: Reservation, limit: number): ReserveDecision {
  const delta = r.size - r.old;
  const used = usedBytes(c);
  if (delta > 0 && used + delta > limit) return { ok: false, limit, used, delta };
  c.pending[id] = r;
  return { ok: true };
}

/**
 * A write is over and the key holds `actual` bytes: its size once stored (commit), its old size
 * when the put failed (release), or what R2 says when the reservation lapsed. Returns the
 * reservation, or null if it was already settled.
 */
export function settle(c: StorageCounter, id: string, actual: number): Reservation | null {
  const r = c.pending[id];
  if (!r) return null;
  delete c.pending[id];
  c.bytes = Math.max(0, c.bytes + actual - r.old);
  return r;
}

export const commit = (c: StorageCounter, id: string): Reservation | null => settle(c, id, c.pending[id]?.size ?? 0);
export const release = (c: StorageCounter, id: string): Reservation | null => settle(c, id, c.pending[id]?.old ?? 0);

/** Reservations whose writer never came back. */
export const lapsed = (c: StorageCounter, now: number): string[] => Object.keys(c.pending).filter((id) => c.pending[id]!.until <= now);

// ---- resync: recounting from an R2 list while writes go on ----

/**
 * A recount in progress. R2 lists keys in UTF-8 byte order, one page at a time, each page a
 * snapshot taken when it was fetched; writes go on between pages. For every key written through
 * the object during the recount ("touched"), the recount remembers what the list counted for it
 * (`listed`) and what the key holds as far as settled writes say (`known`), and swaps the one for
 * the other at the end — so writes through the object during a recount are counted exactly once.
 */
export interface Resync {
  /** The last key of the last page processed (keys at or before it are behind the list). */
  cursor: string | null;
  /** Sum of every listed object's size. */
  total: number;
  touched: Map<string, { listed: number | undefined; known: number }>;
}

export function beginResync(c: StorageCounter): Resync {
  const rs: Resync = { cursor: null, total: 0, touched: new Map() };
  // Writes already under way: the list may or may not see them; what they held before is known.
  for (const r of Object.values(c.pending)) if (!rs.touched.has(r.key)) rs.touched.set(r.key, { listed: undefined, known: r.old });
  return rs;
}

const encoder = new TextEncoder();

/** R2's key order: UTF-8 bytes (JavaScript's `<` compares UTF-16 units, which differs past U+FFFF). */
export function compareKeys(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/**
 * A write to `key` was admitted during the recount (called in the same step as `reserve`). If
 * the list is already past the key, the page that covered it was taken before this write could
 * land, so it counted `old`; otherwise the page will say what it counted.
 */
export function touch(rs: Resync, key: string, old: number): void {
  if (rs.touched.has(key)) return;
  const behind = rs.cursor !== null && compareKeys(key, rs.cursor) <= 0;
  rs.touched.set(key, { listed: behind ? old : undefined, known: old });
}

/** A touched key's write settled: the key now holds `actual` bytes. */
export function settled(rs: Resync, key: string, actual: number): void {
  const t = rs.touched.get(key);
  if (t) t.known = actual;
}

/** One listed page, in list order (keys relative to the tenant's prefix). */
export function page(rs: Resync, objects: readonly { key: string; size: number }[]): void {
  for (const o of objects) {
    rs.total += o.size;
    const t = rs.touched.get(o.key);
    if (t && t.listed === undefined) t.listed = o.size;
  }
  const last = objects[objects.length - 1];
  if (last) rs.cursor = last.key;
}

/** The list is complete: the count becomes what it listed, with each touched key's listed size replaced by the known one. */
export function finishResync(c: StorageCounter, rs: Resync): void {
  let bytes = rs.total;
  for (const t of rs.touched.values()) bytes += t.known - (t.listed ?? 0);
  c.bytes = Math.max(0, bytes);
}

// ---- how a refusal reads ----

export interface StorageRefusal {
  limit: number;
  used: number;
  delta: number;
  old: number;
  size: number;
}

/** The 413 problem's detail (`PUT /v1/context/{key}`). */
export function refusalDetail(r: StorageRefusal, key: string): string {
  const replacing = r.old > 0 ? `, replacing ${r.old}` : "";
  return (
    `Storing ${r.size} bytes at "${key}"${replacing} would add ${r.delta} bytes to the ${r.used} the tenant stores, ` +
    `over its storageBytes quota of ${r.limit} bytes. Nothing was stored.`
  );
}

/** The error `env.STORAGE.put` throws to the agent. */
export function refusalMessage(r: StorageRefusal): string {
  return (
    `STORAGE.put: the tenant's storageBytes quota (${r.limit} bytes) would be exceeded: ${r.used} bytes are stored ` +
    `and this put would add ${r.delta}; nothing was stored.`
  );
}
