import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { COLUMNS } from "../core/billing/lines";
import { WORKERS_FOR_PLATFORMS_LIST_PRICE } from "../core/billing/prices";
import { VERSIONED } from "./agents";
import { TEST_PRICE_BOOK } from "./constants";
import { ADMIN, bearer, cp, dp, expectProblem, json, ledgered, newTenant, patch, run, runEvents, upload, type TestTenant } from "./helpers";

const CHAT = `export default { async fetch(request, env) { const { input } = await request.json(); const r = await env.LLM.chat({ messages: [{ role: "user", content: input.q }] }); return Response.json(r.content); } };`;
const SLOW = `export default { async fetch() { await new Promise((r) => setTimeout(r, 1500)); return Response.json(1); } };`;
const STREAMER = `export default {
  async fetch(request, env) {
    const { input } = await request.json();
    const text = await new Response(await env.LLM.stream({ messages: [{ role: "user", content: input.q }] })).text();
    const lines = text.trim().split("\\n").map((l) => JSON.parse(l));
    const error = lines.find((l) => l.type === "error");
    if (error) throw new Error(error.error);
    return Response.json({ chunks: lines.length });
  },
};`;

const month = () => new Date().toISOString().slice(0, 7);
const today = () => new Date().toISOString().slice(0, 10);


/** Expected billed micro-dollars for a tenant, recomputed from its raw ledger rows. */
async function expectedMicros(tenantId: string): Promise<number> {
  const rows = (await env.DB.prepare("SELECT model_usage, cpu_ms FROM usage WHERE tenant_id = ? AND day LIKE ?").bind(tenantId, `${month()}-%`).all<{ model_usage: string; cpu_ms: number | null }>()).results;
  const perModel = new Map<string, { input: number; output: number }>();
  let cpu = 0;
  for (const r of rows) {
    cpu += r.cpu_ms ?? 0;
    for (const [m, u] of Object.entries(JSON.parse(r.model_usage) as Record<string, { input: number; output: number }>)) {
      const acc = perModel.get(m) ?? { input: 0, output: 0 };
      acc.input += u.input;
      acc.output += u.output;
      perModel.set(m, acc);
    }
  }
  const price = (table: Record<string, number>, m: string) => table[m] ?? table["*"]!;
  let total = Math.round(rows.length * TEST_PRICE_BOOK.perRun * 1e6) + Math.round((cpu / 1e6) * TEST_PRICE_BOOK.perMillionCpuMs * 1e6);
  for (const [m, u] of perModel) {
    total += Math.round((u.input / 1000) * price(TEST_PRICE_BOOK.perThousandInputTokens, m) * 1e6);
    total += Math.round((u.output / 1000) * price(TEST_PRICE_BOOK.perThousandOutputTokens, m) * 1e6);
  }
  return total;
}

const micros = (s: string) => Math.round(Number(s) * 1e6);

function parseCsv(text: string): Record<string, string>[] {
  const [header, ...lines] = text.trimEnd().split("\r\n");
  const cols = header!.split(",");
  return lines.map((line) => {
    const cells: string[] = [];
    let cur = "";
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]!;
      if (quoted) {
        if (ch === '"' && line[i + 1] === '"') (cur += '"'), i++;
        else if (ch === '"') quoted = false;
        else cur += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ",") cells.push(cur), (cur = "");
      else cur += ch;
    }
    cells.push(cur);
    return Object.fromEntries(cols.map((c, i) => [c, cells[i]!]));
  });
}

