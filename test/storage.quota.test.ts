import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bearer, cp, dp, expectProblem, newTenant, patch, PROBLEM, run, upload, type TestTenant } from "./helpers";
import { DISPATCHER_NO_QUOTA_HOST } from "./worker";
import type { TenantObject } from "../dispatcher/src/tenant/tenant-object";

const bytes = (n: number, fill = "x") => fill.repeat(n);
const putContext = (t: TestTenant, key: string, body: string, host = "dispatcher.test") =>
  exports.default.fetch(new Request(`http://${host}/v1/context/${key}`, { method: "PUT", headers: { ...bearer(t.key), "content-type": "text/plain" }, body }));
const deleteContext = (t: TestTenant, key: string) => dp(`/v1/context/${key}`, { method: "DELETE", headers: bearer(t.key) });
const setQuota = async (t: TestTenant, storageBytes: number | null) => expect((await cp(`/admin/tenants/${t.id}`, patch({ quotas: { storageBytes } }))).status).toBe(200);
const tenantObject = (t: TestTenant) => env.TENANTS.get(env.TENANTS.idFromName(t.id));
const counted = (t: TestTenant) => tenantObject(t).storedBytes(t.id);

async function expectStored(res: Response, size: number): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect(JSON.parse(text).size).toBe(size);
}

/** The exact 413 a put over the quota gets. */
async function expectOverQuota(res: Response, detail: string, extra: { limit: number; storedBytes: number; addedBytes: number }): Promise<void> {
  const body = await expectProblem(res, 413, "quota-storage-bytes");
  expect(body.type).toBe(`${PROBLEM}quota-storage-bytes`);
  expect(String(body.type).endsWith("/quota-storage-bytes")).toBe(true);
  expect(body.title).toBe("The tenant's storageBytes quota would be exceeded");
  expect(body.detail).toBe(detail);
  expect(body).toMatchObject({ quota: "storageBytes", ...extra });
}

