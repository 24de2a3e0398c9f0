// The SDK's tool loop, unit-tested in the Workers runtime against a fake env (no platform).
import { describe, expect, it } from "vitest";
import * as zc from "zod";
import * as z from "zod/mini";
import { AgentError, createContext, MaxStepsExceeded, remoteTool, tool, ToolError, toolSpec, type ChatRequest, type RemoteToolRunner } from "../src/index";
import { answer, builtin, fakeEnv } from "./fake-env";

const calculator = tool({
  name: "calculator",
  description: "Apply + - * / to two numbers.",
  parameters: z.object({ a: z.number(), op: z.enum(["+", "-", "*", "/"]), b: z.number() }),
  run: ({ a, op, b }) => ({ "+": a + b, "-": a - b, "*": a * b, "/": a / b })[op],
});

const user = (content: string) => [{ role: "user" as const, content }];

describe("tool()", () => {
  it("gives the model the JSON Schema zod makes for the input side (zod/mini or classic zod), without $schema", () => {
    expect(toolSpec(calculator)).toEqual({
      name: "calculator",
      description: "Apply + - * / to two numbers.",
      parameters: {
        type: "object",
        properties: { a: { type: "number" }, op: { type: "string", enum: ["+", "-", "*", "/"] }, b: { type: "number" } },
        required: ["a", "op", "b"],
      },
    });
    const classic = tool({ name: "greet", parameters: zc.object({ name: zc.string().min(1), loud: zc.boolean().optional() }), run: ({ name }) => name });
    expect(toolSpec(classic).parameters).toEqual({
      type: "object",
      properties: { name: { type: "string", minLength: 1 }, loud: { type: "boolean" } },
      required: ["name"],
    });
    // A strict object says so: extra keys would be refused.
    expect(toolSpec(tool({ name: "s", parameters: z.strictObject({ a: z.string() }), run: () => 1 })).parameters).toMatchObject({ additionalProperties: false });
  });

  it("refuses names the model API would refuse", () => {
    expect(() => tool({ name: "has space", parameters: z.object({}), run: () => 1 })).toThrow(TypeError);
    expect(() => tool({ name: "x".repeat(65), parameters: z.object({}), run: () => 1 })).toThrow(TypeError);
  });
});