describe("the usage ledger", () => {
  it("has one row per admitted run however it ended; rollups match the rows", async () => {
    const t = await newTenant();
    await upload(t, "ok", CHAT);
    await upload(t, "boom", `export default { fetch() { throw new Error("x"); } };`);
    await upload(t, "slow", SLOW);
    const ok = await run(t, "ok", { q: "hello there" });
    const boom = await run(t, "boom");
    // Cancelled while running (a stream says its run's id at once).
    const streamed = await dp("/v1/agents/slow/runs", json({ input: 1, mode: "stream" }, bearer(t.key)));
    const running = streamed.headers.get("x-isoplane-run-id")!;
    await dp(`/v1/runs/${running}/cancel`, { method: "POST", headers: bearer(t.key) });
    await streamed.text();
    // Cancelled while queued: cancel at once, before the consumer (it batches for a second).
    const queued = await (await dp("/v1/agents/ok/runs", json({ input: { q: "later" }, mode: "async" }, bearer(t.key)))).json<{ id: string }>();
    await dp(`/v1/runs/${queued.id}/cancel`, { method: "POST", headers: bearer(t.key) });
    // Async, executed.
    const done = await (await dp("/v1/agents/ok/runs", json({ input: { q: "async" }, mode: "async" }, bearer(t.key)))).json<{ id: string }>();
    await ledgered([ok.id, boom.id, running, queued.id, done.id]);

    const runs = (await env.DB.prepare("SELECT id, status FROM runs WHERE tenant_id = ? ORDER BY id").bind(t.id).all<{ id: string; status: string }>()).results;
    const rows = (await env.DB.prepare("SELECT run_id, status, requests FROM usage WHERE tenant_id = ? ORDER BY run_id").bind(t.id).all<{ run_id: string; status: string; requests: number }>()).results;
    expect(runs.map((r) => r.status).sort()).toEqual(["cancelled", "cancelled", "failed", "succeeded", "succeeded"]);
    expect(rows.map((r) => [r.run_id, r.status])).toEqual(runs.map((r) => [r.id, r.status]));

    const recomputed = await env.DB.prepare(
      `SELECT COUNT(*) AS runs, SUM(status <> 'succeeded') AS failures, SUM(wall_ms) AS wall, SUM(input_tokens) AS input, SUM(output_tokens) AS output
       FROM usage WHERE tenant_id = ? AND day = ?`,
    ).bind(t.id, today()).first();
    const rollup = await env.DB.prepare("SELECT runs, failures, wall_ms AS wall, input_tokens AS input, output_tokens AS output FROM usage_daily WHERE tenant_id = ? AND day = ?").bind(t.id, today()).first();
    expect(rollup).toEqual(recomputed);
    const perModel = await env.DB.prepare(
      `SELECT j.key AS model, SUM(json_extract(j.value, '$.input')) AS input, SUM(json_extract(j.value, '$.output')) AS output
       FROM usage u, json_each(u.model_usage) j WHERE u.tenant_id = ? AND u.day = ? GROUP BY j.key ORDER BY j.key`,
    ).bind(t.id, today()).all();
    const perModelRollup = await env.DB.prepare("SELECT model, input_tokens AS input, output_tokens AS output FROM usage_daily_models WHERE tenant_id = ? AND day = ? ORDER BY model").bind(t.id, today()).all();
    expect(perModelRollup.results).toEqual(perModel.results);
    const ledgerRow = await env.DB.prepare("SELECT cpu_ms, model_usage FROM usage WHERE tenant_id = ? AND status = 'succeeded' LIMIT 1").bind(t.id).first<{ cpu_ms: number | null; model_usage: string }>();
    expect(ledgerRow!.cpu_ms).toBeNull(); // not measured locally — never a made-up number
    expect(JSON.parse(ledgerRow!.model_usage)).toHaveProperty(["builtin/isoplane-echo"]);
  });
});

