import { describe, expect, it } from "vitest";
import { jsonNestsDeeper, MAX_JSON_DEPTH, valueNestsDeeper } from "./json-depth";

const deep = (levels: number, leaf = "") => "[".repeat(levels) + leaf + "]".repeat(levels);

describe("JSON nesting is limited to 64 levels, checked on the text before it is parsed", () => {
  it("the scanner counts brackets outside strings, escapes included, without recursion", () => {
    expect(jsonNestsDeeper(deep(64))).toBe(false);
    expect(jsonNestsDeeper(deep(65))).toBe(true);
    expect(jsonNestsDeeper(`{"a":${deep(63)}}`)).toBe(false);
    expect(jsonNestsDeeper(`{"a":${deep(64)}}`)).toBe(true);
    // Brackets in strings, with escaped quotes and backslashes around them, are text.
    expect(jsonNestsDeeper(JSON.stringify({ s: `\\"${"[{".repeat(500)}\\` }))).toBe(false);
    expect(jsonNestsDeeper(JSON.stringify(["\\", "\"[[[", deep(10)]))).toBe(false);
    expect(jsonNestsDeeper(deep(1_000_000))).toBe(true);
    // A value: shared sub-objects are measured once; a value containing itself is never shallow.
    let shared: unknown = [];
    for (let i = 1; i < 64; i++) shared = [shared, shared];
    expect(valueNestsDeeper(shared)).toBe(false); // 2^63 paths, 64 objects
    expect(valueNestsDeeper([shared, shared, shared])).toBe(true);
    const cycle: unknown[] = [];
    cycle.push({ cycle });
    expect(valueNestsDeeper(cycle)).toBe(true);
    let chain: unknown = null;
    for (let i = 0; i < 100_000; i++) chain = { chain };
    expect(valueNestsDeeper(chain)).toBe(true);
    expect(MAX_JSON_DEPTH).toBe(64);
  });
});
