/** A tenant's runs are spread over this many objects (by run id), so a hot tenant is not capped by one. */
export const RUN_SHARDS = 16;

/** FNV-1a: a stable, cheap spread of run ids over a tenant's run objects. */
function shardOf(runId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < runId.length; i++) h = Math.imul(h ^ runId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % RUN_SHARDS;
}

/** The name of the object that holds a run: one of its tenant's `RUN_SHARDS`. */
export const runObjectName = (tenantId: string, runId: string) => `${tenantId}/${shardOf(runId)}`;
