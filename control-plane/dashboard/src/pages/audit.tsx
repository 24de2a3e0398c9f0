import { useLocation } from "preact-iso";
import { get, qs, type AuditEntry } from "../api";
import { Empty, Field, fmtTime, Head, Loaded, Pager, Table, useLoad, useQuery, useTitle } from "../ui";

/** Who did what to which tenant, when; filterable by tenant and action (in the URL). */
export function AuditPage() {
  useTitle("Audit log");
  const { route } = useLocation();
  const { tenant, action, cursor } = useQuery("tenant", "action", "cursor");
  const log = useLoad((signal) => get<{ entries: AuditEntry[]; cursor: string | null }>(`/admin/audit${qs({ tenant, action, cursor, limit: 50 })}`, signal), [tenant, action, cursor]);
  return (
    <section>
      <h1>Audit log</h1>
      <form
        class="filters"
        role="search"
        aria-label="Filter the audit log"
        key={`${tenant}|${action}`}
        onSubmit={(e) => {
          e.preventDefault();
          const form = new FormData(e.currentTarget);
          route(`/dashboard/audit${qs({ tenant: String(form.get("tenant") ?? "").trim(), action: String(form.get("action") ?? "").trim() })}`);
        }}
      >
        <Field label="Tenant id">{(a) => <input {...a} name="tenant" defaultValue={tenant} placeholder="ten_…" maxLength={64} />}</Field>
        <Field label="Action">{(a) => <input {...a} name="action" defaultValue={action} placeholder="tenant.update" maxLength={64} />}</Field>
        <div class="actions">
          <button type="submit" class="primary">
            Filter
          </button>
          {(tenant || action) && <a href="/dashboard/audit">Clear</a>}
        </div>
      </form>
      <Loaded state={log} what="the audit log">
        {({ entries, cursor: next }) =>
          entries.length === 0 ? (
            <Empty>No audit entries{tenant || action ? " match these filters" : " yet"}.</Empty>
          ) : (
            <>
              <Table label="Audit log">
                <Head cols={["When", "Actor", "Tenant", "Action", "Target", "Detail"]} />
                <tbody>
                  {entries.map((e) => (
                    <tr key={e.id}>
                      <td>{fmtTime(e.at)}</td>
                      <td>
                        <code>{e.actor}</code>
                      </td>
                      <td>
                        {e.tenantId ? (
                          <a href={`/dashboard/audit${qs({ tenant: e.tenantId, action })}`}>
                            <code>{e.tenantId}</code>
                          </a>
                        ) : (
                          "—"
                        )}
                      </td>
                      <td>{e.action}</td>
                      <td>{e.target ? <code>{e.target}</code> : "—"}</td>
                      <td>
                        <code class="data">{e.detail ? JSON.stringify(e.detail) : ""}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </Table>
              <Pager href={(c) => `/dashboard/audit${qs({ tenant, action, cursor: c })}`} cursor={cursor} next={next} />
            </>
          )
        }
      </Loaded>
    </section>
  );
}
