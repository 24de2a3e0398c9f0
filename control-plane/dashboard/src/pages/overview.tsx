import { useEffect, useMemo } from "preact/hooks";
import { get, qs, type Overview, type Run } from "../api";
import { bucketRange, Chart, onBuckets } from "../chart";
import { Empty, fmtDuration, fmtTime, Head, Loaded, Status, Table, useLoad, useTitle } from "../ui";

/** Runs and failures per day (30 days), tenants by status, top tenants by spend, runs running now. */
export function OverviewPage() {
  useTitle("Overview");
  const overview = useLoad((signal) => get<Overview>("/admin/overview", signal), []);
  const running = useLoad((signal) => get<{ runs: Run[]; cursor: string | null }>(`/admin/runs${qs({ status: "running", limit: 20 })}`, signal), []);
  // Running runs change by the second: refreshed every 5 s while the page is open.
  useEffect(() => {
    const timer = setInterval(running.reload, 5000);
    return () => clearInterval(timer);
  }, [running.reload]);

  return (
    <section>
      <h1>Overview</h1>
      <Loaded state={overview} what="the overview">
        {(o) => <OverviewBody overview={o} />}
      </Loaded>
      <h2>Running now</h2>
      <Loaded state={running} what="running runs">
        {({ runs, cursor }) =>
          runs.length === 0 ? (
            <Empty>No run is running.</Empty>
          ) : (
            <>
              <RunTable runs={runs} label="Runs running now" />
              {cursor && (
                <p>
                  <a href="/dashboard/runs?status=running">All running runs</a>
                </p>
              )}
            </>
          )
        }
      </Loaded>
    </section>
  );
}

function OverviewBody({ overview }: { overview: Overview }) {
  const { times, series } = useMemo(() => {
    const to = new Date();
    const times = bucketRange(new Date(to.getTime() - 29 * 86_400_000), to, "day");
    return {
      times,
      series: [
        { label: "Runs", color: "#2563eb", bars: true, values: onBuckets(times, overview.days, (d) => d.day, (d) => d.runs) },
        { label: "Failures", color: "#dc2626", bars: true, values: onBuckets(times, overview.days, (d) => d.day, (d) => d.failures) },
      ],
    };
  }, [overview]);
  const statuses = ["active", "suspended", "deleted"];
  return (
    <>
      <ul class="stats" aria-label="Tenants by status">
        {statuses.map((s) => (
          <li key={s}>
            <a href={`/dashboard/tenants${qs({ status: s === "active" ? "" : s })}`}>
              <span class="stat">{(overview.tenants[s] ?? 0).toLocaleString("en-US")}</span> <span class="stat-label">{s} tenants</span>
            </a>
          </li>
        ))}
      </ul>
      <Chart title="Runs and failures per day, last 30 days (UTC)" times={times} series={series} unit="day" />
      <h2>Top tenants by spend this month</h2>
      {overview.topTenants.length === 0 ? (
        <Empty>No usage this month yet.</Empty>
      ) : (
        <Table label="Top tenants by spend">
          <Head cols={["Tenant", "Billed (USD)", "Platform cost (USD)"]} num={["Billed (USD)", "Platform cost (USD)"]} />
          <tbody>
            {overview.topTenants.map((t) => (
              <tr key={t.tenantId}>
                <td>
                  <a href={`/dashboard/tenants/${t.tenantId}`}>{t.name}</a> <code class="id">{t.tenantId}</code>
                </td>
                <td class="num">{t.billedCost}</td>
                <td class="num">{t.platformCost}</td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
    </>
  );
}

/** Runs as a table, linking to each run's page. */
export function RunTable({ runs, label, showTenant = true }: { runs: Run[]; label: string; showTenant?: boolean }) {
  return (
    <Table label={label}>
      <Head cols={["Run", ...(showTenant ? ["Tenant"] : []), "Agent", "Status", "Created", "Duration", "Tokens"]} num={["Duration", "Tokens"]} />
      <tbody>
        {runs.map((r) => (
          <tr key={r.id}>
            <td>
              <a href={`/dashboard/runs/${r.id}`}>
                <code>{r.id}</code>
              </a>
            </td>
            {showTenant && (
              <td>
                <a href={`/dashboard/tenants/${r.tenantId}`}>
                  <code>{r.tenantId}</code>
                </a>
              </td>
            )}
            <td>
              {r.agent} <span class="muted">v{r.version}</span>
            </td>
            <td>
              <Status value={r.status} />
            </td>
            <td>{fmtTime(r.createdAt)}</td>
            <td class="num">{fmtDuration(r.startedAt, r.finishedAt)}</td>
            <td class="num">{((r.usage.inputTokens ?? 0) + (r.usage.outputTokens ?? 0)).toLocaleString("en-US")}</td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}
