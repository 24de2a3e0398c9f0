import { describe, expect, it } from "vitest";
import { gatewayConfig, resolveModel, takesTenantKeys } from "../../../core/llm/config";
import { FAKE_LLM_KEY } from "../../../test/fakes/openai";
import { FakeAi } from "../../../test/fakes/workers-ai";
import { type CallContext, ModelGateway } from "./gateway";
import type { ChatChunk } from "./types";

const config = gatewayConfig({
  LLM_PROVIDERS: JSON.stringify({
    providers: {
      openai: { type: "openai", baseUrl: "https://llm.test/v1", apiKeySecret: "KEY" },
      cf: { type: "workers-ai" },
      mine: { type: "openai", baseUrl: "https://llm.test/v1" },
    },
    aliases: { fast: "cf/@cf/test/native" },
    fallbacks: { "openai/unavailable": "cf/@cf/test/native", "cf/@cf/test/busy": "openai/gpt-test" },
    retry: { attempts: 3, baseDelayMs: 100, maxWaitMs: 5000 },
  }),
});

function context(overrides: Partial<CallContext> = {}) {
  const events: { type: string; data: Record<string, unknown> }[] = [];
  const waits: number[] = [];
  const ctx: CallContext = {
    deadline: null,
    tenantKey: async () => null,
    event: async (type, data) => void events.push({ type, data }),
    sleep: async (ms) => void waits.push(ms),
    ...overrides,
  };
  return { ctx, events, waits };
}

const target = (name: string) => {
  const r = resolveModel(config, name);
  if (!r.ok) throw new Error(r.error);
  return r;
};
const ask = { messages: [{ role: "user" as const, content: "hi" }] };

