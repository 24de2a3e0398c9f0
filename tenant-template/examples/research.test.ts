import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { bearer, dp, json, newTenant, run, upload, type TestTenant, runEvents } from "../../test/helpers";

const BRIEF = "Isoplane runs stateless agents on Workers.";
const NOTE = "Workers bill CPU time, not wall time.";

async function setUp(): Promise<TestTenant> {
  const t = await newTenant();
  await upload(t, "research", env.RESEARCH_AGENT);
  await dp("/v1/context/docs/brief.md", { method: "PUT", headers: bearer(t.key), body: BRIEF });
  await dp("/v1/context/notes/workers.md", { method: "PUT", headers: bearer(t.key), body: NOTE });
  return t;
}

async function events(t: TestTenant, runId: string): Promise<{ seq: number; type: string; data: unknown }[]> {
  return (await runEvents(t, runId)).map((e) => ({ seq: e.seq, type: e.type, data: e.data as unknown }));
}

const PROMPT = `${BRIEF}\nUse lookup({"topic":"workers"}) and calculator({"a":6,"op":"*","b":7}).`;
const SUMMARY = `echo: ${PROMPT} | lookup: ${NOTE} | calculator: 42`;

describe("the research example: context, two zod tools, a streamed tool loop, progress events", () => {
  it("answers with the tools' results, logs every tool call, delta and progress event, keeps its report", async () => {
    const t = await setUp();
    const result = await run(t, "research", { doc: "docs/brief.md", topic: "workers", a: 6, b: 7 });
    expect(result.status, result.error).toBe("succeeded");
    const output = result.output as { summary: string; calls: unknown[]; tokens: number };
    expect(output.summary).toBe(SUMMARY);
    expect(output.calls).toEqual([
      { id: "call_1", name: "lookup", arguments: '{"topic":"workers"}', result: NOTE },
      { id: "call_2", name: "calculator", arguments: '{"a":6,"op":"*","b":7}', result: "42" },
    ]);
    // Two model calls (tools, then the answer), charged by the platform; the agent's count agrees.
    expect(result.usage.llmCalls).toBe(2);
    expect(output.tokens).toBe(result.usage.inputTokens! + result.usage.outputTokens!);

    const log = await events(t, result.id);
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
    const types = log.map((e) => e.type);
    const deltas = log.filter((e) => e.type === "llm.delta");
    expect(types).toEqual([
      "run.started",
      "agent.event",
      "tool.call",
      "tool.result",
      "tool.call",
      "tool.result",
      ...deltas.map(() => "llm.delta"),
      "agent.event",
      "run.completed",
    ]);
    expect(log[1]!.data).toEqual({ stage: "researching", doc: "docs/brief.md", topic: "workers" });
    expect(log.slice(2, 6).map((e) => e.data)).toEqual([
      { id: "call_1", name: "lookup", arguments: '{"topic":"workers"}' },
      { id: "call_1", name: "lookup", result: NOTE },
      { id: "call_2", name: "calculator", arguments: '{"a":6,"op":"*","b":7}' },
      { id: "call_2", name: "calculator", result: "42" },
    ]);
    // The streamed answer, token by token, adds up to the summary.
    expect(deltas.length).toBeGreaterThan(5);
    expect(deltas.map((e) => (e.data as { content: string }).content).join("")).toBe(SUMMARY);
    expect(log.at(-2)!.data).toEqual({ stage: "done", steps: 2, tools: ["lookup", "calculator"] });

    const report = await env.BUCKET.get(`tenants/${t.id}/results/${result.id}/report.md`);
    expect(await report!.text()).toBe(SUMMARY);
  });

  it("a client streaming the run sees the tool calls and the tokens as events before the run completes", async () => {
    const t = await setUp();
    const res = await dp("/v1/agents/research/runs", json({ input: { doc: "docs/brief.md", topic: "workers", a: 2, b: 21 }, mode: "stream" }, bearer(t.key)));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const frames = (await res.text())
      .split("\n\n")
      .filter((block) => /^data: /m.test(block))
      .map((block) => ({
        event: /^event: (.*)$/m.exec(block)?.[1],
        data: JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "null") as Record<string, unknown>,
      }));
    const names = frames.map((f) => f.event);
    expect(names[0]).toBe("run.started");
    expect(names.at(-1)).toBe("run.completed");
    expect(names.filter((n) => n === "tool.result")).toHaveLength(2);
    const text = frames.filter((f) => f.event === "llm.delta").map((f) => f.data.content).join("");
    expect(text).toMatch(/\| calculator: 42$/);
    expect((frames.at(-1)!.data.output as { summary: string }).summary).toBe(text);
  });

  it("arguments that fail a tool's schema go back to the model as an error, and the run still succeeds", async () => {
    const t = await setUp();
    const result = await run(t, "research", { doc: "docs/brief.md", topic: "Not A Topic!", a: 1, b: 2 });
    expect(result.status, result.error).toBe("succeeded");
    const output = result.output as { summary: string; calls: { name: string; error?: string; result?: string }[] };
    expect(output.calls[0]).toMatchObject({ name: "lookup", error: "invalid arguments for lookup: topic: Invalid string: must match pattern /^[a-z0-9-]{1,64}$/" });
    expect(output.calls[1]).toMatchObject({ name: "calculator", result: "2" });
    expect(output.summary).toContain("| lookup: Error: invalid arguments for lookup: topic: Invalid string");
    const failed = (await events(t, result.id)).find((e) => e.type === "tool.result");
    expect(failed!.data).toMatchObject({ id: "call_1", name: "lookup", error: expect.stringContaining("invalid arguments") });
  });

  it("bad input and a missing brief fail the run with an AgentError", async () => {
    const t = await setUp();
    const bad = await run(t, "research", { doc: "docs/brief.md", topic: "workers", a: "six", b: 7 });
    expect(bad.status).toBe("failed");
    expect(bad.error).toBe("AgentError: invalid input: a: Invalid input: expected number, received string");
    const missing = await run(t, "research", { doc: "docs/none.md", topic: "workers", a: 1, b: 1 });
    expect(missing.error).toBe('AgentError: no context document "docs/none.md"');
  });
});
