import { useLocation } from "preact-iso";
import { get, qs, type Run } from "../api";
import { Empty, Field, Loaded, Pager, useLoad, useQuery, useTitle } from "../ui";
import { RunTable } from "./overview";

const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled", "timed_out"];
const FILTERS = ["tenant", "agent", "status", "from", "to"] as const;

/** A datetime-local value read as UTC ("2026-12-01T10:00" → ISO), and back. */
const toIso = (local: string) => (local ? new Date(`${local}:00Z`).toISOString() : "");
const toLocal = (iso: string | undefined) => (iso && !Number.isNaN(Date.parse(iso)) ? new Date(iso).toISOString().slice(0, 16) : "");

/**
 * Every tenant's runs, newest first, filtered by tenant, agent, status and creation time. The
 * filters and the page are the URL's query, so a view can be bookmarked and shared.
 */
export function RunsPage() {
  useTitle("Runs");
  const { route } = useLocation();
  const { cursor, ...filters } = useQuery(...FILTERS, "cursor");
  const key = JSON.stringify({ ...filters, cursor });
  const runs = useLoad((signal) => get<{ runs: Run[]; cursor: string | null }>(`/admin/runs${qs({ ...filters, cursor, limit: 25 })}`, signal), [key]);

  const apply = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const value = (name: string) => String(form.get(name) ?? "").trim();
    route(`/dashboard/runs${qs({ tenant: value("tenant"), agent: value("agent"), status: value("status"), from: toIso(value("from")), to: toIso(value("to")) })}`);
  };
  const filtered = FILTERS.some((f) => filters[f]);

  return (
    <section>
      <h1>Runs</h1>
      <form class="filters" role="search" aria-label="Filter runs" onSubmit={apply} key={key}>
        <Field label="Tenant id">{(a) => <input {...a} name="tenant" defaultValue={filters.tenant} placeholder="ten_…" maxLength={64} />}</Field>
        <Field label="Agent">{(a) => <input {...a} name="agent" defaultValue={filters.agent} maxLength={63} />}</Field>
        <Field label="Status">
          {(a) => (
            <select {...a} name="status" value={filters.status}>
              <option value="">any</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s.replace("_", " ")}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Created from (UTC)">{(a) => <input {...a} type="datetime-local" name="from" defaultValue={toLocal(filters.from)} />}</Field>
        <Field label="Created to (UTC)">{(a) => <input {...a} type="datetime-local" name="to" defaultValue={toLocal(filters.to)} />}</Field>
        <div class="actions">
          <button type="submit" class="primary">
            Apply filters
          </button>
          {filtered && <a href="/dashboard/runs">Clear</a>}
        </div>
      </form>
      <Loaded state={runs} what="runs">
        {({ runs: list, cursor: next }) =>
          list.length === 0 ? (
            <Empty>{filtered ? "No run matches these filters." : "No runs yet."} Runs appear here within about two seconds of starting.</Empty>
          ) : (
            <>
              <RunTable runs={list} label="Runs" />
              <Pager href={(c) => `/dashboard/runs${qs({ ...filters, cursor: c })}`} cursor={cursor} next={next}>
                <button type="button" class="link" onClick={runs.reload}>
                  Refresh
                </button>
              </Pager>
            </>
          )
        }
      </Loaded>
    </section>
  );
}
