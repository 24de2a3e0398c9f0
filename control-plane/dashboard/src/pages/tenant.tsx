import { useLocation, useRoute } from "preact-iso";
import { useMemo, useState } from "preact/hooks";
import { api, get, qs, type Agent, type BillingExport, type Key, type Tenant, type Usage } from "../api";
import { bucketRange, Chart, COLORS, onBuckets } from "../chart";
import { ConfirmButton, Empty, ErrorNote, Field, fmtNumber, fmtTime, Head, Loaded, Status, submitting, Table, thisMonth, useAction, useLoad, useTitle } from "../ui";
import { TenantActions } from "./tenants";

/** One tenant: settings, keys, usage, this month's billing and its agents. */
export function TenantPage() {
  const { route } = useLocation();
  const { params } = useRoute();
  const id = params.id ?? "";
  const tenant = useLoad((signal) => get<Tenant>(`/admin/tenants/${encodeURIComponent(id)}`, signal), [id]);
  useTitle(tenant.data?.name ?? "Tenant");
  return (
    <Loaded state={tenant} what="the tenant">
      {(t) => (
        <section>
          <p class="crumbs">
            <a href="/dashboard/tenants">Tenants</a> / <code>{t.id}</code>
          </p>
          <div class="title-row">
            <h1>{t.name}</h1>
            <Status value={t.status} />
            <TenantActions tenant={t} changed={tenant.reload} deleted={() => route("/dashboard/tenants")} />
          </div>
          <p class="links">
            <a href={`/dashboard/runs${qs({ tenant: t.id })}`}>Runs of this tenant</a>
            <a href={`/dashboard/audit${qs({ tenant: t.id })}`}>Audit log of this tenant</a>
          </p>
          <Settings tenant={t} saved={tenant.reload} />
          <Keys tenantId={t.id} />
          <UsageCharts tenantId={t.id} />
          <Billing tenantId={t.id} />
          <Agents tenantId={t.id} />
        </section>
      )}
    </Loaded>
  );
}

const QUOTAS: { name: string; label: string; hint?: string }[] = [
  { name: "runsPerMonth", label: "Runs per month" },
  { name: "concurrentRuns", label: "Concurrent runs" },
  { name: "requestsPerMinute", label: "Requests per minute" },
  { name: "llmTokensPerMonth", label: "Model tokens per month" },
  { name: "cpuMsPerRun", label: "CPU ms per run" },
  { name: "subrequestsPerRun", label: "Subrequests per run" },
  { name: "llmCallsPerRun", label: "Model calls per run" },
  { name: "scriptBytes", label: "Script bytes" },
  { name: "storageBytes", label: "Stored bytes" },
  { name: "monthlySpendCapUsd", label: "Monthly spend cap (USD)" },
];

/**
 * What the operator typed, as the API should judge it: empty is null (the platform default), a
 * number is sent as one, anything else as the text typed, so the API's own validation error is
 * what the form shows next to the field.
 */
function typed(value: string): number | string | null {
  const v = value.trim();
  if (v === "") return null;
  const n = Number(v);
  return Number.isFinite(n) && /^-?[\d.e+]+$/i.test(v) ? n : v;
}

const shown = (v: number | null | undefined) => (v === null || v === undefined ? "" : String(v));

