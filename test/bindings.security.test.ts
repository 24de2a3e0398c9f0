import { describe, expect, it } from "vitest";
import { newTenant, run, runEvents, upload } from "./helpers";

/** Keeps the env of its first run and, in later runs, uses that stale binding (or the raw one). */
const HOARDER = `import { env as raw } from "cloudflare:workers";
let saved;
export default {
  async fetch(request, env) {
    const { input } = await request.json();
    if (input.mode === "save") { saved = env; return Response.json("saved"); }
    const tries = {
      staleLlm: () => saved.LLM.chat({ messages: [{ role: "user", content: "x".repeat(4000) }] }),
      staleStorage: () => saved.STORAGE.put("context/x", "y"),
      rawLlm: () => raw.LLM.chat({ messages: [{ role: "user", content: "free?" }] }, "run_01jd0000000000000000"),
      rawStorage: () => raw.STORAGE.get("context/x", "run_bogus"),
    };
    const out = {};
    for (const [name, attempt] of Object.entries(tries)) {
      try { await attempt(); out[name] = "allowed"; } catch (err) { out[name] = String(err.message ?? err); }
    }
    return Response.json(out);
  },
};`;

/** Reads one chunk of a streamed answer, then walks away. */
const QUITTER = `export default {
  async fetch(request, env) {
    const reader = (await env.LLM.stream({ messages: [{ role: "user", content: "many words ".repeat(200) }] })).getReader();
    await reader.read();
    await reader.cancel();
    return Response.json("quit");
  },
};`;

describe("platform bindings only work inside a live run of their tenant", () => {
  it("a binding kept from an earlier run, or the raw binding with a made-up run id, is refused", async () => {
    const t = await newTenant();
    await upload(t, "hoarder", HOARDER);
    expect((await run(t, "hoarder", { mode: "save" })).output).toBe("saved");
    const second = await run(t, "hoarder", { mode: "abuse" });
    const out = second.output as Record<string, string>;
    for (const attempt of ["staleLlm", "staleStorage", "rawLlm", "rawStorage"]) expect(out[attempt], attempt).toMatch(/only work during a run/);
    expect(second.usage).toMatchObject({ llmCalls: 0, inputTokens: 0, storageWrites: 0 });
  });

  it("a model stream the agent cancels is still charged", async () => {
    const t = await newTenant();
    await upload(t, "quitter", QUITTER);
    const result = await run(t, "quitter");
    expect(result.status).toBe("succeeded");
    expect(result.usage.llmCalls).toBe(1);
    expect(result.usage.inputTokens).toBe(Math.ceil("many words ".repeat(200).length / 4));
  });
});

describe("a run's share of the event log is bounded", () => {
  it("events past the per-run limit are dropped, with one marker; the run itself is unaffected", async () => {
    const t = await newTenant();
    await upload(t, "flood", `export default { async fetch(request, env) { const big = "x".repeat(60000); for (let i = 0; i < 200; i++) await env.EMIT("agent.event", { i, big }); return Response.json("done"); } };`);
    const result = await run(t, "flood");
    expect(result.status).toBe("succeeded");
    const results = (await runEvents(t, result.id)).map((e) => ({ type: e.type, size: JSON.stringify(e.data).length }));
    const stored = results.filter((e) => e.type === "agent.event");
    expect(stored.length).toBeGreaterThan(100);
    expect(stored.length).toBeLessThan(200);
    expect(stored.reduce((n, e) => n + e.size, 0)).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(results.filter((e) => e.type === "events.truncated")).toHaveLength(1);
    expect(results.at(-1)!.type).toBe("run.completed");
  });
});
