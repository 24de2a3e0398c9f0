import type { Tenant } from "./db/schema";
import { DEFAULT_RETENTION_DAYS, parseQuotas, type QuotaName } from "./quotas";

/** A tenant's settings as both Workers use them: the stored columns read, defaults filled in. */
export interface TenantSettings {
  quotas: Record<QuotaName, number | null>;
  egressAllow: string[];
  retentionDays: number;
  queueWeight: number;
  defaultModel: string | null;
}

export function tenantSettings(row: Pick<Tenant, "quotas" | "egressAllow" | "retentionDays" | "queueWeight" | "defaultModel">): TenantSettings {
  return {
    quotas: parseQuotas(row.quotas),
    egressAllow: JSON.parse(row.egressAllow) as string[],
    retentionDays: row.retentionDays ?? DEFAULT_RETENTION_DAYS,
    queueWeight: row.queueWeight ?? 1,
    defaultModel: row.defaultModel,
  };
}
