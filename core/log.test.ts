import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffMs, backoffSeconds } from "./log";

describe("backoffMs", () => {
  it("lies between half and all of base·2^(n−1)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 0, max: 10_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, base, r) => {
        const ms = backoffMs(n, base, () => r);
        const full = base * 2 ** (n - 1);
        return ms >= Math.floor(full / 2) && ms <= Math.ceil(full);
      }),
    );
  });
});

describe("backoffSeconds", () => {
  it("doubles from 2 s and stops at the cap", () => {
    expect([1, 2, 3, 8, 9, 20].map((n) => backoffSeconds(n))).toEqual([2, 4, 8, 256, 300, 300]);
    expect(backoffSeconds(5, 10)).toBe(10);
  });
});