describe("storageBytes through PUT /v1/context/{key}", () => {
  it("admits a put up to the quota and refuses the one past it with 413 quota-storage-bytes; nothing is stored", async () => {
    const t = await newTenant();
    await setQuota(t, 100);
    await expectStored(await putContext(t, "a.txt", bytes(60)), 60);
    await expectStored(await putContext(t, "b.txt", bytes(40)), 40); // exactly at the quota
    await expectOverQuota(
      await putContext(t, "c.txt", bytes(1)),
      `Storing 1 bytes at "c.txt" would add 1 bytes to the 100 the tenant stores, over its storageBytes quota of 100 bytes. Nothing was stored.`,
      { limit: 100, storedBytes: 100, addedBytes: 1 },
    );
    await expectProblem(await dp("/v1/context/c.txt", { headers: bearer(t.key) }), 404, "not-found");
    expect(await counted(t)).toMatchObject({ bytes: 100, used: 100, pending: 0 });
  });

  it("an overwrite counts its delta: a larger one only the growth, a smaller one frees bytes", async () => {
    const t = await newTenant();
    await setQuota(t, 100);
    await expectStored(await putContext(t, "a.txt", bytes(60)), 60);
    // 60 → 90 adds 30 (counted as 90 more it would be refused).
    await expectStored(await putContext(t, "a.txt", bytes(90)), 90);
    await expectOverQuota(
      await putContext(t, "b.txt", bytes(20)),
      `Storing 20 bytes at "b.txt" would add 20 bytes to the 90 the tenant stores, over its storageBytes quota of 100 bytes. Nothing was stored.`,
      { limit: 100, storedBytes: 90, addedBytes: 20 },
    );
    await expectOverQuota(
      await putContext(t, "a.txt", bytes(101)),
      `Storing 101 bytes at "a.txt", replacing 90 would add 11 bytes to the 90 the tenant stores, over its storageBytes quota of 100 bytes. Nothing was stored.`,
      { limit: 100, storedBytes: 90, addedBytes: 11 },
    );
    expect(await (await dp("/v1/context/a.txt", { headers: bearer(t.key) })).text()).toBe(bytes(90)); // the refused overwrite left it alone
    await expectStored(await putContext(t, "a.txt", bytes(10)), 10); // frees 80
    await expectStored(await putContext(t, "b.txt", bytes(20)), 20);
    expect(await counted(t)).toMatchObject({ bytes: 30, pending: 0 });
  });

  it("DELETE frees the object's bytes, so a later put fits", async () => {
    const t = await newTenant();
    await setQuota(t, 100);
    await expectStored(await putContext(t, "dir/big.bin", bytes(80)), 80);
    await expectProblem(await putContext(t, "small.bin", bytes(30)), 413, "quota-storage-bytes");
    expect((await deleteContext(t, "dir/big.bin")).status).toBe(204);
    expect((await deleteContext(t, "dir/big.bin")).status).toBe(204); // absent: frees nothing more
    expect(await counted(t)).toMatchObject({ bytes: 0 });
    await expectStored(await putContext(t, "small.bin", bytes(30)), 30);
    await expectStored(await putContext(t, "more.bin", bytes(70)), 70);
    await expectProblem(await putContext(t, "one.bin", bytes(1)), 413, "quota-storage-bytes");
  });

  it("the first count includes what the tenant stored before it had a quota, run outputs included", async () => {
    const t = await newTenant();
    await upload(t, "echo", `export default { async fetch(request) { return Response.json({ echo: "${bytes(40, "e")}" }); } };`);
    const ran = await run(t, "echo");
    const output = (await env.BUCKET.head(`tenants/${t.id}/results/${ran.id}/output.json`))!.size;
    await expectStored(await putContext(t, "old.txt", bytes(50)), 50); // no quota: not counted, no call
    await setQuota(t, 100 + output);
    expect(await counted(t)).toMatchObject({ bytes: 50 + output });
    await expectStored(await putContext(t, "new.txt", bytes(50)), 50);
    await expectProblem(await putContext(t, "one.txt", bytes(1)), 413, "quota-storage-bytes");
  });

  it("a quota set, raised, lowered or removed with the admin PATCH holds for the very next put", async () => {
    const t = await newTenant();
    await setQuota(t, 50);
    await expectStored(await putContext(t, "a", bytes(40)), 40);
    await expectProblem(await putContext(t, "b", bytes(20)), 413, "quota-storage-bytes");
    await setQuota(t, 60);
    await expectStored(await putContext(t, "b", bytes(20)), 20);
    await setQuota(t, 30);
    // Over the lowered quota: growth is refused, shrinking is not.
    await expectOverQuota(
      await putContext(t, "c", bytes(1)),
      `Storing 1 bytes at "c" would add 1 bytes to the 60 the tenant stores, over its storageBytes quota of 30 bytes. Nothing was stored.`,
      { limit: 30, storedBytes: 60, addedBytes: 1 },
    );
    await expectStored(await putContext(t, "a", bytes(5)), 5);
    await setQuota(t, null);
    expect(await counted(t)).toBeNull();
    await expectStored(await putContext(t, "huge", bytes(1000)), 1000);
    // Set again: a fresh count from R2 (a 5, b 20, huge 1000).
    await setQuota(t, 1100);
    expect(await counted(t)).toMatchObject({ bytes: 1025 });
    await expectProblem(await putContext(t, "d", bytes(76)), 413, "quota-storage-bytes");
    await expectStored(await putContext(t, "d", bytes(75)), 75);
  });

  it("concurrent puts never take the tenant past its quota; concurrent overwrites of one key count what is left", async () => {
    const t = await newTenant();
    await setQuota(t, 100);
    const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => putContext(t, `k${i}`, bytes(10)).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 413)).toHaveLength(10);
    const listed = await env.BUCKET.list({ prefix: `tenants/${t.id}/` });
    expect(listed.objects.reduce((n, o) => n + o.size, 0)).toBe(100);

    const u = await newTenant();
    await setQuota(u, 1000);
    const sizes = [5, 50, 500, 30, 300, 3, 70, 700, 7, 60];
    const answers = await Promise.all(sizes.map((n) => putContext(u, "same", bytes(n))));
    for (const a of answers) expect([200, 503]).toContain(a.status); // 503 only if a write waited over 2 s for the key
    const left = (await env.BUCKET.head(`tenants/${u.id}/context/same`))!.size;
    expect(await counted(u)).toMatchObject({ bytes: left, pending: 0 });
  });

  it("tenants without a quota never wait on the quota state; with one, an unreachable state fails closed (503)", async () => {
    const free = await newTenant();
    await expectStored(await putContext(free, "a.txt", bytes(10), DISPATCHER_NO_QUOTA_HOST), 10);
    const del = await exports.default.fetch(new Request(`http://${DISPATCHER_NO_QUOTA_HOST}/v1/context/a.txt`, { method: "DELETE", headers: bearer(free.key) }));
    expect(del.status).toBe(204);

    const t = await newTenant();
    await setQuota(t, 100);
    const res = await putContext(t, "a.txt", bytes(10), DISPATCHER_NO_QUOTA_HOST);
    const body = await expectProblem(res, 503, "unavailable");
    expect(body.detail).toBe("Quota state cannot be reached; nothing was stored. Retry shortly.");
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await env.BUCKET.head(`tenants/${t.id}/context/a.txt`)).toBeNull();
    await expectStored(await putContext(t, "b.txt", bytes(10)), 10);
    const refusedDelete = await exports.default.fetch(new Request(`http://${DISPATCHER_NO_QUOTA_HOST}/v1/context/b.txt`, { method: "DELETE", headers: bearer(t.key) }));
    await expectProblem(refusedDelete, 503, "unavailable");
    expect(await env.BUCKET.head(`tenants/${t.id}/context/b.txt`)).not.toBeNull();
  });

  it("objects written outside the platform are picked up at the next resync (the tenant object's daily alarm)", async () => {
    const t = await newTenant();
    await setQuota(t, 100);
    await expectStored(await putContext(t, "a", bytes(10)), 10);
    await env.BUCKET.put(`tenants/${t.id}/elsewhere/b`, bytes(70));
    expect(await counted(t)).toMatchObject({ bytes: 10 });
    const alarmAt = await runInDurableObject(tenantObject(t), (_: TenantObject, state) => state.storage.getAlarm());
    expect(alarmAt).toBeGreaterThan(Date.now() + 23 * 3600_000);
    expect(await runDurableObjectAlarm(tenantObject(t))).toBe(true);
    expect(await counted(t)).toMatchObject({ bytes: 80 });
    await expectProblem(await putContext(t, "c", bytes(21)), 413, "quota-storage-bytes");
    await expectStored(await putContext(t, "c", bytes(20)), 20);
  });

  it("puts to one key wait for each other; a write whose writer never came back is settled by what R2 holds once it lapses", async () => {
    const t = await newTenant();
    await setQuota(t, 100);
    const stub = tenantObject(t);
    // Two writers reserve and vanish: one's put landed, the other's did not.
    const landed = await stub.storageReserve(t.id, "context/landed", 40);
    const lost = await stub.storageReserve(t.id, "context/lost", 30);
    expect(landed.kind).toBe("reserved");
    expect(lost.kind).toBe("reserved");
    await env.BUCKET.put(`tenants/${t.id}/context/landed`, bytes(40));
    expect(await counted(t)).toMatchObject({ bytes: 0, used: 70, pending: 2 });
    // The key is taken: another put to it waits, then is told to retry.
    const busy = await putContext(t, "landed", bytes(1));
    await expectProblem(busy, 503, "unavailable");
    expect(busy.headers.get("retry-after")).toBe("1");
    await expectProblem(await putContext(t, "other", bytes(31)), 413, "quota-storage-bytes"); // 70 reserved
    // Their leases lapse.
    await runInDurableObject(stub, (instance: TenantObject) => {
      const pending = (instance as unknown as { stored: { counter: { pending: Record<string, { until: number }> } } }).stored.counter.pending;
      for (const r of Object.values(pending)) r.until = 0;
    });
    await expectStored(await putContext(t, "other", bytes(60)), 60);
    expect(await counted(t)).toMatchObject({ bytes: 100, pending: 0 });
    await expectStored(await putContext(t, "landed", bytes(1)), 1);
    expect(await counted(t)).toMatchObject({ bytes: 61 });
  });

  it("R2 lists keys in UTF-8 byte order, which the recount relies on", async () => {
    const t = await newTenant();
    for (const k of ["\uFFFD", "😀", "a", "é"]) await env.BUCKET.put(`tenants/${t.id}/order/${k}`, "x");
    const listed = await env.BUCKET.list({ prefix: `tenants/${t.id}/order/` });
    expect(listed.objects.map((o) => o.key.slice(`tenants/${t.id}/order/`.length))).toEqual(["a", "é", "\uFFFD", "😀"]);
  });
});

