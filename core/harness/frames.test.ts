import { describe, expect, it } from "vitest";
import { MAX_EVENTS_PER_RUN, MAX_JSON_DEPTH } from "../contract.js";
import { boundedText, checkModelRequest, EventLimiter, oneLineError } from "./frames";

const stream = (chunks: Uint8Array[]) => {
  let pulled = 0;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (pulled < chunks.length) c.enqueue(chunks[pulled++]!);
      else c.close();
    },
    cancel() {
      cancelled = true;
    },
  });
  return { body, pulled: () => pulled, cancelled: () => cancelled };
};

describe("the harness's pure parts", () => {
  it("reads an answer whole under the limit, and stops reading (and cancels) as soon as it passes", async () => {
    const kib = new Uint8Array(1024).fill(97);
    expect(await boundedText(stream([kib, kib]).body, 4096)).toBe("a".repeat(2048));
    const big = stream(Array.from({ length: 100 }, () => kib));
    expect(await boundedText(big.body, 4096)).toBeNull();
    expect(big.pulled()).toBeLessThanOrEqual(6);
    expect(big.cancelled()).toBe(true);
    expect(await boundedText(null)).toBe("");
  });

  it("turns errors into one line of at most 500 characters, named unless plain", () => {
    expect(oneLineError(new TypeError("bad\nthing\n    at f (x.js:1:1)"))).toBe("TypeError: bad thing");
    expect(oneLineError(new Error("plain"))).toBe("plain");
    expect(oneLineError("x".repeat(600))).toHaveLength(500);
  });

  it("frames events, refuses bad ones with the errors agents see, and drops what is past the log's limit", () => {
    const events = new EventLimiter();
    expect(JSON.parse(events.frame("step", { n: 1 })!)).toEqual({ type: "event", event: { type: "step", data: { n: 1 } } });
    expect(() => events.frame("run.started", null)).toThrow(TypeError);
    expect(() => events.frame("step", "x".repeat(70_000))).toThrow(/larger than/);
    let deep: unknown = 1;
    for (let i = 0; i < MAX_JSON_DEPTH + 1; i++) deep = [deep];
    expect(() => events.frame("step", deep)).toThrow(/nests deeper than 64/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => events.frame("step", cyclic)).toThrow(RangeError);
    const many = new EventLimiter();
    let sent = 0;
    for (let i = 0; i < MAX_EVENTS_PER_RUN + 50; i++) if (many.frame("e", i) !== null) sent++;
    // One over the limit reaches the platform, which marks the log truncated; the rest stay here.
    expect(sent).toBe(MAX_EVENTS_PER_RUN + 1);
  });

  it("refuses model requests too deep to cross the RPC hop", () => {
    let deep: unknown = "x";
    for (let i = 0; i < MAX_JSON_DEPTH + 1; i++) deep = { a: deep };
    expect(() => checkModelRequest("LLM.chat", { messages: [deep] })).toThrow(/LLM.chat: the request nests deeper than 64 levels/);
    expect(() => checkModelRequest("LLM.stream", { messages: [{ role: "user", content: "hi" }] })).not.toThrow();
  });
});