function Settings({ tenant, saved }: { tenant: Tenant; saved: () => void }) {
  const initial = () => ({
    name: tenant.name,
    egress: tenant.egressAllow.join("\n"),
    retentionDays: String(tenant.retentionDays),
    queueWeight: String(tenant.queueWeight),
    ...Object.fromEntries(QUOTAS.map((q) => [`quota.${q.name}`, shown(tenant.quotas[q.name])])),
  });
  const [form, setForm] = useState<Record<string, string>>(initial);
  const [done, setDone] = useState(false);
  const save = useAction(async () => {
    setDone(false);
    await api("PATCH", `/admin/tenants/${tenant.id}`, {
      name: form.name,
      quotas: Object.fromEntries(QUOTAS.map((q) => [q.name, typed(form[`quota.${q.name}`] ?? "")])),
      egressAllow: (form.egress ?? "")
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean),
      retentionDays: typed(form.retentionDays ?? ""),
      queueWeight: typed(form.queueWeight ?? ""),
    });
    setDone(true);
    saved();
  });
  const errors = save.error?.fieldErrors() ?? {};
  const egressErrors = Object.entries(errors)
    .filter(([p]) => p === "egressAllow" || p.startsWith("egressAllow."))
    .map(([p, m]) => (p === "egressAllow" ? m : `line ${Number(p.split(".")[1]) + 1}: ${m}`));
  const known = new Set(["name", "retentionDays", "queueWeight", ...QUOTAS.map((q) => `quotas.${q.name}`)]);
  const other = save.error && !Object.keys(errors).some((p) => known.has(p) || p.startsWith("egressAllow"));
  const bind = (key: string) => ({ value: form[key] ?? "", onInput: (e: Event) => setForm({ ...form, [key]: (e.currentTarget as HTMLInputElement).value }) });

  return (
    <form
      class="card"
      aria-labelledby="settings-title"
      noValidate
      onSubmit={submitting(save.run)}
    >
      <h2 id="settings-title">Settings and quotas</h2>
      <p class="hint">Empty quota fields use the platform default. Changes reach the dispatcher before the save answers.</p>
      <div class="grid">
        <Field label="Name" error={errors.name}>
          {(a) => <input {...a} name="name" {...bind("name")} />}
        </Field>
        <Field label="Retention (days)" error={errors.retentionDays} hint="1–3650; finished runs' records and logs">
          {(a) => <input {...a} name="retentionDays" inputMode="numeric" {...bind("retentionDays")} />}
        </Field>
        <Field label="Queue weight" error={errors.queueWeight} hint="1–100; multiplies the async lane width">
          {(a) => <input {...a} name="queueWeight" inputMode="numeric" {...bind("queueWeight")} />}
        </Field>
        {QUOTAS.map((q) => (
          <Field key={q.name} label={q.label} error={errors[`quotas.${q.name}`]}>
            {(a) => <input {...a} name={`quotas.${q.name}`} inputMode="decimal" placeholder="default" {...bind(`quota.${q.name}`)} />}
          </Field>
        ))}
      </div>
      <Field label="Egress allowlist (one host a line)" error={egressErrors.join("; ") || undefined} hint="host, *.domain, or either with :port">
        {(a) => <textarea {...a} name="egressAllow" rows={3} {...bind("egress")} />}
      </Field>
      {other && <ErrorNote error={save.error} />}
      {save.error && !other && (
        <p class="field-error" role="alert">
          The settings were not saved: {save.error.detail}
        </p>
      )}
      {done && !save.error && (
        <p class="saved" role="status">
          Saved.
        </p>
      )}
      <div class="actions">
        <button type="submit" class="primary" disabled={save.pending}>
          Save settings
        </button>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            setForm(initial());
            save.clear();
            setDone(false);
          }}
        >
          Reset
        </button>
      </div>
    </form>
  );
}

const SCOPES = ["runs", "context", "scripts", "usage"];

