import { useLocation } from "preact-iso";
import { useState } from "preact/hooks";
import { api, get, qs, type Tenant } from "../api";
import { ConfirmButton, Empty, ErrorNote, Field, fmtTime, Head, Loaded, Pager, Status, submitting, Table, useAction, useLoad, useQuery, useTitle } from "../ui";

/** Search, create, suspend/activate and delete tenants. The search lives in the URL (?q=&status=&cursor=). */
export function TenantsPage() {
  useTitle("Tenants");
  const { route } = useLocation();
  const { q, status, cursor } = useQuery("q", "status", "cursor");
  const list = useLoad((signal) => get<{ tenants: Tenant[]; cursor: string | null }>(`/admin/tenants${qs({ q, status, cursor, limit: 50 })}`, signal), [q, status, cursor]);

  const search = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    route(`/dashboard/tenants${qs({ q: String(form.get("q") ?? "").trim(), status: String(form.get("status") ?? "") })}`);
  };

  return (
    <section>
      <h1>Tenants</h1>
      <CreateTenant onCreated={(t) => route(`/dashboard/tenants/${t.id}`)} />
      <h2>All tenants</h2>
      <form class="filters" role="search" onSubmit={search} key={`${q}|${status}`}>
        <Field label="Name or id">{(a) => <input {...a} name="q" type="search" defaultValue={q} maxLength={200} />}</Field>
        <Field label="Status">
          {(a) => (
            <select {...a} name="status" value={status}>
              <option value="">active and suspended</option>
              <option value="active">active</option>
              <option value="suspended">suspended</option>
              <option value="deleted">deleted</option>
            </select>
          )}
        </Field>
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      <Loaded state={list} what="tenants">
        {({ tenants, cursor: next }) =>
          tenants.length === 0 ? (
            <Empty>{q || status ? "No tenant matches this search." : "No tenants yet: create the first one above."}</Empty>
          ) : (
            <>
              <Table label="Tenants">
                <Head cols={["Name", "Id", "Status", "Created", "Actions"]} />
                <tbody>
                  {tenants.map((t) => (
                    <TenantRow key={t.id} tenant={t} changed={list.reload} />
                  ))}
                </tbody>
              </Table>
              <Pager href={(c) => `/dashboard/tenants${qs({ q, status, cursor: c })}`} cursor={cursor} next={next} />
            </>
          )
        }
      </Loaded>
    </section>
  );
}

function CreateTenant({ onCreated }: { onCreated: (t: Tenant) => void }) {
  const [name, setName] = useState("");
  const create = useAction(async () => onCreated(await api<Tenant>("POST", "/admin/tenants", { name })));
  const errors = create.error?.fieldErrors() ?? {};
  return (
    <form class="card inline-form" aria-label="Create a tenant" onSubmit={submitting(create.run)}>
      <h2>Create a tenant</h2>
      <Field label="Name" error={errors.name}>
        {(a) => <input {...a} name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} maxLength={300} />}
      </Field>
      {create.error && !errors.name && <ErrorNote error={create.error} />}
      <button type="submit" class="primary" disabled={create.pending}>
        Create tenant
      </button>
    </form>
  );
}

/** Suspend/activate and delete, the same controls the tenant's own page has. */
export function TenantActions({ tenant, changed, deleted }: { tenant: Tenant; changed: () => void; deleted: () => void }) {
  const setStatus = useAction(async (status: "active" | "suspended") => {
    await api("PATCH", `/admin/tenants/${tenant.id}`, { status });
    changed();
  });
  const remove = useAction(async () => {
    await api("DELETE", `/admin/tenants/${tenant.id}`);
    deleted();
  });
  if (tenant.status === "deleted") return <span class="muted">deleted</span>;
  return (
    <div class="row-actions">
      {tenant.status === "active" ? (
        <button type="button" class="secondary" disabled={setStatus.pending} onClick={() => setStatus.run("suspended")}>
          Suspend<span class="sr-only"> {tenant.name}</span>
        </button>
      ) : (
        <button type="button" class="secondary" disabled={setStatus.pending} onClick={() => setStatus.run("active")}>
          Activate<span class="sr-only"> {tenant.name}</span>
        </button>
      )}
      <ConfirmButton
        label="Delete"
        title={`Delete tenant ${tenant.name}?`}
        danger
        confirm="Delete tenant"
        body={
          <>
            <p>
              Its keys stop working at once. Its runs, results and context are kept; the tenant leaves the default listing (<code>{tenant.id}</code>).
            </p>
            <ErrorNote error={remove.error} />
          </>
        }
        onConfirm={() => remove.run()}
      />
      <ErrorNote error={setStatus.error} />
    </div>
  );
}

function TenantRow({ tenant, changed }: { tenant: Tenant; changed: () => void }) {
  return (
    <tr>
      <td>
        <a href={`/dashboard/tenants/${tenant.id}`}>{tenant.name}</a>
      </td>
      <td>
        <code>{tenant.id}</code>
      </td>
      <td>
        <Status value={tenant.status} />
      </td>
      <td>{fmtTime(tenant.createdAt)}</td>
      <td>
        <TenantActions tenant={tenant} changed={changed} deleted={changed} />
      </td>
    </tr>
  );
}