const WRITER = `
export default {
  async fetch(request, env) {
    const { input } = await request.json();
    const out = [];
    for (const [key, size] of input.puts) {
      try {
        await env.STORAGE.put(key, "s".repeat(size));
        out.push("ok");
      } catch (err) {
        out.push(err.name + ": " + err.message);
      }
    }
    if (input.uncaught) await env.STORAGE.put("results/" + env.RUN.id + "/big.txt", "s".repeat(input.uncaught));
    return Response.json(out);
  },
};`;

describe("storageBytes through env.STORAGE", () => {
  it("a put past the quota throws a RangeError naming the quota; the agent can catch it; refused puts cost the run nothing", async () => {
    const t = await newTenant();
    await upload(t, "writer", WRITER);
    await setQuota(t, 100);
    await expectStored(await putContext(t, "seed", bytes(30)), 30);
    const result = await run(t, "writer", { puts: [["context/one", 50], ["context/two", 30], ["context/one", 20], ["context/two", 30]] });
    expect(result.status).toBe("succeeded");
    expect(result.output).toEqual([
      "ok",
      "RangeError: STORAGE.put: the tenant's storageBytes quota (100 bytes) would be exceeded: 80 bytes are stored and this put would add 30; nothing was stored.",
      "ok", // one: 50 → 20 frees 30
      "ok",
    ]);
    expect(result.usage.storageWrites).toBe(3);
    expect(result.usage.bytesWritten).toBe(100);
    expect(await counted(t)).toMatchObject({ bytes: 80, pending: 0 });
  });

  it("an uncaught refusal fails the run with the message", async () => {
    const t = await newTenant();
    await upload(t, "writer", WRITER);
    await setQuota(t, 10);
    const res = await dp("/v1/agents/writer/runs", { method: "POST", headers: { ...bearer(t.key), "content-type": "application/json" }, body: JSON.stringify({ input: { puts: [], uncaught: 11 } }) });
    const failed = await res.json<{ status: string; error: string }>();
    expect(failed.status).toBe("failed");
    expect(failed.error).toBe("RangeError: STORAGE.put: the tenant's storageBytes quota (10 bytes) would be exceeded: 0 bytes are stored and this put would add 11; nothing was stored.");
  });

  it("a quota raised with the admin PATCH is what the next put in a run sees", async () => {
    const t = await newTenant();
    await upload(t, "writer", WRITER);
    await setQuota(t, 40);
    expect((await run(t, "writer", { puts: [["a", 40], ["b", 10]] })).output).toEqual([
      "ok",
      "RangeError: STORAGE.put: the tenant's storageBytes quota (40 bytes) would be exceeded: 40 bytes are stored and this put would add 10; nothing was stored.",
    ]);
    await setQuota(t, 50);
    expect((await run(t, "writer", { puts: [["b", 10], ["c", 1]] })).output).toEqual([
      "ok",
      "RangeError: STORAGE.put: the tenant's storageBytes quota (50 bytes) would be exceeded: 50 bytes are stored and this put would add 1; nothing was stored.",
    ]);
    // The context API and the binding share one count.
    await expectProblem(await putContext(t, "d", bytes(1)), 413, "quota-storage-bytes");
  });

  it("runs of a tenant without a quota never call the tenant's object for their puts", async () => {
    const t = await newTenant();
    await upload(t, "writer", WRITER);
    const result = await run(t, "writer", { puts: [["a", 10_000]] });
    expect(result.output).toEqual(["ok"]);
    expect(result.usage.storageWrites).toBe(1);
    // Nothing was counted: a quota set now starts from a count of R2.
    await setQuota(t, 20_000);
    expect(await counted(t)).toMatchObject({ bytes: 10_000 + (await env.BUCKET.head(`tenants/${t.id}/results/${result.id}/output.json`))!.size });
  });
});
