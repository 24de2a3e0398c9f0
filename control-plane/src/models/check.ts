import { gatewayConfig, resolveModel, takesTenantKeys, type GatewayConfig } from "../../../core/llm/config";
import { ProblemError } from "../../../core/http/problem";
import { logEvent } from "../../../core/log";
import type { ControlPlaneEnv } from "../env";

/** The gateway's configuration; a broken one is the operator's to fix, said without detail to the tenant. */
function config(env: ControlPlaneEnv): GatewayConfig {
  try {
    return gatewayConfig(env);
  } catch (err) {
    logEvent("error", "llm-config-invalid", { error: String(err) });
    throw new ProblemError("unavailable", "The platform's model configuration is invalid; the operator must fix LLM_PROVIDERS.");
  }
}

/**
 * A default model about to be stored, checked as a call would resolve it — so a typo is refused
 * here with `unknown-model`, not found later as a failed run. The name is stored as given (an
 * alias stays an alias, and follows the operator's configuration when it changes).
 */
export function checkModel(env: ControlPlaneEnv, name: string, field: string): void {
  const resolved = resolveModel(config(env), name);
  if (!resolved.ok) throw new ProblemError("unknown-model", `${field}: ${resolved.error}.`);
}

/** A provider a tenant may store its own key for: configured, and of a kind that takes one. */
export function checkKeyProvider(env: ControlPlaneEnv, provider: string): void {
  const c = config(env);
  const p = c.providers[provider];
  if (!Object.hasOwn(c.providers, provider) || !p) {
    throw new ProblemError("not-found", `No provider named "${provider}" is configured (providers: ${Object.keys(c.providers).join(", ") || "none besides the built-in model"}).`);
  }
  if (!takesTenantKeys(p)) {
    throw new ProblemError("invalid-request", `Provider "${provider}" (${p.type}) does not take tenants' own keys; only openai and anthropic providers whose one credential is the key do.`);
  }
}
