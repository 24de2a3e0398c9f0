import { describe, expect, it } from "vitest";
import { TtlCache } from "./cache";

describe("TtlCache", () => {
  it("shares one load among concurrent misses of a key, and keeps the value for its time", async () => {
    const cache = new TtlCache<number>(1000);
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 10));
      return 42;
    };
    const values = await Promise.all(Array.from({ length: 8 }, () => cache.get("k", load, 0)));
    expect(values).toEqual(Array(8).fill(42));
    expect(loads).toBe(1);
    expect(await cache.get("k", load, 999)).toBe(42);
    expect(loads).toBe(1);
    expect(await cache.get("k", load, 1000)).toBe(42);
    expect(loads).toBe(2);
  });

  it("does not keep a failed load: the next get tries again", async () => {
    const cache = new TtlCache<number>(1000);
    let loads = 0;
    const failing = async () => {
      loads++;
      throw new Error("D1 is down");
    };
    await expect(Promise.all([cache.get("k", failing, 0), cache.get("k", failing, 0)])).rejects.toThrow("D1 is down");
    expect(loads).toBe(1);
    expect(await cache.get("k", async () => 7, 1)).toBe(7);
  });
});