function Keys({ tenantId }: { tenantId: string }) {
  const keys = useLoad((signal) => get<{ keys: Key[] }>(`/admin/tenants/${tenantId}/keys`, signal), [tenantId]);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(SCOPES);
  const [expires, setExpires] = useState("");
  // The new key's secret: only in this component's memory, shown until dismissed, never again.
  const [secret, setSecret] = useState<{ id: string; key: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const create = useAction(async () => {
    const created = await api<Key & { key: string }>("POST", `/admin/tenants/${tenantId}/keys`, {
      ...(name.trim() ? { name: name.trim() } : {}),
      scopes,
      ...(expires ? { expiresAt: new Date(`${expires}T00:00:00Z`).toISOString() } : {}),
    });
    setSecret({ id: created.id, key: created.key });
    setCopied(false);
    setName("");
    keys.reload();
  });
  const revoke = useAction(async (keyId: string) => {
    await api("DELETE", `/admin/tenants/${tenantId}/keys/${keyId}`);
    keys.reload();
  });
  const errors = create.error?.fieldErrors() ?? {};

  return (
    <section class="card" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      {secret && (
        <div class="secret" role="status">
          <p>
            <strong>Copy the new key now: it is shown only once.</strong> The platform keeps only its hash.
          </p>
          <div class="secret-row">
            <code data-secret>{secret.key}</code>
            <button
              type="button"
              class="secondary"
              onClick={async () => {
                await navigator.clipboard.writeText(secret.key).then(
                  () => setCopied(true),
                  () => setCopied(false),
                );
              }}
            >
              {copied ? "Copied" : "Copy"}
            </button>
            <button type="button" class="primary" onClick={() => setSecret(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      <Loaded state={keys} what="keys">
        {({ keys: list }) =>
          list.length === 0 ? (
            <Empty>No keys yet.</Empty>
          ) : (
            <Table label="API keys">
              <Head cols={["Name", "Key", "Scopes", "Created", "Expires", "Status", "Actions"]} />
              <tbody>
                {list.map((k) => (
                  <tr key={k.id}>
                    <td>{k.name ?? <span class="muted">unnamed</span>}</td>
                    <td>
                      <code>{k.prefix}…</code> <code class="id">{k.id}</code>
                    </td>
                    <td>{k.scopes.join(", ")}</td>
                    <td>{fmtTime(k.createdAt)}</td>
                    <td>{fmtTime(k.expiresAt)}</td>
                    <td>
                      <Status value={k.status} />
                    </td>
                    <td>
                      {k.status !== "revoked" && (
                        <ConfirmButton
                          label="Revoke"
                          title={`Revoke key ${k.name ?? k.prefix}?`}
                          danger
                          confirm="Revoke key"
                          body={
                            <>
                              <p>Calls with this key fail within a second. This cannot be undone.</p>
                              <ErrorNote error={revoke.error} />
                            </>
                          }
                          onConfirm={() => revoke.run(k.id)}
                        />
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </Table>
          )
        }
      </Loaded>
      <form class="inline-form" aria-label="Create a key" onSubmit={submitting(create.run)}>
        <h3>Create a key</h3>
        <Field label="Key name" error={errors.name}>
          {(a) => <input {...a} name="keyName" value={name} onInput={(e) => setName(e.currentTarget.value)} />}
        </Field>
        <fieldset class={errors.scopes ? "invalid" : ""}>
          <legend>Scopes</legend>
          {SCOPES.map((s) => (
            <label key={s} class="check">
              <input
                type="checkbox"
                checked={scopes.includes(s)}
                onChange={(e) => setScopes(e.currentTarget.checked ? [...scopes, s] : scopes.filter((x) => x !== s))}
              />{" "}
              {s}
            </label>
          ))}
          {errors.scopes && <small class="field-error">{errors.scopes}</small>}
        </fieldset>
        <Field label="Expires (optional, UTC day)" error={errors.expiresAt}>
          {(a) => <input {...a} type="date" name="expiresAt" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} />}
        </Field>
        {create.error && !errors.name && !errors.scopes && !errors.expiresAt && <ErrorNote error={create.error} />}
        <button type="submit" class="primary" disabled={create.pending}>
          Create key
        </button>
      </form>
    </section>
  );
}

function UsageCharts({ tenantId }: { tenantId: string }) {
  const [granularity, setGranularity] = useState<"day" | "hour">("day");
  const range = useMemo(() => {
    const to = new Date();
    const from = new Date(to.getTime() - (granularity === "day" ? 29 : 1) * 86_400_000);
    return { from, to };
  }, [granularity]);
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const usage = useLoad(
    (signal) => get<Usage>(`/admin/tenants/${tenantId}/usage${qs({ from: day(range.from), to: day(range.to), granularity })}`, signal),
    [tenantId, granularity, range],
  );
  return (
    <section class="card" aria-labelledby="usage-title">
      <div class="title-row">
        <h2 id="usage-title">Usage</h2>
        <div class="segmented" role="group" aria-label="Bucket size">
          {(["day", "hour"] as const).map((g) => (
            <button key={g} type="button" aria-pressed={granularity === g} onClick={() => setGranularity(g)}>
              {g === "day" ? "Per day, 30 days" : "Per hour, 2 days"}
            </button>
          ))}
        </div>
      </div>
      <Loaded state={usage} what="usage">
        {(u) => <UsageBody usage={u} from={range.from} to={range.to} />}
      </Loaded>
    </section>
  );
}

function UsageBody({ usage, from, to }: { usage: Usage; from: Date; to: Date }) {
  const unit = usage.granularity;
  const { times, runs, tokens, models } = useMemo(() => {
    const times = bucketRange(new Date(`${from.toISOString().slice(0, 10)}T00:00:00Z`), to, unit);
    const names = [...new Set(usage.models.map((m) => m.model))].sort();
    return {
      times,
      runs: [
        { label: "Runs", color: "#2563eb", bars: true, values: onBuckets(times, usage.buckets, (b) => b.start, (b) => b.runs) },
        { label: "Failures", color: "#dc2626", bars: true, values: onBuckets(times, usage.buckets, (b) => b.start, (b) => b.failures) },
      ],
      tokens: names.map((model, i) => ({
        label: model,
        color: COLORS[i % COLORS.length]!,
        values: onBuckets(
          times,
          usage.models.filter((m) => m.model === model),
          (m) => m.start,
          (m) => m.inputTokens + m.outputTokens,
        ),
      })),
      models: names.map((model) => {
        const rows = usage.models.filter((m) => m.model === model);
        return { model, input: rows.reduce((a, r) => a + r.inputTokens, 0), output: rows.reduce((a, r) => a + r.outputTokens, 0) };
      }),
    };
  }, [usage, from, to, unit]);
  if (usage.buckets.length === 0) return <Empty>No runs in this period.</Empty>;
  return (
    <>
      <Chart title={`Runs and failures per ${unit} (UTC)`} times={times} series={runs} unit={unit} />
      {tokens.length === 0 ? (
        <Empty>No model tokens in this period.</Empty>
      ) : (
        <>
          <Chart title={`Model tokens per ${unit}, by model`} times={times} series={tokens} unit={unit} />
          <Table label="Tokens by model">
            <Head cols={["Model", "Input tokens", "Output tokens"]} num={["Input tokens", "Output tokens"]} />
            <tbody>
              {models.map((m) => (
                <tr key={m.model}>
                  <td>
                    <code>{m.model}</code>
                  </td>
                  <td class="num">{fmtNumber(m.input)}</td>
                  <td class="num">{fmtNumber(m.output)}</td>
                </tr>
              ))}
            </tbody>
          </Table>
        </>
      )}
    </>
  );
}

function Billing({ tenantId }: { tenantId: string }) {
  const period = thisMonth();
  const query = (format: "csv" | "json") => `/admin/billing/export${qs({ period, format, tenant: tenantId })}`;
  const bill = useLoad((signal) => get<BillingExport>(query("json"), signal), [tenantId, period]);
  return (
    <section class="card" aria-labelledby="billing-title">
      <div class="title-row">
        <h2 id="billing-title">Billing, {period}</h2>
        <p class="links">
          <a href={query("csv")} download={`isoplane-${period}-${tenantId}.csv`}>
            Download CSV
          </a>
          <a href={query("json")} download={`isoplane-${period}-${tenantId}.json`}>
            Download JSON
          </a>
        </p>
      </div>
      <Loaded state={bill} what="billing lines">
        {(b) =>
          b.lines.length === 0 ? (
            <Empty>No billable usage this month yet.</Empty>
          ) : (
            <Table label="Billing lines">
              <Head cols={["Line", "Quantity", "Unit", "Unit price", "Billed (USD)", "Platform cost"]} num={["Quantity", "Unit price", "Billed (USD)", "Platform cost"]} />
              <tbody>
                {b.lines.map((l, i) => (
                  <tr key={i}>
                    <td>{String(l.ChargeDescription)}</td>
                    <td class="num">{String(l.ConsumedQuantity)}</td>
                    <td>{String(l.PricingUnit)}</td>
                    <td class="num">{String(l.ListUnitPrice)}</td>
                    <td class="num">{String(l.BilledCost)}</td>
                    <td class="num">{String(l.x_PlatformCost)}</td>
                  </tr>
                ))}
              </tbody>
              <tfoot>
                <tr>
                  <th scope="row" colSpan={4}>
                    Total
                  </th>
                  <td class="num">{b.totals.billedCost}</td>
                  <td class="num">{b.totals.platformCost}</td>
                </tr>
              </tfoot>
            </Table>
          )
        }
      </Loaded>
    </section>
  );
}

function Agents({ tenantId }: { tenantId: string }) {
  const agents = useLoad((signal) => get<{ agents: Agent[]; cursor: string | null }>(`/admin/tenants/${tenantId}/agents`, signal), [tenantId]);
  const rollback = useAction(async (agent: string, version: number) => {
    await api("POST", `/admin/tenants/${tenantId}/agents/${agent}/rollback`, { version });
    agents.reload();
  });
  return (
    <section class="card" aria-labelledby="agents-title">
      <h2 id="agents-title">Agents</h2>
      <Loaded state={agents} what="agents">
        {({ agents: list }) =>
          list.length === 0 ? (
            <Empty>This tenant has deployed no agent.</Empty>
          ) : (
            list.map((a) => (
              <div key={a.name} class="agent">
                <h3>
                  {a.name} <span class="muted">active: {a.activeVersion === null ? "none" : `v${a.activeVersion}`}</span>
                </h3>
                <Table label={`Versions of ${a.name}`}>
                  <Head cols={["Version", "SHA-256", "Size", "Uploaded", "Actions"]} num={["Size"]} />
                  <tbody>
                    {a.versions.map((v) => (
                      <tr key={v.version}>
                        <td>v{v.version}</td>
                        <td>
                          <code title={v.sha256}>{v.sha256.slice(0, 12)}…</code>
                        </td>
                        <td class="num">{fmtNumber(v.size)} B</td>
                        <td>{fmtTime(v.createdAt)}</td>
                        <td>
                          {v.active ? (
                            <Status value="active" />
                          ) : (
                            <ConfirmButton
                              label={`Roll back to v${v.version}`}
                              title={`Make v${v.version} of ${a.name} active?`}
                              confirm="Roll back"
                              body={
                                <>
                                  <p>The next run of {a.name} runs this version. Runs under way finish on theirs.</p>
                                  <ErrorNote error={rollback.error} />
                                </>
                              }
                              onConfirm={() => rollback.run(a.name, v.version)}
                            />
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </Table>
              </div>
            ))
          )
        }
      </Loaded>
    </section>
  );
}