describe("billing export", () => {
  it("50 tenants' month exports to CSV and JSON that reconcile to the ledger to the cent, deterministically", async () => {
    const tenants: TestTenant[] = [];
    for (let i = 0; i < 50; i++) {
      const t = await newTenant(`billing-${String(i).padStart(2, "0")}, "quoted"`);
      await upload(t, "chat", CHAT);
      tenants.push(t);
    }
    const ids: string[] = [];
    await Promise.all(tenants.map(async (t, i) => {
      for (let r = 0; r < (i % 3) + 1; r++) ids.push((await run(t, "chat", { q: `question ${i}-${r} ${"x".repeat(i)}` })).id);
    }));
    await ledgered(ids);

    const csvRes = await cp(`/admin/billing/export?period=${month()}&format=csv`, { headers: ADMIN });
    expect(csvRes.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    const csv = await csvRes.text();
    expect(csv.split("\r\n")[0]).toBe(COLUMNS.join(","));
    const lines = parseCsv(csv);
    const again = await (await cp(`/admin/billing/export?period=${month()}&format=csv`, { headers: ADMIN })).text();
    expect(again).toBe(csv);

    const json = await (await cp(`/admin/billing/export?period=${month()}&format=json`, { headers: ADMIN })).json<{ lines: Record<string, string>[]; totals: { billedCost: string; platformCost: string } }>();
    expect(json.lines).toEqual(lines);

    for (const t of tenants) {
      const mine = lines.filter((l) => l.SubAccountId === t.id);
      expect(mine.map((l) => l.SkuId)).toEqual(["runs", "cpu-ms", "input-tokens:builtin/isoplane-echo", "output-tokens:builtin/isoplane-echo"]);
      expect(mine.reduce((s, l) => s + micros(l.BilledCost!), 0)).toBe(await expectedMicros(t.id));
      const runsLine = mine[0]!;
      expect(runsLine).toMatchObject({ ChargeCategory: "Usage", BillingCurrency: "USD", ServiceName: "Isoplane", PricingUnit: "Runs" });
      expect(micros(runsLine.x_PlatformCost!)).toBe(Math.round(Number(runsLine.ConsumedQuantity) * (WORKERS_FOR_PLATFORMS_LIST_PRICE.perMillionRequests / 1e6) * 1e6));
      expect(micros(runsLine.x_Margin!)).toBe(micros(runsLine.BilledCost!) - micros(runsLine.x_PlatformCost!));
    }
    const total = lines.reduce((s, l) => s + micros(l.BilledCost!), 0);
    expect(micros(json.totals.billedCost)).toBe(total);

    const one = parseCsv(await (await cp(`/admin/billing/export?period=${month()}&format=csv&tenant=${tenants[7]!.id}`, { headers: ADMIN })).text());
    expect(one).toEqual(lines.filter((l) => l.SubAccountId === tenants[7]!.id));
    await expectProblem(await cp("/admin/billing/export?period=2026-13", { headers: ADMIN }), 400, "invalid-request");
    await expectProblem(await cp(`/admin/billing/export?period=${month()}`, { headers: bearer(tenants[0]!.key) }), 403, "forbidden");
    const empty = await (await cp("/admin/billing/export?period=1999-01&format=csv", { headers: ADMIN })).text();
    expect(empty).toBe(`${COLUMNS.join(",")}\r\n`);
  });
});

describe("billing export, many tenants", () => {
  it("more tenants with usage than one D1 statement binds: the overview and the export page through them", async () => {
    const prefix = `ten_zzzzpage${Date.now().toString(36).slice(-4)}`;
    const ids = Array.from({ length: 150 }, (_, i) => `${prefix}${String(i).padStart(4, "0")}`);
    const day = `${month()}-01`;
    const insert = env.DB.prepare(
      `INSERT INTO usage_daily (tenant_id, day, runs, failures, wall_ms, cpu_ms, cpu_measured_runs, subrequests, input_tokens, output_tokens, storage_reads, storage_writes, bytes_read, bytes_written)
       VALUES (?, ?, 1, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0)`,
    );
    await env.DB.batch(ids.map((id) => insert.bind(id, day)));
    try {
      expect((await cp("/admin/overview", { headers: ADMIN })).status).toBe(200);
      const json = await (await cp(`/admin/billing/export?period=${month()}&format=json`, { headers: ADMIN })).json<{ lines: { SubAccountId: string }[] }>();
      const listed = new Set(json.lines.map((l) => l.SubAccountId));
      expect(ids.every((id) => listed.has(id))).toBe(true);
    } finally {
      await env.DB.prepare("DELETE FROM usage_daily WHERE tenant_id LIKE ?").bind(`${prefix}%`).run();
    }
  });
});

describe("spend caps", () => {
  it("refuse new runs once the month's spend reaches the cap", async () => {
    const t = await newTenant();
    await upload(t, "cheap", VERSIONED(1));
    // Each run costs perRun = $0.00002: the cap allows three.
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { monthlySpendCapUsd: 0.00006 } }));
    for (let i = 0; i < 3; i++) expect((await run(t, "cheap")).status).toBe("succeeded");
    const res = await dp("/v1/agents/cheap/runs", json({ input: 1 }, bearer(t.key)));
    const problem = await expectProblem(res, 429, "quota-spend-cap");
    expect(problem).toMatchObject({ quota: "monthlySpendCapUsd", limit: 0.00006 });
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    await expectProblem(await dp("/v1/agents/cheap/runs", json({ input: 1, mode: "async" }, bearer(t.key))), 429, "quota-spend-cap");
  });

  it("cut a model stream off when the cap is crossed mid-run, marking the run", async () => {
    const t = await newTenant();
    await upload(t, "streamer", STREAMER);
    // 400 words of output at $0.02 per 1K tokens cross a $0.0015 cap part-way.
    await cp(`/admin/tenants/${t.id}`, patch({ quotas: { monthlySpendCapUsd: 0.0015 } }));
    const result = await run(t, "streamer", { q: "word ".repeat(400) });
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/spend cap/);
    expect(result.usage.outputTokens).toBeGreaterThan(0);
    const events = (await runEvents(t, result.id)).map((e) => e.type);
    expect(events).toContain("spend-cap.reached");
    await expectProblem(await dp("/v1/agents/streamer/runs", json({ input: { q: "again" } }, bearer(t.key))), 429, "quota-spend-cap");
  });
});

