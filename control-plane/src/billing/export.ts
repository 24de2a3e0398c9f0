import { COLUMNS, linesFor, tenantUsage, type Period } from "../../../core/billing/lines";
import { formatMicros, type PlatformCosts, type PriceBook } from "../../../core/billing/prices";

/** RFC 4180 field quoting: only when needed, quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * The export as a byte stream, written tenant page by tenant page, so a large period never has to
 * be held in memory. Same ledger, same bytes: ordering is by tenant id, then the fixed line order.
 */
export function exportStream(d1: D1Database, p: Period, format: "csv" | "json", prices: PriceBook, costs: PlatformCosts, tenant?: string): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const usageIter = tenantUsage(d1, p, tenant);
  let started = false;
  let first = true;
  let billed = 0;
  let platform = 0;
  let tenants = 0;
  let done = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (done) return;
      if (!started) {
        started = true;
        controller.enqueue(encoder.encode(format === "csv" ? `${COLUMNS.join(",")}\r\n` : `{"period":${JSON.stringify(p.id)},"currency":"USD","columns":${JSON.stringify(COLUMNS)},"lines":[`));
        return;
      }
      const next = await usageIter.next();
      if (next.done) {
        done = true;
        if (format === "json") {
          const totals = { tenants, billedCost: formatMicros(billed), platformCost: formatMicros(platform), margin: formatMicros(billed - platform), platformBaseMonthly: costs.baseMonthly.toFixed(6) };
          controller.enqueue(encoder.encode(`],"totals":${JSON.stringify(totals)}}\n`));
        }
        controller.close();
        return;
      }
      tenants += 1;
      const { lines, billed: b, platform: pc } = linesFor(next.value, p, prices, costs);
      billed += b;
      platform += pc;
      const text =
        format === "csv"
          ? lines.map((l) => `${COLUMNS.map((c) => csvField(l[c])).join(",")}\r\n`).join("")
          : lines.map((l) => `${first ? ((first = false), "") : ","}${JSON.stringify(l)}`).join("");
      controller.enqueue(encoder.encode(text));
    },
  });
}