describe("ModelGateway", () => {
  const ai = new FakeAi();
  const gateway = new ModelGateway(config, { KEY: FAKE_LLM_KEY, AI: ai });

  it("serves a call by its provider and names the model that served it", async () => {
    const { ctx, events } = context();
    const { result, served } = await gateway.chat(ask, target("openai/gpt-test"), ctx);
    expect(result).toMatchObject({ content: "fake:gpt-test:HI", model: "openai/gpt-test" });
    expect(served).toEqual({ id: "openai/gpt-test", tenantKey: false });
    const viaAlias = await gateway.chat(ask, target("fast"), ctx);
    expect(viaAlias.result.model).toBe("cf/@cf/test/native");
    expect(ai.calls.at(-1)?.model).toBe("@cf/test/native");
    expect(events).toEqual([]);
  });

  it("waits what Retry-After says between attempts, then gives up without a fallback", async () => {
    const { ctx, events, waits } = context();
    await expect(gateway.chat(ask, target("openai/rate-limited"), ctx)).rejects.toThrow(/^openai\/rate-limited: .*429.* \(after 3 attempts\)$/);
    expect(waits).toEqual([1000, 1000]);
    expect(events.map((e) => [e.type, e.data.attempt, e.data.waitMs])).toEqual([
      ["llm.retry", 1, 1000],
      ["llm.retry", 2, 1000],
    ]);
  });

  it("backs off exponentially when no wait is named, then falls over once", async () => {
    const { ctx, events, waits } = context();
    const { result, served } = await gateway.chat(ask, target("openai/unavailable"), ctx);
    expect(served.id).toBe("cf/@cf/test/native");
    expect(result.model).toBe("cf/@cf/test/native");
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThanOrEqual(50);
    expect(waits[0]).toBeLessThanOrEqual(100);
    expect(waits[1]).toBeGreaterThanOrEqual(100);
    expect(waits[1]).toBeLessThanOrEqual(200);
    expect(events.at(-1)).toEqual({ type: "llm.fallback", data: { from: "openai/unavailable", to: "cf/@cf/test/native", status: 503, error: expect.stringMatching(/503/) } });
  });

  it("a Workers AI capacity error is retried and falls over; a fallback has no fallback", async () => {
    const { ctx, events } = context();
    const { served } = await gateway.chat(ask, target("cf/@cf/test/busy"), ctx);
    expect(served.id).toBe("openai/gpt-test");
    expect(events.filter((e) => e.type === "llm.retry")).toHaveLength(2);
    expect(events.filter((e) => e.type === "llm.fallback")).toHaveLength(1);
  });

  it("does not retry what will not change (4xx), nor fall over", async () => {
    const { ctx, events } = context();
    const broken = new ModelGateway(config, { KEY: "sk-wrong", AI: ai });
    await expect(broken.chat(ask, target("openai/gpt-test"), ctx)).rejects.toThrow(/^openai\/gpt-test: .*401/);
    await expect(gateway.chat(ask, target("cf/@cf/nope"), ctx)).rejects.toThrow(/^cf\/@cf\/nope: /);
    expect(events).toEqual([]);
  });

  it("does not start a wait longer than maxWaitMs or past the run's deadline", async () => {
    const long = context({ deadline: Date.now() + 500 });
    await expect(gateway.chat(ask, target("openai/rate-limited"), long.ctx)).rejects.toThrow(/429/);
    expect(long.waits).toEqual([]);
    const strict = new ModelGateway({ ...config, retry: { ...config.retry, maxWaitMs: 999 } }, { KEY: FAKE_LLM_KEY, AI: ai });
    const capped = context();
    await expect(strict.chat(ask, target("openai/rate-limited"), capped.ctx)).rejects.toThrow(/429/);
    expect(capped.waits).toEqual([]);
  });

  it("uses the tenant's own key where it has one, and says so; without any key the call is refused clearly", async () => {
    const { ctx } = context({ tenantKey: async (p) => (p === "mine" ? FAKE_LLM_KEY : null) });
    const { served } = await gateway.chat(ask, target("mine/gpt-test"), ctx);
    expect(served).toEqual({ id: "mine/gpt-test", tenantKey: true });
    await expect(gateway.chat(ask, target("mine/gpt-test"), context().ctx)).rejects.toThrow(/takes tenants' own keys only/);
    await expect(new ModelGateway(config, { AI: ai }).chat(ask, target("openai/gpt-test"), context().ctx)).rejects.toThrow(/the platform's key \(KEY\) is not set/);
    await expect(new ModelGateway(config, { KEY: FAKE_LLM_KEY }).chat(ask, target("fast"), context().ctx)).rejects.toThrow(/needs the dispatcher's AI binding/);
  });

  it("streams: retried until the first chunk, then the provider's chunks with the serving model on done", async () => {
    const { ctx, events } = context();
    const { chunks, served } = await gateway.stream(ask, target("openai/unavailable"), ctx);
    expect(served.id).toBe("cf/@cf/test/native");
    const all: ChatChunk[] = [];
    for (let r = await chunks.next(); !r.done; r = await chunks.next()) all.push(r.value);
    expect(all.at(-1)).toMatchObject({ type: "done", model: "cf/@cf/test/native" });
    expect(all.filter((c) => c.type === "delta").length).toBeGreaterThan(0);
    expect(events.map((e) => e.type)).toEqual(["llm.retry", "llm.retry", "llm.fallback"]);
  });
});

describe("ModelGateway, against a broken or hostile provider", () => {
  const gateway = new ModelGateway(config, { KEY: FAKE_LLM_KEY, AI: new FakeAi() });

  it("never charges token counts that are not whole, non-negative and plausible: the estimate stands in", async () => {
    const { result } = await gateway.chat(ask, target("openai/bad-usage"), context().ctx);
    // -100,000,000 and "abc" from the provider; the estimate is a token per four characters.
    expect(result.usage).toEqual({ inputTokens: 1, outputTokens: 3 });
  });

  it("a 200 that is no completion, or a malformed tool call, is the provider's failure, retried", async () => {
    const { ctx, events } = context();
    await expect(gateway.chat(ask, target("openai/not-a-completion"), ctx)).rejects.toThrow(/^openai\/not-a-completion: 502 the answer is not a chat completion \(after 3 attempts\)$/);
    expect(events.filter((e) => e.type === "llm.retry")).toHaveLength(2);
    await expect(gateway.chat(ask, target("openai/bad-tool-call"), context().ctx)).rejects.toThrow(/malformed tool call/);
  });

  it("an answer past 8 MiB is cut off, whole or streamed, and is the provider's failure", async () => {
    const whole = context();
    await expect(gateway.chat(ask, target("openai/huge"), whole.ctx)).rejects.toThrow(/^openai\/huge: the answer is larger than 8388608 bytes$/);
    // Not retried: the same request would answer as much again.
    expect(whole.events).toEqual([]);
    const { chunks } = await gateway.stream(ask, target("openai/huge-stream"), context().ctx);
    let read = 0;
    const drain = async () => {
      for (let r = await chunks.next(); !r.done; r = await chunks.next()) if (r.value.type === "delta") read += r.value.content.length;
    };
    await expect(drain()).rejects.toThrow(/the answer is larger than 8388608 bytes/);
    expect(read).toBeLessThanOrEqual(8 * 1024 * 1024);
  });

  it("an attempt that does not answer ends at the run's deadline", async () => {
    const started = Date.now();
    await expect(gateway.chat(ask, target("openai/hang"), context({ deadline: Date.now() + 300 }).ctx)).rejects.toThrow(/^openai\/hang: no answer within \d+ ms$/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("a stream that stalls is closed at once when its reader stops, and at the deadline when it does not", async () => {
    const { chunks } = await gateway.stream(ask, target("openai/stall-stream"), context().ctx);
    expect(await chunks.next()).toEqual({ done: false, value: { type: "delta", content: "first " } });
    const closing = Date.now();
    await chunks.return!();
    expect(Date.now() - closing).toBeLessThan(500);
    const bounded = await gateway.stream(ask, target("openai/stall-stream"), context({ deadline: Date.now() + 400 }).ctx);
    await bounded.chunks.next();
    await expect(bounded.chunks.next()).rejects.toThrow(/no answer within/);
  });

  it("tenant keys: not for a provider that also sends platform header secrets", async () => {
    const withHeaders = gatewayConfig({ LLM_PROVIDERS: JSON.stringify({ providers: { azure: { type: "openai", baseUrl: "https://llm.test/v1", headerSecrets: { "api-key": "KEY" } } } }) });
    expect(takesTenantKeys(withHeaders.providers.azure!)).toBe(false);
    expect(takesTenantKeys(config.providers.mine!)).toBe(true);
    const asked: string[] = [];
    const g = new ModelGateway(withHeaders, { KEY: FAKE_LLM_KEY });
    const r = resolveModel(withHeaders, "azure/gpt-test");
    if (!r.ok) throw new Error(r.error);
    const { served } = await g.chat(ask, r, context({ tenantKey: async (p) => (asked.push(p), "sk-tenant") }).ctx);
    expect(served.tenantKey).toBe(false);
    expect(asked).toEqual([]);
  });
});

describe("gatewayConfig", () => {
  const bad = (value: unknown) => () => gatewayConfig({ LLM_PROVIDERS: JSON.stringify(value) });
  it("refuses a bad configuration, naming the field and the reason", () => {
    expect(() => gatewayConfig({ LLM_PROVIDERS: "{" })).toThrow("LLM_PROVIDERS is invalid: not JSON");
    expect(bad({ providers: { openai: { type: "openai" } } })).toThrow(/^LLM_PROVIDERS is invalid: providers\.openai\.baseUrl: /);
    expect(bad({ providers: { x: { type: "mystery" } } })).toThrow(/providers\.x\.type/);
    expect(bad({ aliases: { fast: "opnai/gpt" } })).toThrow('LLM_PROVIDERS is invalid: aliases.fast: unknown model "opnai/gpt": no provider named "opnai" is configured (providers: builtin)');
    expect(bad({ defaultModel: "nothing" })).toThrow(/defaultModel: unknown model "nothing"/);
    expect(bad({ providers: { builtin: { type: "workers-ai" } } })).toThrow(/providers\.builtin: "builtin" is the embedded model's name/);
    expect(bad({ providers: { cf: { type: "workers-ai" } }, fallbacks: { "cf/a": "cf/a" } })).toThrow(/cannot fall back to itself/);
    expect(bad({ providers: { Bad: { type: "workers-ai" } } })).toThrow(/providers\.Bad/);
    expect(bad({ retry: { attempts: 0 } })).toThrow(/retry\.attempts/);
    expect(bad({ extra: true })).toThrow(/LLM_PROVIDERS is invalid/);
    expect(bad({ providers: { o: { type: "openai", baseUrl: "ftp://x" } } })).toThrow(/providers\.o\.baseUrl: an http\(s\) URL/);
  });

  it("a provider's model list makes every other name unknown; names with spaces or control characters are never models", () => {
    const listed = gatewayConfig({ LLM_PROVIDERS: JSON.stringify({ providers: { o: { type: "openai", baseUrl: "https://llm.test/v1", models: ["gpt-test"] } } }) });
    expect(resolveModel(listed, "o/gpt-test")).toMatchObject({ ok: true });
    expect(resolveModel(listed, "o/gpt-4o")).toEqual({ ok: false, error: 'unknown model "o/gpt-4o": provider "o" serves gpt-test' });
    expect(bad({ providers: { o: { type: "openai", baseUrl: "https://llm.test/v1", models: ["a"] } }, defaultModel: "o/b" })).toThrow(/defaultModel: unknown model "o\/b": provider "o" serves a/);
    expect(resolveModel(config, "openai/gpt\ntest")).toMatchObject({ ok: false });
    expect(resolveModel(config, "openai/gpt test")).toMatchObject({ ok: false });
  });

  it("the earlier one-provider settings become one provider whose model is the default, also by its bare name", () => {
    const slashed = gatewayConfig({ LLM_PROVIDER: "openai", LLM_BASE_URL: "https://llm.test/v1", LLM_MODEL: "meta-llama/Llama-3.1-8B-Instruct" });
    expect(slashed.defaultModel).toBe("openai/meta-llama/Llama-3.1-8B-Instruct");
    expect(resolveModel(slashed, slashed.defaultModel)).toMatchObject({ ok: true, model: "meta-llama/Llama-3.1-8B-Instruct" });
    const legacy = gatewayConfig({ LLM_PROVIDER: "openai", LLM_BASE_URL: "https://llm.test/v1", LLM_MODEL: "gpt-4o-mini" });
    expect(legacy.defaultModel).toBe("openai/gpt-4o-mini");
    expect(resolveModel(legacy, "gpt-4o-mini")).toMatchObject({ ok: true, id: "openai/gpt-4o-mini" });
    expect(() => gatewayConfig({ LLM_PROVIDER: "openai" })).toThrow(/needs LLM_BASE_URL and LLM_MODEL/);
    expect(() => gatewayConfig({ LLM_PROVIDER: "nope" })).toThrow(/LLM_PROVIDER is invalid/);
    expect(() => gatewayConfig({ LLM_PROVIDER: "anthropic", LLM_MODEL: "m", LLM_PROVIDERS: "{}" })).toThrow(/both set/);
    expect(gatewayConfig({}).defaultModel).toBe("builtin/isoplane-echo");
  });

  it("resolves names: provider/model keeps the model's own slashes; bare names are aliases or the built-in model", () => {
    expect(resolveModel(config, "cf/@cf/meta/llama-3.1-8b-instruct")).toEqual({ ok: true, provider: "cf", model: "@cf/meta/llama-3.1-8b-instruct", id: "cf/@cf/meta/llama-3.1-8b-instruct" });
    expect(resolveModel(config, "isoplane-echo")).toMatchObject({ ok: true, id: "builtin/isoplane-echo" });
    expect(resolveModel(config, "__proto__")).toMatchObject({ ok: false });
    expect(resolveModel(config, "constructor/x")).toMatchObject({ ok: false });
    expect(resolveModel(config, "openai/ ")).toMatchObject({ ok: false });
  });
});
