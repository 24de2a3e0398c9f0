// ctx.llm.stream, ctx.emit, defineAgent: unit tests against a fake env.
import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import { AgentError, createContext, defineAgent, ndjson, type ChatChunk } from "../src/index";
import { answer, builtin, chunksOf, fakeEnv, ndjsonBody } from "./fake-env";

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe("ndjson", () => {
  it("splits lines across reads, multi-byte characters included, and ignores blank lines", async () => {
    const text = '{"a":"héllo wörld ✓"}\n\n{"b":2}\n{"c":3}';
    const bytes = new TextEncoder().encode(text);
    for (const cut of [1, 2, 3, 5, 64]) {
      let offset = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          if (offset >= bytes.length) return c.close();
          c.enqueue(bytes.slice(offset, offset + cut));
          offset += cut;
        },
      });
      expect(await collect(ndjson(body))).toEqual([{ a: "héllo wörld ✓" }, { b: 2 }, { c: 3 }]);
    }
  });
});

describe("ctx.llm.stream", () => {
  it("yields the text as it comes, emits each delta as llm.delta and resolves .result with the whole answer", async () => {
    const env = fakeEnv(builtin);
    const stream = createContext(env).llm.stream({ messages: [{ role: "user", content: "streams are nice" }] });
    const deltas = await collect(stream);
    expect(deltas).toEqual(["echo: ", "streams ", "are ", "nice"]);
    const result = await stream.result;
    expect(result).toMatchObject({ content: "echo: streams are nice", model: "isoplane-echo", toolCalls: [] });
    expect(env.events).toEqual(deltas.map((content) => ({ type: "llm.delta", data: { content } })));
  });

  it(".result alone is enough (the stream is read whether or not anyone iterates)", async () => {
    const env = fakeEnv(() => answer("just the result"));
    const result = await createContext(env).llm.stream({ messages: [{ role: "user", content: "x" }] }).result;
    expect(result.content).toBe("just the result");
    expect(env.events.map((e) => (e.data as { content: string }).content).join("")).toBe("just the result");
  });

  it("a stream that ends without its done chunk, or breaks, rejects — both the iteration and .result", async () => {
    const env = fakeEnv();
    const cut: ChatChunk[] = chunksOf(answer("never finished")).slice(0, -1);
    env.LLM.stream = async () => ndjsonBody(cut);
    const stream = createContext(env).llm.stream({ messages: [{ role: "user", content: "x" }] });
    await expect(collect(stream)).rejects.toThrow("LLM.stream: the stream ended without a result");
    await expect(stream.result).rejects.toThrow("ended without a result");

    env.LLM.stream = () => Promise.reject(new TypeError("LLM.stream: messages: too small"));
    await expect(createContext(env).llm.stream({ messages: [] }).result).rejects.toThrow(TypeError);
  });
});

describe("defineAgent", () => {
  const request = (input: unknown) => new Request("https://agent.test/run", { method: "POST", body: JSON.stringify({ runId: "run_unit", input }) });

  it("validates the input with its schema, gives run a ctx, answers with the output as JSON", async () => {
    const agent = defineAgent({
      input: z.object({ doc: z.string(), n: z.optional(z.number()) }),
      async run({ doc, n }, ctx) {
        await ctx.emit({ reading: doc });
        await ctx.results.put("out.json", { doc, n: n ?? 0 });
        return { text: await ctx.context.get(doc), keys: await ctx.context.list("docs/"), run: ctx.run.id, secret: ctx.secrets.TOKEN ?? null };
      },
    });
    const env = fakeEnv(builtin, { secrets: { TOKEN: "t0k" } });
    env.storage.set("context/docs/a.md", "A");
    const response = await agent.fetch(request({ doc: "docs/a.md" }), env);
    expect(await response.json()).toEqual({ text: "A", keys: ["docs/a.md"], run: "run_unit", secret: "t0k" });
    expect(env.events).toEqual([{ type: "agent.event", data: { reading: "docs/a.md" } }]);
    expect(env.storage.get("results/run_unit/out.json")).toBe('{"doc":"docs/a.md","n":0}');

    const refused = agent.fetch(request({ doc: 7 }), env);
    await expect(refused).rejects.toThrow(AgentError);
    await expect(agent.fetch(request({ doc: 7 }), env)).rejects.toThrow("invalid input: doc: Invalid input: expected string, received number");
  });

  it("errors carry their names, which the platform puts in the run's error", async () => {
    const { MaxStepsExceeded, RemoteToolError, ToolError } = await import("../src/index");
    expect(new AgentError("a").name).toBe("AgentError");
    expect(new ToolError("t").name).toBe("ToolError");
    expect(new MaxStepsExceeded(2, [], { inputTokens: 0, outputTokens: 0 }).name).toBe("MaxStepsExceeded");
    const remote = new RemoteToolError("r", { exitCode: 2, stderr: "e" });
    expect([remote.name, remote.exitCode, remote.status, remote.stderr, remote instanceof ToolError, remote instanceof AgentError]).toEqual([
      "RemoteToolError", 2, undefined, "e", true, true,
    ]);
  });
});
