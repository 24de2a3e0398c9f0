import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProviderError, retryAfterMs } from "./errors";

describe("retryAfterMs", () => {
  const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");

  it("reads Retry-After as seconds", () => {
    expect(retryAfterMs({ "retry-after": "1" })).toBe(1000);
    expect(retryAfterMs({ "Retry-After": " 2.5 " })).toBe(2500);
    expect(retryAfterMs(new Headers({ "Retry-After": "0" }))).toBe(0);
  });

  it("reads Retry-After as an HTTP date, never below zero", () => {
    expect(retryAfterMs({ "retry-after": "Wed, 21 Oct 2015 07:28:05 GMT" }, now)).toBe(5000);
    expect(retryAfterMs({ "retry-after": "Wed, 21 Oct 2015 07:27:00 GMT" }, now)).toBe(0);
  });

  it("prefers retry-after-ms, rounding up", () => {
    expect(retryAfterMs({ "retry-after-ms": "250", "retry-after": "9" })).toBe(250);
    expect(retryAfterMs(new Headers({ "retry-after-ms": "0.4" }))).toBe(1);
    // An unreadable retry-after-ms falls back to Retry-After.
    expect(retryAfterMs({ "retry-after-ms": "soon", "retry-after": "3" })).toBe(3000);
  });

  it("is null when absent or unreadable", () => {
    expect(retryAfterMs(null)).toBeNull();
    expect(retryAfterMs(undefined)).toBeNull();
    expect(retryAfterMs({})).toBeNull();
    expect(retryAfterMs({ "retry-after": "" })).toBeNull();
    expect(retryAfterMs({ "retry-after": "later" })).toBeNull();
    expect(retryAfterMs({ "retry-after": "-1" })).toBeNull();
    expect(retryAfterMs(new Headers({ "x-other": "1" }))).toBeNull();
  });

  it("whole seconds are that many thousand ms, in any header spelling", () => {
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000 }), fc.constantFrom("retry-after", "Retry-After", "RETRY-AFTER"), (seconds, name) => {
        expect(retryAfterMs({ [name]: String(seconds) })).toBe(seconds * 1000);
        expect(retryAfterMs(new Headers({ [name]: String(seconds) }))).toBe(seconds * 1000);
      }),
    );
  });

  it("never throws and is null or a non-negative whole number, whatever the header says", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        const ms = retryAfterMs({ "retry-after": a, "retry-after-ms": b }, now);
        expect(ms === null || (Number.isInteger(ms) && ms >= 0)).toBe(true);
      }),
    );
  });
});

describe("ProviderError.retryable", () => {
  it("retries rate limits, overload, server errors and no answer; not the caller's mistakes", () => {
    for (const status of [null, 408, 409, 429, 500, 502, 503, 529]) expect(new ProviderError("x", status).retryable).toBe(true);
    for (const status of [400, 401, 403, 404, 413, 422]) expect(new ProviderError("x", status).retryable).toBe(false);
  });
});