describe("ctx.llm.runTools", () => {
  it("runs the tools the model calls, feeds the results back and returns the answer, usage and transcript", async () => {
    const env = fakeEnv(builtin);
    const ctx = createContext(env);
    const result = await ctx.llm.runTools({ messages: user('Compute calculator({"a":6,"op":"*","b":7}) please'), tools: [calculator] });
    expect(result.content).toBe('echo: Compute calculator({"a":6,"op":"*","b":7}) please | calculator: 42');
    expect(result.steps).toBe(2);
    expect(result.toolCalls).toEqual([]);
    expect(result.calls).toEqual([{ id: "call_1", name: "calculator", arguments: '{"a":6,"op":"*","b":7}', result: "42" }]);
    expect(result.messages).toEqual([
      { role: "user", content: 'Compute calculator({"a":6,"op":"*","b":7}) please' },
      { role: "assistant", content: "", toolCalls: [{ id: "call_1", name: "calculator", arguments: '{"a":6,"op":"*","b":7}' }] },
      { role: "tool", toolCallId: "call_1", content: "42" },
      { role: "assistant", content: result.content },
    ]);
    // Usage is the sum of both model calls.
    const [first, second] = await Promise.all(env.requests.map((r) => builtin(r, 0)));
    expect(result.usage).toEqual({
      inputTokens: first!.usage.inputTokens + second!.usage.inputTokens,
      outputTokens: first!.usage.outputTokens + second!.usage.outputTokens,
    });
    // Every model call was offered the tool's spec.
    expect(env.requests.map((r) => r.tools?.map((t) => t.name))).toEqual([["calculator"], ["calculator"]]);
    expect(env.events).toEqual([
      { type: "tool.call", data: { id: "call_1", name: "calculator", arguments: '{"a":6,"op":"*","b":7}' } },
      { type: "tool.result", data: { id: "call_1", name: "calculator", result: "42" } },
    ]);
  });

  it("feeds invalid JSON, schema failures and unknown tools back to the model as errors instead of throwing", async () => {
    let ran = 0;
    const counted = tool({ ...calculator, name: "calc", run: (args) => (ran++, calculator.run(args, undefined as never)) });
    const env = fakeEnv((_, call) =>
      call === 1
        ? answer("", [
            { id: "a", name: "calc", arguments: "{not json" },
            { id: "b", name: "calc", arguments: '{"a":"six","op":"*","b":7}' },
            { id: "c", name: "calc", arguments: '{"a":1,"op":"^","b":2,"extra":true}' },
            { id: "d", name: "nope", arguments: "{}" },
            { id: "e", name: "calc", arguments: '{"a":1,"op":"+","b":2}' },
          ])
        : answer("done"),
    );
    const result = await createContext(env).llm.runTools({ messages: user("go"), tools: [counted] });
    expect(ran).toBe(1);
    const toolMessages = result.messages.filter((m) => m.role === "tool").map((m) => m.content);
    expect(toolMessages[0]).toMatch(/^Error: the arguments for calc are not valid JSON \(.+\)$/);
    expect(toolMessages[1]).toBe("Error: invalid arguments for calc: a: Invalid input: expected number, received string");
    expect(toolMessages[2]).toBe('Error: invalid arguments for calc: op: Invalid option: expected one of "+"|"-"|"*"|"/"');
    expect(toolMessages[3]).toBe('Error: there is no tool named "nope" (tools: calc)');
    expect(toolMessages[4]).toBe("3");
    // The second model call saw every error.
    expect(env.requests[1]!.messages.filter((m) => m.role === "tool")).toHaveLength(5);
    expect(result.calls.map((c) => [c.id, c.error === undefined])).toEqual([["a", false], ["b", false], ["c", false], ["d", false], ["e", true]]);
    const results = env.events.filter((e) => e.type === "tool.result").map((e) => e.data as { id: string; error?: string; result?: string });
    expect(results.map((r) => Object.keys(r).at(-1))).toEqual(["error", "error", "error", "error", "result"]);
  });

  it("a ToolError from a tool goes back to the model; any other exception fails the run", async () => {
    const picky = tool({
      name: "picky",
      parameters: z.object({ n: z.number() }),
      run: ({ n }) => {
        if (n < 0) throw new ToolError("n must not be negative");
        if (n === 0) throw new RangeError("bug in the tool");
        return n;
      },
    });
    const calling = (args: string) => fakeEnv((_, call) => (call === 1 ? answer("", [{ id: "x", name: "picky", arguments: args }]) : answer("ok")));
    const fed = await createContext(calling('{"n":-1}')).llm.runTools({ messages: user("go"), tools: [picky] });
    expect(fed.messages.at(-2)).toEqual({ role: "tool", toolCallId: "x", content: "Error: n must not be negative" });

    const env = calling('{"n":0}');
    await expect(createContext(env).llm.runTools({ messages: user("go"), tools: [picky] })).rejects.toThrow(RangeError);
    expect(env.events.at(-1)).toEqual({ type: "tool.result", data: { id: "x", name: "picky", error: "bug in the tool" } });
  });

  it("stops after maxSteps model calls with MaxStepsExceeded, the transcript and the calls it did not run", async () => {
    let ran = 0;
    const loop = tool({ name: "again", parameters: z.object({}), run: () => `ran ${++ran}` });
    const env = fakeEnv((_, call) => answer("", [{ id: `c${call}`, name: "again", arguments: "{}" }], { inputTokens: 3, outputTokens: 1 }));
    const error = await createContext(env)
      .llm.runTools({ messages: user("loop"), tools: [loop], maxSteps: 3 })
      .then(() => null, (err: unknown) => err);
    expect(error).toBeInstanceOf(MaxStepsExceeded);
    expect(error).toBeInstanceOf(AgentError);
    const e = error as MaxStepsExceeded;
    expect(e.name).toBe("MaxStepsExceeded");
    expect(e.message).toBe("the model still asked for tools after 3 model calls (maxSteps)");
    expect(env.requests).toHaveLength(3);
    expect(ran).toBe(2);
    expect(e.usage).toEqual({ inputTokens: 9, outputTokens: 3 });
    expect(e.pending).toEqual([{ id: "c3", name: "again", arguments: "{}" }]);
    // The transcript ends with the last tool result: it can be resumed as is.
    expect(e.messages.map((m) => m.role)).toEqual(["user", "assistant", "tool", "assistant", "tool"]);
    expect(e.messages.at(-1)).toEqual({ role: "tool", toolCallId: "c2", content: "ran 2" });

    await expect(createContext(fakeEnv()).llm.runTools({ messages: user("x"), maxSteps: 0 })).rejects.toThrow(TypeError);
  });

  it("uses the agent's tools by default, refuses two tools of one name, and passes model options through", async () => {
    const env = fakeEnv(builtin);
    const ctx = createContext(env, { tools: [calculator] });
    const result = await ctx.llm.runTools({ messages: user('calculator({"a":1,"op":"+","b":1})'), model: "m", temperature: 0, maxTokens: 50 });
    expect(result.content).toBe('echo: calculator({"a":1,"op":"+","b":1}) | calculator: 2');
    expect(env.requests[0]).toMatchObject({ model: "m", temperature: 0, maxTokens: 50 } satisfies Partial<ChatRequest>);
    await expect(ctx.llm.runTools({ messages: user("x"), tools: [calculator, calculator] })).rejects.toThrow(/two tools are named "calculator"/);
    // A tool the model is not offered is not called: no tools, one plain answer.
    const plain = await createContext(fakeEnv(builtin)).llm.runTools({ messages: user('calculator({"a":1,"op":"+","b":1})') });
    expect(plain).toMatchObject({ steps: 1, calls: [] });
  });

  it("streams each model call when asked: deltas as llm.delta events and to onDelta, the same answer", async () => {
    const env = fakeEnv(builtin);
    const deltas: string[] = [];
    const result = await createContext(env).llm.runTools({
      messages: user('say it calculator({"a":2,"op":"*","b":21})'),
      tools: [calculator],
      stream: true,
      onDelta: (t) => deltas.push(t),
    });
    expect(result.content).toBe('echo: say it calculator({"a":2,"op":"*","b":21}) | calculator: 42');
    expect(deltas.join("")).toBe(result.content);
    const streamed = env.events.filter((e) => e.type === "llm.delta").map((e) => (e.data as { content: string }).content);
    expect(streamed).toEqual(deltas);
    expect(env.events.map((e) => e.type).slice(0, 2)).toEqual(["tool.call", "tool.result"]);
  });

  it("runs remote tools on the agent's runner: stdout goes back to the model, a failing command as an error", async () => {
    const seen: unknown[] = [];
    const runner: RemoteToolRunner = {
      run: async (request) => {
        seen.push(request);
        return request.command[2] === "print(1+1)" ? { exitCode: 0, stdout: "2\n", stderr: "" } : { exitCode: 1, stdout: "", stderr: "Traceback\nNameError: x\n" };
      },
    };
    const python = remoteTool({
      name: "python",
      parameters: z.object({ code: z.string() }),
      command: ({ code }) => ["python3", "-c", code],
      image: "python:3.12-slim",
      timeoutSeconds: 5,
    });
    const env = fakeEnv(builtin);
    const ctx = createContext(env, { tools: [python], runner: () => runner });
    const result = await ctx.llm.runTools({ messages: user('python({"code":"print(1+1)"}) python({"code":"x"})') });
    expect(result.content).toBe('echo: python({"code":"print(1+1)"}) python({"code":"x"}) | python: 2\n | python: Error: python exited with code 1: NameError: x');
    expect(seen[0]).toEqual({
      command: ["python3", "-c", "print(1+1)"],
      image: "python:3.12-slim",
      timeoutSeconds: 5,
      labels: { isoplane_run: "run_unit", isoplane_tool: "python" },
    });
    // Without a runner, the model is told so instead of the run failing.
    const none = await createContext(fakeEnv(builtin), { tools: [python] }).llm.runTools({ messages: user('python({"code":"1"})') });
    expect(none.calls[0]!.error).toBe("no remote tool runner: give defineAgent({ runner }) to use remote tools");
  });
});
