import { describe, expect, it } from "vitest";
import { TtlCache } from "./cache";

describe("TtlCache", () => {
  it("keeps a value for its time, then loads it again", async () => {
    const cache = new TtlCache<number>(1000);
    let loads = 0;
    const load = async () => ++loads;
    expect(await cache.get("k", load, 0)).toBe(1);
    expect(await cache.get("k", load, 999)).toBe(1);
    expect(await cache.get("k", load, 1000)).toBe(2);
  });

  it("does not keep a failed load, evicts the oldest entry when full, and clears", async () => {
    const cache = new TtlCache<number>(1000, undefined, 2);
    await expect(cache.get("k", async () => Promise.reject(new Error("D1 is down")), 0)).rejects.toThrow("D1 is down");
    expect(await cache.get("k", async () => 7, 1)).toBe(7);
    await cache.get("a", async () => 1, 1);
    await cache.get("b", async () => 2, 1);
    expect(await cache.get("k", async () => 8, 2)).toBe(8);
    cache.clear();
    expect(await cache.get("a", async () => 9, 3)).toBe(9);
  });
});
