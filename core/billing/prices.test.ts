import { describe, expect, it } from "vitest";
import { modelPrice } from "./prices";

describe("modelPrice", () => {
  const table = { "*": 1, "openai/gpt-4o": 2, "gpt-4o-mini": 3, "isoplane-echo": 0 };
  it("finds a model by its provider/model id, else by the provider's own name for it, else *", () => {
    expect(modelPrice(table, "openai/gpt-4o")).toBe(2);
    // A price book written before models had providers still prices them.
    expect(modelPrice(table, "openai/gpt-4o-mini")).toBe(3);
    expect(modelPrice(table, "groq/gpt-4o-mini")).toBe(3);
    expect(modelPrice(table, "isoplane-echo")).toBe(0);
    expect(modelPrice(table, "anthropic/claude")).toBe(1);
    // The model part keeps its own slashes; inherited names are not prices.
    expect(modelPrice(table, "workers-ai/@cf/meta/llama")).toBe(1);
    expect(modelPrice(table, "x/constructor")).toBe(1);
    expect(modelPrice(table, "__proto__")).toBe(1);
    // The built-in model's old name is no discount for another provider's model, nor is a nested name.
    expect(modelPrice(table, "openai/isoplane-echo")).toBe(1);
    expect(modelPrice(table, "openai/x/gpt-4o-mini")).toBe(1);
  });
});
