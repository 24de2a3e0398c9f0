// Agent scripts the tests upload, as plain ES modules (what a tenant's bundler emits).

export const SUMMARIZE = `
export default {
  async fetch(request, env) {
    const { runId, input } = await request.json();
    const doc = await env.STORAGE.get("context/" + input.doc);
    const answer = await env.LLM.chat({ messages: [
      { role: "system", content: "Summarize the document." },
      { role: "user", content: doc },
    ] });
    await env.STORAGE.put("results/" + runId + "/summary.txt", answer.content);
    return Response.json({ summary: answer.content, run: env.RUN, tokens: answer.usage });
  },
};`;

export const THROWS = `
export default { async fetch() { throw new RangeError("the agent gave up\\n    at secret (internal.js:1:1)"); } };`;

export const STATUS_503 = `export default { fetch() { return new Response("busy", { status: 503 }); } };`;

export const NOT_JSON = `export default { fetch() { return new Response("plain words"); } };`;

export const NO_DEFAULT = `export const fetch = () => new Response("{}");`;

export const SYNTAX_ERROR = `export default { fetch() { return ( } };`;

/** Parses, has a default export, but that export has no fetch handler. */
export const NO_FETCH = `export default { run() { return 1; } };`;

/** Valid at upload, fails when the isolate starts. */
export const THROWS_AT_START = `if (!globalThis.CONFIG) throw new Error("no config at start");
export default { fetch() { return Response.json(1); } };`;

export const FETCHES_INTERNET = `
export default { async fetch() { const r = await fetch("https://example.com/"); return Response.json({ status: r.status }); } };`;

export const SLEEPS = `
export default { async fetch() { await new Promise((r) => setTimeout(r, 10_000)); return Response.json({ late: true }); } };`;

/** Tries to read outside its prefix through env.STORAGE with the key given as input. */
export const READS_KEY = `
export default {
  async fetch(request, env) {
    const { input } = await request.json();
    return Response.json({ value: await env.STORAGE.get(input.key) });
  },
};`;

export const LISTS = `
export default {
  async fetch(request, env) {
    const { input } = await request.json();
    return Response.json(await env.STORAGE.list(input.prefix));
  },
};`;

export const VERSIONED = (n: number) => `export default { fetch() { return Response.json({ version: ${n} }); } };`;

/** Makes each model call its input lists and reports what answered (or the error), one entry a call (test/gateway.test.ts, scripts/models-e2e.mjs). */
export const MODEL_CALLER = `export default {
  async fetch(request, env) {
    const { input } = await request.json();
    const out = [];
    for (const c of input.calls) {
      const req = { ...(c.model ? { model: c.model } : {}), messages: [{ role: "user", content: c.q }] };
      try {
        if (c.stream) {
          const lines = (await new Response(await env.LLM.stream(req)).text()).trim().split("\\n").map((l) => JSON.parse(l));
          const done = lines.find((l) => l.type === "done");
          const error = lines.find((l) => l.type === "error");
          out.push(error ? { error: error.error } : { model: done.model, content: done.content, deltas: lines.length - 1 });
        } else {
          const r = await env.LLM.chat(req);
          out.push({ model: r.model, content: r.content, usage: r.usage });
        }
      } catch (e) {
        out.push({ error: String(e && e.message) });
      }
    }
    return Response.json(out);
  },
};`;
