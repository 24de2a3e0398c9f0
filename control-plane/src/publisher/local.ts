import { bundleKey } from "../../../core/scripts/bundle";
import type { PublishedVersion, Publisher } from "./types";

/**
 * Stores the bundle in R2 under the platform-only `scripts/` prefix (content-addressed, so a
 * retry rewrites the same object), then adds the version and activates it in one D1 batch.
 * If the batch fails, the previous version stays active and no version row is visible.
 */
export class LocalPublisher implements Publisher {
  constructor(
    private readonly d1: D1Database,
    private readonly bucket: R2Bucket,
  ) {}

  async publish({ tenantId, agent, bundle, sha256, size }: Parameters<Publisher["publish"]>[0]): Promise<PublishedVersion> {
    const key = bundleKey(tenantId, agent, sha256);
    await this.bucket.put(key, JSON.stringify(bundle), { httpMetadata: { contentType: "application/json" } });
    const version = await activateNewVersion(this.d1, { tenantId, agent, sha256, size, bundleKey: key, scriptName: null });
    return { agent, version, sha256, size };
  }
}

/**
 * One transaction: create the agent if new, insert version max+1, point the agent at it.
 * D1 runs a batch as a single transaction, so concurrent uploads cannot take the same number
 * and a run never sees an agent pointing at a version that does not exist.
 */
export async function activateNewVersion(
  d1: D1Database,
  v: { tenantId: string; agent: string; sha256: string; size: number; bundleKey: string; scriptName: string | null },
): Promise<number> {
  const now = Date.now();
  const [, inserted] = await d1.batch<{ version: number }>([
    d1
      .prepare(
        "INSERT INTO agents (tenant_id, name, active_version, created_at, updated_at) VALUES (?1, ?2, NULL, ?3, ?3) ON CONFLICT DO NOTHING",
      )
      .bind(v.tenantId, v.agent, now),
    d1
      .prepare(
        `INSERT INTO agent_versions (tenant_id, agent, version, sha256, size, bundle_key, script_name, created_at)
         SELECT ?1, ?2, COALESCE(MAX(version), 0) + 1, ?3, ?4, ?5, ?6, ?7 FROM agent_versions WHERE tenant_id = ?1 AND agent = ?2
         RETURNING version`,
      )
      .bind(v.tenantId, v.agent, v.sha256, v.size, v.bundleKey, v.scriptName, now),
    d1
      .prepare(
        `UPDATE agents SET active_version = (SELECT MAX(version) FROM agent_versions WHERE tenant_id = ?1 AND agent = ?2), updated_at = ?3
         WHERE tenant_id = ?1 AND name = ?2`,
      )
      .bind(v.tenantId, v.agent, now),
  ]);
  const version = inserted?.results[0]?.version;
  if (typeof version !== "number") throw new Error("version insert returned no row");
  return version;
}
