/**
 * Modal web endpoints (e.g. vLLM's OpenAI-compatible server) deployed with
 * `requires_proxy_auth=True` answer 401 unless the request carries a workspace Proxy Auth Token:
 * its ID in `Modal-Key` and its secret in `Modal-Secret`
 * (https://modal.com/docs/guide/webhook-proxy-auth). Such an endpoint is then an
 * `OpenAICompatibleProvider` with these as its `headers`; its `apiKey` only matters when vLLM
 * itself was started with `--api-key`, and can otherwise be any placeholder.
 */
export function modalHeaders(key: string, secret: string): Record<string, string> {
  return { "Modal-Key": key, "Modal-Secret": secret };
}
