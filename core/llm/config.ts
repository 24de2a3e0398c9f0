import { z } from "zod";

// The model gateway's configuration: which providers the platform calls, how models are named,
// and what happens when a provider fails. One JSON setting (`LLM_PROVIDERS`), read by the
// dispatcher (which routes calls), the control plane (which checks the default models and tenant
// keys it stores) and `npm start` / the deploy script (which refuse a bad one before anything runs).

/** The embedded model: always there, needs nothing. */
export const BUILTIN_PROVIDER = "builtin";
export const BUILTIN_MODEL_NAME = "isoplane-echo";
export const BUILTIN_MODEL = `${BUILTIN_PROVIDER}/${BUILTIN_MODEL_NAME}`;

const SecretName = z.string().regex(/^[A-Z_][A-Z0-9_]{0,63}$/, "a Worker secret's name (A-Z, 0-9, _)");
export const PROVIDER_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
const ProviderName = z.string().regex(PROVIDER_NAME, "lower-case letters, digits and -, at most 32");
/** An alias is a bare name (no `/`), so it can never be read as `provider/model`. */
const AliasName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/, "letters, digits and . _ : @ -, no /");
/** `provider/model`; the model part is the provider's own name for it, slashes included (`@cf/meta/…`). */
const ModelRef = z.string().min(3).max(200).regex(/^[a-z0-9][a-z0-9-]{0,31}\/\S+$/, "provider/model");
const BaseUrl = z
  .string()
  .url()
  .refine((u) => /^https?:$/.test(new URL(u).protocol), "an http(s) URL");
const HeaderName = z.string().regex(/^[A-Za-z0-9-]{1,64}$/);
/** A model's own name at its provider: no spaces or control characters. */
const MODEL_PART = /^[^\s\x00-\x1f\x7f]{1,200}$/;
/**
 * The models a provider may serve, if the operator lists them: any other name is an unknown
 * model. Without a list every name goes to the provider (priced at the price book's entry, else `*`).
 */
const Models = z.array(z.string().regex(MODEL_PART, "a model name without spaces")).min(1).max(1000).optional();

const OpenAIProvider = z.strictObject({
  /** Any OpenAI-compatible chat completions endpoint: OpenAI, Groq, Together, vLLM, Ollama… */
  type: z.literal("openai"),
  baseUrl: BaseUrl,
  /** The secret holding the platform's key; without one, only tenants with their own key can use it. */
  apiKeySecret: SecretName.optional(),
  /** Extra request headers, each from a secret (header name → secret name). */
  headerSecrets: z.record(HeaderName, SecretName).optional(),
  models: Models,
});
const ModalProvider = z.strictObject({
  /** A model served on Modal behind proxy auth: OpenAI-compatible, plus `Modal-Key` / `Modal-Secret`. */
  type: z.literal("modal"),
  baseUrl: BaseUrl,
  keySecret: SecretName,
  secretSecret: SecretName,
  /** The bearer token, if the server checks one too (vLLM's `--api-key`). */
  apiKeySecret: SecretName.optional(),
  models: Models,
});
const AnthropicProvider = z.strictObject({
  type: z.literal("anthropic"),
  baseUrl: BaseUrl.optional(),
  apiKeySecret: SecretName.optional(),
  models: Models,
});
const WorkersAiProvider = z.strictObject({
  /** Cloudflare Workers AI through the dispatcher's `AI` binding. */
  type: z.literal("workers-ai"),
  models: Models,
});

export const ProviderConfig = z.discriminatedUnion("type", [OpenAIProvider, ModalProvider, AnthropicProvider, WorkersAiProvider]);
export type ProviderConfig = z.infer<typeof ProviderConfig>;

/**
 * Whether a tenant may bring its own key for a provider: an `openai` or `anthropic` one whose only
 * credential is the key. A provider that also sends header secrets (Azure's `api-key`, an
 * organisation header) would send the platform's credentials with the tenant's key, so it takes none.
 */
export function takesTenantKeys(p: ProviderConfig): boolean {
  return (p.type === "openai" && !Object.keys(p.headerSecrets ?? {}).length) || p.type === "anthropic";
}

