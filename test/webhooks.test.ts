import { describe, expect, it } from "vitest";
import { VERSIONED } from "./agents";
import { bearer, dp, json, newTenant, upload, waitFor } from "./helpers";

interface Delivery {
  path: string;
  headers: Record<string, string>;
  body: string;
  answered: number;
}

const deliveries = async (path: string): Promise<Delivery[]> =>
  ((await (await fetch("https://hooks.example.test/__deliveries")).json()) as Delivery[]).filter((d) => d.path === path);


async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(message)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("webhooks", () => {
  it("are called on completion with an HMAC-SHA256 signature the tenant can verify", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(5));
    const path = `/ok-${t.id}`;
    const res = await dp("/v1/agents/agent/runs", json({ input: 1, mode: "async", webhook: { url: `https://hooks.example.test${path}` } }, bearer(t.key)));
    const { id } = await res.json<{ id: string }>();
    const [delivery] = await waitFor(async () => ((await deliveries(path)).length ? deliveries(path) : null), 20_000);
    const payload = JSON.parse(delivery!.body) as { id: string; status: string; output: unknown };
    expect(payload).toMatchObject({ id, status: "succeeded", output: { version: 5 } });
    expect(delivery!.headers["isoplane-event"]).toBe("run.completed");
    const { secret } = await (await dp("/v1/webhook-secret", { headers: bearer(t.key) })).json<{ secret: string }>();
    const [, ts, sig] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(delivery!.headers["isoplane-signature"]!)!;
    expect(sig).toBe(await hmacHex(secret, `${ts}.${delivery!.body}`));
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(60);
    // Another tenant's secret does not verify it.
    const other = await newTenant();
    const { secret: otherSecret } = await (await dp("/v1/webhook-secret", { headers: bearer(other.key) })).json<{ secret: string }>();
    expect(await hmacHex(otherSecret, `${ts}.${delivery!.body}`)).not.toBe(sig);
    const log = await (await dp(`/v1/runs/${id}/events`, { headers: bearer(t.key) })).json<{ events: { type: string }[] }>();
    expect(log.events.map((e) => e.type)).toContain("webhook.delivered");
  });

  it("are retried until the receiver accepts", async () => {
    const t = await newTenant();
    await upload(t, "agent", VERSIONED(1));
    const path = `/flaky-1-${t.id}`;
    await dp("/v1/agents/agent/runs", json({ input: 1, mode: "async", webhook: { url: `https://hooks.example.test${path}` } }, bearer(t.key)));
    const seen = await waitFor(async () => {
      const d = await deliveries(path);
      return d.some((x) => x.answered === 200) ? d : null;
    }, 20_000);
    expect(seen.map((d) => d.answered)).toEqual([503, 200]);
  });
});
