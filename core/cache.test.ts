import { describe, expect, it } from "vitest";
import { TtlCache } from "./cache";

describe("TtlCache", () => {
  it("keeps a value for its time, then loads it again", async () => {
    const cache = new TtlCache<number>(1000);
    let loads = 0;
    const load = async () => ++loads;
    expect(await cache.get("k", load, 0)).toBe(1);
    expect(await cache.get("k", load, 799)).toBe(1);
    expect(loads).toBe(1);
    // From 800 ms (its last fifth) the next request refreshes it: a full TTL from then.
    expect(await cache.get("k", load, 800)).toBe(2);
    expect(await cache.get("k", load, 1000)).toBe(2);
    expect(await cache.get("k", load, 1800)).toBe(3);
  });

  it("refreshes ahead: in an entry's last fifth one request loads it again, the others keep the cached value", async () => {
    const cache = new TtlCache<number>(1000);
    let loads = 0;
    let release!: () => void;
    const slow = () => new Promise<number>((resolve) => (release = () => resolve(++loads)));
    await cache.get("k", async () => ++loads, 0);
    const refresher = cache.get("k", slow, 850);
    // While the refresh is under way, everyone else gets the value it is replacing, without a load.
    expect(await cache.get("k", async () => Promise.reject(new Error("not called")), 900)).toBe(1);
    release();
    expect(await refresher).toBe(2);
    // The refreshed entry lives a full TTL from its load.
    expect(await cache.get("k", async () => Promise.reject(new Error("not called")), 1649)).toBe(2);
    // Past its time it is never served, refresh or not.
    expect(await cache.get("k", async () => 42, 1850)).toBe(42);
  });

  it("a failed refresh keeps the old value until its time, and lets the next request try again", async () => {
    const cache = new TtlCache<number>(1000);
    await cache.get("k", async () => 1, 0);
    await expect(cache.get("k", async () => Promise.reject(new Error("D1 is down")), 900)).rejects.toThrow("D1 is down");
    expect(await cache.get("k", async () => 5, 950)).toBe(5);
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
