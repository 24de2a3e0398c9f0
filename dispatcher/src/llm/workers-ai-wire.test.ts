import { describe, expect, it } from "vitest";
import { failureMessage } from "./failure";
import { bindingError, resultOf, StreamAssembler } from "./workers-ai-wire";

describe("Workers AI answers", () => {
  it("native: object arguments become JSON text, missing ids are numbered, object responses are JSON", () => {
    const result = resultOf({ response: { a: 1 }, tool_calls: [{ name: "f", arguments: { x: 1 } }, { name: "g" }] }, "@cf/m");
    expect(result).toEqual({
      content: '{"a":1}',
      model: "@cf/m",
      toolCalls: [
        { id: "call_1", name: "f", arguments: '{"x":1}' },
        { id: "call_2", name: "g", arguments: "{}" },
      ],
      usage: { inputTokens: 0, outputTokens: 0 },
    });
  });

  it("an answer that is not an object is a retryable failure", () => {
    expect(() => resultOf("oops", "@cf/m")).toThrow(expect.objectContaining({ status: 502, retryable: true }));
  });

  it("streams: whole native calls without index each start a call; indexed fragments join", () => {
    const a = new StreamAssembler();
    a.add({ response: "", tool_calls: [{ name: "f", arguments: { x: 1 } }] });
    a.add({ response: "", tool_calls: [{ name: "g", arguments: { y: 2 } }] });
    a.add({ choices: [{ delta: { tool_calls: [{ index: 5, id: "c5", function: { name: "h", arguments: '{"z"' } }] } }] });
    a.add({ choices: [{ delta: { tool_calls: [{ index: 5, function: { arguments: ":3}" } }] } }] });
    expect(a.add({ response: "hi", usage: { prompt_tokens: 3, completion_tokens: 2 } })).toBe("hi");
    expect(a.result("@cf/m")).toEqual({
      content: "hi",
      model: "@cf/m",
      toolCalls: [
        { id: "call_1", name: "f", arguments: '{"x":1}' },
        { id: "call_2", name: "g", arguments: '{"y":2}' },
        { id: "c5", name: "h", arguments: '{"z":3}' },
      ],
      usage: { inputTokens: 3, outputTokens: 2 },
    });
  });
});

describe("Workers AI binding errors", () => {
  it("reads the code wherever the message puts it, or a `code` property", () => {
    expect(bindingError(new Error("InferenceUpstreamError: 3040: out of capacity")).status).toBe(429);
    expect(bindingError(new Error("3036: You have used up your daily free allocation")).status).toBe(429);
    expect(bindingError(new Error("3007: Request timeout")).status).toBe(408);
    expect(bindingError(new Error("3042: The model name is invalid")).status).toBe(404);
    expect(bindingError(Object.assign(new Error("no such model"), { code: 5007 })).status).toBe(400);
    expect(bindingError(new Error("rate limited, slow down")).status).toBe(429);
    expect(bindingError(new Error("9999: something new")).status).toBe(500);
    expect(bindingError("a string").message).toBe("workers-ai: 500 a string");
  });
});

describe("failure messages", () => {
  it("cut out secrets, collapse whitespace and stay short", () => {
    expect(failureMessage("openai", 401, "bad key sk-0123456789\n  here", ["sk-0123456789", "short"])).toBe("openai: 401 bad key [redacted] here");
    expect(failureMessage("openai", null, "", [])).toBe("openai: no answer");
    expect(failureMessage("openai", 503, undefined, [])).toBe("openai: 503");
    expect(failureMessage("x", 500, "y".repeat(1000), []).length).toBeLessThan(320);
  });
});
