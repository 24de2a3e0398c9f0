import { decideEgress, platformHosts } from "../../../core/egress";
import type { DispatcherEnv } from "../env";
import { ProblemError } from "../../../core/http/problem";
import { toHex } from "../../../core/crypto";

export const SIGNATURE_HEADER = "isoplane-signature";
const encoder = new TextEncoder();

/**
 * A tenant's webhook signing secret, derived from the platform key (HMAC, so it never needs
 * storing and is the same in every isolate). Tenants read it from `GET /v1/webhook-secret`.
 */
export async function webhookSecret(env: DispatcherEnv, tenantId: string): Promise<string> {
  if (!env.SECRETS_KEY) throw new Error("SECRETS_KEY is not configured");
  const key = await crypto.subtle.importKey("raw", encoder.encode(env.SECRETS_KEY), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(`isoplane-webhook\u0000${tenantId}`)));
  return `whsec_${toHex(mac)}`;
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` — the scheme Stripe made familiar. */
export async function sign(secret: string, body: string, timestamp: number): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(`${timestamp}.${body}`)));
  return `t=${timestamp},v1=${toHex(mac)}`;
}

/**
 * Webhook URLs are refused where the platform itself should never call: non-http(s), private,
 * loopback and link-local addresses, the platform's own hosts — unless an operator allows private
 * targets for local development (`WEBHOOK_ALLOW_PRIVATE=true`, which `npm start` sets).
 */
export function checkWebhookUrl(env: DispatcherEnv, raw: string): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ProblemError("invalid-request", "webhook.url: not a valid URL");
  }
  if (env.WEBHOOK_ALLOW_PRIVATE === "true" && (url.protocol === "http:" || url.protocol === "https:")) return;
  const decision = decideEgress(raw, [url.host.toLowerCase()], platformHosts(env));
  if (!decision.ok) throw new ProblemError("invalid-request", `webhook.url: ${decision.reason}`);
}

/** One delivery attempt; true when the receiver answered 2xx. */
export async function deliver(env: DispatcherEnv, tenantId: string, url: string, payload: { id: string; status: string }): Promise<{ ok: boolean; status: number | null }> {
  const body = JSON.stringify(payload);
  const signature = await sign(await webhookSecret(env, tenantId), body, Math.floor(Date.now() / 1000));
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [SIGNATURE_HEADER]: signature,
        "isoplane-event": payload.status === "succeeded" ? "run.completed" : "run.failed",
        "isoplane-webhook-id": payload.id,
      },
      body,
      // A redirect would carry the signed body past the URL check: any 3xx is a failed delivery.
      redirect: "manual",
      signal: AbortSignal.timeout(10_000),
    });
    await res.body?.cancel();
    return { ok: res.status >= 200 && res.status < 300, status: res.status };
  } catch {
    return { ok: false, status: null };
  }
}
