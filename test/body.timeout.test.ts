import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BODY_READ_TIMEOUT_MS } from "../core/http/body";
import { ADMIN, bearer, expectProblem, newTenant, upload } from "./helpers";
import { CONTROL_PLANE_SHORT_READ_HOST, DISPATCHER_SHORT_READ_HOST, SHORT_READ_TIMEOUT_MS } from "./worker";
import { VERSIONED } from "./agents";

/** A body that sends `first` and then nothing more, never closing: a declared length that never arrives. */
function stalled(first: string): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (first) controller.enqueue(new TextEncoder().encode(first));
    },
  });
}

/** Sends a request with a stalled body to one of the short-read hosts; returns the answer and how long it took. */
async function send(host: string, path: string, method: string, headers: Record<string, string>, first: string, declared: number) {
  const body = stalled(first);
  const started = Date.now();
  const res = await exports.default.fetch(
    new Request(`http://${host}${path}`, { method, headers: { ...headers, "content-length": String(declared) }, body, duplex: "half" } as RequestInit),
  );
  return { res, ms: Date.now() - started };
}

describe("a body that never arrives ends with 400 within the read timeout", () => {
  it("the default read timeout is 10 s", () => {
    expect(BODY_READ_TIMEOUT_MS).toBe(10_000);
  });

  it("a run request, a context upload, a script upload and an admin call each end with invalid-request", async () => {
    const t = await newTenant();
    await upload(t, "ok", VERSIONED(1));
    const json = { "content-type": "application/json" };
    const cases: [string, string, string, Record<string, string>, string][] = [
      [DISPATCHER_SHORT_READ_HOST, "/v1/agents/ok/runs", "POST", { ...bearer(t.key), ...json }, '{"input":'],
      [DISPATCHER_SHORT_READ_HOST, "/v1/agents/ok/runs", "POST", { ...bearer(t.key), ...json, "idempotency-key": "never" }, ""],
      [DISPATCHER_SHORT_READ_HOST, "/v1/context/slow.txt", "PUT", bearer(t.key), "half of it"],
      [CONTROL_PLANE_SHORT_READ_HOST, "/v1/agents/slow/script", "PUT", { ...bearer(t.key), "content-type": "application/javascript+module" }, "export default"],
      [CONTROL_PLANE_SHORT_READ_HOST, "/admin/tenants", "POST", { ...ADMIN, ...json }, '{"name":'],
    ];
    for (const [host, path, method, headers, first] of cases) {
      const { res, ms } = await send(host, path, method, headers, first, 1000);
      const problem = await expectProblem(res, 400, "invalid-request");
      const received = new TextEncoder().encode(first).byteLength;
      expect(problem.detail, path).toMatch(new RegExp(`stopped arriving: no bytes for ${SHORT_READ_TIMEOUT_MS} ms after ${received} of the 1000 declared bytes\\.$`));
      expect(problem.received).toBe(received);
      expect(ms).toBeGreaterThanOrEqual(SHORT_READ_TIMEOUT_MS - 20);
      expect(ms).toBeLessThan(SHORT_READ_TIMEOUT_MS + 2000);
    }
    // Nothing was stored or run: no context object, no script, and the key is still free.
    await expectProblem(await exports.default.fetch(new Request(`http://${DISPATCHER_SHORT_READ_HOST}/v1/context/slow.txt`, { headers: bearer(t.key) })), 404, "not-found");
    const runs = await exports.default.fetch(new Request(`http://${DISPATCHER_SHORT_READ_HOST}/v1/runs`, { headers: bearer(t.key) }));
    expect((await runs.json<{ runs: unknown[] }>()).runs).toEqual([]);
  });

  it("a body that keeps arriving is read whole, however long it takes in all", async () => {
    const t = await newTenant();
    const chunks = [..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"];
    const started = Date.now();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = chunks.shift();
        if (next === undefined) return controller.close();
        // Each gap is far under the timeout; all of them together are over it.
        await new Promise((r) => setTimeout(r, SHORT_READ_TIMEOUT_MS / 30));
        controller.enqueue(new TextEncoder().encode(next));
      },
    });
    const res = await exports.default.fetch(
      new Request(`http://${DISPATCHER_SHORT_READ_HOST}/v1/context/trickle.txt`, { method: "PUT", headers: bearer(t.key), body, duplex: "half" } as RequestInit),
    );
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await res.json<{ size: number }>()).size).toBe(40);
    expect(Date.now() - started).toBeGreaterThan(SHORT_READ_TIMEOUT_MS);
  });
});
