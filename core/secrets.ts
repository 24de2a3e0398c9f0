import { and, asc, eq } from "drizzle-orm";
import { db } from "./db/client";
import { agentSecrets } from "./db/schema";

/**
 * Agent secrets are sealed with AES-256-GCM under the platform key (`SECRETS_KEY`, 32 bytes,
 * base64). The additional data binds each ciphertext to its tenant, agent and name, so a sealed
 * value copied to another row — another tenant's included — fails to open.
 */
const encoder = new TextEncoder();
const keyCache = new Map<string, Promise<CryptoKey>>();

function importKey(secret: string | undefined): Promise<CryptoKey> {
  if (!secret) throw new Error("SECRETS_KEY is not configured");
  let key = keyCache.get(secret);
  if (!key) {
    const raw = Uint8Array.from(atob(secret), (c) => c.charCodeAt(0));
    if (raw.byteLength !== 32) throw new Error("SECRETS_KEY must be 32 bytes, base64-encoded");
    key = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    keyCache.set(secret, key);
  }
  return key;
}

const aad = (tenantId: string, agent: string, name: string) => encoder.encode(`isoplane-secret\u0000${tenantId}\u0000${agent}\u0000${name}`);

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export async function sealSecret(platformKey: string | undefined, tenantId: string, agent: string, name: string, value: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: aad(tenantId, agent, name) },
    await importKey(platformKey),
    encoder.encode(value),
  );
  const out = new Uint8Array(12 + ciphertext.byteLength);
  out.set(iv);
  out.set(new Uint8Array(ciphertext), 12);
  return toBase64(out);
}

export async function openSecret(platformKey: string | undefined, tenantId: string, agent: string, name: string, sealed: string): Promise<string> {
  const bytes = Uint8Array.from(atob(sealed), (c) => c.charCodeAt(0));
  const plaintext = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: bytes.slice(0, 12), additionalData: aad(tenantId, agent, name) },
    await importKey(platformKey),
    bytes.slice(12),
  );
  return new TextDecoder().decode(plaintext);
}

/** Secret names are environment-variable names; the platform's own binding names are reserved. */
export const SECRET_NAME_PATTERN = /^[A-Z_][A-Z0-9_]{0,63}$/;
export const RESERVED_ENV_NAMES = new Set(["RUN", "STORAGE", "LLM", "SECRETS"]);
/** Workers' own limit for one secret is 5 KiB. */
export const MAX_SECRET_BYTES = 5 * 1024;

/** An agent's secrets in plaintext: only for its own isolate or its own script, never a response. */
export async function agentSecretValues(
  d1: D1Database,
  platformKey: string | undefined,
  tenantId: string,
  agent: string,
): Promise<Record<string, string>> {
  const results = await db(d1)
    .select({ name: agentSecrets.name, sealed: agentSecrets.sealed })
    .from(agentSecrets)
    .where(and(eq(agentSecrets.tenantId, tenantId), eq(agentSecrets.agent, agent)))
    .orderBy(asc(agentSecrets.name))
    .all();
  const out: Record<string, string> = {};
  for (const row of results) out[row.name] = await openSecret(platformKey, tenantId, agent, row.name, row.sealed);
  return out;
}

/**
 * A tenant's own key for a model provider, sealed like an agent secret. Its additional data names
 * no agent (agent names never contain NUL), so it opens only as this tenant's key for this provider.
 */
const PROVIDER_KEY_SLOT = "\u0000provider-key";

export function sealProviderKey(platformKey: string | undefined, tenantId: string, provider: string, value: string): Promise<string> {
  return sealSecret(platformKey, tenantId, PROVIDER_KEY_SLOT, provider, value);
}

export function openProviderKey(platformKey: string | undefined, tenantId: string, provider: string, sealed: string): Promise<string> {
  return openSecret(platformKey, tenantId, PROVIDER_KEY_SLOT, provider, sealed);
}
