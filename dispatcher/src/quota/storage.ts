import { logEvent } from "../../../core/log";
import type { DispatcherEnv } from "../env";
import { ProblemError } from "../../../core/http/problem";
import { tenantStub } from "../runs/stubs";
import type { StorageReservation } from "../tenant/tenant-object";
import { askTenant } from "./admission";
import type { StorageRefusal } from "./storage-bytes";

export type QuotaWrite<T> = { ok: true; value: T } | { ok: false; refusal: StorageRefusal };

/**
 * Makes one write under the tenant's `storageBytes` quota: reserves it with the tenant's object,
 * writes, then commits (or releases if the write threw). `metered` false — the tenant has no
 * quota — writes at once and asks nobody. `key` is relative to `tenants/<id>/`; `size` is the
 * key's size once written (0 for a delete). If the object cannot be reached nothing is written
 * (503, fail closed); a commit that is lost is settled by the object when the reservation lapses.
 */
export async function writeWithinQuota<T>(
  env: DispatcherEnv,
  tenantId: string,
  metered: boolean,
  key: string,
  size: number,
  write: () => Promise<T>,
): Promise<QuotaWrite<T>> {
  if (!metered) return { ok: true, value: await write() };
  const tenant = tenantStub(env, tenantId);
  const reservation = await askTenant<StorageReservation>(tenantId, async () => (await tenant.storageReserve(tenantId, key, size)) as StorageReservation, "nothing was stored");
  if (reservation.kind === "unmetered") return { ok: true, value: await write() };
  if (reservation.kind === "busy") {
    throw new ProblemError("unavailable", "Another write to this key is still being stored; nothing was stored. Retry shortly.", { headers: { "retry-after": "1" } });
  }
  if (reservation.kind === "refused") {
    const { limit, used, delta, old } = reservation;
    return { ok: false, refusal: { limit, used, delta, old, size: reservation.size } };
  }
  let value: T;
  try {
    value = await write();
  } catch (err) {
    await tenant.storageRelease(reservation.id).catch((e: unknown) => logLost(tenantId, "release", e));
    throw err;
  }
  await tenant.storageCommit(reservation.id).catch((e: unknown) => logLost(tenantId, "commit", e));
  return { ok: true, value };
}

function logLost(tenantId: string, what: string, err: unknown): void {
  logEvent("error", `storage-${what}-lost`, { tenantId, error: String(err) });
}