export const RetryConfig = z.strictObject({
  /** Attempts per model, the first included. */
  attempts: z.number().int().min(1).max(10).default(3),
  /** First backoff when the provider names no wait; doubled each attempt, with jitter. */
  baseDelayMs: z.number().int().min(0).max(60_000).default(500),
  /** The longest wait the gateway accepts (a longer `Retry-After` goes straight to the fallback). */
  maxWaitMs: z.number().int().min(0).max(120_000).default(20_000),
});
export type RetryConfig = z.infer<typeof RetryConfig>;

const GatewaySchema = z
  .strictObject({
    providers: z.record(ProviderName, ProviderConfig).default({}),
    aliases: z.record(AliasName, ModelRef).default({}),
    /** The model of a call that names none, when neither its agent nor its tenant sets one. */
    defaultModel: z.union([ModelRef, AliasName]).default(BUILTIN_MODEL),
    /** Where a model's calls go once its retries are used up (one hop: a fallback has no fallback). */
    fallbacks: z.record(ModelRef, ModelRef).default({}),
    retry: RetryConfig.default({ attempts: 3, baseDelayMs: 500, maxWaitMs: 20_000 }),
  })
  .superRefine((c, ctx) => {
    if (BUILTIN_PROVIDER in c.providers) ctx.addIssue({ code: "custom", path: ["providers", BUILTIN_PROVIDER], message: `"${BUILTIN_PROVIDER}" is the embedded model's name` });
    const check = (ref: string, path: (string | number)[]) => {
      const r = resolveModel(c, ref);
      if (!r.ok) ctx.addIssue({ code: "custom", path, message: r.error });
    };
    for (const [alias, target] of Object.entries(c.aliases)) check(target, ["aliases", alias]);
    check(c.defaultModel, ["defaultModel"]);
    for (const [from, to] of Object.entries(c.fallbacks)) {
      check(from, ["fallbacks", from]);
      check(to, ["fallbacks", from]);
      if (from === to) ctx.addIssue({ code: "custom", path: ["fallbacks", from], message: "a model cannot fall back to itself" });
    }
  });

export type GatewayConfig = z.infer<typeof GatewaySchema>;
export { GatewaySchema };

/** A model name resolved: the provider to call, its own name for the model, and the id usage is kept under. */
export interface ResolvedModel {
  provider: string;
  model: string;
  /** `provider/model`: what the run's usage, the price book and the export name. */
  id: string;
}

export type Resolution = ({ ok: true } & ResolvedModel) | { ok: false; error: string };

/** A model name as an agent, a tenant or an operator wrote it, resolved against the configuration. */
export function resolveModel(c: Pick<GatewayConfig, "providers" | "aliases">, name: string): Resolution {
  const target = name.includes("/") ? name : Object.hasOwn(c.aliases, name) ? c.aliases[name]! : name === BUILTIN_MODEL_NAME ? BUILTIN_MODEL : null;
  if (target === null) {
    const aliases = Object.keys(c.aliases);
    return {
      ok: false,
      error: `unknown model "${name}": name it as provider/model (providers: ${[BUILTIN_PROVIDER, ...Object.keys(c.providers)].join(", ")})${aliases.length ? ` or by an alias (${aliases.join(", ")})` : ""}`,
    };
  }
  const slash = target.indexOf("/");
  const provider = target.slice(0, slash);
  const model = target.slice(slash + 1);
  if (provider === BUILTIN_PROVIDER) {
    if (model !== BUILTIN_MODEL_NAME) return { ok: false, error: `unknown model "${name}": the built-in provider has one model, ${BUILTIN_MODEL}` };
  } else if (!Object.hasOwn(c.providers, provider)) {
    return { ok: false, error: `unknown model "${name}": no provider named "${provider}" is configured (providers: ${[BUILTIN_PROVIDER, ...Object.keys(c.providers)].join(", ")})` };
  }
  if (!MODEL_PART.test(model)) return { ok: false, error: `unknown model "${name}": the model part is empty or has spaces or control characters` };
  const listed = provider === BUILTIN_PROVIDER ? undefined : c.providers[provider]!.models;
  if (listed && !listed.includes(model)) return { ok: false, error: `unknown model "${name}": provider "${provider}" serves ${listed.slice(0, 10).join(", ")}${listed.length > 10 ? ", …" : ""}` };
  return { ok: true, provider, model, id: `${provider}/${model}` };
}

/** The settings the configuration is read from (a Worker's env, or `process.env`). */
export interface GatewaySettings {
  LLM_PROVIDERS?: string;
  /** The one-provider settings of earlier versions, still read when `LLM_PROVIDERS` is unset. */
  LLM_PROVIDER?: string;
  LLM_BASE_URL?: string;
  LLM_MODEL?: string;
}

