// A research agent: reads a brief from the tenant's context documents, lets the model call two
// tools — `lookup` (another context document) and `calculator` — in a streamed, bounded tool loop,
// reports progress as events and keeps its report as a result file.
//
// Input: {"doc": "docs/brief.md", "topic": "workers", "a": 6, "b": 7}
//
// About the prompt: a real model chooses tools from their descriptions. The platform's built-in
// model (the default, offline, deterministic) only calls the tools the last user message names as
// `name({...json})`, so this agent writes those calls into its prompt from the input; with a real
// model the same line reads as an instruction.
import * as z from "zod/mini";
import { AgentError, defineAgent, tool } from "../src/index";

const lookup = tool({
  name: "lookup",
  description: "Read the reference note on a topic (context document notes/<topic>.md).",
  parameters: z.object({ topic: z.string().check(z.regex(/^[a-z0-9-]{1,64}$/)) }),
  run: async ({ topic }, ctx) => (await ctx.context.get(`notes/${topic}.md`)) ?? `no note on "${topic}"`,
});

const calculator = tool({
  name: "calculator",
  description: "Apply + - * / to two numbers.",
  parameters: z.object({ a: z.number(), op: z.enum(["+", "-", "*", "/"]), b: z.number() }),
  run: ({ a, op, b }) => ({ "+": a + b, "-": a - b, "*": a * b, "/": a / b })[op],
});

export default defineAgent({
  input: z.object({ doc: z.string(), topic: z.string(), a: z.number(), b: z.number() }),
  tools: [lookup, calculator],
  async run({ doc, topic, a, b }, ctx) {
    const brief = await ctx.context.get(doc);
    if (brief === null) throw new AgentError(`no context document "${doc}"`);
    await ctx.emit({ stage: "researching", doc, topic });
    const calls = `lookup(${JSON.stringify({ topic })}) and calculator(${JSON.stringify({ a, op: "*", b })})`;
    const answer = await ctx.llm.runTools({
      messages: [
        { role: "system", content: "Answer from the brief. Use the tools for reference notes and arithmetic." },
        { role: "user", content: `${brief}\nUse ${calls}.` },
      ],
      stream: true,
    });
    await ctx.emit({ stage: "done", steps: answer.steps, tools: answer.calls.map((c) => c.name) });
    await ctx.results.put("report.md", answer.content);
    const tokens = answer.usage.inputTokens + answer.usage.outputTokens;
    return { summary: answer.content, calls: answer.calls, tokens };
  },
});
