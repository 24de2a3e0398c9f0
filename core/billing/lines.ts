import { amountMicros, formatMicros, modelPrice, type PlatformCosts, type PriceBook } from "./prices";

// A tenant's usage for a period, priced into billing lines: what the spend cap checks and what the
// billing export (control-plane/src/billing/export.ts) writes out.

/**
 * Column names follow the FinOps FOCUS specification where one fits; `x_` columns are Isoplane's
 * own (FOCUS reserves that prefix for extensions): the platform's estimated cost and the margin.
 */
export const COLUMNS = [
  "BillingPeriodStart",
  "BillingPeriodEnd",
  "ChargePeriodStart",
  "ChargePeriodEnd",
  "ChargeCategory",
  "ChargeDescription",
  "SubAccountId",
  "SubAccountName",
  "ServiceName",
  "SkuId",
  "ConsumedQuantity",
  "ConsumedUnit",
  "PricingQuantity",
  "PricingUnit",
  "ListUnitPrice",
  "ListCost",
  "BilledCost",
  "EffectiveCost",
  "BillingCurrency",
  "x_PlatformCost",
  "x_Margin",
] as const;

export type ExportLine = Record<(typeof COLUMNS)[number], string>;

interface TenantUsage {
  tenantId: string;
  name: string;
  runs: number;
  cpuMs: number;
  cpuMeasuredRuns: number;
  /** Tokens per model id; `tenantInput`/`tenantOutput`: the part served on the tenant's own key. */
  models: { model: string; input: number; output: number; tenantInput: number; tenantOutput: number }[];
  /** Sum over the period's measured days of the bytes stored that day (byte-days), and how many days were measured. */
  storageByteDays: number;
  storageDays: number;
}

export interface Period {
  /** `YYYY-MM` */
  id: string;
  days: number;
  start: string;
  end: string;
  firstDay: string;
  nextFirstDay: string;
}

export function period(id: string): Period {
  const [y, m] = id.split("-").map(Number) as [number, number];
  const start = new Date(Date.UTC(y, m - 1, 1));
  const end = new Date(Date.UTC(y, m, 1));
  return {
    id,
    days: Math.round((end.getTime() - start.getTime()) / 86_400_000),
    start: start.toISOString(),
    end: end.toISOString(),
    firstDay: start.toISOString().slice(0, 10),
    nextFirstDay: end.toISOString().slice(0, 10),
  };
}

/** The priced lines of one tenant for the period, in a fixed order (runs, CPU, then tokens by model). */
export function linesFor(u: TenantUsage, p: Period, prices: PriceBook, costs: PlatformCosts): { lines: ExportLine[]; billed: number; platform: number } {
  const lines: ExportLine[] = [];
  let billed = 0;
  let platform = 0;
  const add = (sku: string, description: string, consumed: number, consumedUnit: string, pricingQuantity: number, pricingUnit: string, unitPrice: number, platformMicros: number) => {
    const cost = amountMicros(pricingQuantity, unitPrice);
    billed += cost;
    platform += platformMicros;
    lines.push({
      BillingPeriodStart: p.start,
      BillingPeriodEnd: p.end,
      ChargePeriodStart: p.start,
      ChargePeriodEnd: p.end,
      ChargeCategory: "Usage",
      ChargeDescription: description,
      SubAccountId: u.tenantId,
      SubAccountName: u.name,
      ServiceName: "Isoplane",
      SkuId: sku,
      ConsumedQuantity: String(consumed),
      ConsumedUnit: consumedUnit,
      PricingQuantity: String(pricingQuantity),
      PricingUnit: pricingUnit,
      ListUnitPrice: String(unitPrice),
      ListCost: formatMicros(cost),
      BilledCost: formatMicros(cost),
      EffectiveCost: formatMicros(cost),
      BillingCurrency: "USD",
      x_PlatformCost: formatMicros(platformMicros),
      x_Margin: formatMicros(cost - platformMicros),
    });
  };
  add("runs", "Agent runs", u.runs, "Runs", u.runs, "Runs", prices.perRun, amountMicros(u.runs, costs.perMillionRequests / 1_000_000));
  add(
    "cpu-ms",
    u.cpuMeasuredRuns === u.runs ? "CPU time" : `CPU time (measured for ${u.cpuMeasuredRuns} of ${u.runs} runs; the rest not measured)`,
    u.cpuMs,
    "Milliseconds",
    u.cpuMs / 1_000_000,
    "1M CPU milliseconds",
    prices.perMillionCpuMs,
    amountMicros(u.cpuMs / 1_000_000, costs.perMillionCpuMs),
  );
  if (u.storageDays > 0) {
    // Byte-days over the month's days: a month-long average, in GB-months. Unmeasured days count as empty.
    const gbMonths = u.storageByteDays / 1e9 / p.days;
    add("storage-gb-month", `R2 storage (measured on ${u.storageDays} of ${p.days} days)`, u.storageByteDays, "Byte-days", gbMonths, "GB-months", prices.perGbMonthStored, amountMicros(gbMonths, costs.perGbMonthStored));
  }
  for (const m of u.models) {
    const input = m.input - m.tenantInput;
    const output = m.output - m.tenantOutput;
    // Tokens on the platform's keys; a model used only on the tenant's own key has none.
    if (input > 0 || output > 0 || (m.tenantInput === 0 && m.tenantOutput === 0)) {
      add(`input-tokens:${m.model}`, `Model input tokens (${m.model})`, input, "Tokens", input / 1000, "1K tokens", modelPrice(prices.perThousandInputTokens, m.model), amountMicros(input / 1000, modelPrice(costs.perThousandInputTokens, m.model)));
      add(`output-tokens:${m.model}`, `Model output tokens (${m.model})`, output, "Tokens", output / 1000, "1K tokens", modelPrice(prices.perThousandOutputTokens, m.model), amountMicros(output / 1000, modelPrice(costs.perThousandOutputTokens, m.model)));
    }
    // Tokens on the tenant's own key: the provider bills the tenant; here they are shown, at no charge and no cost.
    if (m.tenantInput > 0 || m.tenantOutput > 0) {
      add(`input-tokens:${m.model}:tenant-key`, `Model input tokens (${m.model}, tenant's own key)`, m.tenantInput, "Tokens", m.tenantInput / 1000, "1K tokens", 0, 0);
      add(`output-tokens:${m.model}:tenant-key`, `Model output tokens (${m.model}, tenant's own key)`, m.tenantOutput, "Tokens", m.tenantOutput / 1000, "1K tokens", 0, 0);
    }
  }
  return { lines, billed, platform };
}

