import { ProviderError } from "./errors";

/** Long enough for a provider's reason, short enough for a log line or a tenant-visible error. */
const MAX_DETAIL = 300;
/** Shorter "secrets" are placeholders (Modal's `apiKey: "modal"`), and cutting them out would garble words. */
const MIN_SECRET = 8;

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const base64 = (text: string) => btoa(String.fromCharCode(...new TextEncoder().encode(text))).replace(/=+$/, "");

/** The ways an echo may spell a credential: as sent, URL-encoded, base64 (alone or as a Basic/Bearer value); matched ignoring case. */
function forms(secret: string): string[] {
  return [...new Set([secret, encodeURIComponent(secret), base64(secret), base64(`Bearer ${secret}`).slice(0, -4)])];
}

/**
 * The message a `ProviderError` carries: `<provider>: <status> <the provider's words>`. Providers
 * sometimes echo the credential they were sent (OpenAI quotes a rejected key), and these messages
 * reach logs and tenants, so every secret the provider was built with is cut out first.
 */
export function failureMessage(provider: string, status: number | null, detail: string | null | undefined, secrets: readonly string[]): string {
  let text = (detail ?? "").replace(/\s+/g, " ").trim();
  for (const secret of secrets) if (secret.length >= MIN_SECRET) for (const form of forms(secret)) text = text.replace(new RegExp(escape(form), "gi"), "[redacted]");
  if (text.length > MAX_DETAIL) text = `${text.slice(0, MAX_DETAIL)}…`;
  const head = status === null ? provider : `${provider}: ${status}`;
  return text ? `${head}${status === null ? ": " : " "}${text}` : `${head}${status === null ? ": no answer" : ""}`;
}

/** A failure that is not the provider's answer (fetch failed, the body broke off): nobody answered. */
export function noAnswer(provider: string, error: unknown, secrets: readonly string[]): ProviderError {
  return new ProviderError(failureMessage(provider, null, error instanceof Error ? error.message : String(error), secrets), null);
}
