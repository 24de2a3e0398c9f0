import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { bearer, dp, newTenant, run, upload } from "../../test/helpers";

describe("the example agent, bundled from TypeScript with the SDK", () => {
  it("reads a context document, asks the model and returns a summary", async () => {
    const t = await newTenant();
    await upload(t, "summarize", env.EXAMPLE_AGENT);
    await dp("/v1/context/docs/brief.md", { method: "PUT", headers: bearer(t.key), body: "Agents boot, think and die." });
    const result = await run(t, "summarize", { doc: "docs/brief.md" });
    expect(result.status).toBe("succeeded");
    expect(result.output).toEqual({ summary: "echo: Agents boot, think and die.", doc: "docs/brief.md", tokens: 30 });
    const file = await env.BUCKET.get(`tenants/${t.id}/results/${result.id}/summary.md`);
    expect(await file!.text()).toBe("echo: Agents boot, think and die.");
  });

  it("an AgentError becomes the run's error", async () => {
    const t = await newTenant();
    await upload(t, "summarize", env.EXAMPLE_AGENT);
    const result = await run(t, "summarize", { doc: "missing.md" });
    expect(result.status).toBe("failed");
    expect(result.error).toBe('AgentError: no context document "missing.md"');
  });
});