/** The earlier one-provider settings as a gateway configuration: that provider, its model the default (also by its bare name). */
function legacy(s: GatewaySettings): unknown {
  const kind = s.LLM_PROVIDER;
  if (!kind || kind === BUILTIN_PROVIDER) return {};
  if (kind !== "openai" && kind !== "anthropic") throw new Error(`LLM_PROVIDER is invalid: "${kind}" (expected builtin, openai or anthropic; or configure LLM_PROVIDERS)`);
  if (!s.LLM_MODEL || (kind === "openai" && !s.LLM_BASE_URL)) throw new Error(`LLM_PROVIDER=${kind} needs ${kind === "openai" ? "LLM_BASE_URL and " : ""}LLM_MODEL`);
  const id = `${kind}/${s.LLM_MODEL}`;
  return {
    providers: { [kind]: { type: kind, ...(s.LLM_BASE_URL ? { baseUrl: s.LLM_BASE_URL } : {}), apiKeySecret: "LLM_API_KEY" } },
    // A model name with a slash (`meta-llama/Llama-3.1-8B-Instruct`) cannot be a bare alias; it is still the default.
    aliases: AliasName.safeParse(s.LLM_MODEL).success ? { [s.LLM_MODEL]: id } : {},
    defaultModel: id,
  };
}

const parsed = new Map<string, GatewayConfig>();

/**
 * The configuration, parsed once per distinct setting. A bad one throws an error that names the
 * setting, the field and what is wrong — the same words `npm start` and the deploy script print.
 */
export function gatewayConfig(s: GatewaySettings): GatewayConfig {
  const raw = s.LLM_PROVIDERS?.trim();
  const cacheKey = raw || `legacy\u0000${s.LLM_PROVIDER ?? ""}\u0000${s.LLM_BASE_URL ?? ""}\u0000${s.LLM_MODEL ?? ""}`;
  const hit = parsed.get(cacheKey);
  if (hit) return hit;
  if (raw && s.LLM_PROVIDER && s.LLM_PROVIDER !== BUILTIN_PROVIDER) throw new Error("LLM_PROVIDERS and LLM_PROVIDER are both set: configure the providers in LLM_PROVIDERS only");
  let input: unknown;
  if (raw) {
    try {
      input = JSON.parse(raw);
    } catch {
      throw new Error("LLM_PROVIDERS is invalid: not JSON");
    }
  } else input = legacy(s);
  const result = GatewaySchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`${raw ? "LLM_PROVIDERS" : "LLM_PROVIDER / LLM_MODEL"} is invalid: ${issue.path.join(".") || "(top level)"}: ${issue.message}`);
  }
  if (parsed.size > 16) parsed.clear();
  parsed.set(cacheKey, result.data);
  return result.data;
}

/** Every secret a provider's configuration names, with the provider it belongs to: each must be set. */
export function secretNames(c: GatewayConfig): { provider: string; secret: string }[] {
  const out: { provider: string; secret: string }[] = [];
  for (const [provider, p] of Object.entries(c.providers)) {
    // A provider without a platform key of its own is open only to tenants that bring one.
    if ((p.type === "openai" || p.type === "anthropic" || p.type === "modal") && p.apiKeySecret) out.push({ provider, secret: p.apiKeySecret });
    if (p.type === "openai") for (const secret of Object.values(p.headerSecrets ?? {})) out.push({ provider, secret });
    if (p.type === "modal") out.push({ provider, secret: p.keySecret }, { provider, secret: p.secretSecret });
  }
  return out;
}

/** Problems a configuration has in this environment: secrets it names that are not set, an `AI` binding it needs and lacks. */
export function environmentProblems(c: GatewayConfig, env: Record<string, unknown>): string[] {
  const problems = secretNames(c)
    .filter((s) => typeof env[s.secret] !== "string" || env[s.secret] === "")
    .map((s) => `provider "${s.provider}" needs the secret ${s.secret}, which is not set`);
  for (const [name, p] of Object.entries(c.providers)) {
    if (p.type === "workers-ai" && !env.AI) problems.push(`provider "${name}" (workers-ai) needs the dispatcher's AI binding ([ai] binding = "AI")`);
  }
  return problems;
}