describe("usage and the admin dashboard", () => {
  it("a tenant reads its own usage; operators read overview, per-tenant usage and every run", async () => {
    const t = await newTenant("dashboard");
    await upload(t, "chat", CHAT);
    await ledgered([(await run(t, "chat", { q: "one" })).id, (await run(t, "chat", { q: "two" })).id]);
    const mine = await (await dp(`/v1/usage?from=${today()}&to=${today()}`, { headers: bearer(t.key) })).json<{ buckets: { runs: number; cpuMs: null }[]; monthToDate: { billedCost: string } }>();
    expect(mine.buckets).toEqual([expect.objectContaining({ start: today(), runs: 2, failures: 0, cpuMs: null })]);
    expect(micros(mine.monthToDate.billedCost)).toBe(await expectedMicros(t.id));
    const hourly = await (await dp(`/v1/usage?from=${today()}&to=${today()}&granularity=hour`, { headers: bearer(t.key) })).json<{ buckets: { start: string; runs: number }[] }>();
    expect(hourly.buckets.reduce((n, b) => n + b.runs, 0)).toBe(2);
    expect(hourly.buckets[0]!.start).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/);
    await expectProblem(await dp("/v1/usage?from=yesterday&to=today", { headers: bearer(t.key) }), 400, "invalid-request");

    const overview = await (await cp("/admin/overview", { headers: ADMIN })).json<{ tenants: Record<string, number>; days: { day: string; runs: number }[]; topTenants: { tenantId: string }[] }>();
    expect(overview.tenants.active).toBeGreaterThan(0);
    expect(overview.days.at(-1)!.day).toBe(today());
    expect(overview.topTenants.length).toBeGreaterThan(0);

    const usage = await (await cp(`/admin/tenants/${t.id}/usage?from=${today()}&to=${today()}&granularity=day`, { headers: ADMIN })).json<{ buckets: { runs: number }[] }>();
    expect(usage.buckets[0]!.runs).toBe(2);
    const runs = await (await cp(`/admin/runs?tenant=${t.id}&status=succeeded&limit=1`, { headers: ADMIN })).json<{ runs: { tenantId: string }[]; cursor: string }>();
    expect(runs.runs).toEqual([expect.objectContaining({ tenantId: t.id })]);
    expect(runs.cursor).not.toBeNull();
    await expectProblem(await cp("/admin/overview", { headers: bearer(t.key) }), 403, "forbidden");
  });
});

describe("storage metering", () => {
  it("measures each tenant's stored bytes once a day and bills GB-months", async () => {
    const { snapshotStorage } = await import("../dispatcher/src/billing/storage");
    const t = await newTenant("stores-things");
    const sizes = [1000, 2500, 40_000];
    for (const [i, n] of sizes.entries()) await dp(`/v1/context/docs/${i}.bin`, { method: "PUT", headers: bearer(t.key), body: new Uint8Array(n) });
    const day = new Date(Date.UTC(2026, 1, 10, 12));
    while ((await snapshotStorage(env.DB, env.BUCKET, day)) > 0);
    const row = await env.DB.prepare("SELECT bytes, objects FROM storage_daily WHERE tenant_id = ? AND day = '2026-02-10'").bind(t.id).first();
    expect(row).toEqual({ bytes: 43_500, objects: 3 });
    expect(await snapshotStorage(env.DB, env.BUCKET, day)).toBe(0); // once a day

    const lines = parseCsv(await (await cp(`/admin/billing/export?period=2026-02&format=csv&tenant=${t.id}`, { headers: ADMIN })).text());
    const storage = lines.find((l) => l.SkuId === "storage-gb-month")!;
    const gbMonths = 43_500 / 1e9 / 28;
    expect(storage).toMatchObject({ ConsumedQuantity: "43500", ConsumedUnit: "Byte-days", PricingUnit: "GB-months", PricingQuantity: String(gbMonths) });
    expect(micros(storage.BilledCost!)).toBe(Math.round(gbMonths * TEST_PRICE_BOOK.perGbMonthStored * 1e6));
    expect(lines.find((l) => l.SkuId === "runs")).toMatchObject({ ConsumedQuantity: "0" });
  });
});
