// Time-series charts drawn by uPlot (canvas), sized to their container, in UTC. Each chart is a
// figure with a text summary for screen readers and its numbers in a table under "Data".
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { Head, Table } from "./ui";

export interface Series {
  label: string;
  values: number[];
  color: string;
  /** Bars (counts per bucket) or a line. */
  bars?: boolean;
}

const bars = uPlot.paths.bars!({ size: [0.7, 40], gap: 1 });

/** `times` are bucket starts in epoch seconds; one value per time in each series. */
export function Chart({ title, times, series, height = 220, unit }: { title: string; times: number[]; series: Series[]; height?: number; unit: "day" | "hour" }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const step = unit === "day" ? 86_400 : 3_600;
    const plot = new uPlot(
      {
        width: Math.max(280, el.clientWidth),
        height,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        // Half a bucket either side, so the first and last bars are whole.
        scales: { x: { time: true, range: (_u, min, max) => [min - step / 2, max + step / 2] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [
          { stroke: "#334155", grid: { stroke: "#e2e8f0" }, ...(unit === "day" ? { values: "{MM}-{DD}" } : {}) },
          { stroke: "#334155", grid: { stroke: "#e2e8f0" }, size: 60 },
        ],
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            ...(s.bars ? { fill: `${s.color}cc`, paths: bars, points: { show: false } } : { points: { show: times.length < 60 } }),
          })),
        ],
      },
      [times, ...series.map((s) => s.values)],
      el,
    );
    // Follows the container's width (window resizes, phone rotation).
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, series, height, unit]);

  const totals = series.map((s) => `${s.label}: ${s.values.reduce((a, b) => a + b, 0).toLocaleString("en-US")}`).join(", ");
  const label = (t: number) => new Date(t * 1000).toISOString().slice(0, unit === "day" ? 10 : 16).replace("T", " ");
  return (
    <figure class="chart">
      <figcaption>
        <span class="chart-title">{title}</span>
        <span class="legend">
          {series.map((s) => (
            <span key={s.label}>
              <i style={{ background: s.color }} aria-hidden="true" /> {s.label}
            </span>
          ))}
        </span>
      </figcaption>
      <div ref={box} class="plot" role="img" aria-label={`${title}, ${times.length} ${unit === "day" ? "days" : "hours"}. Totals: ${totals}.`} />
      <details>
        <summary>Data</summary>
        <Table label={`${title} data`}>
          <Head cols={[unit === "day" ? "Day (UTC)" : "Hour (UTC)", ...series.map((s) => s.label)]} num={series.map((s) => s.label)} />
          <tbody>
            {times.map((t, i) => (
              <tr key={t}>
                <td>{label(t)}</td>
                {series.map((s) => (
                  <td key={s.label} class="num">
                    {(s.values[i] ?? 0).toLocaleString("en-US")}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </Table>
      </details>
    </figure>
  );
}

/** Every bucket start from `from` to `to` (inclusive), so days or hours without runs show as zero. */
export function bucketRange(from: Date, to: Date, unit: "day" | "hour"): number[] {
  const step = unit === "day" ? 86_400 : 3_600;
  const start = Math.floor(from.getTime() / 1000 / step) * step;
  const end = Math.floor(to.getTime() / 1000 / step) * step;
  const out: number[] = [];
  for (let t = start; t <= end; t += step) out.push(t);
  return out;
}

/** Values of `rows` placed on `times` by their bucket start (missing buckets are 0). */
export function onBuckets<R>(times: number[], rows: R[], start: (r: R) => string, value: (r: R) => number): number[] {
  const at = new Map<number, number>();
  for (const r of rows) {
    const t = Date.parse(start(r).length === 10 ? `${start(r)}T00:00:00Z` : start(r)) / 1000;
    at.set(t, (at.get(t) ?? 0) + value(r));
  }
  return times.map((t) => at.get(t) ?? 0);
}

export const COLORS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#4b5563"];