// The reads below are raw SQL on purpose: a UNION of two rollups and grouped sums over pages of
// tenants, in one D1 batch; drizzle's builder would need one query per shape and more round trips.

/** Tenants a page: their ids and the period's two days are bound to one statement, and D1 binds at most 100 parameters. */
const PAGE = 98;

/**
 * Tenants with usage in the period, a page at a time, each with its figures — read from the daily
 * rollups (kept in the ledger's own transactions), so the cost does not grow with the runs.
 */
export async function* tenantUsage(d1: D1Database, p: Period, tenant?: string): AsyncGenerator<TenantUsage> {
  let cursor = "";
  for (;;) {
    const ids = (
      await d1
        .prepare(
          `SELECT tenant_id FROM (SELECT tenant_id FROM usage_daily WHERE day >= ?1 AND day < ?2
                                  UNION SELECT tenant_id FROM storage_daily WHERE day >= ?1 AND day < ?2 AND bytes > 0)
           WHERE tenant_id > ?3 ${tenant ? "AND tenant_id = ?4" : ""} ORDER BY tenant_id LIMIT ${PAGE}`,
        )
        .bind(p.firstDay, p.nextFirstDay, cursor, ...(tenant ? [tenant] : []))
        .all<{ tenant_id: string }>()
    ).results.map((r) => r.tenant_id);
    if (!ids.length) return;
    const marks = ids.map((_, i) => `?${i + 3}`).join(",");
    const [totals, models, names, stored] = await d1.batch<Record<string, string | number>>([
      d1
        .prepare(
          `SELECT tenant_id, SUM(runs) AS runs, SUM(cpu_ms) AS cpu, SUM(cpu_measured_runs) AS measured
           FROM usage_daily WHERE day >= ?1 AND day < ?2 AND tenant_id IN (${marks}) GROUP BY tenant_id`,
        )
        .bind(p.firstDay, p.nextFirstDay, ...ids),
      d1
        .prepare(
          `SELECT tenant_id, model, SUM(input_tokens) AS input, SUM(output_tokens) AS output,
                  SUM(tenant_input_tokens) AS tenant_input, SUM(tenant_output_tokens) AS tenant_output
           FROM usage_daily_models WHERE day >= ?1 AND day < ?2 AND tenant_id IN (${marks})
           GROUP BY tenant_id, model ORDER BY tenant_id, model`,
        )
        .bind(p.firstDay, p.nextFirstDay, ...ids),
      d1.prepare(`SELECT id, name FROM tenants WHERE id IN (${ids.map((_, i) => `?${i + 1}`).join(",")})`).bind(...ids),
      d1
        .prepare(
          `SELECT tenant_id, SUM(bytes) AS byte_days, COUNT(*) AS days FROM storage_daily
           WHERE day >= ?1 AND day < ?2 AND tenant_id IN (${marks}) GROUP BY tenant_id`,
        )
        .bind(p.firstDay, p.nextFirstDay, ...ids),
    ]);
    for (const id of ids) {
      const t = totals!.results.find((r) => r.tenant_id === id);
      const s = stored!.results.find((r) => r.tenant_id === id);
      yield {
        tenantId: id,
        name: String(names!.results.find((r) => r.id === id)?.name ?? ""),
        runs: Number(t?.runs ?? 0),
        cpuMs: Number(t?.cpu ?? 0),
        cpuMeasuredRuns: Number(t?.measured ?? 0),
        storageByteDays: Number(s?.byte_days ?? 0),
        storageDays: Number(s?.days ?? 0),
        models: models!.results.filter((r) => r.tenant_id === id).map((r) => ({
          model: String(r.model),
          input: Number(r.input),
          output: Number(r.output),
          tenantInput: Number(r.tenant_input ?? 0),
          tenantOutput: Number(r.tenant_output ?? 0),
        })),
      };
    }
    cursor = ids.at(-1)!;
  }
}
