import { AgentError, defineAgent } from "../src/index";

interface Input {
  /** Key of a context document, e.g. "docs/brief.md". */
  doc: string;
}

/** Reads one context document, asks the model for a summary, keeps it as a result file. */
export default defineAgent<Input, { summary: string; doc: string; tokens: number }>({
  async run(input, ctx) {
    if (typeof input?.doc !== "string") throw new AgentError('input must be {"doc": "<context key>"}');
    const text = await ctx.context.get(input.doc);
    if (text === null) throw new AgentError(`no context document "${input.doc}"`);
    const answer = await ctx.llm.chat({
      messages: [
        { role: "system", content: "Summarize the user's document in one short paragraph." },
        { role: "user", content: text },
      ],
    });
    await ctx.results.put("summary.md", answer.content);
    return { summary: answer.content, doc: input.doc, tokens: answer.usage.inputTokens + answer.usage.outputTokens };
  },
});
